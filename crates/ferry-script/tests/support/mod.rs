//! A real `redis-server` for differential tests, and the Lua harness both
//! sides run so any result becomes one comparable string.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child on a free loopback port, killed (by its pid) when
/// dropped, also when a test panics.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Makes the server receive SIGKILL when the test thread that started it
/// dies, so even an aborted test run (no `Drop`) leaves no server behind.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    extern "C" {
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
    }
    const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
    const SIGKILL: std::ffi::c_ulong = 9;
    // SAFETY: prctl is async-signal-safe; it only changes the child itself.
    unsafe {
        command.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

impl RedisServer {
    pub fn start() -> RedisServer {
        let binary = find_on_path("redis-server").unwrap_or_else(|| {
            panic!("redis-server not found on PATH: install with apt-get install -y redis-server")
        });
        let port = free_port();
        let dir = std::env::temp_dir();
        let mut command = Command::new(binary);
        command
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut command);
        let child = command.spawn().expect("start redis-server");
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

/// A pure-Lua serializer, identical on both sides: type-tagged,
/// deterministic (sorted table entries), `%q` for strings, `%.17g` for
/// numbers, so two runs agree exactly when their values do.
const PRELUDE: &str = r#"local function ser(v, depth)
  local t = type(v)
  if t == 'string' then return string.format('%q', v) end
  if t == 'number' then return 'n:' .. string.format('%.17g', v) end
  if t == 'boolean' or t == 'nil' then return tostring(v) end
  if t == 'table' then
    depth = depth or 0
    if depth > 40 then return '{...}' end
    local items = {}
    for k, val in pairs(v) do items[#items + 1] = '[' .. ser(k, depth + 1) .. ']=' .. ser(val, depth + 1) end
    table.sort(items)
    return '{' .. table.concat(items, ',') .. '}'
  end
  if t == 'userdata' then
    if v == cjson.null then return 'cjson.null' end
    return 'userdata'
  end
  return t
end
local function pack(...) return {n = select('#', ...), ...} end
local function case()
"#;

const EPILOGUE: &str = r#"
end
local r = pack(pcall(case))
local out = {}
for i = 1, r.n do out[i] = ser(r[i]) end
return table.concat(out, ' | ')
"#;

/// The whole script for one case: `body` runs as a function under pcall.
pub fn script(body: &str) -> String {
    format!("{PRELUDE}{body}{EPILOGUE}")
}

/// Runs a script in a fresh plain Lua state with the libraries registered.
pub fn run_local(script: &str) -> Vec<u8> {
    let lua = mlua::Lua::new();
    ferry_script::libs::register(&lua, &lua.globals()).expect("register the libraries");
    match lua
        .load(script)
        .set_name("@user_script")
        .eval::<mlua::LuaString>()
    {
        Ok(s) => s.as_bytes().to_vec(),
        Err(e) => format!("<script failed: {e}>").into_bytes(),
    }
}

/// Runs a script with EVAL in a fresh Lua VM of the real server.
pub fn run_redis(con: &mut redis::Connection, script: &str) -> Vec<u8> {
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(con)
        .expect("SCRIPT FLUSH");
    match redis::cmd("EVAL").arg(script).arg(0).query::<Vec<u8>>(con) {
        Ok(v) => v,
        Err(e) => format!("<script failed: {e}>").into_bytes(),
    }
}

/// A free loopback port below the kernel's ephemeral range (32768 up by
/// default), where no outgoing connection of a concurrent test can take it
/// before redis-server binds it (ports from `bind(0)` come from that range).
fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..5000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 10000 + (h.finish() % 22000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between 10000 and 32000 after 5000 tries");
}
