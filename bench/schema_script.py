#!/usr/bin/env python3
"""The one-off migration script people write today (the baseline of
bench/schema.sh): SCAN the pattern, read each batch in one pipeline,
rename userName -> fullName and add createdAt in Python, write each batch
back in one pipeline. No compare-and-set, no backup, no validation: it
is the fast, unsafe version.

    schema_script.py PORT json|hash PATTERN  -> prints a JSON line
"""
import datetime
import json
import sys
import time

import redis


def main():
    port, kind, pattern = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    r = redis.Redis(host="127.0.0.1", port=port)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    done = 0
    started = time.monotonic()

    def flush(keys):
        p = r.pipeline(transaction=False)
        for k in keys:
            if kind == "json":
                p.get(k)
            else:
                p.hgetall(k)
        values = p.execute()
        p = r.pipeline(transaction=False)
        for k, v in zip(keys, values):
            if not v:
                continue
            if kind == "json":
                doc = json.loads(v)
                if "userName" in doc:
                    doc["fullName"] = doc.pop("userName")
                doc.setdefault("createdAt", now)
                p.set(k, json.dumps(doc, separators=(",", ":")), keepttl=True)
            else:
                new = {}
                if b"userName" in v:
                    new[b"fullName"] = v[b"userName"]
                    p.hdel(k, b"userName")
                if b"createdAt" not in v:
                    new[b"createdAt"] = now
                if new:
                    p.hset(k, mapping=new)
        p.execute()
        return len(keys)

    batch = []
    for k in r.scan_iter(match=pattern, count=1000):
        batch.append(k)
        if len(batch) == 1000:
            done += flush(batch)
            batch = []
    if batch:
        done += flush(batch)
    secs = time.monotonic() - started
    print(json.dumps({"keys": done, "seconds": round(secs, 3), "keys_per_s": round(done / secs)}))


if __name__ == "__main__":
    main()
