"""redis-py's CommandsParser (what its cluster client routes with) reading
COMMAND and asking COMMAND GETKEYS, against the server on FERRY_PORT.

Prints what the parser learnt about each command ferry has (FERRY_NAMES_PORT
lists them) and the keys it finds for a set of command lines, so the test can
compare the output for redis-server and ferry.
"""

import os

import redis
from redis._parsers import CommandsParser

port = int(os.environ["FERRY_PORT"])
protocol = int(os.environ.get("FERRY_PROTOCOL", "2"))
names_port = int(os.environ["FERRY_NAMES_PORT"])

names = {
    n.decode() if isinstance(n, bytes) else n
    for n in redis.Redis(port=names_port).command_list()
}
conn = redis.Redis(port=port, protocol=protocol)
parser = CommandsParser(conn)


def norm(value):
    """Plain values in a stable order (sets print in hash order)."""
    if isinstance(value, dict):
        return {norm(k): norm(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(norm(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    if isinstance(value, bytes):
        return value.decode()
    return value


def subcommand_name(entry):
    first = entry[0] if isinstance(entry, (list, tuple)) else None
    return first.decode() if isinstance(first, bytes) else first


for name in sorted(parser.commands):
    if name not in names:
        continue
    info = dict(parser.commands[name])
    subs = [s for s in info.get("subcommands", []) if subcommand_name(s) in names]
    info["subcommands"] = sorted((norm(s) for s in subs), key=repr)
    print(name, repr(norm(info)))

CASES = [
    ["GET", "k"],
    ["SET", "k", "v", "GET"],
    ["MSET", "a", "1", "b", "2"],
    ["MGET", "a", "b", "c"],
    ["DEL", "a", "b"],
    ["ZUNIONSTORE", "d", "2", "a", "b"],
    ["ZINTER", "2", "a", "b", "WITHSCORES"],
    ["SINTERCARD", "2", "a", "b"],
    ["LMPOP", "2", "a", "b", "LEFT"],
    ["BLMPOP", "0", "1", "a", "RIGHT"],
    ["ZMPOP", "1", "a", "MIN"],
    ["EVAL", "return 1", "2", "a", "b", "arg"],
    ["EVAL", "return 1", "0"],
    ["FCALL", "f", "1", "a"],
    ["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"],
    ["SORT", "a", "BY", "w_*", "STORE", "d"],
    ["SORT_RO", "a"],
    ["GEORADIUS", "g", "0", "0", "1", "km", "STORE", "d"],
    ["GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
    ["BITFIELD", "k", "GET", "u8", "0"],
    ["LCS", "a", "b"],
    ["CONFIG", "GET", "maxmemory"],
    ["OBJECT", "ENCODING", "k"],
    ["XINFO", "STREAM", "s"],
    ["XGROUP", "CREATE", "s", "g", "$"],
    ["PFCOUNT", "a", "b"],
    ["MIGRATE", "h", "1", "", "0", "10", "KEYS", "a", "b"],
    ["RENAME", "a", "b"],
    ["PING"],
]

for case in CASES:
    if case[0].lower() not in names:
        continue
    try:
        keys = parser.get_keys(conn, *case)
        print(" ".join(case), "->", norm(keys))
    except Exception as e:  # the same failure is expected on both servers
        print(" ".join(case), "-> error", type(e).__name__, e)
