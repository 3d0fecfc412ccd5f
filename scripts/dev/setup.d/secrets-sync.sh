# shellcheck shell=bash
# Drop-in for scripts/dev/setup.sh (which defines need_pip / need_apt and $BENCH):
# python-dotenv lets the secrets-sync tests prove a bundle reads back exactly in Python;
# hyperfine times scripts/bench/secrets.sh.
need_pip dotenv python-dotenv==1.2.2
if [[ "${BENCH:-0}" == 1 ]]; then
  need_apt hyperfine hyperfine
fi
