#!/usr/bin/env bash
# Raft replication (issue 10): SET/GET throughput of a 3-node ferry Raft
# cluster's leader next to a single `ferry serve`, a plain redis-server, and
# a redis-server primary with one replica where every SET is followed by
# `WAIT 1 0` (the nearest Redis equivalent of a majority ack); then the
# failover time (SIGKILL of the leader to the first acknowledged write),
# several times. Everything on this machine, over loopback, in one run.
# Prints Markdown ready to paste into docs/benchmarks.md (progress on stderr).
#
#   bash bench/raft.sh
#   N=50000 FAILOVERS=1 bash bench/raft.sh         # quicker
#   SKIP_RAFT=1 bash bench/raft.sh                  # only ferry single + redis references
#
# Load tools: redis-benchmark (-t set,get) for everything but SET+WAIT, which
# redis-benchmark cannot send; that is crates/ferry/examples/wait_bench.rs
# (one event loop like redis-benchmark's, the same -c/-P/-n/-r, 3-byte values).
# Failover: crates/ferry/examples/raft_failover.rs finds the leader by INFO
# replication (role:master), kills it with SIGKILL and probes the survivors
# with SET until one answers +OK. The killed node is then restarted with the
# same arguments and data file, and the next run waits until it is a
# caught-up follower again.
#
# Environment:
#   N                 requests per redis-benchmark / wait_bench run (default 100000)
#   PIPELINES         pipeline depths, space separated (default "1 16")
#   CLIENTS           parallel connections (default 50)
#   KEYSPACE          -r keyspace for random keys (default 100000)
#   DURABILITY        ferry --durability, single node and every Raft node (default everysec)
#   FAILOVERS         failover measurements (default 3; 0 skips them)
#   FAILOVER_TIMEOUT  seconds one failover may take before it counts as failed (default 30)
#   LEADER_TIMEOUT    seconds to wait for a leader / a rejoined follower (default 30)
#   SKIP_RAFT=1       run without the Raft cluster (for a ferry without `serve --raft`)
#   SKIP_BUILD=1      do not run cargo; use FERRY_BIN, WAIT_BENCH_BIN, FAILOVER_BIN
#                     (default $CARGO_TARGET_DIR/release/{ferry,examples/wait_bench,examples/raft_failover})
#   CARGO_JOBS        cargo build -j (default: cargo's own default)
#   RUN_TIMEOUT       seconds before one load run is abandoned (default 600)
#   KEEP_TMP=1        keep the temporary directory (server logs, data files)
#
# Network: only the servers this script starts, on 127.0.0.1, on free random
# ports. Only processes started here are stopped (by pid); the failover tool
# SIGKILLs only the Raft leader's pid, which this script started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

N="${N:-100000}"
PIPELINES="${PIPELINES:-1 16}"
CLIENTS="${CLIENTS:-50}"
KEYSPACE="${KEYSPACE:-100000}"
DURABILITY="${DURABILITY:-everysec}"
FAILOVERS="${FAILOVERS:-3}"
FAILOVER_TIMEOUT="${FAILOVER_TIMEOUT:-30}"
LEADER_TIMEOUT="${LEADER_TIMEOUT:-30}"
RUN_TIMEOUT="${RUN_TIMEOUT:-600}"
SKIP_RAFT="${SKIP_RAFT:-0}"
HOST=127.0.0.1

BENCH_NAME=ferry-raft-bench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for v in N CLIENTS KEYSPACE RUN_TIMEOUT FAILOVER_TIMEOUT LEADER_TIMEOUT; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ "$FAILOVERS" =~ ^[0-9]+$ ]] || die "FAILOVERS must be a non-negative integer, got '$FAILOVERS'"

# --- prerequisites ------------------------------------------------------------
missing=()
for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    die "missing: ${missing[*]}. Install them with:
    sudo apt-get update && sudo apt-get install -y redis-server redis-tools"
fi
for tool in timeout awk; do
    command -v "$tool" >/dev/null 2>&1 || die "missing: $tool (coreutils / awk)"
done

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (https://rustup.rs) or set SKIP_BUILD=1 and the *_BIN paths"
    jobs_arg=()
    [ -z "${CARGO_JOBS:-}" ] || jobs_arg=(-j "$CARGO_JOBS")
    log "cargo build --release -p ferry --bin ferry --example wait_bench --example raft_failover"
    cargo build "${jobs_arg[@]+"${jobs_arg[@]}"}" --release -p ferry --bin ferry \
        --example wait_bench --example raft_failover >&2
fi
FERRY_BIN="${FERRY_BIN:-$TARGET/release/ferry}"
WAIT_BENCH_BIN="${WAIT_BENCH_BIN:-$TARGET/release/examples/wait_bench}"
FAILOVER_BIN="${FAILOVER_BIN:-$TARGET/release/examples/raft_failover}"
[ -x "$FERRY_BIN" ] || die "ferry binary not found at $FERRY_BIN (build it, or set FERRY_BIN)"
[ -x "$WAIT_BENCH_BIN" ] || die "wait_bench not found at $WAIT_BENCH_BIN (cargo build --release -p ferry --example wait_bench)"

if [ "$SKIP_RAFT" != 1 ]; then
    serve_help="$("$FERRY_BIN" serve --help 2>&1 || true)"
    if [[ "$serve_help" != *--raft* ]]; then
        die "$FERRY_BIN does not support 'ferry serve --raft' (Raft replication, issue 10).
    Build ferry from a tree that has it, or run SKIP_RAFT=1 bash bench/raft.sh for the
    single-node ferry and redis-server reference numbers only."
    fi
    [ "$FAILOVERS" = 0 ] || [ -x "$FAILOVER_BIN" ] \
        || die "raft_failover not found at $FAILOVER_BIN (cargo build --release -p ferry --example raft_failover)"
fi

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
RESULTS="$TMP/results.tsv" # setup \t pipeline \t TEST \t rps-or-error
FAILOVER_RESULTS="$TMP/failover.tsv" # run \t killed \t new-leader \t seconds-or-error
: >"$RESULTS"
: >"$FAILOVER_RESULTS"

first_line() { tr -d '\r' <"$1" | grep -v '^$' | head -n 1 | sed 's/^Error from server: //' | cut -c1-70; }

# bench_rb SETUP PORT PIPELINE TESTS: one redis-benchmark run, a row per test.
bench_rb() {
    local setup="$1" port="$2" pipeline="$3" tests="$4" out err rc why t
    out="$TMP/out.csv"; err="$TMP/err.txt"
    log "$setup: redis-benchmark -t $tests -P $pipeline"
    set +e
    timeout "$RUN_TIMEOUT" redis-benchmark -h "$HOST" -p "$port" -c "$CLIENTS" -r "$KEYSPACE" \
        -n "$N" -t "$tests" -P "$pipeline" -q --csv >"$out" 2>"$err"
    rc=$?
    set -e
    # An error reply (a -READONLY after a leader change, say) makes the rate meaningless.
    if [ "$rc" -eq 0 ] && grep -q '^"' "$out" && ! grep -qi 'error' "$err" "$out"; then
        awk -F'","' -v s="$setup" -v p="$pipeline" \
            'NR > 1 && /^"/ { gsub(/"/, "", $1); gsub(/"/, "", $2); print s "\t" p "\t" $1 "\t" $2 }' \
            "$out" >>"$RESULTS"
    else
        if [ "$rc" -eq 124 ]; then
            why="timeout after ${RUN_TIMEOUT}s"
        else
            why="$(cat "$err" "$out" | grep -i error | head -n 1 | tr -d '\r' | sed 's/^Error from server: //' | cut -c1-70)"
            [ -n "$why" ] || why="$(first_line "$err")"
            [ -n "$why" ] || why="redis-benchmark exit $rc"
        fi
        log "$setup -t $tests -P $pipeline failed: $why"
        for t in ${tests//,/ }; do
            printf '%s\t%s\t%s\t%s\n' "$setup" "$pipeline" "$(echo "$t" | tr '[:lower:]' '[:upper:]')" \
                "error: ${why//|//}" >>"$RESULTS"
        done
    fi
}

# bench_wait SETUP PORT PIPELINE: SET + WAIT 1 0 with wait_bench, as row SET.
bench_wait() {
    local setup="$1" port="$2" pipeline="$3" out err rc rps why
    err="$TMP/err.txt"
    log "$setup: wait_bench SET+WAIT 1 0 -P $pipeline"
    set +e
    out="$(timeout "$RUN_TIMEOUT" "$WAIT_BENCH_BIN" --host "$HOST" --port "$port" -c "$CLIENTS" \
        -P "$pipeline" -n "$N" -r "$KEYSPACE" 2>"$err")"
    rc=$?
    set -e
    rps="$(sed -n 's/^SET+WAIT1: \([0-9.]*\) requests per second.*/\1/p' <<<"$out")"
    if [ "$rc" -eq 0 ] && [[ "$rps" =~ ^[0-9.]+$ ]]; then
        printf '%s\t%s\tSET\t%s\n' "$setup" "$pipeline" "$rps" >>"$RESULTS"
    else
        if [ "$rc" -eq 124 ]; then why="timeout after ${RUN_TIMEOUT}s"; else why="$(first_line "$err")"; fi
        [ -n "$why" ] || why="wait_bench exit $rc"
        log "$setup SET+WAIT -P $pipeline failed: $why"
        printf '%s\t%s\tSET\terror: %s\n' "$setup" "$pipeline" "${why//|//}" >>"$RESULTS"
    fi
}

flush() { # flush SETUP PORT
    cli "$2" flushall >/dev/null 2>&1 || log "$1: FLUSHALL failed"
}

info_field() { # info_field PORT FIELD -> value from INFO replication (empty if none)
    { cli "$1" info replication 2>/dev/null || true; } | tr -d '\r' | sed -n "s/^$2:\(.*\)$/\1/p" | head -n 1
}

# Ports for the Raft nodes come from below the kernel's ephemeral range: a
# port in it can be held by any outgoing loopback connection (not only a
# listener, so the connect test cannot see it), which fails the bind, and a
# killed node's ports must still be free when it restarts.
EPHEMERAL_LO="$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
[[ "$EPHEMERAL_LO" =~ ^[0-9]+$ ]] || EPHEMERAL_LO=32768

low_free_port() {
    local p _
    if [ "$EPHEMERAL_LO" -le 11000 ]; then random_free_port; return; fi
    for _ in $(seq 1 50); do
        p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (EPHEMERAL_LO - 10000) ))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port found on $HOST"
}

# pick_ports COUNT -> COUNT distinct free ports on HOST, space separated
pick_ports() {
    local want="$1" got=() p q dup _
    for _ in $(seq 1 200); do
        [ "${#got[@]}" -lt "$want" ] || break
        p="$(low_free_port)"
        dup=0
        for q in "${got[@]+"${got[@]}"}"; do [ "$q" != "$p" ] || dup=1; done
        [ "$dup" = 1 ] || got+=("$p")
    done
    [ "${#got[@]}" -eq "$want" ] || die "could not find $want free ports on $HOST"
    echo "${got[*]}"
}

# --- (a) single ferry serve ---------------------------------------------------
start_server ferry "$TMP/ferry"
SINGLE_PID="$SERVER_PID"
for pipeline in $PIPELINES; do
    flush ferry "$SERVER_PORT"
    bench_rb single "$SERVER_PORT" "$pipeline" set,get
done
stop_pid "$SINGLE_PID"; forget_pid "$SINGLE_PID"

# --- (b) 3-node ferry Raft cluster --------------------------------------------
NODE_IDS=(1 2 3)
declare -A NODE_PORT RAFT_PORT NODE_PID
PEERS=""

start_raft_node() { # start_raft_node ID (same arguments and data file every time)
    local id="$1" dir="$TMP/raft/n$1" pid
    mkdir -p "$dir"
    "$FERRY_BIN" serve --bind "$HOST" --port "${NODE_PORT[$id]}" --data "$dir/ferry.db" \
        --durability "$DURABILITY" --raft --node-id "$id" --raft-addr "$HOST:${RAFT_PORT[$id]}" \
        --peers "$PEERS" >>"$dir/ferry.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    NODE_PID[$id]="$pid"
    if ! wait_ping "raft node $id" "$pid" "${NODE_PORT[$id]}" "$dir/ferry.log"; then
        log "raft node $id did not start (log: $dir/ferry.log; KEEP_TMP=1 keeps it)"
        return 1
    fi
    log "raft node $id up: pid $pid, client $HOST:${NODE_PORT[$id]}, raft $HOST:${RAFT_PORT[$id]}"
}

stop_cluster() {
    local id
    for id in "${NODE_IDS[@]}"; do
        [ -z "${NODE_PID[$id]:-}" ] || { stop_pid "${NODE_PID[$id]}"; forget_pid "${NODE_PID[$id]}"; }
        NODE_PID[$id]=""
    done
}

# start_cluster: three fresh nodes on free ports; a port taken by someone
# else between the pick and the bind means new ports and a new cluster.
start_cluster() {
    local attempt id ports up
    for attempt in 1 2 3; do
        read -r -a ports <<<"$(pick_ports 6)"
        PEERS=""
        for id in "${NODE_IDS[@]}"; do
            NODE_PORT[$id]="${ports[$((id - 1))]}"
            RAFT_PORT[$id]="${ports[$((id + 2))]}"
            PEERS="${PEERS:+$PEERS,}$id=$HOST:${RAFT_PORT[$id]}"
        done
        rm -rf "$TMP/raft"
        up=1
        for id in "${NODE_IDS[@]}"; do start_raft_node "$id" || { up=0; break; }; done
        [ "$up" = 0 ] || return 0
        stop_cluster
        log "the Raft cluster did not start (attempt $attempt/3)"
    done
    die "could not start the Raft cluster; see the log above"
}

# wait_leader -> sets LEADER_ID once exactly one node reports role:master,
# every node names it as raft_leader_id and it acknowledges a write.
wait_leader() {
    local deadline=$((SECONDS + LEADER_TIMEOUT)) id leader agree reply
    local -a masters
    while [ "$SECONDS" -lt "$deadline" ]; do
        masters=()
        for id in "${NODE_IDS[@]}"; do
            [ "$(info_field "${NODE_PORT[$id]}" role)" != master ] || masters+=("$id")
        done
        if [ "${#masters[@]}" -eq 1 ]; then
            leader="${masters[0]}"
            agree=1
            for id in "${NODE_IDS[@]}"; do
                [ "$(info_field "${NODE_PORT[$id]}" raft_leader_id)" = "$leader" ] || agree=0
            done
            reply="$(cli "${NODE_PORT[$leader]}" set raftbench:ready 1 2>&1 || true)"
            if [ "$agree" = 1 ] && [ "$reply" = OK ]; then
                LEADER_ID="$leader"
                return 0
            fi
        fi
        sleep 0.2
    done
    log "no single acknowledged leader within ${LEADER_TIMEOUT}s; INFO replication of each node:"
    for id in "${NODE_IDS[@]}"; do
        log "node $id: $(cli "${NODE_PORT[$id]}" info replication 2>&1 | tr -d '\r' | grep -E '^(role|raft_)' | tr '\n' ' ')"
    done
    return 1
}

# wait_follower ID: the node is a follower of the current leader and has
# caught up (the leader reports lag=0 for it).
wait_follower() {
    local id="$1" deadline=$((SECONDS + LEADER_TIMEOUT)) state lid line
    while [ "$SECONDS" -lt "$deadline" ]; do
        state="$(info_field "${NODE_PORT[$id]}" raft_state)"
        lid="$(info_field "${NODE_PORT[$id]}" raft_leader_id)"
        if [ "$state" = Follower ] && [ -n "$lid" ] && [ -n "${NODE_PORT[$lid]:-}" ]; then
            line="$(info_field "${NODE_PORT[$lid]}" "raft_follower_$id")"
            case "$line" in *lag=0*) return 0 ;; esac
        fi
        sleep 0.2
    done
    log "node $id is not a caught-up follower after ${LEADER_TIMEOUT}s (raft_state '$state', raft_leader_id '$lid', leader's view '${line:-}')"
    return 1
}

raft_note() { # raft_note TEXT: logged, and shown under the report's tables
    log "raft: $1"
    echo "$1" >>"$TMP/raft-notes.txt"
}

last_error_line() { # last_error_line LOG -> its last ERROR line, or its last line
    local l
    l="$(grep -E 'ERROR|error' "$1" 2>/dev/null | tail -n 1)"
    [ -n "$l" ] || l="$(tail -n 1 "$1" 2>/dev/null)"
    printf '%s' "$l" | cut -c1-300
}

# failover_runs: FAILOVERS times kill the leader, time the failover, restart
# the killed node with the same arguments and data, and wait until it is a
# caught-up follower. Returns 1 (with a note) when the cluster cannot go on.
failover_runs() {
    local run id nodes pids out rc killed secs newl killed_id why
    for run in $(seq 1 "$FAILOVERS"); do
        if ! wait_leader; then
            raft_note "no leader before failover run $run; failover runs stopped"
            return 1
        fi
        for id in "${NODE_IDS[@]}"; do
            if [ "$id" != "$LEADER_ID" ] && ! wait_follower "$id"; then
                raft_note "node $id did not catch up before failover run $run; failover runs stopped"
                return 1
            fi
        done
        nodes="" pids=""
        for id in "${NODE_IDS[@]}"; do
            nodes="${nodes:+$nodes,}$HOST:${NODE_PORT[$id]}"
            pids="${pids:+$pids,}${NODE_PID[$id]}"
        done
        log "failover run $run: killing the leader (node $LEADER_ID)"
        set +e
        out="$(timeout $((FAILOVER_TIMEOUT + 30)) "$FAILOVER_BIN" --nodes "$nodes" --pids "$pids" \
            --timeout "$FAILOVER_TIMEOUT" 2>"$TMP/err.txt")"
        rc=$?
        set -e
        killed="$(sed -n 's/^killed leader \([^ ]*\) (pid [0-9]*)$/\1/p' <<<"$out")"
        secs="$(sed -n 's/^failover: \([0-9.]*\) s .*/\1/p' <<<"$out")"
        newl="$(sed -n 's/^failover: .*, new leader \(.*\)$/\1/p' <<<"$out")"
        killed_id=""
        for id in "${NODE_IDS[@]}"; do
            [ "$killed" != "$HOST:${NODE_PORT[$id]}" ] || killed_id="$id"
        done
        if [ "$rc" -ne 0 ] || [ -z "$secs" ]; then
            why="$(first_line "$TMP/err.txt")"
            [ -n "$why" ] || why="raft_failover exit $rc"
            log "failover run $run failed: $why"
            printf '%s\t%s\t-\terror: %s\n' "$run" "${killed:--}" "${why//|//}" >>"$FAILOVER_RESULTS"
        else
            log "failover run $run: $secs s, new leader $newl"
            printf '%s\t%s\t%s\t%s\n' "$run" "$killed" "$newl" "$secs" >>"$FAILOVER_RESULTS"
        fi
        if [ -z "$killed_id" ]; then
            raft_note "failover run $run killed no node; failover runs stopped"
            return 1
        fi
        # Reap the killed process, then bring it back with the same arguments.
        wait "${NODE_PID[$killed_id]}" 2>/dev/null || true
        forget_pid "${NODE_PID[$killed_id]}"
        NODE_PID[$killed_id]=""
        if ! start_raft_node "$killed_id"; then
            raft_note "after failover run $run, node $killed_id (the killed leader) did not restart with its data: $(last_error_line "$TMP/raft/n$killed_id/ferry.log")"
            return 1
        fi
        if ! wait_leader; then
            raft_note "no leader after restarting node $killed_id (failover run $run)"
            return 1
        fi
        if ! wait_follower "$killed_id"; then
            raft_note "node $killed_id did not rejoin as a caught-up follower after failover run $run: $(last_error_line "$TMP/raft/n$killed_id/ferry.log")"
            return 1
        fi
        log "node $killed_id rejoined as a follower"
    done
}

if [ "$SKIP_RAFT" != 1 ]; then
    start_cluster
    wait_leader || die "the Raft cluster elected no leader"
    log "raft leader: node $LEADER_ID ($HOST:${NODE_PORT[$LEADER_ID]})"
    for pipeline in $PIPELINES; do
        wait_leader || die "the Raft cluster lost its leader"
        port="${NODE_PORT[$LEADER_ID]}"
        term="$(info_field "$port" raft_term)"
        flush raft "$port"
        bench_rb raft "$port" "$pipeline" set,get
        if [ "$(info_field "$port" raft_term)" != "$term" ]; then
            raft_note "the leader changed during the -P $pipeline run (figures include an election)"
        fi
    done

    # --- failover -------------------------------------------------------------
    # A failure here ends the failover runs (noted in the report); the
    # redis-server references still run.
    failover_runs || true
    stop_cluster
fi

# --- (c) redis-server ---------------------------------------------------------
start_server redis "$TMP/redis"
REDIS_PID="$SERVER_PID"
for pipeline in $PIPELINES; do
    flush redis "$SERVER_PORT"
    bench_rb redis "$SERVER_PORT" "$pipeline" set,get
done
stop_pid "$REDIS_PID"; forget_pid "$REDIS_PID"

# --- (d) redis-server primary + one replica -----------------------------------
start_server redis "$TMP/primary"
PRIMARY_PID="$SERVER_PID"
PRIMARY_PORT="$SERVER_PORT"
REPLICA_PID=""
for attempt in 1 2 3; do
    rport="$(random_free_port)"
    mkdir -p "$TMP/replica"
    redis-server --bind "$HOST" --port "$rport" --save "" --appendonly no --daemonize no \
        --dir "$TMP/replica" --logfile "$TMP/replica/redis.log" --replicaof "$HOST" "$PRIMARY_PORT" &
    rpid=$!
    PIDS+=("$rpid")
    if wait_ping "redis replica" "$rpid" "$rport" "$TMP/replica/redis.log"; then
        REPLICA_PID="$rpid"
        break
    fi
    stop_pid "$rpid"; forget_pid "$rpid"
    log "redis replica failed to start on port $rport (attempt $attempt/3)"
done
[ -n "$REPLICA_PID" ] || die "could not start the redis replica"
deadline=$((SECONDS + 30))
until [ "$(info_field "$rport" master_link_status)" = up ] \
    && [ "$(info_field "$PRIMARY_PORT" connected_slaves)" = 1 ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "the redis replica did not link to the primary within 30 s (log: $TMP/replica/redis.log)"
    sleep 0.2
done
log "redis primary $HOST:$PRIMARY_PORT, replica $HOST:$rport (link up)"
for pipeline in $PIPELINES; do
    flush primary "$PRIMARY_PORT"
    # SET without WAIT (asynchronous replication) and GET, then SET + WAIT 1 0.
    bench_rb primary "$PRIMARY_PORT" "$pipeline" set,get
    bench_wait wait "$PRIMARY_PORT" "$pipeline"
done
stop_pid "$REPLICA_PID"; forget_pid "$REPLICA_PID"
stop_pid "$PRIMARY_PID"; forget_pid "$PRIMARY_PID"

# --- report -------------------------------------------------------------------
cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
[ -n "$cpu_model" ] || cpu_model="$(uname -m)"
ferry_rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
redis_v="$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"

get() { # get SETUP PIPELINE TEST -> rps, "error: ..." or "-"
    local v
    v="$(awk -F'\t' -v s="$1" -v p="$2" -v t="$3" '$1 == s && $2 == p && $3 == t { print $4; exit }' "$RESULTS")"
    echo "${v:--}"
}
num() { [[ "$1" =~ ^[0-9.]+$ ]]; }
fmt() { if num "$1"; then awk -v x="$1" 'BEGIN { printf "%.0f", x }'; else printf '%s' "$1"; fi; }
ratio() { if num "$1" && num "$2"; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; else echo -; fi; }

cat <<EOF
## Raft replication run of $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $(nproc) CPUs ($cpu_model), $(uname -srm); load average before the run: $LOAD_BEFORE
- redis-server $redis_v; ferry $ferry_rev (release build, --durability $DURABILITY on every ferry node)
- All servers and clients on the same machine, over loopback; one setup running at a time
- Commands (\`bench/raft.sh\` with N=$N PIPELINES="$PIPELINES" CLIENTS=$CLIENTS KEYSPACE=$KEYSPACE FAILOVERS=$FAILOVERS SKIP_RAFT=$SKIP_RAFT):

\`\`\`sh
ferry serve --port PORT --data DIR/ferry.db --durability $DURABILITY                      # single
ferry serve --port PORTi --data DIR/ni/ferry.db --durability $DURABILITY --raft --node-id i \\
    --raft-addr 127.0.0.1:RAFTi --peers 1=127.0.0.1:RAFT1,2=127.0.0.1:RAFT2,3=127.0.0.1:RAFT3  # i = 1, 2, 3
redis-server --port PORT --save "" --appendonly no                                        # reference
redis-server --port PORT2 --save "" --appendonly no --replicaof 127.0.0.1 PORT            # + replica
# per setup and pipeline depth P: FLUSHALL, then (on the Raft leader, on the redis primary)
redis-benchmark -h 127.0.0.1 -p PORT -c $CLIENTS -r $KEYSPACE -n $N -t set,get -P P -q --csv
# SET + WAIT 1 0 on the redis primary:
wait_bench --port PORT -c $CLIENTS -P P -n $N -r $KEYSPACE    # crates/ferry/examples/wait_bench.rs
# failover, $FAILOVERS times (then the killed node is restarted and waited for as a caught-up follower):
raft_failover --nodes 127.0.0.1:PORT1,...,PORT3 --pids PID1,PID2,PID3 --timeout $FAILOVER_TIMEOUT
\`\`\`

### Throughput (requests/s, higher is better)

| test | pipeline | ferry single | ferry Raft (3 nodes, leader) | Raft / single | redis-server | redis + replica (async) | redis + replica, SET + WAIT 1 0 | Raft / redis+WAIT | target |
|------|---------:|-------------:|-----------------------------:|--------------:|-------------:|------------------------:|--------------------------------:|------------------:|--------|
EOF
for pipeline in $PIPELINES; do
    for t in SET GET; do
        single="$(get single "$pipeline" "$t")"
        raft="$(get raft "$pipeline" "$t")"
        redis="$(get redis "$pipeline" "$t")"
        primary="$(get primary "$pipeline" "$t")"
        # Reads need no WAIT: the GET row compares with the primary's GET.
        if [ "$t" = SET ]; then waited="$(get wait "$pipeline" SET)"; else waited="$primary"; fi
        r_single="$(ratio "$raft" "$single")"
        r_wait="$(ratio "$raft" "$waited")"
        tcell=""
        if [ "$t:$pipeline" = SET:16 ]; then
            if [ "$r_single" = - ]; then
                tcell="Raft/single ≥ 0.5: not measured"
            elif awk -v a="$r_single" 'BEGIN { exit !(a >= 0.5) }'; then
                tcell="Raft/single ≥ 0.5: met"
            else
                tcell="Raft/single ≥ 0.5: **missed**"
            fi
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$pipeline" \
            "$(fmt "$single")" "$(fmt "$raft")" "$r_single" "$(fmt "$redis")" "$(fmt "$primary")" \
            "$(fmt "$waited")" "$r_wait" "$tcell"
    done
done
echo
echo "GET rows: the \"SET + WAIT 1 0\" column is GET on the redis primary (reads need no WAIT); on ferry, GET goes to the Raft leader."
echo
if [ -s "$TMP/raft-notes.txt" ]; then
    echo "Raft notes:"
    echo
    sed 's/^/- /' "$TMP/raft-notes.txt"
    echo
fi

if [ "$SKIP_RAFT" != 1 ] && [ "$FAILOVERS" -gt 0 ]; then
    echo "### Failover (SIGKILL of the leader to the first acknowledged write; target < 3 s)"
    echo
    echo "| run | killed leader | new leader | kill → first acknowledged write | target |"
    echo "|----:|---------------|------------|--------------------------------:|--------|"
    while IFS=$'\t' read -r run killed newl secs; do
        if num "$secs"; then
            if awk -v a="$secs" 'BEGIN { exit !(a < 3) }'; then tcell="< 3 s: met"; else tcell="< 3 s: **missed**"; fi
            secs="$(awk -v a="$secs" 'BEGIN { printf "%.3f s", a }')"
        else
            tcell="< 3 s: **missed**"
        fi
        printf '| %s | %s | %s | %s | %s |\n' "$run" "$killed" "$newl" "$secs" "$tcell"
    done <"$FAILOVER_RESULTS"
    echo
fi
echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') (well above 1 on 2 CPUs means something else competed for the CPUs)."
echo
log "done"
