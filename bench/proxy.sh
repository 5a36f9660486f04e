#!/usr/bin/env bash
# ferry proxy overhead (issue 12): redis-benchmark against a redis-server
# directly, then through `ferry proxy` in dual-write mode (every SET
# mirrored to a second redis-server through the on-disk backlog), same
# flags, same run. Prints Markdown (progress on stderr). Target: through
# the proxy >= 0.5 of direct at -P 16.
#
#   bash bench/proxy.sh
#   REQUESTS=200000 PIPELINE=1 bash bench/proxy.sh
#
# Environment:
#   REQUESTS      requests per test (default 1000000)
#   CLIENTS       redis-benchmark -c (default 50)
#   PIPELINE      redis-benchmark -P (default 16)
#   TESTS         redis-benchmark -t (default set,get)
#   PROXY_ARGS    extra flags for ferry proxy (e.g. "--threads 1")
#   SKIP_BUILD=1  do not run cargo; use FERRY_BIN
#   KEEP_TMP=1    keep the temporary directory (logs, backlog)
#
# Network: only the servers this script starts, on 127.0.0.1, on free
# random ports. Only processes started here are stopped (by pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

REQUESTS="${REQUESTS:-1000000}"
CLIENTS="${CLIENTS:-50}"
PIPELINE="${PIPELINE:-16}"
TESTS="${TESTS:-set,get}"
HOST=127.0.0.1
BENCH_NAME=ferry-bench-proxy

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for b in redis-server redis-cli redis-benchmark; do
    command -v "$b" >/dev/null 2>&1 || die "$b missing: sudo apt-get install -y redis-server redis-tools"
done

build_ferry

start_server redis "$TMP/primary"
PRIMARY=$SERVER_PORT
PRIMARY_PID=$SERVER_PID
start_server redis "$TMP/secondary"
SECONDARY=$SERVER_PORT
SECONDARY_PID=$SERVER_PID

PROXY=$(random_free_port)
"$FERRY_BIN" proxy --listen "$HOST:$PROXY" --primary "redis://$HOST:$PRIMARY" \
    --secondary "redis://$HOST:$SECONDARY" --mode dual-write --backlog "$TMP/backlog" \
    --status-every 5 ${PROXY_ARGS:-} >"$TMP/proxy.log" 2>&1 &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
wait_ping proxy "$PROXY_PID" "$PROXY" "$TMP/proxy.log" || die "the proxy did not start"

# bench PORT -> "test rps" lines
bench() {
    redis-benchmark -h "$HOST" -p "$1" -c "$CLIENTS" -n "$REQUESTS" -r 100000 \
        -P "$PIPELINE" -t "$TESTS" --csv 2>/dev/null | tail -n +2 | tr -d '"' | cut -d, -f1,2
}

# CPU seconds (user + system) a process used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# CPU seconds the finished children of this shell (redis-benchmark) used so
# far: `times` in this shell (a command substitution would see its own).
children_cpu_to() { times >"$TMP/times"; tail -n 1 "$TMP/times" | awk '{ gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' >"$1"; }
# The CPU each process spent on one run, per million requests.
per_m() { python3 -c "print(f'{($2 - $1) * 1e6 / $REQUESTS / $TEST_COUNT:.2f}')"; }
TEST_COUNT="$(tr ',' '\n' <<<"$TESTS" | grep -c .)"

log "direct: redis-benchmark -c $CLIENTS -n $REQUESTS -P $PIPELINE -t $TESTS"
c0="$(cpu "$PRIMARY_PID")"; children_cpu_to "$TMP/b0"
DIRECT="$(bench "$PRIMARY")"
c1="$(cpu "$PRIMARY_PID")"; children_cpu_to "$TMP/b1"
b0="$(cat "$TMP/b0")"; b1="$(cat "$TMP/b1")"
DIRECT_CPU="redis-server $(per_m "$c0" "$c1"), redis-benchmark $(per_m "$b0" "$b1")"
cli "$PRIMARY" flushall >/dev/null
log "through ferry proxy (dual-write)"
p0="$(cpu "$PRIMARY_PID")"; s0="$(cpu "$SECONDARY_PID")"; x0="$(cpu "$PROXY_PID")"; children_cpu_to "$TMP/b0"
PROXIED="$(bench "$PROXY")"

# The mirror catches up (bounded wait), then both stores hold as many keys.
for i in $(seq 1 600); do
    [ "$(cli "$PRIMARY" dbsize)" = "$(cli "$SECONDARY" dbsize)" ] && break
    sleep 0.1
done
p1="$(cpu "$PRIMARY_PID")"; s1="$(cpu "$SECONDARY_PID")"; x1="$(cpu "$PROXY_PID")"; children_cpu_to "$TMP/b1"
b0="$(cat "$TMP/b0")"; b1="$(cat "$TMP/b1")"
PROXY_CPU="primary $(per_m "$p0" "$p1"), ferry proxy $(per_m "$x0" "$x1"), secondary $(per_m "$s0" "$s1"), redis-benchmark $(per_m "$b0" "$b1")"

echo
echo "ferry proxy (dual-write) vs redis-server direct: redis-benchmark -c $CLIENTS -n $REQUESTS -r 100000 -P $PIPELINE ($(nproc) vCPU, $(redis-server --version | awk '{print $3}'))"
echo
echo "| test | direct (req/s) | through ferry proxy (req/s) | ratio |"
echo "|---|---|---|---|"
while IFS=, read -r test rps; do
    p="$(printf '%s\n' "$PROXIED" | awk -F, -v t="$test" '$1 == t { print $2 }')"
    ratio="$(python3 -c "print(f'{float(\"$p\") / float(\"$rps\"):.2f}')")"
    echo "| $test | ${rps%.*} | ${p%.*} | $ratio |"
done <<<"$DIRECT"
echo
echo "CPU-seconds per million requests: direct: $DIRECT_CPU; through the proxy: $PROXY_CPU"
echo
echo "keys: primary $(cli "$PRIMARY" dbsize), secondary $(cli "$SECONDARY" dbsize) (mirror caught up when equal)"
echo "proxy: $(grep 'clients,' "$TMP/proxy.log" | tail -n 1 | sed 's/^.*\] //')"
