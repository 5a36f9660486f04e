#!/usr/bin/env bash
# ferry sync vs a native Redis replica (issue 12, first numbers): KEYS
# string keys of VALUE bytes (DEBUG POPULATE) on a redis-server started
# here; then (1) the time a native `redis-server --replicaof` takes to
# finish its full sync, (2) the time `ferry sync` takes to apply the
# snapshot to an empty redis-server, (3) ferry sync's lag while
# redis-benchmark writes to the source for LOAD_SECONDS. Prints Markdown
# (progress on stderr).
#
#   bash bench/sync.sh
#   KEYS=200000 bash bench/sync.sh
#
# Environment:
#   KEYS          keys in the source (default 1000000)
#   VALUE         value size in bytes (default 100)
#   LOAD_SECONDS  length of the write load for the lag (default 10)
#   SKIP_BUILD=1  do not run cargo; use FERRY_BIN
#   KEEP_TMP=1    keep the temporary directory (logs)
#
# Not yet the issue's full benchmark: the source holds strings only (not
# the migrate mix) and the write load is redis-benchmark's SET at its own
# pace, not a fixed 50k writes/s.
#
# Network: only the servers this script starts, on 127.0.0.1, on free
# random ports. Only processes started here are stopped (by pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KEYS="${KEYS:-1000000}"
VALUE="${VALUE:-100}"
LOAD_SECONDS="${LOAD_SECONDS:-10}"
HOST=127.0.0.1
BENCH_NAME=ferry-bench-sync
CLI_TIMEOUT=600

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for b in redis-server redis-cli redis-benchmark; do
    command -v "$b" >/dev/null 2>&1 || die "$b missing: sudo apt-get install -y redis-server redis-tools"
done

build_ferry

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
field() { cli "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

# start_redis NAME [ARGS...] -> SERVER_PID, SERVER_PORT
start_redis() {
    local name="$1"; shift
    local dir="$TMP/$name" port pid
    mkdir -p "$dir"
    port="$(random_free_port)"
    redis-server --bind "$HOST" --port "$port" --save "" --appendonly no --daemonize no \
        --dir "$dir" --logfile "$dir/redis.log" --enable-debug-command local \
        --repl-diskless-sync-delay 0 "$@" &
    pid=$!
    PIDS+=("$pid")
    wait_ping "$name" "$pid" "$port" "$dir/redis.log" || die "$name did not start"
    SERVER_PID="$pid"; SERVER_PORT="$port"
}

start_redis source --repl-backlog-size 256mb
SRC="$SERVER_PORT"
log "DEBUG POPULATE $KEYS keys of $VALUE bytes"
cli "$SRC" debug populate "$KEYS" key "$VALUE" >/dev/null
[ "$(cli "$SRC" dbsize)" = "$KEYS" ] || die "the source does not hold $KEYS keys"

# 1. A native replica's full sync.
start_redis replica
REP="$SERVER_PORT"
t0="$(now)"
cli "$REP" replicaof "$HOST" "$SRC" >/dev/null
for _ in $(seq 1 6000); do
    [ "$(field "$REP" replication master_link_status)" = up ] \
        && [ "$(field "$REP" replication master_sync_in_progress)" = 0 ] && break
    sleep 0.05
done
t1="$(now)"
[ "$(cli "$REP" dbsize)" = "$KEYS" ] || die "the replica did not get every key"
NATIVE="$(secs "$t0" "$t1")"
log "native replica: $NATIVE s"
cli "$REP" replicaof no one >/dev/null

# 2. ferry sync's full sync into an empty redis-server.
start_redis target
DST="$SERVER_PORT"
t0="$(now)"
"$FERRY_BIN" sync --from "redis://$HOST:$SRC" --to "redis://$HOST:$DST" --name bench \
    --progress-every 1 >"$TMP/sync.out" 2>"$TMP/sync.log" &
SYNC_PID=$!
PIDS+=("$SYNC_PID")
for _ in $(seq 1 12000); do
    grep -q "snapshot applied" "$TMP/sync.log" && break
    kill -0 "$SYNC_PID" 2>/dev/null || { cat "$TMP/sync.log" >&2; die "ferry sync stopped"; }
    sleep 0.05
done
t1="$(now)"
FERRY="$(secs "$t0" "$t1")"
# The target holds the source's keys plus ferry's checkpoint.
[ "$(cli "$DST" dbsize)" -ge "$KEYS" ] || die "the target does not hold every key"
log "ferry sync: $FERRY s"

# 3. Lag under a write load on the source.
log "redis-benchmark SET on the source for $LOAD_SECONDS s"
: >"$TMP/sync.log.mark"
MARK="$(wc -l <"$TMP/sync.log")"
timeout "$LOAD_SECONDS" redis-benchmark -h "$HOST" -p "$SRC" -t set -r 1000000 -n 100000000 -c 20 -q \
    >"$TMP/bench.out" 2>&1 || true
sleep 2
LAGS="$(tail -n +"$MARK" "$TMP/sync.log" | sed -n 's/.*lag \([0-9]*\) bytes \/ \([0-9.]*\) s.*/\1 \2/p')"
MAX_BYTES="$(printf '%s\n' "$LAGS" | awk 'BEGIN{m=0} {if ($1>m) m=$1} END{print m}')"
MAX_SECS="$(printf '%s\n' "$LAGS" | awk 'BEGIN{m=0} {if ($2>m) m=$2} END{print m}')"
WRITES="$(field "$SRC" stats total_commands_processed)"
SRC_OFF="$(field "$SRC" replication master_repl_offset)"
cat <<MD
| measure | value |
|---|---|
| keys in the source | $KEYS × $VALUE-byte strings |
| native replica full sync | $NATIVE s |
| ferry sync full sync (snapshot applied) | $FERRY s ($(python3 -c "print(f'{$FERRY / $NATIVE:.2f}')") × native) |
| ferry sync lag during ${LOAD_SECONDS} s of redis-benchmark SET -c 20 | max $MAX_BYTES bytes, max $MAX_SECS s behind |
| source after the load | $WRITES commands processed, master_repl_offset $SRC_OFF |
MD
