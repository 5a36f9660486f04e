"""redis-py's client-side cache (RESP3, CLIENT TRACKING) against a server.

Reads keys through a caching client, checks with INFO commandstats that
repeated reads are served from the client's memory, changes the keys from
another connection (write, delete, expiry, FLUSHALL) and fails unless the
caching client then reads the new value: a server that does not invalidate
leaves the stale value in the cache and this script exits 1.
"""

import os
import sys
import time

import redis
import redis.connection
from redis.cache import CacheConfig

# redis-py enables its cache only for servers announcing Redis 7.4 or later
# (a support policy: the RESP3 tracking it uses exists since Redis 6). This
# test runs against redis-server 7.0 (to check the test) and ferry, which
# announces 7.0.15, so the floor is lowered to what the protocol needs.
redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "6.0.0"

PORT = int(os.environ["FERRY_PORT"])
DEADLINE_S = 5.0


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def get_calls(admin, cmd="get"):
    stats = admin.info("commandstats")
    return stats.get(f"cmdstat_{cmd}", {}).get("calls", 0)


def eventually(cached, key, want, what):
    """Reads `key` through the cache until it returns `want`."""
    end = time.monotonic() + DEADLINE_S
    got = None
    while time.monotonic() < end:
        got = cached.get(key)
        if got == want:
            return
        time.sleep(0.01)
    fail(f"{what}: cached client still reads {got!r}, want {want!r} (no invalidation?)")


def main():
    cached = redis.Redis(host="127.0.0.1", port=PORT, protocol=3, cache_config=CacheConfig())
    other = redis.Redis(host="127.0.0.1", port=PORT)
    admin = redis.Redis(host="127.0.0.1", port=PORT)
    other.flushall()
    other.config_resetstat()
    cache = cached.get_cache()

    other.mset({"user:1": "alice", "user:2": "bob", "count": 1})
    if cached.get("user:1") != b"alice":
        fail("first read")
    before = get_calls(admin)
    for _ in range(200):
        if cached.get("user:1") != b"alice":
            fail("cached read")
    after = get_calls(admin)
    if after != before:
        fail(f"200 cached reads reached the server ({after - before} GETs)")
    if cache.size < 1:
        fail("nothing in redis-py's cache")
    print(f"cache ok: 200 reads served locally, cache size {cache.size}", flush=True)

    # A write from another connection.
    other.set("user:1", "carol")
    eventually(cached, "user:1", b"carol", "SET from another client")

    # INCR, DEL.
    cached.get("count")
    other.incr("count")
    eventually(cached, "count", b"2", "INCR")
    cached.get("user:2")
    other.delete("user:2")
    eventually(cached, "user:2", None, "DEL")

    # A hash field (HGET is cached too).
    other.hset("h", "f", "1")
    if cached.hget("h", "f") != b"1":
        fail("HGET")
    other.hset("h", "f", "2")
    end = time.monotonic() + DEADLINE_S
    while cached.hget("h", "f") != b"2":
        if time.monotonic() > end:
            fail("HSET: cached HGET is stale")
        time.sleep(0.01)

    # Expiry by the server's background sweep, nobody touching the key.
    other.set("temp", "soon", px=150)
    if cached.get("temp") != b"soon":
        fail("read of temp")
    time.sleep(0.4)
    eventually(cached, "temp", None, "expiry")

    # The caching client's own write.
    cached.get("mine")
    cached.set("mine", "x")
    eventually(cached, "mine", b"x", "own SET")

    # FLUSHALL drops everything.
    cached.get("user:1")
    other.flushall()
    eventually(cached, "user:1", None, "FLUSHALL")

    print("PASS", flush=True)


if __name__ == "__main__":
    main()
