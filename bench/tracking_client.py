"""Read-heavy load from redis-py, with or without its client-side cache.

Each of PROCS processes runs for SECONDS: 90% GET / 10% SET (by default)
over KEYS hot keys chosen uniformly at random, through one connection
(RESP3 with `cache_config` when CACHE=1). Prints one line of JSON: reads
and writes done, reads per second over all processes, and how many GETs
reached the server (from INFO commandstats), so the share of reads served
from the client's memory is visible.

    FERRY_PORT=6379 CACHE=1 python3 bench/tracking_client.py
"""

import json
import multiprocessing
import os
import random
import time

import redis
import redis.connection
from redis.cache import CacheConfig

# redis-py enables its cache only for servers announcing Redis >= 7.4 (a
# support policy; tracking exists since Redis 6). ferry and the reference
# redis-server announce 7.0, so the floor is lowered to what is needed.
redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "6.0.0"

PORT = int(os.environ["FERRY_PORT"])
CACHE = os.environ.get("CACHE", "0") == "1"
KEYS = int(os.environ.get("KEYS", "10000"))
SECONDS = float(os.environ.get("SECONDS", "10"))
PROCS = int(os.environ.get("PROCS", "2"))
WRITE_PCT = int(os.environ.get("WRITE_PCT", "10"))


def worker(seed, out):
    rng = random.Random(seed)
    if CACHE:
        r = redis.Redis(
            host="127.0.0.1",
            port=PORT,
            protocol=3,
            cache_config=CacheConfig(max_size=KEYS * 2),
        )
    else:
        r = redis.Redis(host="127.0.0.1", port=PORT)
    keys = [f"hot:{i}" for i in range(KEYS)]
    reads = writes = 0
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        # Batches of 100 between clock reads keep the loop lean.
        for _ in range(100):
            k = keys[rng.randrange(KEYS)]
            if rng.randrange(100) < WRITE_PCT:
                r.set(k, rng.randrange(1_000_000))
                writes += 1
            else:
                r.get(k)
                reads += 1
    out.put((reads, writes))


def main():
    admin = redis.Redis(host="127.0.0.1", port=PORT)
    pipe = admin.pipeline(transaction=False)
    for i in range(KEYS):
        pipe.set(f"hot:{i}", i)
    pipe.execute()
    admin.config_resetstat()
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(s, out)) for s in range(PROCS)]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    reads = sum(r for r, _ in results)
    writes = sum(w for _, w in results)
    stats = admin.info("commandstats")
    server_gets = stats.get("cmdstat_get", {}).get("calls", 0)
    print(
        json.dumps(
            {
                "cache": CACHE,
                "reads": reads,
                "writes": writes,
                "seconds": round(elapsed, 2),
                "reads_per_sec": round(reads / elapsed),
                "server_gets": server_gets,
                "served_locally_pct": round(100 * (1 - server_gets / reads), 1) if reads else 0,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
