#!/usr/bin/env bash
# ferry schema apply vs the one-off script people write today: KEYS JSON
# strings and KEYS hashes on a redis-server started here, migrated 1.0.0 ->
# 2.0.0 (rename userName -> fullName, add createdAt = ${NOW}), once by
# `ferry schema apply` (compare-and-set per key, validation, backup) and once
# by bench/schema_script.py (redis-py, pipelined reads and writes, no
# safety). Reports keys/s for each and the ratio. Prints Markdown for
# docs/benchmarks.md (progress on stderr).
#
#   bash bench/schema.sh
#   KEYS=200000 bash bench/schema.sh
#
# Environment:
#   KEYS         keys per kind (default 1000000: 1M JSON strings + 1M hashes)
#   SKIP_BUILD=1 do not run cargo; use FERRY_BIN
#   KEEP_TMP=1   keep the temporary directory (logs, backups)
#
# redis-py comes from PyPI into target/bench-venv on first use (pinned in
# crates/ferry/tests/clients/redis-py/requirements.txt). Network: only the
# redis-server this script starts, on 127.0.0.1, on a free random port.
# Only processes started here are stopped (by pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KEYS="${KEYS:-1000000}"
HOST=127.0.0.1
BENCH_NAME=ferry-bench-schema

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

command -v redis-server >/dev/null 2>&1 || die "redis-server missing: sudo apt-get install -y redis-server redis-tools"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli missing: sudo apt-get install -y redis-tools"
command -v python3 >/dev/null 2>&1 || die "python3 missing: sudo apt-get install -y python3 python3-venv"

build_ferry
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

VENV="$TARGET/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import redis' 2>/dev/null; then
    log "creating $VENV with redis-py"
    python3 -m venv "$VENV" || die "python3 -m venv failed: sudo apt-get install -y python3-venv"
    "$VENV/bin/python" -m pip install -q -r crates/ferry/tests/clients/redis-py/requirements.txt >&2 \
        || die "pip install failed (needs PyPI)"
fi
PY="$VENV/bin/python"

# The schema directory: user (JSON strings) and profile (hashes), 1.0.0 -> 2.0.0.
DIR="$TMP/schemas"
mkdir -p "$DIR/schemas/user" "$DIR/schemas/profile" "$DIR/migrations/user" "$DIR/migrations/profile"
for name in user profile; do
    storage=json-string; pattern='user:*'
    if [ "$name" = profile ]; then storage=hash; pattern='profile:*'; fi
    cat >"$DIR/schemas/$name/1.0.0.yaml" <<YAML
name: $name
version: 1.0.0
keyPattern: "$pattern"
storage: $storage
fields:
  userName: {type: string, required: true}
  email: {type: string, format: email}
  age: {type: integer, minimum: 0}
  visits: {type: integer}
YAML
    cat >"$DIR/schemas/$name/2.0.0.yaml" <<YAML
name: $name
version: 2.0.0
keyPattern: "$pattern"
storage: $storage
fields:
  fullName: {type: string, required: true}
  email: {type: string, format: email}
  age: {type: integer, minimum: 0}
  visits: {type: integer}
  createdAt: {type: string, format: date-time, required: true}
YAML
    cat >"$DIR/migrations/$name/rename_and_stamp.yaml" <<YAML
source: 1.0.0
target: 2.0.0
transforms:
  - {type: renameField, from: userName, to: fullName}
  - {type: addField, field: createdAt, defaultValue: "\${NOW}"}
YAML
done

start_server redis "$TMP/redis"
PORT="$SERVER_PORT"

load() {
    cli "$PORT" flushall >/dev/null
    log "loading $KEYS JSON strings and $KEYS hashes"
    "$PY" bench/schema_load.py "$KEYS" | timeout 600 redis-cli -h "$HOST" -p "$PORT" --pipe >/dev/null
    local n; n="$(cli "$PORT" dbsize)"
    [ "$n" -eq $(( 2 * KEYS )) ] || die "loaded $n keys, wanted $(( 2 * KEYS ))"
}

# ferry NAME [FLAGS...] -> keys/s
ferry_run() {
    local name="$1"; shift
    local start end
    start=$(date +%s.%N)
    "$FERRY_BIN" schema apply "$name" --to 2.0.0 --dir "$DIR" --target "redis://$HOST:$PORT" \
        --log-level warn "$@" >"$TMP/ferry-$name.out" 2>&1 \
        || { cat "$TMP/ferry-$name.out" >&2; die "ferry schema apply $name failed"; }
    end=$(date +%s.%N)
    grep -q "$KEYS changed" "$TMP/ferry-$name.out" || { cat "$TMP/ferry-$name.out" >&2; die "ferry did not change $KEYS keys"; }
    python3 -c "print(round($KEYS / ($end - $start)))"
}

rollback() {
    "$FERRY_BIN" schema abort "$1" --dir "$DIR" --target "redis://$HOST:$PORT" >/dev/null 2>&1 || true
    cli "$PORT" del "__ferry:schema:{$1}" "__ferry:schema:{$1}:history" >/dev/null
}

script_run() { # script_run json|hash PATTERN -> keys/s
    local out
    out="$(timeout 3600 "$PY" bench/schema_script.py "$PORT" "$1" "$2")"
    python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['keys']==$KEYS, d; print(d['keys_per_s'])" "$out"
}

load
log "ferry schema apply (JSON strings, with backup)"
F_JSON="$(ferry_run user)"
log "ferry schema apply (hashes, with backup)"
F_HASH="$(ferry_run profile)"
rollback user; rollback profile
load
log "ferry schema apply --no-backup (JSON strings)"
F_JSON_NB="$(ferry_run user --no-backup)"
log "ferry schema apply --no-backup (hashes)"
F_HASH_NB="$(ferry_run profile --no-backup)"
load
log "the redis-py script (JSON strings)"
S_JSON="$(script_run json 'user:*')"
log "the redis-py script (hashes)"
S_HASH="$(script_run hash 'profile:*')"

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
cat <<MD
| kind | ferry schema apply (backup) | --no-backup | redis-py script | ratio (backup) | ratio (no backup) |
|---|---|---|---|---|---|
| $KEYS JSON strings | $F_JSON keys/s | $F_JSON_NB keys/s | $S_JSON keys/s | $(ratio "$F_JSON" "$S_JSON") | $(ratio "$F_JSON_NB" "$S_JSON") |
| $KEYS hashes | $F_HASH keys/s | $F_HASH_NB keys/s | $S_HASH keys/s | $(ratio "$F_HASH" "$S_HASH") | $(ratio "$F_HASH_NB" "$S_HASH") |
MD
