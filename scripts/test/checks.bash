# shellcheck shell=bash
# What the scripts/test checks that count their failures share; sourced after scripts/dev/lib.sh
# (not a test itself: make test runs scripts/test/*.sh).

failures=0
# fail LABEL — one failed check, reported at once and counted for `finish`.
fail() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
# check LABEL CMD... — CMD's success is a pass.
check() { local label="$1"; shift; if "$@"; then ok "$label"; else fail "$label"; fi; }
# expect_clean OUT PASSED FAILED CMD... — CMD prints the problems it finds (into OUT): none is
# a pass, any are shown on stderr and counted.
expect_clean() {
  local out="$1" passed="$2" failed="$3"
  shift 3
  if "$@" >"$out"; then ok "$passed"; else cat "$out" >&2; fail "$failed"; fi
}
# finish NAME HINT — exits EXIT_FAILED naming how many checks failed, if any did.
finish() { ((failures == 0)) || die "$EXIT_FAILED" "$1: $failures check(s) failed" "$2"; }
# mutation_caught OUT LABEL NEEDLE CMD... — CMD checks a mutated copy: it must fail and name
# NEEDLE in what it prints (into OUT).
mutation_caught() {
  local out="$1" label="$2" needle="$3"
  shift 3
  if "$@" >"$out"; then
    fail "not caught: $label"
  elif grep -qF -- "$needle" "$out"; then
    ok "caught: $label"
  else
    cat "$out" >&2
    fail "caught $label, but not as '$needle'"
  fi
}
