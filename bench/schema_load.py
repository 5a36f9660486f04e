#!/usr/bin/env python3
"""Writes the bench/schema.sh dataset as RESP commands on stdout, for
`redis-cli --pipe`: N JSON-string keys `user:i` and N hashes `profile:i`
at version 1.0.0 (userName, email, age, visits), every 10th with a TTL.

    schema_load.py N | redis-cli -p PORT --pipe
"""
import sys


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    n = int(sys.argv[1])
    w = sys.stdout.buffer
    chunk = []
    for i in range(n):
        name = "User Number%d" % i
        chunk.append(cmd("SET", "user:%d" % i,
                         '{"userName":"%s","email":"u%d@example.com","age":%d,"visits":%d}'
                         % (name, i, i % 90, i % 1000)))
        chunk.append(cmd("HSET", "profile:%d" % i, "userName", name, "email",
                         "u%d@example.com" % i, "age", i % 90, "visits", i % 1000))
        if i % 10 == 0:
            chunk.append(cmd("PEXPIRE", "user:%d" % i, 86400000))
            chunk.append(cmd("PEXPIRE", "profile:%d" % i, 86400000))
        if len(chunk) >= 10000:
            w.write(b"".join(chunk))
            chunk = []
    w.write(b"".join(chunk))


if __name__ == "__main__":
    main()
