//! OBJECT ENCODING for every type, and commands that mix types (sorted-set
//! operations over plain sets), compared with redis-server 7.0.

#[macro_use]
mod common;

diff_test!(zset_encodings, |p| {
    p.same(&["ZADD", "z", "1", "a"]);
    p.same(&["OBJECT", "ENCODING", "z"]);
    p.same(&["ZADD", "z", "2", &"m".repeat(65)]);
    p.same(&["OBJECT", "ENCODING", "z"]);
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..129 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    p.same(&args);
    p.same(&["OBJECT", "ENCODING", "big"]);
    p.same(&["ZREM", "big", "m0"]);
    p.same(&["ZCARD", "big"]);
});

diff_test!(set_and_list_encodings, |p| {
    p.same(&["SADD", "ints", "1", "2", "3"]);
    p.same(&["OBJECT", "ENCODING", "ints"]);
    p.same(&["SADD", "mixed", "1", "x"]);
    p.same(&["OBJECT", "ENCODING", "mixed"]);
    p.same(&["RPUSH", "l", "a"]);
    p.same(&["OBJECT", "ENCODING", "l"]);
    p.same(&["HSET", "h", "f", "v"]);
    p.same(&["OBJECT", "ENCODING", "h"]);
});

diff_test!(zset_operations_over_plain_sets, |p| {
    p.same(&["SADD", "s1", "a", "b", "c"]);
    p.same(&["SADD", "s2", "b", "c", "d"]);
    p.same(&["ZADD", "z", "5", "c", "7", "e"]);
    p.same(&["ZUNION", "3", "s1", "s2", "z", "WITHSCORES"]);
    p.same(&["ZINTER", "2", "s1", "z", "WITHSCORES"]);
    p.same(&["ZDIFF", "2", "s1", "s2", "WITHSCORES"]);
    p.same(&["ZINTERCARD", "2", "s1", "s2"]);
    p.same(&["ZUNIONSTORE", "dst", "2", "s1", "z", "WEIGHTS", "2", "3"]);
    p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    p.same(&["SET", "str", "x"]);
    p.same(&["ZUNION", "2", "s1", "str"]);
});
