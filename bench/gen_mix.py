#!/usr/bin/env python3
"""The migrate mix, as RESP commands on stdout, for `redis-cli --pipe`.

    python3 bench/gen_mix.py N 3>value_bytes | redis-cli --pipe

N keys: 70% strings of 100 bytes (str:I), 10% hashes of 20 fields (hash:I),
10% lists of 20 elements (list:I), 5% sets of 20 members (set:I), 5% sorted
sets of 20 members (zset:I); key I's type is I % 20. Used by bench/migrate.sh
and bench/sync.sh. Needs fd 3 open: the sum of value bytes goes there.
"""
# The RESP commands go to stdout; the sum
# of value bytes (string values, fields + values, elements, members) to fd 3.
import os, sys

n = int(sys.argv[1])
out = sys.stdout.buffer
buf = []
total = 0

def cmd(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)

FIELDS = [b"field:%02d" % j for j in range(20)]
for i in range(n):
    slot = i % 20
    if slot < 14:          # 70% strings of 100 bytes
        k = b"str:%d" % i
        v = (b"%010d" % i) + b"v" * 90
        buf.append(cmd([b"SET", k, v]))
        total += len(v)
    elif slot < 16:        # 10% hashes of 20 fields
        k = b"hash:%d" % i
        args = [b"HSET", k]
        for j in range(20):
            val = b"val:%d:%d" % (j, i)
            args += [FIELDS[j], val]
            total += len(FIELDS[j]) + len(val)
        buf.append(cmd(args))
    elif slot < 18:        # 10% lists of 20 elements
        k = b"list:%d" % i
        els = [b"elem:%d:%d" % (j, i) for j in range(20)]
        total += sum(map(len, els))
        buf.append(cmd([b"RPUSH", k] + els))
    elif slot == 18:       # 5% sets of 20 members
        k = b"set:%d" % i
        els = [b"member:%d:%d" % (j, i) for j in range(20)]
        total += sum(map(len, els))
        buf.append(cmd([b"SADD", k] + els))
    else:                  # 5% sorted sets of 20 members
        k = b"zset:%d" % i
        args = [b"ZADD", k]
        for j in range(20):
            m = b"member:%d:%d" % (j, i)
            args += [b"%d" % j, m]
            total += len(m)
        buf.append(cmd(args))
    if len(buf) >= 4096:
        out.write(b"".join(buf))
        buf = []
out.write(b"".join(buf))
out.flush()
os.write(3, b"%d\n" % total)
