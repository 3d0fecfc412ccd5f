#!/usr/bin/env bash
# End-to-end, real processes (issue #18, resilient setup steps; seed 004 Property 4): a broken
# migration dropped into the scratch workspace's migrations/ → `make up` still runs the bucket and
# seeds steps and reports every step (✓/✗, time, the error's first line and remedy); it exits
# with the failed step's code (non-zero); the stage is `failed` and its reason names the step.
# Removing the file → `make up` passes every step and the stage is `ready`.
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"

echo "lifecycle-steps e2e in $WORK"
last=$(find migrations -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' -printf '%f\n' | sort | tail -n1)
broken="migrations/$(printf '%03d' $((10#${last%%_*} + 1)))_broken.sql"
printf 'CREATE TABLE broken_e2e (id int);\nSELEC oops;\n' > "$broken"

run_fails "up with a broken migration fails" scripts/dev/up.sh
check "... with exit 1 (a migration failed)" test "$rc" = 1
summary="$(sed -n '/^setup steps/,$p' <<<"$out")"
check "the summary reports the bucket step as done" grep -Eq '^  ✓ bucket +[0-9]+\.[0-9]s' <<<"$summary"
check "the summary reports the migrations step as failed" grep -Eq '^  ✗ migrations +[0-9]+\.[0-9]s  .+' <<<"$summary"
check "... with the error's first line naming the file" grep -Eq "^  ✗ migrations .*${broken#migrations/}" <<<"$summary"
check "... and a remedy" grep -Eq '^ +fix: ' <<<"$summary"
check "the seeds step still ran and is reported" grep -Eq '^  [✓✗] seeds +[0-9]+\.[0-9]s' <<<"$summary"
check "the seeds step ran (its event)" grep -q '"step":"seeds"' .devenv/events.jsonl
bucket_exists() { s3_curl GET "" >/dev/null; }
check "the bucket exists (a signed listing answers)" bucket_exists
check "stage is failed" test "$(stage)" = failed
# (seeds fail too: migrate-ledger refuses to seed with a migration pending)
check "the stage's reason names the failed step(s)" grep -Eq '"reason":"make up: setup steps failed: migrations( seeds)?"' <(devenv state --json)

rm "$broken"
run_ok "up after removing the broken migration" scripts/dev/up.sh
check "every step passed" test "$(grep -c '^  ✓ ' <<<"$(sed -n '/^setup steps/,$p' <<<"$out")")" = 4
check "stage is ready" test "$(stage)" = ready

finish lifecycle-steps
