#!/usr/bin/env bash
# ferry sync vs a native Redis replica (issue 12): KEYS keys of the migrate
# mix (bench/gen_mix.py: 70% 100-byte strings, 10% hashes of 20 fields, 10%
# lists of 20, 5% sets of 20, 5% sorted sets of 20) in a redis-server
# started here; then (1) the time a native `redis-server --replicaof` takes
# to finish its full sync, (2) the time `ferry sync` takes to apply the
# snapshot to an empty redis-server, (3) ferry sync's lag while
# bench/rate_writer.py sends RATE writes a second to the source for
# LOAD_SECONDS, read twice: from ferry's progress lines (--progress-every 1)
# and by a probe here every 100 ms (the target's checkpoint offset against
# the source's master_repl_offset), steady state apart from the stream's
# first STEADY_AFTER seconds, (4) once it caught up, the target against the
# source (DBSIZE and DEBUG DIGEST, ferry's checkpoint key aside).
# Targets: full sync ≤ 1.5 × the native replica's, lag under 1 s. Prints
# Markdown (progress on stderr).
#
#   bash bench/sync.sh
#   KEYS=50000 LOAD_SECONDS=5 bash bench/sync.sh
#   MIX=strings bash bench/sync.sh          # the older DEBUG POPULATE load
#
# Environment:
#   KEYS          keys in the source (default 1000000)
#   MIX           mix (default: bench/gen_mix.py through redis-cli --pipe) or
#                 strings (DEBUG POPULATE, VALUE-byte strings)
#   VALUE         string size in bytes for MIX=strings (default 100)
#   RATE          writes a second during the stream (default 50000)
#   LOAD_SECONDS  length of the write stream (default 20)
#   STEADY_AFTER  seconds into the stream where the steady-state lag starts
#                 (default 2; the start is reported on its own row)
#   SKIP_BUILD=1  do not run cargo; use FERRY_BIN
#   KEEP_TMP=1    keep the temporary directory (logs)
#
# The writer (SET, some with EX; HSET; RPUSH + LTRIM; SADD; ZADD; INCR;
# EXPIRE) paces itself on a monotonic clock and reads every reply; when the
# source (or the writer) cannot take RATE on this machine, the table says
# so (kept up: no) rather than report a lower rate as if it were RATE.
#
# Network: only the servers this script starts, on 127.0.0.1, on free
# random ports. Only processes started here are stopped (by pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KEYS="${KEYS:-1000000}"
MIX="${MIX:-mix}"
VALUE="${VALUE:-100}"
RATE="${RATE:-50000}"
LOAD_SECONDS="${LOAD_SECONDS:-20}"
STEADY_AFTER="${STEADY_AFTER:-2}"
HOST=127.0.0.1
NAME=bench
CHECKPOINT="__ferry:sync:{$NAME}"
BENCH_NAME=ferry-bench-sync
CLI_TIMEOUT=600

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ "$KEYS" =~ ^[1-9][0-9]*$ ]] || die "KEYS must be a positive integer, got '$KEYS'"
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive integer, got '$RATE'"
[[ "$LOAD_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "LOAD_SECONDS must be a positive integer, got '$LOAD_SECONDS'"
case "$MIX" in mix | strings) ;; *) die "MIX must be mix or strings, got '$MIX'" ;; esac
for b in redis-server redis-cli python3 timeout; do
    command -v "$b" >/dev/null 2>&1 || die "$b missing: sudo apt-get install -y redis-server redis-tools python3"
done
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"

build_ferry

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
field() { cli "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
cpu_secs() { # cpu_secs PID -> user+system seconds so far (with reaped children)
    awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }

# start_redis NAME [ARGS...] -> SERVER_PID, SERVER_PORT (3 attempts: a port
# free to connect to can still be taken, e.g. by an outgoing connection)
start_redis() {
    local name="$1"; shift
    local dir="$TMP/$name" port pid attempt
    mkdir -p "$dir"
    for attempt in 1 2 3; do
        port="$(random_free_port)"
        redis-server --bind "$HOST" --port "$port" --save "" --appendonly no --daemonize no \
            --dir "$dir" --logfile "$dir/redis.log" --enable-debug-command local \
            --repl-diskless-sync-delay 0 "$@" &
        pid=$!
        PIDS+=("$pid")
        if wait_ping "$name" "$pid" "$port" "$dir/redis.log"; then
            SERVER_PID="$pid"; SERVER_PORT="$port"
            return 0
        fi
        stop_pid "$pid"; forget_pid "$pid"
        log "$name failed to start on port $port (attempt $attempt/3)"
    done
    die "$name did not start"
}

LOAD_BEFORE="$(loadavg)"
REDIS_V="$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"

# The backlog holds the whole stream, so nothing here depends on its size.
start_redis source --repl-backlog-size 256mb
SRC="$SERVER_PORT"; SRC_PID="$SERVER_PID"
t0="$(now)"
if [ "$MIX" = mix ]; then
    log "loading $KEYS keys of the migrate mix (bench/gen_mix.py | redis-cli --pipe)"
    pipe_out="$("$PYTHON" "$ROOT/bench/gen_mix.py" "$KEYS" 3>"$TMP/value_bytes" \
        | timeout "$CLI_TIMEOUT" redis-cli -h "$HOST" -p "$SRC" --pipe 2>&1 | tr -d '\r')" \
        || die "the load failed: $(printf '%s\n' "$pipe_out" | tail -n 3)"
    VALUE_MB="$(awk '{ printf "%.1f", $1 / 1e6 }' "$TMP/value_bytes")"
    DATASET="$KEYS keys of the migrate mix (70% 100-byte strings, 10% hashes / 10% lists / 5% sets / 5% zsets of 20; $VALUE_MB MB of values)"
else
    log "DEBUG POPULATE $KEYS keys of $VALUE bytes"
    cli "$SRC" debug populate "$KEYS" key "$VALUE" >/dev/null
    DATASET="$KEYS × $VALUE-byte strings (DEBUG POPULATE)"
fi
[ "$(cli "$SRC" dbsize)" = "$KEYS" ] || die "the source does not hold $KEYS keys"
USED_MB="$(field "$SRC" memory used_memory | awk '{ printf "%.0f", $1 / 1e6 }')"
log "loaded in $(secs "$t0" "$(now)") s; source used_memory $USED_MB MB"

# 1. A native replica's full sync.
start_redis replica
REP="$SERVER_PORT"; REP_PID="$SERVER_PID"
t0="$(now)"
cli "$REP" replicaof "$HOST" "$SRC" >/dev/null
synced=0
for _ in $(seq 1 12000); do # 10 min
    if [ "$(field "$REP" replication master_link_status)" = up ] \
        && [ "$(field "$REP" replication master_sync_in_progress)" = 0 ]; then
        synced=1
        break
    fi
    sleep 0.05
done
t1="$(now)"
[ "$synced" = 1 ] || die "the native replica did not finish its full sync in 10 min"
[ "$(cli "$REP" dbsize)" = "$KEYS" ] || die "the replica did not get every key"
NATIVE="$(secs "$t0" "$t1")"
log "native replica: $NATIVE s"
# Out of the way: the stream is ferry sync's alone, on 2 cores a second
# replica would take CPU from it.
cli "$REP" replicaof no one >/dev/null
stop_pid "$REP_PID"; forget_pid "$REP_PID"

# 2. ferry sync's full sync into an empty redis-server.
start_redis target
DST="$SERVER_PORT"; DST_PID="$SERVER_PID"
t0="$(now)"
"$FERRY_BIN" sync --from "redis://$HOST:$SRC" --to "redis://$HOST:$DST" --name "$NAME" \
    --progress-every 1 >"$TMP/sync.out" 2>"$TMP/sync.log" &
SYNC_PID=$!
PIDS+=("$SYNC_PID")
applied=0
for _ in $(seq 1 12000); do # 10 min
    if grep -q "snapshot applied" "$TMP/sync.log"; then
        applied=1
        break
    fi
    kill -0 "$SYNC_PID" 2>/dev/null || { cat "$TMP/sync.log" >&2; die "ferry sync stopped"; }
    sleep 0.05
done
t1="$(now)"
[ "$applied" = 1 ] || die "ferry sync did not apply the snapshot in 10 min"
FERRY="$(secs "$t0" "$t1")"
# The target holds the source's keys plus ferry's checkpoint.
[ "$(cli "$DST" dbsize)" -ge "$KEYS" ] || die "the target does not hold every key"
RATIO="$(awk -v a="$FERRY" -v b="$NATIVE" 'BEGIN { printf "%.2f", a / b }')"
log "ferry sync: $FERRY s ($RATIO × native)"

# 3. Lag under a fixed-rate write stream on the source.
log "rate_writer: $RATE writes/s to the source for $LOAD_SECONDS s"
LOAD_DURING="$(loadavg)"
OFF0="$(field "$SRC" replication master_repl_offset)"
c_src0="$(cpu_secs "$SRC_PID")"; c_dst0="$(cpu_secs "$DST_PID")"; c_sync0="$(cpu_secs "$SYNC_PID")"
MARK0="$(wc -l <"$TMP/sync.log")"
# An outside view of the lag besides ferry's progress lines (one every 1-2 s,
# seconds to 0.1): every 100 ms the target's checkpoint offset (read first)
# against the source's master_repl_offset; seconds = how long ago the source
# passed the offset applied (interpolated between this probe's samples).
cat >"$TMP/probe.py" <<'PY'
import socket, sys, time
host, src, dst, key, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
def conn(port):
    s = socket.create_connection((host, port), timeout=10)
    return s, s.makefile("rb")
def ask(c, *args):
    s, r = c
    s.sendall(b"".join([b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]))
    line = r.readline()
    if line[:1] != b"$":
        raise SystemExit("probe: unexpected reply %r" % line)
    n = int(line[1:])
    return None if n < 0 else r.read(n + 2)[:-2]
cs, cd = conn(src), conn(dst)
hist = []  # (t, source offset), increasing
t0 = time.monotonic()
while True:
    now = time.monotonic()
    if now - t0 > secs:
        break
    applied = int(ask(cd, b"HGET", key.encode(), b"offset") or 0)
    info = ask(cs, b"INFO", b"replication").decode()
    t = time.monotonic()
    at = int(info.split("master_repl_offset:")[1].split()[0])
    if not hist or at != hist[-1][1]:
        hist.append((t, at))
    lag_s = 0.0
    if applied < at:
        i = next(j for j, (_, o) in enumerate(hist) if o > applied)
        if i == 0:
            written = hist[0][0]
        else:
            (ta, oa), (tb, ob) = hist[i - 1], hist[i]
            written = ta + (tb - ta) * min(1.0, (applied + 1 - oa) / (ob - oa))
        lag_s = t - written
    print("%.3f %d %.3f" % (t - t0, max(0, at - applied), lag_s), flush=True)
    time.sleep(max(0.0, 0.1 - (time.monotonic() - now)))
PY
"$PYTHON" "$TMP/probe.py" "$HOST" "$SRC" "$DST" "$CHECKPOINT" "$LOAD_SECONDS" >"$TMP/probe.out" 2>"$TMP/probe.err" &
PROBE_PID=$!
PIDS+=("$PROBE_PID")
set +e
timeout $(( LOAD_SECONDS + 90 )) "$PYTHON" "$ROOT/bench/rate_writer.py" --host "$HOST" --port "$SRC" \
    --rate "$RATE" --seconds "$LOAD_SECONDS" --keys "$KEYS" >"$TMP/writer.out" 2>"$TMP/writer.err"
WRITER_RC=$?
set -e
w1="$(now)"
MARK1="$(wc -l <"$TMP/sync.log")"
wait "$PROBE_PID" || log "the lag probe failed: $(tail -n 2 "$TMP/probe.err")"
forget_pid "$PROBE_PID"
c_src1="$(cpu_secs "$SRC_PID")"; c_dst1="$(cpu_secs "$DST_PID")"; c_sync1="$(cpu_secs "$SYNC_PID")"
LOAD_DURING="$LOAD_DURING → $(loadavg)"
WRITER="$(tail -n 1 "$TMP/writer.out" 2>/dev/null || true)"
[ "$WRITER_RC" = 0 ] || { cat "$TMP/writer.err" >&2; log "rate_writer exited $WRITER_RC"; }
[ ! -s "$TMP/writer.err" ] || cat "$TMP/writer.err" >&2
log "rate_writer: $WRITER"
wv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $WRITER"; }
W_SENT="$(wv sent)"; W_RATE="$(wv rate)"; W_KEPT="$(wv kept_up)"; W_SECS="$(wv seconds)"
W_ERR="$(wv errors)"; W_CPU="$(wv client_cpu)"; W_BEHIND="$(wv worst_behind)"
STREAM_MB="$(awk -v a="$OFF0" -v b="$(field "$SRC" replication master_repl_offset)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')"

# 4. Caught up: the checkpoint's offset reaches the source's (bounded).
caught=0
for _ in $(seq 1 1200); do # 2 min
    src_off="$(field "$SRC" replication master_repl_offset)"
    dst_off="$(cli "$DST" hget "$CHECKPOINT" offset | tr -d '\r')"
    if [ -n "$dst_off" ] && [ "$dst_off" -ge "$src_off" ]; then
        caught=1
        break
    fi
    kill -0 "$SYNC_PID" 2>/dev/null || { tail -n 20 "$TMP/sync.log" >&2; die "ferry sync stopped"; }
    sleep 0.1
done
w2="$(now)"
CATCHUP="$(secs "$w1" "$w2")"
[ "$caught" = 1 ] || log "ferry sync had not caught up 2 min after the stream"
log "caught up $CATCHUP s after the stream ended"
stop_pid "$SYNC_PID"; forget_pid "$SYNC_PID"

# Lag over the stream: progress lines logged while the writer ran.
sed -n "$(( MARK0 + 1 )),${MARK1}p" "$TMP/sync.log" \
    | sed -n 's/.*lag \([0-9]*\) bytes \/ \([0-9.]*\) s.*/\1 \2/p' >"$TMP/lags"
# lag_stats FILE BYTES_COLUMN SECONDS_COLUMN [FROM TO] -> s50 s95 smax b50 b95 bmax n
# (columns 1-based; FROM TO: only rows whose first column is in [FROM, TO))
lag_stats() {
    "$PYTHON" - "$@" <<'PY'
import sys
bc, sc = int(sys.argv[2]) - 1, int(sys.argv[3]) - 1
lo, hi = (float(sys.argv[4]), float(sys.argv[5])) if len(sys.argv) > 5 else (-1e18, 1e18)
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if lo <= float(r[0]) < hi] if len(sys.argv) > 5 else rows
if not rows:
    print("- - - - - - 0")
    raise SystemExit
import math
b = sorted(int(r[bc]) for r in rows)
s = sorted(float(r[sc]) for r in rows)
def q(v, p):  # nearest rank
    return v[max(0, math.ceil(p * len(v)) - 1)]
f = lambda x: "%.2f" % x
print(f(q(s, .5)), f(q(s, .95)), f(s[-1]), q(b, .5), q(b, .95), b[-1], len(rows))
PY
}
read -r S50 S95 SMAX B50 B95 BMAX NLAG <<<"$(lag_stats "$TMP/lags" 1 2)"
# Steady state: from STEADY_AFTER s into the stream. Before that, the first
# second after the snapshot (see the "start" row).
read -r P50 P95 PMAX PB50 PB95 PBMAX NPROBE <<<"$(lag_stats "$TMP/probe.out" 2 3 "$STEADY_AFTER" 1e9)"
read -r _ _ QMAX _ _ QBMAX NSTART <<<"$(lag_stats "$TMP/probe.out" 2 3 0 "$STEADY_AFTER")"

# Target against source once caught up, the checkpoint aside.
SRC_N="$(cli "$SRC" dbsize)"
DST_N="$(cli "$DST" dbsize)"
cli "$DST" del "$CHECKPOINT" >/dev/null
SRC_D="$(cli "$SRC" debug digest | tr -d '\r')"
DST_D="$(cli "$DST" debug digest | tr -d '\r')"
if [ "$(( DST_N - 1 ))" = "$SRC_N" ] && [ "$SRC_D" = "$DST_D" ]; then
    CHECK="equal: DBSIZE $SRC_N (+1 checkpoint on the target), DEBUG DIGEST equal"
else
    CHECK="**differ**: DBSIZE source $SRC_N, target $DST_N (with the checkpoint); digest ${SRC_D:0:12}… vs ${DST_D:0:12}…"
    log "the target differs from the source; ferry migrate verify --full says:"
    timeout 600 "$FERRY_BIN" migrate verify --run-id sync-check --from "redis://$HOST:$SRC" \
        --to "redis://$HOST:$DST" --state "$TMP/verify.db" --full --show-diffs 10 >&2 || true
fi
log "check: $CHECK"

verdict() { # verdict VALUE OP LIMIT
    if awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { exit !((op == "<") ? a < b : a <= b) }'; then
        echo met
    else
        echo "**missed**"
    fi
}
if [ "$W_KEPT" = yes ]; then
    KEPT="kept up"
else
    KEPT="**did not keep up**: $W_RATE of $RATE writes/s reached on this machine (the source or the writer saturated: see the CPU row)"
fi
cat <<MD
- $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, redis-server $REDIS_V, ferry $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') ($FERRY_BIN)
- Load average: $LOAD_BEFORE before the run; $LOAD_DURING over the stream

| measure | value |
|---|---|
| keys in the source | $DATASET; used_memory $USED_MB MB |
| native replica full sync | $NATIVE s |
| ferry sync full sync (snapshot applied) | $FERRY s ($RATIO × native; target ≤ 1.5 ×: $(verdict "$RATIO" '<=' 1.5)) |
| write stream (bench/rate_writer.py) | ${W_SENT:-?} commands in ${W_SECS:-?} s = ${W_RATE:-?}/s of $RATE asked ($KEPT; errors ${W_ERR:-?}; worst ${W_BEHIND:-?} behind the clock); $STREAM_MB MB of replication stream |
| ferry sync lag over the stream, seconds ($NLAG progress lines) | p50 $S50, p95 $S95, max $SMAX (target < 1 s: $(verdict "$SMAX" '<' 1)) |
| ferry sync lag over the stream, bytes | p50 $B50, p95 $B95, max $BMAX |
| lag probed by the script every 100 ms, steady state (from ${STEADY_AFTER} s into the stream, $NPROBE samples), seconds | p50 $P50, p95 $P95, max $PMAX (target < 1 s: $(verdict "$PMAX" '<' 1)) |
| lag probed by the script, steady state, bytes | p50 $PB50, p95 $PB95, max $PBMAX |
| lag probed by the script in the first ${STEADY_AFTER} s of the stream ($NSTART samples) | max $QMAX s, max $QBMAX bytes |
| caught up after the stream ended | $CATCHUP s |
| CPU seconds during the stream | source $(secs "$c_src0" "$c_src1"), target $(secs "$c_dst0" "$c_dst1"), ferry sync $(secs "$c_sync0" "$c_sync1"), writer ${W_CPU:-?} |
| target vs source after the stream | $CHECK |
MD
