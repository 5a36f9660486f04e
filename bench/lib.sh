# Shared by the bench/ scripts: logging, process bookkeeping (only processes
# started here are stopped, by pid), free loopback ports, starting
# redis-server or ferry and waiting for PING. Source it after setting HOST
# (and, for start_server, FERRY_BIN and DURABILITY). Optional: BENCH_NAME
# (temporary directory prefix), CLI_TIMEOUT (seconds, default 5).
# shellcheck shell=bash

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# --- process bookkeeping ------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/${BENCH_NAME:-ferry-bench}.XXXXXX")"
PIDS=()

stop_pid() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop in 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

forget_pid() { # forget_pid PID: drop it from PIDS once stopped
    local keep=() p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        stop_pid "$pid"
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() {
    # A successful connect means something listens there.
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

random_free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port found on $HOST"
}

# cpu_ticks PID: user + system CPU of a process so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICK_HZ="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# settle PID...: waits (at most 5 s) until none of the processes used CPU for
# 200 ms, so work a server does after a run (ferry's checkpoints, redis's AOF
# rewrite) is not billed to the next run of another server.
settle() {
    local before after i
    for i in $(seq 1 25); do
        before="$(for p in "$@"; do cpu_ticks "$p"; done)"
        sleep 0.2
        after="$(for p in "$@"; do cpu_ticks "$p"; done)"
        [ "$before" = "$after" ] && return 0
    done
    log "servers still busy after 5 s; running the next test anyway"
    return 0
}

# us_per_request TICKS REQUESTS: CPU microseconds per request.
us_per_request() {
    awk -v t="$1" -v hz="$TICK_HZ" -v n="$2" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }'
}

cli() { # cli PORT ARGS... (bounded: never waits more than CLI_TIMEOUT s)
    local port="$1"; shift
    timeout "${CLI_TIMEOUT:-5}" redis-cli -h "$HOST" -p "$port" "$@"
}

wait_ping() { # wait_ping NAME PID PORT LOG
    local name="$1" pid="$2" port="$3" logf="$4" i
    for i in $(seq 1 300); do # 30 s
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited during startup; last lines of $logf:"
            tail -n 20 "$logf" >&2 || true
            return 1
        fi
        if [ "$(cli "$port" ping 2>/dev/null)" = PONG ]; then
            return 0
        fi
        sleep 0.1
    done
    log "$name (pid $pid) did not answer PING on $HOST:$port within 30 s; last lines of $logf:"
    tail -n 20 "$logf" >&2 || true
    return 1
}

# start_server KIND DIR -> sets SERVER_PID and SERVER_PORT. KIND is redis or ferry;
# FERRY_SERVE_ARGS (optional) adds flags to `ferry serve`; REDIS_SERVE_ARGS to
# redis-server, after the defaults (a later directive wins: `--appendonly yes
# --appendfsync everysec` gives the reference ferry's own durability).
start_server() {
    local kind="$1" dir="$2" attempt port pid logf
    mkdir -p "$dir"
    logf="$dir/$kind.log"
    for attempt in 1 2 3; do
        port="$(random_free_port)"
        [ -n "$port" ] || die "no free port found on $HOST"
        case "$kind" in
            redis)
                # shellcheck disable=SC2086 # REDIS_SERVE_ARGS is a list of flags
                redis-server --bind "$HOST" --port "$port" --save "" --appendonly no ${REDIS_SERVE_ARGS:-} \
                    --daemonize no --dir "$dir" --logfile "$logf" &
                ;;
            ferry)
                # shellcheck disable=SC2086 # FERRY_SERVE_ARGS is a list of flags
                "$FERRY_BIN" serve --bind "$HOST" --port "$port" --data "$dir/ferry.db" \
                    --durability "$DURABILITY" ${FERRY_SERVE_ARGS:-} >"$logf" 2>&1 &
                ;;
        esac
        pid=$!
        PIDS+=("$pid")
        if wait_ping "$kind" "$pid" "$port" "$logf"; then
            SERVER_PID="$pid"
            SERVER_PORT="$port"
            log "$kind up: pid $pid, $HOST:$port"
            return 0
        fi
        stop_pid "$pid"
        log "$kind failed to start on port $port (attempt $attempt/3)"
    done
    die "could not start $kind; see the log above"
}


# build_ferry: `cargo build --release -p ferry --bin ferry` unless SKIP_BUILD=1,
# then sets FERRY_BIN (default: the release binary of CARGO_TARGET_DIR or
# target/) and checks it is there. ROOT must be the repository.
build_ferry() {
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        command -v cargo >/dev/null 2>&1 \
            || die "cargo not found; install Rust (https://rustup.rs) or set SKIP_BUILD=1 FERRY_BIN=/path/to/ferry"
        log "cargo build --release -p ferry --bin ferry"
        (cd "$ROOT" && cargo build --release -p ferry --bin ferry) >&2
    fi
    FERRY_BIN="${FERRY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}"
    [ -x "$FERRY_BIN" ] || die "ferry binary not found at $FERRY_BIN (build it, or set SKIP_BUILD=1 FERRY_BIN=...)"
}
