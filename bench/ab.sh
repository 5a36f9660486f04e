#!/usr/bin/env bash
# A/B of two (or more) ferry builds by the server's CPU time per request: each
# binary in turn gets a fresh `ferry serve` on a free loopback port, the same
# redis-benchmark tests run against it, and the server's CPU (user + system,
# from /proc/PID/stat) is divided by the requests. The builds alternate
# REPS times, so drift of the machine hits both alike. On a shared VM whose
# throughput swings between minutes, CPU per request is the steadier figure.
#
#   bash bench/ab.sh /path/to/ferry-before /path/to/ferry-after
#   TESTS=set,get,sadd P=16 N=200000 REPS=3 bash bench/ab.sh A B
#   CMD='XADD bench:stream * field value' bash bench/ab.sh A B
#
# Environment:
#   TESTS  redis-benchmark tests, comma separated, run in order on one server
#          (default set,get: GET reads what SET wrote)
#   CMD    a command to benchmark instead of TESTS (redis-benchmark's custom
#          command form; __rand_int__ is replaced by a random number)
#   P      pipeline depth (default 16)
#   N      requests per test (default 200000)
#   REPS   alternations (default 3)
#   CLIENTS, KEYSPACE  redis-benchmark -c and -r (default 50, 100000)
#   DURABILITY         ferry --durability (default everysec)
#
# A test that runs two commands (lrange_100 fills with LPUSH first) reports the
# CPU of both per request of one. Network: only the servers started here, on
# 127.0.0.1; only they are stopped (by pid).
set -euo pipefail

[ "$#" -ge 2 ] || { echo "usage: bash bench/ab.sh FERRY_A FERRY_B [more...]" >&2; exit 2; }
for b in "$@"; do
    [ -x "$b" ] || { echo "not an executable: $b (build with cargo build --release -p ferry and copy the binary aside)" >&2; exit 2; }
done
for tool in redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null 2>&1 \
        || { echo "missing $tool; install with: sudo apt-get install -y redis-tools" >&2; exit 2; }
done

TESTS="${TESTS:-set,get}"
P="${P:-16}"
N="${N:-200000}"
REPS="${REPS:-3}"
CLIENTS="${CLIENTS:-50}"
KEYSPACE="${KEYSPACE:-100000}"
DURABILITY="${DURABILITY:-everysec}"
HOST=127.0.0.1
BENCH_NAME=ferry-ab
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

CMD="${CMD:-}"
if [ -n "$CMD" ]; then
    TESTS=cmd
    # Split on spaces without glob expansion (XADD's `*`).
    read -r -a cmd_args <<<"$CMD"
fi
echo "ferry CPU µs per request (and req/s): -P $P, -n $N, -c $CLIENTS, -r $KEYSPACE, tests ${CMD:-$TESTS}"
IFS=',' read -r -a tests <<<"$TESTS"
run=0
for rep in $(seq 1 "$REPS"); do
    for FERRY_BIN in "$@"; do
        run=$((run + 1))
        start_server ferry "$TMP/run$run"
        line="rep $rep $(basename "$FERRY_BIN"):"
        for t in "${tests[@]}"; do
            c0="$(cpu_ticks "$SERVER_PID")"
            if [ "$t" = cmd ]; then
                what=("${cmd_args[@]}")
            else
                what=(-t "$t")
            fi
            # The rate is the second quoted CSV field (a custom command's
            # name may hold commas).
            rps="$(redis-benchmark -h "$HOST" -p "$SERVER_PORT" -c "$CLIENTS" -r "$KEYSPACE" -n "$N" -P "$P" \
                -q --csv "${what[@]}" 2>/dev/null | tail -n 1 | sed -E 's/^"[^"]*","([^"]*)".*/\1/')"
            us="$(us_per_request "$(( $(cpu_ticks "$SERVER_PID") - c0 ))" "$N")"
            line="$line $t=${us}µs (${rps%.*}/s)"
        done
        echo "$line"
        stop_pid "$SERVER_PID"
        forget_pid "$SERVER_PID"
        rm -rf "$TMP/run$run"
    done
done
