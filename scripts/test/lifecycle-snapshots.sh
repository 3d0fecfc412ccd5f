#!/usr/bin/env bash
# End-to-end, real processes (issue #18, snapshots): a row, a Redis key and an S3 object written
# with the test's own clients (psql, redis-cli, curl) → `make snapshot NAME=a` → all three changed
# → `make restore NAME=a` → the first values are back and the stack is healthy. A copy of a
# snapshot with one byte flipped, one with a file missing, one without its manifest → restore
# exits 3 and nothing live changed (values and pids). A snapshot of another server version →
# refused naming both versions. `make snapshots` lists name, age, size and services.
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"

echo "lifecycle-snapshots e2e in $WORK"
run_ok "make up" make -s up
# Exit codes are checked on the script make runs: make itself turns every failure into 2.
restore() { NAME="$1" scripts/dev/snapshot.sh restore; }
put_values() {
  psql_q "SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS snap_e2e (v text); TRUNCATE snap_e2e; INSERT INTO snap_e2e VALUES ('$1')" >/dev/null
  redis_q set snap_e2e "$1" >/dev/null
  s3_curl PUT snap-e2e.txt "$1" >/dev/null
}
values() { printf '%s %s %s' "$(psql_q 'SELECT v FROM snap_e2e' 2>&1)" "$(redis_q get snap_e2e 2>&1)" "$(s3_curl GET snap-e2e.txt 2>&1)"; }
pids() { cat .devenv/run/*.pid 2>/dev/null | grep -v '^[a-z]' | sort | tr '\n' ' '; }

put_values first
check "the first values are written" test "$(values)" = "first first first"
run_ok "make snapshot NAME=a" make -s snapshot NAME=a
check "the manifest lists postgres, redis and s3" test "$(jq -r '.services | keys | join(",")' .devenv/snapshots/a/manifest.json)" = "postgres,redis,s3"
check "every file has a sha256" test "$(jq '[.services[].files[] | select(.type == "file" and (.sha256 | length) != 64)] | length' .devenv/snapshots/a/manifest.json)" = 0
check "the manifest records each server's version" test "$(jq -r '.services.redis.version' .devenv/snapshots/a/manifest.json)" = "Redis server $(redis-server --version | grep -o 'v=[0-9.]*')"
check "the stack is healthy after the snapshot" healthy

put_values second
check "the values changed" test "$(values)" = "second second second"
run_ok "make restore NAME=a" make -s restore NAME=a
check "the first values are back" test "$(values)" = "first first first"
check "the stack is healthy after the restore" healthy

run_ok "make snapshots" make -s snapshots
check "make snapshots lists a with its services" grep -Eq '^a +[0-9]+[smhd] +[0-9.]+ [KMG]i?B +postgres,redis,s3$' <<<"$out"

# Corrupt copies of a: one byte flipped, a file gone, no manifest. None may touch the live data.
put_values third
before_pids="$(pids)"
cp -a .devenv/snapshots/a .devenv/snapshots/flipped
victim="$(jq -r '.services.postgres.files | to_entries | map(select(.value.type == "file" and .value.size > 0)) | max_by(.value.size) | .key' .devenv/snapshots/a/manifest.json)"
python3 - ".devenv/snapshots/flipped/postgres/$victim" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(b)
PY
run_fails "restore of a snapshot with one byte flipped fails" restore flipped
check "... with exit 3 (integrity)" test "$rc" = 3
check "... naming the file" grep -q "postgres: $victim: sha256" <<<"$out"
check "... and nothing changed (values)" test "$(values)" = "third third third"
check "... nor any process (same pids)" test "$(pids)" = "$before_pids"

cp -a .devenv/snapshots/a .devenv/snapshots/incomplete
rm ".devenv/snapshots/incomplete/redis/$(jq -r '.services.redis.files | to_entries | map(select(.value.type == "file")) | .[0].key' .devenv/snapshots/a/manifest.json)"
run_fails "restore of a snapshot missing a file fails" restore incomplete
check "... with exit 3, called incomplete" test "$rc" = 3 -a -n "$(grep -o 'incomplete snapshot' <<<"$out")"
cp -a .devenv/snapshots/a .devenv/snapshots/nomanifest
rm .devenv/snapshots/nomanifest/manifest.json
run_fails "restore of a snapshot without its manifest fails" restore nomanifest
check "... with exit 3" test "$rc" = 3
check "nothing changed after the refused restores" test "$(values) $(pids)" = "third third third $before_pids"

cp -a .devenv/snapshots/a .devenv/snapshots/oldredis
jq '.services.redis.version = "Redis server v=6.2.0"' .devenv/snapshots/a/manifest.json > .devenv/snapshots/oldredis/manifest.json
run_fails "restore of a snapshot from another redis version is refused" restore oldredis
check "... naming both versions" grep -q "taken with \`Redis server v=6.2.0\`, this stack runs \`Redis server v=" <<<"$out"
check "... and nothing changed" test "$(values)" = "third third third"

run_fails "make snapshot NAME=a again refuses to overwrite" make -s snapshot NAME=a
run_fails "a snapshot named ../x is refused" env NAME=../x scripts/dev/snapshot.sh create
check "... with exit 2" test "$rc" = 2

finish lifecycle-snapshots
