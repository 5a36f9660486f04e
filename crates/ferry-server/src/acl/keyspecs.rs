//! Redis 7.0.15's key specs (COMMAND INFO's `key_specs`), as data: which
//! arguments of a command are keys and whether each is read or written.
//! ACL key permissions (`%R~`, `%W~`) need the access of every key, which
//! only the specs carry. Generated from `COMMAND` on redis-server 7.0.15;
//! commands Redis resolves with a getkeys procedure (SORT, MIGRATE, SET,
//! BITFIELD) are handled in `keys.rs`.

/// The key is read (the spec's ACCESS flag).
pub const R: u8 = 1;
/// The key is written (INSERT, DELETE or UPDATE).
pub const W: u8 = 2;
/// Not a key (a name Redis keeps for cluster routing only).
pub const NOT_KEY: u8 = 4;
/// The spec may miss keys (Redis then asks the command's getkeys procedure).
pub const INCOMPLETE: u8 = 8;
/// The access depends on other arguments (SET's GET, BITFIELD's ops).
pub const VARIABLE: u8 = 16;

/// Where the search for a spec's keys starts.
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword(&'static str, i32),
    Unknown,
}

/// How a spec's keys are found from where the search began.
pub enum Find {
    /// Keys up to `last` (relative; negative counts from the end), every
    /// `step`; `limit` N means only the first 1/N of the remaining arguments.
    Range {
        last: i32,
        step: i32,
        limit: i32,
    },
    /// A key count at `idx`, the first key at `first`, every `step`.
    Keynum {
        idx: i32,
        first: i32,
        step: i32,
    },
    Unknown,
}

pub struct KeySpec {
    pub flags: u8,
    pub begin: Begin,
    pub find: Find,
}

/// By full command name (`get`, `object|encoding`), sorted for binary search.
pub const SPECS: &[(&str, &[KeySpec])] = &[
    (
        "append",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "bitcount",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "bitfield",
        &[KeySpec {
            flags: R | W | VARIABLE,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "bitfield_ro",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "bitop",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(3),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "bitpos",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "blmove",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "blmpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "blpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "brpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "brpoplpush",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "bzmpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "bzpopmax",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "bzpopmin",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -2,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "copy",
        &[
            KeySpec {
                flags: R,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "decr",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "decrby",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "del",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "dump",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "eval",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "eval_ro",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "evalsha",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "evalsha_ro",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "exists",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "expire",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "expireat",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "expiretime",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "fcall",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "fcall_ro",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(2),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "geoadd",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "geodist",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "geohash",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "geopos",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "georadius",
        &[
            KeySpec {
                flags: R,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Keyword("STORE", 6),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Keyword("STOREDIST", 6),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "georadius_ro",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "georadiusbymember",
        &[
            KeySpec {
                flags: R,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Keyword("STORE", 5),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Keyword("STOREDIST", 5),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "georadiusbymember_ro",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "geosearch",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "geosearchstore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "get",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "getbit",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "getdel",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "getex",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "getrange",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "getset",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hdel",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hexists",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hget",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hgetall",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hincrby",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hincrbyfloat",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hkeys",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hlen",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hmget",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hmset",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hrandfield",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hscan",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hset",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hsetnx",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hstrlen",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "hvals",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "incr",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "incrby",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "incrbyfloat",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lcs",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lindex",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "linsert",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "llen",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lmove",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "lmpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "lpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lpos",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lpush",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lpushx",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lrange",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lrem",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "lset",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "ltrim",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "memory|usage",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "mget",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "migrate",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(3),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R | W | INCOMPLETE,
                begin: Begin::Keyword("KEYS", -2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "move",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "mset",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 2,
                limit: 0,
            },
        }],
    ),
    (
        "msetnx",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 2,
                limit: 0,
            },
        }],
    ),
    (
        "object|encoding",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "object|freq",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "object|idletime",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "object|refcount",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "persist",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pexpire",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pexpireat",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pexpiretime",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pfadd",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pfcount",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pfdebug",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pfmerge",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "psetex",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "pttl",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "rename",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "renamenx",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "restore",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "restore-asking",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "rpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "rpoplpush",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "rpush",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "rpushx",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sadd",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "scard",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sdiff",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sdiffstore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "set",
        &[KeySpec {
            flags: R | W | VARIABLE,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "setbit",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "setex",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "setnx",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "setrange",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sinter",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sintercard",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "sinterstore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "sismember",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "smembers",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "smismember",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "smove",
        &[
            KeySpec {
                flags: R | W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: W,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "sort",
        &[
            KeySpec {
                flags: R,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Unknown,
                find: Find::Unknown,
            },
            KeySpec {
                flags: W,
                begin: Begin::Unknown,
                find: Find::Unknown,
            },
        ],
    ),
    (
        "sort_ro",
        &[
            KeySpec {
                flags: R,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Unknown,
                find: Find::Unknown,
            },
        ],
    ),
    (
        "spop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "spublish",
        &[KeySpec {
            flags: NOT_KEY,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "srandmember",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "srem",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sscan",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "ssubscribe",
        &[KeySpec {
            flags: NOT_KEY,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "strlen",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "substr",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sunion",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "sunionstore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: -1,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "sunsubscribe",
        &[KeySpec {
            flags: NOT_KEY,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "touch",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "ttl",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "type",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "unlink",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "watch",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xack",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xadd",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xautoclaim",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xclaim",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xdel",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xgroup|create",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xgroup|createconsumer",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xgroup|delconsumer",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xgroup|destroy",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xgroup|setid",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xinfo|consumers",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xinfo|groups",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xinfo|stream",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(2),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xlen",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xpending",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xrange",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xread",
        &[KeySpec {
            flags: R,
            begin: Begin::Keyword("STREAMS", 1),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 2,
            },
        }],
    ),
    (
        "xreadgroup",
        &[KeySpec {
            flags: R,
            begin: Begin::Keyword("STREAMS", 4),
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 2,
            },
        }],
    ),
    (
        "xrevrange",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xsetid",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "xtrim",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zadd",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zcard",
        &[KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zcount",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zdiff",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "zdiffstore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Keynum {
                    idx: 0,
                    first: 1,
                    step: 1,
                },
            },
        ],
    ),
    (
        "zincrby",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zinter",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "zintercard",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "zinterstore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Keynum {
                    idx: 0,
                    first: 1,
                    step: 1,
                },
            },
        ],
    ),
    (
        "zlexcount",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zmpop",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "zmscore",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zpopmax",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zpopmin",
        &[KeySpec {
            flags: R | W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrandmember",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrange",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrangebylex",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrangebyscore",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrangestore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
        ],
    ),
    (
        "zrank",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrem",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zremrangebylex",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zremrangebyrank",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zremrangebyscore",
        &[KeySpec {
            flags: W,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrevrange",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrevrangebylex",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrevrangebyscore",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zrevrank",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zscan",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zscore",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }],
    ),
    (
        "zunion",
        &[KeySpec {
            flags: R,
            begin: Begin::Index(1),
            find: Find::Keynum {
                idx: 0,
                first: 1,
                step: 1,
            },
        }],
    ),
    (
        "zunionstore",
        &[
            KeySpec {
                flags: W,
                begin: Begin::Index(1),
                find: Find::Range {
                    last: 0,
                    step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: R,
                begin: Begin::Index(2),
                find: Find::Keynum {
                    idx: 0,
                    first: 1,
                    step: 1,
                },
            },
        ],
    ),
];
