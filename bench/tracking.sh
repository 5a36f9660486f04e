#!/usr/bin/env bash
# Client-side caching: a read-heavy load (90% GET / 10% SET over 10,000 hot
# keys, uniformly random) from a caching client, with and without its cache,
# against ferry and a real redis-server started here. Reports reads served
# per second. Prints Markdown for docs/benchmarks.md (progress on stderr).
#
#   bash bench/tracking.sh
#   SECONDS_PER_RUN=5 THREADS=1 bash bench/tracking.sh
#   REDISPY=1 bash bench/tracking.sh     # also with redis-py's cache
#
# The client is `crates/ferry/examples/cache_bench.rs`: RESP3, CLIENT
# TRACKING, a reader thread applying invalidation pushes in stream order
# (how rueidis and Lettuce are built), caches warmed before the timed part.
# With REDISPY=1 the same load also runs from redis-py's `cache_config`
# (bench/tracking_client.py; redis-py pinned in
# crates/ferry/tests/clients/redis-py/requirements.txt, installed from PyPI
# into target/bench-venv on first use).
#
# Environment:
#   SECONDS_PER_RUN  length of each run (default 10)
#   THREADS          client connections, one thread each (default 2)
#   KEYS             hot keys (default 10000)
#   WRITE_PCT        share of SETs in percent (default 10)
#   DURABILITY       ferry --durability (default everysec)
#   SKIP_BUILD=1     do not run cargo; use FERRY_BIN and CACHE_BENCH_BIN
#   KEEP_TMP=1       keep the temporary directory (logs, data files)
#
# Network: only the servers this script starts, on 127.0.0.1, on free
# random ports. Only processes started here are stopped (by pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUN_SECONDS="${SECONDS_PER_RUN:-10}"
THREADS="${THREADS:-2}"
KEYS="${KEYS:-10000}"
WRITE_PCT="${WRITE_PCT:-10}"
DURABILITY="${DURABILITY:-everysec}"
HOST=127.0.0.1

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

command -v redis-server >/dev/null 2>&1 || die "redis-server missing: sudo apt-get install -y redis-server redis-tools"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli missing: sudo apt-get install -y redis-tools"

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "cargo build --release -p ferry --bin ferry --example cache_bench"
    cargo build --release -p ferry --bin ferry --example cache_bench >&2
fi
FERRY_BIN="${FERRY_BIN:-$TARGET/release/ferry}"
CACHE_BENCH_BIN="${CACHE_BENCH_BIN:-$TARGET/release/examples/cache_bench}"
[ -x "$FERRY_BIN" ] || die "ferry binary not found at $FERRY_BIN (build it, or set FERRY_BIN)"
[ -x "$CACHE_BENCH_BIN" ] || die "cache_bench not found at $CACHE_BENCH_BIN (cargo build --release -p ferry --example cache_bench)"

if [ "${REDISPY:-0}" = 1 ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 missing: sudo apt-get install -y python3 python3-venv"
    VENV="$TARGET/bench-venv"
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import redis.cache' 2>/dev/null; then
        log "creating $VENV with redis-py"
        python3 -m venv "$VENV" || die "python3 -m venv failed: sudo apt-get install -y python3-venv"
        "$VENV/bin/python" -m pip install -q -r crates/ferry/tests/clients/redis-py/requirements.txt >&2 \
            || die "pip install failed (needs PyPI)"
    fi
    PY="$VENV/bin/python"
fi

# run_one SERVER PORT CACHE -> JSON line (the Rust client)
run_one() {
    log "$1: cache=$3, $THREADS connections x ${RUN_SECONDS}s"
    cli "$2" flushall >/dev/null
    CACHE="$3" KEYS="$KEYS" SECONDS="$RUN_SECONDS" THREADS="$THREADS" WRITE_PCT="$WRITE_PCT" \
        timeout $(( RUN_SECONDS * 3 + 60 )) "$CACHE_BENCH_BIN" "$2"
}

# run_py SERVER PORT CACHE -> JSON line (redis-py)
run_py() {
    log "$1 (redis-py): cache=$3, $THREADS processes x ${RUN_SECONDS}s"
    cli "$2" flushall >/dev/null
    FERRY_PORT="$2" CACHE="$3" KEYS="$KEYS" SECONDS="$RUN_SECONDS" PROCS="$THREADS" \
        WRITE_PCT="$WRITE_PCT" timeout $(( RUN_SECONDS * 3 + 60 )) "$PY" bench/tracking_client.py
}

field() { # field JSON NAME
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"
}

start_server redis "$TMP/redis"
REDIS_PORT="$SERVER_PORT"
start_server ferry "$TMP/ferry"
FERRY_PORT_="$SERVER_PORT"

redis_plain="$(run_one redis "$REDIS_PORT" 0)"
redis_cached="$(run_one redis "$REDIS_PORT" 1)"
ferry_plain="$(run_one ferry "$FERRY_PORT_" 0)"
ferry_cached="$(run_one ferry "$FERRY_PORT_" 1)"

cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || uname -m)"

row() { # row LABEL JSON BASELINE-JSON
    local rps base
    rps="$(field "$2" reads_per_sec)"
    base="$(field "$3" reads_per_sec)"
    printf '| %s | %s | %s | %s%% | %s |\n' "$1" "$rps" "$(field "$2" writes)" \
        "$(field "$2" served_locally_pct)" "$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
}

cat <<MD
## Client-side caching run of $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $(nproc) CPUs ($cpu_model), $(uname -srm); load before: $(cut -d' ' -f1-3 /proc/loadavg)
- redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'); ferry $(git describe --always --dirty 2>/dev/null || echo '?') (release, --durability $DURABILITY)
- Load: \`bench/tracking.sh\` — client \`examples/cache_bench.rs\`, $THREADS connections x ${RUN_SECONDS} s after a warm-up read of every key, ${WRITE_PCT}% SET / rest GET over $KEYS hot keys, uniformly random

| server, client | reads/s | writes | reads served from the client's cache | vs redis-server without cache |
|---|---|---|---|---|
$(row "redis-server, no cache" "$redis_plain" "$redis_plain")
$(row "redis-server, cache (tracking)" "$redis_cached" "$redis_plain")
$(row "ferry, no cache" "$ferry_plain" "$redis_plain")
$(row "ferry, cache (tracking)" "$ferry_cached" "$redis_plain")
MD

if [ "${REDISPY:-0}" = 1 ]; then
    py_redis_plain="$(run_py redis "$REDIS_PORT" 0)"
    py_redis_cached="$(run_py redis "$REDIS_PORT" 1)"
    py_ferry_plain="$(run_py ferry "$FERRY_PORT_" 0)"
    py_ferry_cached="$(run_py ferry "$FERRY_PORT_" 1)"
    cat <<MD

The same load from redis-py $("$PY" -c 'import redis; print(redis.__version__)') (\`cache_config\`; $THREADS processes, no warm-up):

| server, client | reads/s | writes | reads served from the client's cache | vs redis-server without cache |
|---|---|---|---|---|
$(row "redis-server, no cache" "$py_redis_plain" "$py_redis_plain")
$(row "redis-server, redis-py cache" "$py_redis_cached" "$py_redis_plain")
$(row "ferry, no cache" "$py_ferry_plain" "$py_redis_plain")
$(row "ferry, redis-py cache" "$py_ferry_cached" "$py_redis_plain")
MD
fi
