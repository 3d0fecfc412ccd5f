#!/usr/bin/env bash
# End-to-end, real processes (issue #19, the workflow stages): a scripted day in a scratch
# workspace. `make up` → ready; `devenv state set active_development --task …`; `make pipeline`
# with a failing integration stage (a test pipeline file, PIPELINE_CONFIG) → debugging; fixed →
# the pipeline passes → active_development through testing; `make pause` → paused, every service
# process stopped (/proc state T), `make status` says paused; `make resume` → ready, healthy;
# every transition on record with trigger, command and duration; an illegal jump exits 2.
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"
command -v jq >/dev/null || die "$EXIT_USAGE" "jq is not installed" "run \`make setup PURPOSE=test\`"

echo "workflow e2e in $WORK"
state_json() { devenv state --json; }
# jq_state FILTER / jq_run FILTER — true when FILTER holds for the state / the newest run.
jq_state() { state_json | jq -e "$1" >/dev/null; }
jq_run() { devenv pipeline show latest --json | jq -e "$1" >/dev/null; }
# proc_states — the /proc state letter of every process of every service (trees included).
proc_states() {
  local svc pid
  for svc in postgres redis nats s3; do
    pid="$(pid_file "$svc")"
    [[ -n "$pid" ]] || continue
    for p in "$pid" $(pgrep -P "$pid" || true); do
      awk '{ sub(/.*\) /, ""); print substr($0, 1, 1) }' "/proc/$p/stat" 2>/dev/null || true
    done
  done | sort -u | paste -sd' ' -
}

run_ok "make up" make -s up
check "stage is ready" test "$(stage)" = ready

run_ok "devenv state set active_development --task" devenv state set active_development --task "ABC-123 add the audit log"
check "stage is active_development with the task" jq_state '.stage == "active_development" and .active_task.jira_ticket == "ABC-123"'

# The integration stage runs against the live stack: its services checked by dev-status first,
# then a check that fails until the fix is in.
cat > pipeline-test.yaml <<YAML
keep_runs: 5
stages:
  - name: unit
    command: echo unit ok
  - name: integration
    depends_on: [postgres, redis]
    command: $DEVENV_BIN_DIR/dev-status --only postgres,redis --quiet && test -f fixed
    retries: 1
YAML
export PIPELINE_CONFIG=pipeline-test.yaml
run_fails "make pipeline with a failing integration stage" make -s pipeline
check "the run is failed: unit passed, integration failed after its retry" \
  jq_run '.status == "failed" and .stages[0].status == "passed" and .stages[1].status == "failed" and .stages[1].metadata.retry_count == 1'
check "stage is debugging" test "$(stage)" = debugging

touch fixed
run_ok "make pipeline once fixed" make -s pipeline
check "the run passed" jq_run '.status == "passed" and .summary.passed_stages == 2'
check "stage is active_development, through testing" \
  jq_state '.stage == "active_development" and (.transitions[-2] | .from == "debugging" and .to == "testing") and (.transitions[-1] | .trigger == "automatic" and .command == "make pipeline")'
check "the passed run is recorded as the last successful test run" jq_state '.metadata.last_successful_test_run != null'
check "two runs listed" test "$(devenv pipeline list --json | jq '.runs | length')" = 2
unset PIPELINE_CONFIG

run_ok "make pause" make -s pause
check "stage is paused" test "$(stage)" = paused
check "every service process is stopped (state T)" test "$(proc_states)" = T
run_ok "make status while paused" make -s status
check "make status says paused" grep -q "paused" <<<"$out"
run_fails "an illegal jump (paused → testing)" devenv state set testing
check "it exits 2 and names make resume" test "$rc" = 2
check "the refusal names the remedy" grep -q "make resume" <<<"$out"

run_ok "make resume" make -s resume
check "stage is ready" test "$(stage)" = ready
check "no service process is stopped" test "$(proc_states | tr -d ' ' | tr -d SRDI)" = ""
check "every service healthy again" healthy

check "every transition has a trigger, a command and a duration" \
  jq_state '.transitions | length >= 9 and all(.trigger != null and .command != null and .duration_in_previous_stage_minutes != null)'
check "the commands on record: make up, make pipeline, make pause, make resume" \
  jq_state '[.transitions[].command] | (index("make up") != null) and (index("make pipeline") != null) and (index("make pause") != null) and (index("make resume") != null)'
check "the failed run entered debugging as a failure" \
  jq_state 'any(.transitions[]; .to == "debugging" and .trigger == "failure")'
finish "workflow"
