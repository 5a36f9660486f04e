#!/usr/bin/env python3
"""A write stream at a fixed rate, for bench/sync.sh (python3 stdlib only).

    python3 bench/rate_writer.py --port PORT [--rate 50000] [--seconds 20] [--keys 1000000]

Connects to HOST:PORT and sends RATE commands a second for SECONDS:
every INTERVAL (5 ms) it sends, pipelined in one write, the commands due
by then on a monotonic clock (rate x elapsed, minus what was sent). A
reader thread reads every reply (one line each: +OK, :N, or an error)
and counts them, so the commands are executed, not left in buffers; at
most MAX_INFLIGHT (one second's worth) go unanswered, after which the
writer waits and falls behind rather than queue more.

The mix (by command): SET of a 100-byte value 35% (a fifth with EX 3600),
HSET of one field 15%, RPUSH + LTRIM -20 -1 10% each (the list stays at 20),
SADD 10%, ZADD 10%, INCR 5%, EXPIRE 3600 5%. Keys follow bench/gen_mix.py's
names (str:I, hash:I, list:I, set:I, zset:I with the same I % 20 type), so
with --keys N most writes update keys of the loaded mix, and no command
meets a key of the wrong type; INCR uses ctr:0..9999.

Prints one summary line (key=value) on stdout, e.g.

    sent=1000000 replies=1000000 errors=0 seconds=20.00 rate=49999 target=50000 kept_up=yes ...

kept_up=no when the achieved rate is below 98% of the target (the source,
or this client, could not keep up on this machine); the exit code is 0
either way, 1 on errors or a lost connection.
"""
import argparse
import random
import socket
import sys
import threading
import time


def enc(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class Reader(threading.Thread):
    """Counts the replies (each is one line) and the errors among them."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.replies = 0
        self.errors = 0
        self.first_error = None
        self.closed = False
        self.cond = threading.Condition()

    def run(self):
        at_line_start = True
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                with self.cond:
                    self.closed = True
                    self.cond.notify_all()
                return
            n = data.count(b"\n")
            # An error reply starts a line with '-'.
            if (at_line_start and data[:1] == b"-") or b"\n-" in data:
                e = data.count(b"\n-") + (1 if at_line_start and data[:1] == b"-" else 0)
                if self.first_error is None:
                    i = 0 if at_line_start and data[:1] == b"-" else data.index(b"\n-") + 1
                    self.first_error = data[i:data.find(b"\r", i)].decode(errors="replace")
                with self.cond:
                    self.errors += e
            at_line_start = data.endswith(b"\n")
            with self.cond:
                self.replies += n
                self.cond.notify_all()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=int, default=50000, help="commands a second")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--keys", type=int, default=1000000, help="keys of the loaded mix")
    p.add_argument("--interval", type=float, default=0.005, help="seconds between batches")
    p.add_argument("--seed", type=int, default=12)
    a = p.parse_args()
    if a.rate <= 0 or a.seconds <= 0 or a.interval <= 0:
        sys.exit("rate_writer: --rate, --seconds and --interval must be positive")

    rnd = random.Random(a.seed)
    groups = max(1, a.keys // 20)  # key I has type I % 20 (bench/gen_mix.py)
    rr = rnd.randrange
    rf = rnd.random
    value_tail = b"w" * 90
    fields = [b"field:%02d" % j for j in range(20)]
    counter = [0]

    def idx(lo, width):
        return rr(groups) * 20 + lo + rr(width)

    # One "draw" yields one or two commands; the weights are per draw and
    # chosen so the shares per command are the ones in the docstring.
    def draw(out):
        counter[0] += 1
        c = counter[0]
        x = rf()
        if x < 0.35 / 0.9:  # SET
            k = b"str:%d" % idx(0, 14)
            v = (b"%010d" % c) + value_tail
            if c % 5 == 0:
                out.append(enc(b"SET", k, v, b"EX", b"3600"))
            else:
                out.append(enc(b"SET", k, v))
            return 1
        x -= 0.35 / 0.9
        if x < 0.15 / 0.9:  # HSET
            j = rr(20)
            out.append(enc(b"HSET", b"hash:%d" % idx(14, 2), fields[j], b"w:%d" % c))
            return 1
        x -= 0.15 / 0.9
        if x < 0.10 / 0.9:  # RPUSH + LTRIM
            k = b"list:%d" % idx(16, 2)
            out.append(enc(b"RPUSH", k, b"w:%d" % c))
            out.append(enc(b"LTRIM", k, b"-20", b"-1"))
            return 2
        x -= 0.10 / 0.9
        if x < 0.10 / 0.9:  # SADD
            out.append(enc(b"SADD", b"set:%d" % idx(18, 1), b"w:%d" % rr(1000)))
            return 1
        x -= 0.10 / 0.9
        if x < 0.10 / 0.9:  # ZADD
            out.append(enc(b"ZADD", b"zset:%d" % idx(19, 1), b"%d" % rr(1000), b"w:%d" % rr(1000)))
            return 1
        x -= 0.10 / 0.9
        if x < 0.05 / 0.9:  # INCR
            out.append(enc(b"INCR", b"ctr:%d" % rr(10000)))
            return 1
        # EXPIRE of a loaded hash (long enough not to fire during the run)
        out.append(enc(b"EXPIRE", b"hash:%d" % idx(14, 2), b"3600"))
        return 1

    try:
        sock = socket.create_connection((a.host, a.port), timeout=10)
    except OSError as e:
        sys.exit(f"rate_writer: cannot connect to {a.host}:{a.port}: {e}")
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = Reader(sock)
    reader.start()

    total_due = int(a.rate * a.seconds)
    max_inflight = max(a.rate, 1000)
    sent = 0
    batches = 0
    stalls = 0  # batches held back by MAX_INFLIGHT
    worst_behind = 0  # commands due but not sent yet, at the start of a batch
    cpu0 = time.process_time()
    t0 = time.monotonic()
    next_tick = t0
    while sent < total_due:
        now = time.monotonic()
        due = min(total_due, int(a.rate * (now - t0)))
        behind = due - sent
        if behind > worst_behind:
            worst_behind = behind
        with reader.cond:
            room = max_inflight - (sent - reader.replies)
            closed = reader.closed
        if closed:
            break
        n = min(behind, room)
        if behind > 0 and room <= 0:
            stalls += 1
        if n > 0:
            out = []
            k = 0
            while k < n:
                k += draw(out)
            sock.sendall(b"".join(out))
            sent += k
            batches += 1
        next_tick += a.interval
        pause = next_tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            next_tick = time.monotonic()
    t_sent = time.monotonic()
    # Every reply, within a bound.
    deadline = t_sent + 60
    with reader.cond:
        while reader.replies < sent and not reader.closed and time.monotonic() < deadline:
            reader.cond.wait(0.1)
        replies, errors = reader.replies, reader.errors
    t_end = time.monotonic()
    cpu = time.process_time() - cpu0
    sock.close()

    send_secs = t_sent - t0
    rate = sent / send_secs if send_secs > 0 else 0.0
    kept_up = sent >= total_due and rate >= 0.98 * a.rate
    print(
        "sent=%d replies=%d errors=%d seconds=%.2f rate=%.0f target=%d kept_up=%s "
        "drain_seconds=%.2f batches=%d worst_behind=%d inflight_stalls=%d client_cpu=%.2f%s"
        % (sent, replies, errors, send_secs, rate, a.rate, "yes" if kept_up else "no",
           t_end - t_sent, batches, worst_behind, stalls, cpu,
           (" first_error=%r" % reader.first_error) if reader.first_error else "")
    )
    if not kept_up:
        print(
            "rate_writer: did not keep up: %.0f commands/s of %d asked (%d of %d sent; "
            "worst %d behind; %d batches held by %d unanswered)"
            % (rate, a.rate, sent, total_due, worst_behind, stalls, max_inflight),
            file=sys.stderr,
        )
    if errors or replies < sent:
        sys.exit(1)


if __name__ == "__main__":
    main()
