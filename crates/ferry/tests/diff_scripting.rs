//! Differential tests for Lua scripting (EVAL family, SCRIPT, FUNCTION,
//! FCALL): ferry's replies must be byte-identical to redis-server 7.0's, in
//! RESP2 and RESP3, error texts included.

#[macro_use]
mod common;

fn eval(p: &mut common::ConnPair, script: &str, keys: &[&str], args: &[&str]) -> Vec<u8> {
    let n = keys.len().to_string();
    let mut argv: Vec<&str> = vec!["EVAL", script, &n];
    argv.extend_from_slice(keys);
    argv.extend_from_slice(args);
    p.same(&argv)
}

diff_test!(lua_to_reply_conversions, |p| {
    for script in [
        "return 1",
        "return -3.7",
        "return 3.99",
        "return 1e300",
        "return 0/0",
        "return 'hello'",
        "return ''",
        "return true",
        "return false",
        "return nil",
        "return {}",
        "return {1, 2, 3, 'ciao', {1, 2}}",
        "return {1, nil, 3}",
        "return {1, false, 3}",
        "return {1, true, 3}",
        "return {ok = 'fine'}",
        "return {ok = 'a\\r\\nb'}",
        "return {err = 'My Error'}",
        "return {err = 'ERR a\\r\\nb'}",
        "return {ok = 'a', err = 'b'}",
        "return {double = 3.5}",
        "return {double = 3}",
        "return {big_number = '12345678901234567890'}",
        "return {verbatim_string = {format = 'txt', string = 'hi'}}",
        "return {map = {a = 1}}",
        "return {set = {x = true}}",
        "return {double = 1, big_number = '1'}",
        "return redis.status_reply('FOO')",
        "return redis.error_reply('FOO bar')",
        "return redis.error_reply('-FOO bar')",
        "return redis.error_reply('FOO')",
        "return redis.error_reply('')",
        "return redis.error_reply(1)",
        "return redis.status_reply(1)",
        "return type(redis.error_reply(1))",
        "return string.dump",
        "return {1, {2, {3, {4}}}}",
        "return {'a', 'b', c = 'd'}",
    ] {
        eval(p, script, &[], &[]);
    }
});

diff_test!(resp3_conversions_after_setresp, |p| {
    p.same(&["HSET", "h", "a", "1"]);
    p.same(&["ZADD", "z", "1.5", "m"]);
    for script in [
        "redis.setresp(3) return redis.call('hgetall', 'h')",
        "redis.setresp(3) return type(redis.call('hgetall', 'h').map)",
        "redis.setresp(3) return redis.call('hgetall', 'nokey')",
        "redis.setresp(3) return type(redis.call('get', 'nokey'))",
        "return type(redis.call('get', 'nokey'))",
        "redis.setresp(3) return redis.call('zscore', 'z', 'm')",
        "redis.setresp(3) return redis.call('zscore', 'z', 'm').double",
        "return redis.call('zscore', 'z', 'm')",
        "redis.setresp(3) return redis.call('smembers', 'nokey')",
        "redis.setresp(3) return true",
        "redis.setresp(3) return false",
        "redis.setresp(3) return {true, false}",
        "redis.setresp(3) return redis.call('zrange', 'z', 0, -1, 'withscores')",
        "return redis.call('zrange', 'z', 0, -1, 'withscores')",
        "redis.setresp(2) return redis.call('hgetall', 'h')",
        "return redis.setresp(4)",
        "return redis.setresp()",
        "return redis.setresp('3')",
    ] {
        eval(p, script, &[], &[]);
    }
});

diff_test!(redis_call_and_pcall, |p| {
    p.same(&["SET", "s", "abc"]);
    for script in [
        "return redis.call('set', KEYS[1], ARGV[1])",
        "return redis.call('get', KEYS[1])",
        "return redis.call('incr', 's')",
        "return redis.pcall('incr', 's')",
        "return redis.pcall('incr', 's')['err']",
        "return {pcall(redis.call, 'incr', 's')}",
        "return {pcall(function() redis.call('incr', 's') end)}",
        "return {xpcall(function() redis.call('nosuch') end, function(e) return type(e) end)}",
        "return redis.call('nosuch')",
        "return redis.pcall('nosuch')",
        "return redis.call()",
        "return redis.pcall()",
        "return redis.call('get')",
        "return redis.call('get', {})",
        "return redis.call('get', nil)",
        "return redis.call('set', 'n', 3.5)",
        "return redis.call('set', 'n', 12345678901234567)",
        "return redis.call('get', 'n')",
        "return redis.call('set', 'n', 0.1)",
        "return redis.call('get', 'n')",
        "return redis.call('blpop', 'x', 0)",
        "return redis.call('eval', 'return 1', 0)",
        "return redis.call('multi')",
        "return redis.call('subscribe', 'c')",
        "return redis.call('client', 'nosuch')",
        "return redis.call('client')",
        "return redis.call('ping')",
        "return redis.call('echo', 'x')",
        "return redis.call('xread', 'block', 0, 'streams', 'nostream', '$')",
        "return redis.acl_check_cmd('set', 'x', 'y')",
        "return redis.acl_check_cmd('get')",
        "return redis.acl_check_cmd('nosuch')",
        "return redis.acl_check_cmd()",
    ] {
        eval(p, script, &["k"], &["v"]);
    }
});

diff_test!(errors_from_scripts, |p| {
    for script in [
        "return 1 +",
        "return 1 +\nlocal x",
        "local a = {} a.b.c = 1",
        "error('boom')",
        "error('boom', 0)",
        "error({err = 'boom'})",
        "error({err = 'MYCODE boom'})",
        "error(42)",
        "error(nil)",
        "local function f() error('deep') end f()",
        "local function f() return redis.call('nosuch') end return f()",
        "\n\nreturn redis.call('nosuch')",
        "return string.rep()",
        "return ('x'):rep()",
        "return math.random(0)",
        "return math.random(1, 2, 3)",
        "return math.random('a')",
        "return tostring(nil) .. nil",
        "return #nil",
        "return nil + 1",
    ] {
        eval(p, script, &[], &[]);
    }
});

diff_test!(sandbox, |p| {
    for script in [
        "x = 1",
        "x=1",
        "return y",
        "return os",
        "return type(loadstring)",
        "return type(print)",
        "return type(dofile)",
        "return type(module)",
        "return type(require)",
        "return type(debug)",
        "return type(newproxy)",
        "return type(getfenv)",
        "return type(setfenv)",
        "return type(coroutine)",
        "return type(unpack)",
        "return type(gcinfo)",
        "return _VERSION",
        "redis.call = 1",
        "redis = nil",
        "string.foo = 1",
        "return rawset(_G, 'a', 1)",
        "return setmetatable(_G, nil)",
        "return type(getmetatable(_G))",
        "return tostring(getmetatable('').__index == string)",
        "getmetatable('').__index = nil",
        "return loadstring('return 1 + 1')()",
        "return loadstring('x = 5')()",
        "return {loadstring('return 1 +')}",
        "return select(2, loadstring('return 1 +'))",
        "return {loadstring(string.dump(function() return 1 end))}",
        "return select(2, loadstring(string.dump(function() return 1 end)))",
        "local f = loadstring('return _G') return tostring(f() == _G)",
        "return rawget(_G, 'redis') == redis",
        "local n = 0 for k, v in pairs(redis) do n = n + 1 end return n",
        "local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(string) do t[#t + 1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(math) do t[#t + 1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(table) do t[#t + 1] = k end table.sort(t) return t",
        "return {pcall(next)}",
        "return redis.REDIS_VERSION_NUM",
        "return redis.REDIS_VERSION",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
        "return redis.set_repl(redis.REPL_ALL)",
        "return redis.set_repl(99)",
        "return redis.set_repl()",
        "return redis.replicate_commands()",
        "return redis.breakpoint()",
        "return redis.debug('x')",
        "return redis.sha1hex('')",
        "return redis.sha1hex('abc')",
        "return redis.sha1hex(12)",
        "return redis.sha1hex()",
        "redis.log(redis.LOG_WARNING, 'from a script', 1, {})",
        "return redis.log(redis.LOG_WARNING)",
        "return redis.log('x', 'y')",
        "return redis.log(9, 'y')",
        "math.randomseed(42) return {math.random(100), math.random(100), tostring(math.random())}",
        "math.randomseed(7) return {math.random(5, 10), math.random(-3, 3)}",
        "return math.randomseed()",
        "return #redis",
        "local c = coroutine.create(function(a) coroutine.yield(a + 1) return 'done' end) local _, x = coroutine.resume(c, 1) local _, y = coroutine.resume(c) return {x, y}",
    ] {
        eval(p, script, &[], &[]);
    }
});

diff_test!(keys_argv_and_numkeys, |p| {
    p.same(&[
        "EVAL",
        "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}",
        "2",
        "a",
        "b",
        "c",
        "d",
    ]);
    p.same(&["EVAL", "return {#KEYS, #ARGV}", "0"]);
    p.same(&["EVAL", "KEYS[1] = 'x' return KEYS[1]", "1", "a"]);
    p.same(&["EVAL", "return 1", "-1"]);
    p.same(&["EVAL", "return 1", "2", "a"]);
    p.same(&["EVAL", "return 1", "abc"]);
    p.same(&["EVAL", "return 1", "1.5", "a"]);
    p.same(&["EVAL", "return 1"]);
    p.same(&["EVALSHA", "abc", "0"]);
    p.same(&["EVALSHA", "abc", "x"]);
    p.same(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "x"]);
    p.same(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]);
});

diff_test!(script_cache, |p| {
    p.same(&["SCRIPT", "FLUSH"]);
    let sha = p.same(&["SCRIPT", "LOAD", "return 'cached'"]);
    let sha = String::from_utf8_lossy(&sha[5..45]).to_string();
    p.same(&["EVALSHA", &sha, "0"]);
    p.same(&["EVALSHA", &sha.to_uppercase(), "0"]);
    p.same(&["EVALSHA_RO", &sha, "0"]);
    p.same(&[
        "SCRIPT",
        "EXISTS",
        &sha,
        "ffffffffffffffffffffffffffffffffffffffff",
        "short",
        &sha.to_uppercase(),
    ]);
    p.same(&["SCRIPT", "LOAD", "return 1 +"]);
    p.same(&["SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1"]);
    p.same(&["EVAL", "return 'cached'", "0"]);
    p.same(&["SCRIPT", "FLUSH", "SYNC"]);
    p.same(&["SCRIPT", "FLUSH", "ASYNC"]);
    p.same(&["SCRIPT", "FLUSH", "bogus"]);
    p.same(&["SCRIPT", "FLUSH", "sync", "x"]);
    p.same(&["EVALSHA", &sha, "0"]);
    p.same(&["SCRIPT", "EXISTS", &sha]);
    p.same(&["SCRIPT", "KILL"]);
    p.same(&["SCRIPT", "KILL", "x"]);
    p.same(&["SCRIPT", "DEBUG", "no"]);
    p.same(&["SCRIPT", "DEBUG", "bogus"]);
    p.same(&["SCRIPT", "HELP"]);
    p.same(&["SCRIPT", "NOSUCH"]);
    p.same(&["SCRIPT"]);
    p.same(&["SCRIPT", "EXISTS"]);
    p.same(&["SCRIPT", "LOAD"]);
    p.same(&["EVAL", "#!lua\nreturn 1", "0"]);
    p.same(&["EVAL", "#!lua", "0"]);
});

diff_test!(shebang_flags_and_read_only, |p| {
    for (cmd, script) in [
        (
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)",
        ),
        (
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get', 'x')",
        ),
        ("EVAL", "#!lua\nreturn redis.call('set', 'x', 1)"),
        ("EVAL_RO", "#!lua\nreturn redis.call('get', 'x')"),
        (
            "EVAL_RO",
            "#!lua flags=no-writes\nreturn redis.call('get', 'x')",
        ),
        ("EVAL_RO", "return redis.call('set', 'x', 2)"),
        ("EVAL_RO", "return redis.call('get', 'x')"),
        ("EVAL_RO", "return redis.pcall('del', 'x')"),
        (
            "EVAL",
            "#!lua flags=allow-oom,allow-stale,no-cluster\nreturn 1",
        ),
        ("EVAL", "#!lua  flags=no-writes\nreturn 1"),
        ("EVAL", "#!lua flags=\nreturn 1"),
        ("EVAL", "#!lua flags=no-writes,,allow-oom\nreturn 1"),
        ("EVAL", "#!lua flags=bogus\nreturn 1"),
        ("EVAL", "#!foo\nreturn 1"),
        ("EVAL", "#!lua x=1\nreturn 1"),
        ("EVAL", "#!lua flags=no-writes\nreturn 1 +"),
    ] {
        p.same(&[cmd, script, "0"]);
    }
});

diff_test!(select_inside_a_script, |p| {
    p.same(&[
        "EVAL",
        "redis.call('select', 1) redis.call('set', 'dbk', 'in1') return redis.call('get', 'dbk')",
        "0",
    ]);
    p.same(&["GET", "dbk"]);
    p.same(&["SELECT", "1"]);
    p.same(&["GET", "dbk"]);
    p.same(&["EVAL", "return redis.call('get', 'dbk')", "0"]);
    p.same(&["SELECT", "0"]);
});

diff_test!(scripts_in_transactions, |p| {
    p.same(&["MULTI"]);
    p.same(&["EVAL", "return redis.call('incr', 'ctr')", "0"]);
    p.same(&["EVAL", "return redis.call('incr', 'ctr')", "0"]);
    p.same(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]);
    p.same(&["EXEC"]);
    p.same(&["GET", "ctr"]);
    // A blocking command inside a script does not block.
    p.same(&[
        "EVAL",
        "return redis.call('xread', 'block', '0', 'streams', 'nos', '$')",
        "0",
    ]);
});

diff_test!(numbers_and_strings, |p| {
    for script in [
        "return tostring(1/3)",
        "return string.format('%d %s %5.2f', 42, 'x', 3.14159)",
        "return tostring(2^53)",
        "return tostring(-0.0)",
        "return string.rep('ab', 3, '-')",
        "return ('%q'):format('a\\0b\\n')",
        "return tonumber('0x10')",
        "return tonumber('  12  ')",
        "return tonumber('1e2')",
        "return table.concat({1, 2, 3}, ',')",
        "local t = {3, 1, 2} table.sort(t) return t",
        "return string.byte('A')",
        "return string.char(72, 105)",
        "return {string.find('hello world', 'o w')}",
        "return string.gsub('hello', 'l', 'L')",
        "return string.upper('abc')",
        "return math.floor(3.7)",
        "return math.huge",
        "return tostring(math.huge)",
        "return tostring(math.pi)",
        "return select('#', 1, 2, 3)",
        "return unpack({1, 2, 3})",
        "return {unpack({1, 2, 3})}",
    ] {
        eval(p, script, &[], &[]);
    }
});

/// A library with one function: FUNCTION LIST prints a library's
/// functions in hash order, which differs between runs of redis-server.
const LIB_ONE: &str = "#!lua name=onelib\nredis.register_function{function_name = 'only', callback = function(keys, args) return redis.call('get', keys[1]) end, flags = {'no-writes', 'allow-stale'}, description = 'reads a key'}";

const LIB: &str = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return {keys[1], args[1]} end)\nredis.register_function{function_name = 'ro_func', callback = function(keys, args) return redis.call('get', keys[1]) end, flags = {'no-writes'}, description = 'reads a key'}\nredis.register_function('setter', function(keys, args) return redis.call('set', keys[1], args[1]) end)";

diff_test!(functions_load_call_list, |p| {
    p.same(&["FUNCTION", "FLUSH"]);
    p.same(&["FUNCTION", "LOAD", LIB]);
    p.same(&["FCALL", "myfunc", "1", "k", "a"]);
    p.same(&["FCALL", "MYFUNC", "1", "k", "a"]);
    p.same(&["FCALL", "setter", "1", "k", "v"]);
    p.same(&["FCALL", "ro_func", "1", "k"]);
    p.same(&["FCALL_RO", "ro_func", "1", "k"]);
    p.same(&["FCALL_RO", "setter", "1", "k", "v"]);
    p.same(&["FCALL", "nosuch", "0"]);
    p.same(&["FCALL", "myfunc", "abc"]);
    p.same(&["FCALL", "myfunc", "-1"]);
    p.same(&["FCALL", "myfunc", "5", "a"]);
    p.same(&["FCALL", "nosuch", "abc"]);
    p.same(&["FUNCTION", "DELETE", "mylib"]);
    p.same(&["FUNCTION", "LOAD", LIB_ONE]);
    p.same(&["FCALL", "only", "1", "k"]);
    p.same(&["FUNCTION", "LIST"]);
    p.same(&["FUNCTION", "LIST", "WITHCODE"]);
    p.same(&["FUNCTION", "LIST", "LIBRARYNAME", "one*"]);
    p.same(&["FUNCTION", "LIST", "LIBRARYNAME", "ONE*"]);
    p.same(&["FUNCTION", "LIST", "LIBRARYNAME", "other*", "WITHCODE"]);
    p.same(&["FUNCTION", "DELETE", "onelib"]);
    p.same(&["FUNCTION", "LOAD", LIB]);
    p.same(&["FUNCTION", "LIST", "LIBRARYNAME"]);
    p.same(&["FUNCTION", "LIST", "bogus"]);
    p.same(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]);
    p.same(&["FUNCTION", "STATS"]);
    p.same(&["FUNCTION", "LOAD", LIB]);
    p.same(&["FUNCTION", "LOAD", "REPLACE", LIB]);
    p.same(&["FUNCTION", "LOAD", "bogus", LIB]);
    p.same(&["FUNCTION", "LOAD", "REPLACE"]);
    p.same(&["FUNCTION", "DELETE", "nosuch"]);
    p.same(&["FUNCTION", "DELETE", "mylib"]);
    p.same(&["FCALL", "myfunc", "0"]);
    p.same(&["FUNCTION", "LIST"]);
    p.same(&["FUNCTION", "STATS"]);
    p.same(&["FUNCTION", "KILL"]);
    p.same(&["FUNCTION", "HELP"]);
    p.same(&["FUNCTION", "FLUSH", "bogus"]);
    p.same(&["FUNCTION", "FLUSH", "a", "b"]);
    p.same(&["FUNCTION", "FLUSH", "SYNC"]);
});

diff_test!(function_load_errors, |p| {
    p.same(&["FUNCTION", "FLUSH"]);
    for code in [
        "return 1",
        "#!lua\nreturn 1",
        "#!lua",
        "#!lua name=lib1\nreturn 1",
        "#!lua name=lib-2\nreturn 1",
        "#!lua name=lib3 foo=bar\nreturn 1",
        "#!lua name=a name=b\nreturn 1",
        "#!nosuch name=x\nreturn 1",
        "#!lua name=x\nredis.call('ping')",
        "#!lua name=x\nlocal x = redis.setresp",
        "#!lua name=x\nx = 1",
        "#!lua name=x\nreturn 1 +",
        "#!lua name=x\nlocal s = string.format('%d', 1)",
        "#!lua name=x\nerror('boom')",
        "#!lua name=x\nerror({err = 'MY boom'})",
        "#!lua name=x\nredis.register_function('f-1', function() end)",
        "#!lua name=x\nredis.register_function('f', function() end) redis.register_function('f', function() end)",
        "#!lua name=x\nredis.register_function('f')",
        "#!lua name=x\nredis.register_function(1, 2)",
        "#!lua name=x\nredis.register_function()",
        "#!lua name=x\nredis.register_function('a', 'b', 'c')",
        "#!lua name=x\nredis.register_function{function_name = 'f', callback = function() end, flags = {'bogus'}}",
        "#!lua name=x\nredis.register_function{function_name = 'f', callback = function() end, flags = 'no-writes'}",
        "#!lua name=x\nredis.register_function{function_name = 'f', callback = function() end, foo = 1}",
        "#!lua name=x\nredis.register_function{callback = function() end}",
        "#!lua name=x\nredis.register_function{function_name = 'f'}",
        "#!lua name=x\nredis.register_function{function_name = 'f', callback = 1}",
        "#!lua name=x\nredis.register_function{function_name = {}, callback = function() end}",
        "#!lua name=x\nredis.register_function{function_name = 'f', description = {}, callback = function() end}",
        "#!lua name=x\nredis.register_function{[1] = 'f'}",
        "#!lua name=x\nredis.register_function('f1', function() return redis.REDIS_VERSION end) redis.log(redis.LOG_NOTICE, 'loading x')",
    ] {
        p.same(&["FUNCTION", "LOAD", code]);
    }
    p.same(&["FCALL", "f1", "0"]);
    p.same(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=y\nredis.register_function('f1', function() end)",
    ]);
    p.same(&[
        "FUNCTION",
        "LOAD",
        "#!LUA name=z\nredis.register_function('fz', function() return 'upper engine' end)",
    ]);
    p.same(&["FCALL", "fz", "0"]);
});

diff_test!(function_runtime, |p| {
    p.same(&["FUNCTION", "FLUSH"]);
    p.same(&["FUNCTION", "LOAD", "#!lua name=rt\nredis.register_function('boom', function(k, a) error('boom') end)\nredis.register_function('nocmd', function(k, a) return redis.call('nosuch') end)\nredis.register_function('globals', function(k, a) return KEYS end)\nredis.register_function('resp3', function(k, a) redis.setresp(3) return redis.call('hgetall', k[1]) end)\nredis.register_function('counts', function(k, a) return {#k, #a} end)\nredis.register_function('setglobal', function(k, a) x = 1 end)"]);
    p.same(&["HSET", "h", "f", "v"]);
    p.same(&["FCALL", "boom", "0"]);
    p.same(&["FCALL", "nocmd", "0"]);
    p.same(&["FCALL", "globals", "0"]);
    p.same(&["FCALL", "resp3", "1", "h"]);
    p.same(&["FCALL", "counts", "2", "a", "b", "c"]);
    p.same(&["FCALL", "setglobal", "0"]);
    p.same(&["FUNCTION", "FLUSH"]);
});

diff_test!(function_dump_and_restore, |p| {
    p.same(&["FUNCTION", "FLUSH"]);
    p.same(&["FUNCTION", "LOAD", LIB_ONE]);
    // Payloads differ in bytes (Redis compresses with LZF, ferry does not),
    // so each side restores its own dump, and ferry also restores Redis's.
    let (dump_a, dump_b) = p.both(&["FUNCTION", "DUMP"]);
    let payload_a = common::parse_one(&dump_a).as_bytes().expect("a dump");
    let payload_b = common::parse_one(&dump_b).as_bytes().expect("a dump");
    p.same(&["FUNCTION", "FLUSH"]);
    let a = p.a.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload_a]);
    let b = p.b.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload_b]);
    assert_eq!(a, b, "restoring each side's own dump");
    p.same(&["FCALL", "only", "1", "k"]);
    p.same(&["FUNCTION", "LIST"]);
    // Redis's (compressed) payload restores on ferry too.
    let b =
        p.b.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload_a, b"REPLACE"]);
    assert_eq!(
        b, b"+OK\r\n",
        "ferry restores Redis's FUNCTION DUMP payload"
    );
    let a = p.a.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload_a]);
    let b = p.b.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload_a]);
    assert_eq!(a, b, "append of an existing library");
    let a =
        p.a.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload_a, b"FLUSH"]);
    let b =
        p.b.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload_a, b"FLUSH"]);
    assert_eq!(a, b);
    p.same(&["FUNCTION", "RESTORE", "garbage"]);
    p.same(&["FUNCTION", "RESTORE", "garbage", "bogus"]);
    p.same(&["FUNCTION", "RESTORE", "garbage", "FLUSH", "x"]);
    let mut bad = payload_a.clone();
    bad[3] ^= 0x55;
    let a = p.a.cmd(&[&b"FUNCTION"[..], b"RESTORE", &bad]);
    let b = p.b.cmd(&[&b"FUNCTION"[..], b"RESTORE", &bad]);
    assert_eq!(a, b, "a payload with a bad checksum");
    p.same(&["FUNCTION", "FLUSH"]);
});

diff_test!(large_replies_and_arguments, |p| {
    eval(p, "return #string.rep('x', 10000000)", &[], &[]);
    eval(p, "return string.rep('ab', 1000000)", &[], &[]);
    eval(
        p,
        "local t = {} for i = 1, 100000 do t[i] = i end return t",
        &[],
        &[],
    );
    eval(
        p,
        "local t = {} for i = 1, 1000 do t[i] = {i, tostring(i)} end return t",
        &[],
        &[],
    );
    let big = "v".repeat(1 << 20);
    p.same(&[
        "EVAL",
        "return redis.call('set', KEYS[1], ARGV[1])",
        "1",
        "big",
        &big,
    ]);
    p.same(&["EVAL", "return #redis.call('get', KEYS[1])", "1", "big"]);
    let many: Vec<String> = (0..10000).map(|i| format!("a{i}")).collect();
    let mut argv: Vec<&str> = vec!["EVAL", "return #ARGV + #KEYS", "5000"];
    argv.extend(many.iter().map(|s| s.as_str()));
    p.same(&argv);
});

/// Lua memory is bounded in ferry: a script that tries to build a 2 GiB
/// string fails with Lua's "not enough memory" and the server goes on.
/// (Not compared with Redis, which would try to allocate it.)
#[test]
fn runaway_memory_fails_the_script_only() {
    let ferry = common::FerryProc::start(common::FerryOpts::default());
    let mut c = ferry.connect();
    let r = c.cmd(&[
        "EVAL",
        "local s = string.rep('x', 2^29) return #(s .. s)",
        "0",
    ]);
    let text = String::from_utf8_lossy(&r).to_string();
    assert!(
        text.starts_with("-ERR") && text.contains("not enough memory"),
        "{text}"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 'still here'", "0"]),
        b"$10\r\nstill here\r\n"
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

diff_test!(errorstats_count_a_script_error_once, |p| {
    p.same(&["SET", "s", "abc"]);
    for script in [
        "return redis.call('incr', 's')",
        "return redis.pcall('incr', 's')",
        "return nil + 1",
        "return {err = 'MYERR x'}",
        "return redis.call('nosuch')",
        "local t = redis.pcall('incr', 's') local k = {} for a in pairs(t) do k[#k + 1] = a end table.sort(k) return k",
    ] {
        p.same(&["CONFIG", "RESETSTAT"]);
        eval(p, script, &[], &[]);
        p.same(&["INFO", "errorstats"]);
    }
});

diff_test!(table_functions_refuse_library_tables, |p| {
    for script in [
        "table.insert(redis, 5)",
        "return table.insert(string, 1, 'x')",
        "return table.remove(math)",
        "return table.sort(cjson)",
        "return table.insert(nil, 1)",
        "return table.insert()",
        "return table.remove({}, 'x')",
        "local t = {3, 1, 2} table.sort(t) table.insert(t, 4) table.insert(t, 1, 0) return {table.remove(t), t[1], #t}",
        "return #redis",
        "local ok, e = pcall(table.insert, redis, 1) return e",
    ] {
        eval(p, script, &[], &[]);
    }
});

diff_test!(review_findings, |p| {
    // The table behind a read-only proxy never reaches a script.
    for script in [
        "local _, r = pairs(redis) r.call = function() return 'hijacked' end",
        "return redis.call('ping')",
        "local _, g = pairs(_G) g.foo = 1",
        "return foo",
        "local _, m = pairs(getmetatable('')) m.x = 1",
        "local n = 0 for k, v in pairs(redis) do n = n + 1 end return n > 10",
        "local k = next(redis) return type(k)",
        "local t = {a = 1} for k, v in pairs(t) do t[k] = v + 1 end return t.a",
        // Numbers as command arguments, NaN included.
        "redis.call('set', 'k', 0/0) return redis.call('get', 'k')",
        "redis.call('set', 'k', 1/0) return redis.call('get', 'k')",
        "redis.call('set', 'k', -1/0) return redis.call('get', 'k')",
    ] {
        eval(p, script, &[], &[]);
    }
    // Deeply nested replies convert whole (read back on a thread with a
    // stack big enough for the harness's recursive reply parser).
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(scope, || {
                eval(
                    p,
                    "local t = {1} for i = 1, 5000 do t = {t} end return t",
                    &[],
                    &[],
                );
            })
            .expect("spawn")
            .join()
            .expect("deep reply");
    });
    // Shebangs split as sdssplitargs: CR LF, tabs, quotes.
    for script in [
        "#!lua flags=no-writes\r\nreturn 1",
        "#!lua\tflags=no-writes\nreturn 2",
        "#!lua flags=\"no-writes\"\nreturn 3",
        "#!lua \"unbalanced\nreturn 4",
        "#! \nreturn 5",
    ] {
        p.same(&["EVAL", script, "0"]);
    }
    for code in [
        "#!lua name=\"q1\"\nredis.register_function('fq', function() return 1 end)",
        "#!lua \"name=x\nredis.register_function('f', function() end)",
    ] {
        p.same(&["FUNCTION", "LOAD", "REPLACE", code]);
    }
    p.same(&["FCALL", "fq", "0"]);
    let bad_name = b"#!lua name=bad\nredis.register_function('\xff', function() end)".to_vec();
    let (a, b) = p.both(&[&b"FUNCTION"[..], b"LOAD", &bad_name]);
    assert_eq!(
        common::escape(&a),
        common::escape(&b),
        "a non-UTF-8 function name"
    );
    let desc = b"#!lua name=desc\nredis.register_function{function_name = 'fd', callback = function() return 1 end, description = '\xff\xfe'}".to_vec();
    let (a, b) = p.both(&[&b"FUNCTION"[..], b"LOAD", &desc]);
    assert_eq!(a, b, "a non-UTF-8 description is accepted");
    p.same(&["FUNCTION", "LIST", "LIBRARYNAME", "desc"]);
    p.same(&["CONFIG", "SET", "busy-reply-threshold", "-1"]);
    p.same(&["CONFIG", "SET", "lua-time-limit", "-5"]);
    p.same(&["FUNCTION", "FLUSH"]);
});

/// FUNCTION RESTORE payloads built here: one or more libraries, each an
/// RDB_OPCODE_FUNCTION2 and the library code as an RDB string.
fn function_payload(codes: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for code in codes {
        body.push(ferry_rdb::OPCODE_FUNCTION2);
        ferry_rdb::write_string(&mut body, code);
    }
    ferry_rdb::seal_payload(body)
}

diff_test!(function_restore_edges, |p| {
    p.same(&["FUNCTION", "FLUSH"]);
    p.same(&["FUNCTION", "LOAD", LIB_ONE]);
    // Two libraries registering the same function: refused, and with
    // FLUSH the existing libraries stay.
    let clash = function_payload(&[
        b"#!lua name=c1\nredis.register_function('dupf', function() return 1 end)",
        b"#!lua name=c2\nredis.register_function('dupf', function() return 2 end)",
    ]);
    let (a, b) = p.both(&[&b"FUNCTION"[..], b"RESTORE", &clash, b"FLUSH"]);
    assert_eq!(common::escape(&a), common::escape(&b));
    p.same(&["FUNCTION", "LIST"]);
    p.same(&["FCALL", "only", "1", "k"]);
    // A compressed string claiming an impossible length.
    let mut body = vec![ferry_rdb::OPCODE_FUNCTION2, 0xc3, 0x02, 0x81];
    body.extend_from_slice(&(1u64 << 62).to_be_bytes());
    body.extend_from_slice(&[0x00, b'a']);
    let huge = ferry_rdb::seal_payload(body);
    let (a, b) = p.both(&[&b"FUNCTION"[..], b"RESTORE", &huge]);
    assert_eq!(common::escape(&a), common::escape(&b));
    // Not a function at all.
    let other = ferry_rdb::seal_payload(vec![0x00, 0x01, b'x']);
    let (a, b) = p.both(&[&b"FUNCTION"[..], b"RESTORE", &other]);
    assert_eq!(common::escape(&a), common::escape(&b));
    // A library whose top level runs long: RESTORE has no load time bound.
    let slow = function_payload(&[
        b"#!lua name=slow\nfor i = 1, 2e8 do end\nredis.register_function('slowf', function() return 'loaded' end)",
    ]);
    let (a, b) = p.both(&[&b"FUNCTION"[..], b"RESTORE", &slow]);
    assert_eq!(common::escape(&a), common::escape(&b));
    p.same(&["FCALL", "slowf", "0"]);
    p.same(&["FUNCTION", "FLUSH"]);
});
