//! EVAL's scripts: the cache of compiled scripts by SHA-1 (SCRIPT LOAD,
//! EVALSHA, SCRIPT EXISTS, SCRIPT FLUSH) and running one.

use crate::flags::{parse_shebang, ScriptFlags};
use crate::host::Host;
use crate::sandbox::{sha1_hex, Kind, Outcome, Sandbox, Version};
use bytes::Bytes;
use ferry_resp::Reply;
use mlua::Function;
use std::collections::HashMap;

/// A compiled script.
struct Script {
    flags: ScriptFlags,
    body_len: usize,
    func: Function,
}

/// The cached script named by `sha` (40 hex digits, any case).
fn find<'a>(cache: &'a HashMap<String, Script>, sha: &[u8]) -> Option<(&'a String, &'a Script)> {
    if sha.len() != 40 {
        return None;
    }
    if sha.iter().any(u8::is_ascii_uppercase) {
        let lower = String::from_utf8_lossy(sha).to_ascii_lowercase();
        return cache.get_key_value(&lower);
    }
    let sha = std::str::from_utf8(sha).ok()?;
    cache.get_key_value(sha)
}

/// The EVAL Lua state and its script cache. SCRIPT FLUSH replaces both.
pub struct Scripts {
    sandbox: Sandbox,
    version: Version,
    /// Installed again in the fresh state SCRIPT FLUSH makes.
    watchdog: Option<std::rc::Rc<dyn crate::Watchdog>>,
    cache: HashMap<String, Script>,
    body_bytes: usize,
}

impl Scripts {
    pub fn new(version: Version) -> Result<Scripts, String> {
        let sandbox = Sandbox::new(Kind::Eval, &version).map_err(|e| e.to_string())?;
        Ok(Scripts {
            sandbox,
            version,
            watchdog: None,
            cache: HashMap::new(),
            body_bytes: 0,
        })
    }

    /// Compiles and caches `body` unless cached; returns its SHA-1 (lower
    /// case hex), or Redis's error reply text.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code_start) = parse_shebang(body)?;
        let func = self
            .sandbox
            .compile(&body[code_start..], "@user_script")
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        self.body_bytes += body.len();
        self.cache.insert(
            sha.clone(),
            Script {
                flags,
                body_len: body.len(),
                func,
            },
        );
        Ok(sha)
    }

    fn find(&self, sha: &[u8]) -> Option<(&String, &Script)> {
        find(&self.cache, sha)
    }

    /// The flags of the cached script `sha` (any case), if cached.
    pub fn lookup(&self, sha: &[u8]) -> Option<ScriptFlags> {
        self.find(sha).map(|(_, s)| s.flags)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        self.find(sha).is_some()
    }

    /// Runs the cached script `sha` (any case); errors name it by its
    /// lower-case sha, as Redis does.
    pub fn run(
        &mut self,
        sha: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
        host: &mut dyn Host,
    ) -> Outcome {
        let Some((name, script)) = find(&self.cache, sha) else {
            return Outcome {
                reply: Reply::error("NOSCRIPT No matching script. Please use EVAL."),
                error_counted: false,
            };
        };
        self.sandbox
            .call(&script.func, false, keys, args, name, host)
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh Lua state.
    pub fn flush(&mut self) -> Result<(), String> {
        let sandbox = Sandbox::new(Kind::Eval, &self.version).map_err(|e| e.to_string())?;
        if let Some(w) = &self.watchdog {
            *sandbox.shared.watchdog.borrow_mut() = Some(w.clone());
        }
        self.sandbox = sandbox;
        self.cache.clear();
        self.body_bytes = 0;
        Ok(())
    }

    /// Installs the watchdog asked while scripts run.
    pub fn set_watchdog(&mut self, w: std::rc::Rc<dyn crate::Watchdog>) {
        *self.sandbox.shared.watchdog.borrow_mut() = Some(w.clone());
        self.watchdog = Some(w);
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Bytes of Lua memory (INFO `used_memory_lua`).
    pub fn lua_memory(&self) -> usize {
        self.sandbox.used_memory()
    }

    /// Bytes of cached script bodies plus bookkeeping (INFO `used_memory_scripts`).
    pub fn cache_memory(&self) -> usize {
        self.body_bytes + self.cache.len() * (40 + std::mem::size_of::<Script>())
    }

    #[doc(hidden)]
    pub fn body_len(&self, sha: &str) -> Option<usize> {
        self.cache.get(sha).map(|s| s.body_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_resp::Protocol;

    /// Answers every command with its arguments joined by spaces, so a
    /// test sees what reached the server.
    struct Echo;

    impl Host for Echo {
        fn call(&mut self, argv: Vec<Bytes>, _resp: Protocol) -> Result<Reply, String> {
            if argv[0].as_ref() == b"fail" {
                return Ok(Reply::error(
                    "WRONGTYPE Operation against a key holding the wrong kind of value",
                ));
            }
            Ok(Reply::Bulk(argv.join(&b' ').into()))
        }
        fn acl_check(&mut self, _argv: &[Bytes]) -> Option<bool> {
            Some(true)
        }
    }

    fn eval(s: &mut Scripts, body: &str, keys: &[&str], args: &[&str]) -> Reply {
        let sha = match s.load(body.as_bytes()) {
            Ok(sha) => sha,
            Err(e) => return Reply::error(e),
        };
        let sha = sha.as_bytes();
        let keys: Vec<Bytes> = keys
            .iter()
            .map(|k| Bytes::copy_from_slice(k.as_bytes()))
            .collect();
        let args: Vec<Bytes> = args
            .iter()
            .map(|k| Bytes::copy_from_slice(k.as_bytes()))
            .collect();
        s.run(sha, &keys, &args, &mut Echo).reply
    }

    fn err(text: &str) -> Reply {
        Reply::error(text.to_string())
    }

    #[test]
    fn sandbox_and_errors() {
        let mut s = Scripts::new(Version::parse("7.0.15")).unwrap();
        assert_eq!(
            eval(&mut s, "return KEYS[1]..ARGV[1]", &["a"], &["b"]),
            Reply::bulk("ab")
        );
        assert_eq!(
            eval(&mut s, "return redis.call('get', 1.5, 7)", &[], &[]),
            Reply::bulk("get 1.5 7")
        );
        assert_eq!(
            eval(&mut s, "x=1", &[], &[]),
            err("ERR user_script:1: Attempt to modify a readonly table script: 7caf6056913504f0508c65faf2dc3f94ff65bcfd, on @user_script:1.")
        );
        assert_eq!(
            eval(&mut s, "return y", &[], &[]),
            err("ERR user_script:1: Script attempted to access nonexistent global variable 'y' script: e278681ed961e2fb52881313e5c90fdd93749940, on @user_script:1.")
        );
        assert_eq!(
            eval(&mut s, "return redis.call('fail')", &[], &[]),
            err(&format!("WRONGTYPE Operation against a key holding the wrong kind of value script: {}, on @user_script:1.", sha1_hex(b"return redis.call('fail')")))
        );
        assert_eq!(
            eval(&mut s, "return redis.pcall('fail')", &[], &[]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
        assert_eq!(
            eval(&mut s, "return {pcall(redis.call, 'fail')}", &[], &[]),
            Reply::Array(vec![
                Reply::Null,
                Reply::bulk("WRONGTYPE Operation against a key holding the wrong kind of value")
            ])
        );
        assert_eq!(
            eval(&mut s, "redis.call = 1", &[], &[]),
            err("ERR user_script:1: Attempt to modify a readonly table script: 69f883616b1814e2dc95cf801f324e38c5cc5ed2, on @user_script:1.")
        );
        assert_eq!(
            eval(&mut s, "return rawset(_G,'a',1)", &[], &[]),
            err("ERR Attempt to modify a readonly table script: 5d59ac14291428a54dd72e1e5e3d90a8d46792aa, on @user_script:1.")
        );
        assert_eq!(
            eval(&mut s, "return 1 +", &[], &[]),
            err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'")
        );
        assert_eq!(
            eval(
                &mut s,
                "return tostring(getmetatable('').__index == string)",
                &[],
                &[]
            ),
            Reply::bulk("true")
        );
        assert_eq!(
            eval(&mut s, "return type(loadstring('return 1'))", &[], &[]),
            Reply::bulk("function")
        );
        assert_eq!(
            eval(&mut s, "return loadstring('x = 5')()", &[], &[]),
            err("ERR [string \"x = 5\"]:1: Attempt to modify a readonly table script: cfa1f75c52afdeef48d155a6965e7d5d8445a085, on x = 5:1.")
        );
        assert_eq!(eval(&mut s, "math.randomseed(42) return {math.random(100), math.random(100), tostring(math.random())}", &[], &[]),
            Reply::Array(vec![Reply::Integer(75), Reply::Integer(35), Reply::bulk("0.11108528222474")]));
        assert_eq!(
            eval(&mut s, "return redis.sha1hex('')", &[], &[]),
            Reply::bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
        );
        assert_eq!(
            eval(&mut s, "return type(redis)", &[], &[]),
            Reply::bulk("table")
        );
        assert_eq!(
            eval(
                &mut s,
                "local n = 0 for k in pairs(_G) do n = n + 1 end return n > 20",
                &[],
                &[]
            ),
            Reply::Integer(1)
        );
        // Library tables refuse raw writes too.
        assert_eq!(
            eval(&mut s, "table.insert(redis, 5) return #redis", &[], &[]),
            err("ERR Attempt to modify a readonly table script: b08b4a2b79e671fd50ad5101fa49cfa41ced9d04, on @user_script:1.")
        );
        assert_eq!(eval(&mut s, "return #redis", &[], &[]), Reply::Integer(0));
    }
}
