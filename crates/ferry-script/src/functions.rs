//! FUNCTION libraries (Redis 7.0): loading a library's code, which
//! registers functions; FCALL; LIST, DELETE, FLUSH, DUMP and RESTORE.
//!
//! Libraries live in their own Lua state. The server persists each
//! library's code (see [`Functions::codes`]) and loads them back at start.

use crate::flags::ScriptFlags;
use crate::host::Host;
use crate::sandbox::{Kind, Outcome, Sandbox, Version};
use bytes::Bytes;
use ferry_rdb::{open_payload, seal_payload, write_string, Reader, OPCODE_FUNCTION2};
use ferry_resp::Reply;
use mlua::Function;
use std::collections::{BTreeMap, HashMap};

/// Redis's text for a bad library or function name (it uses the library
/// wording for both).
pub const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Library and function names: `[a-zA-Z0-9_]+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One registered function.
#[derive(Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: ScriptFlags,
    callback: Function,
}

/// One library: its code as loaded and its functions.
#[derive(Clone)]
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: Vec<FunctionInfo>,
}

/// How FUNCTION RESTORE treats libraries that already exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

/// Every loaded library and the functions they registered.
pub struct Functions {
    sandbox: Sandbox,
    version: Version,
    watchdog: Option<std::rc::Rc<dyn crate::Watchdog>>,
    libraries: BTreeMap<String, Library>,
    /// Function name, lower case (FCALL ignores case), to its library.
    by_name: HashMap<String, String>,
}

impl Functions {
    pub fn new(version: Version) -> Result<Functions, String> {
        Ok(Functions {
            sandbox: Sandbox::new(Kind::Function, &version).map_err(|e| e.to_string())?,
            version,
            watchdog: None,
            libraries: BTreeMap::new(),
            by_name: HashMap::new(),
        })
    }

    pub fn set_watchdog(&mut self, w: std::rc::Rc<dyn crate::Watchdog>) {
        *self.sandbox.shared.watchdog.borrow_mut() = Some(w.clone());
        self.watchdog = Some(w);
    }

    /// FUNCTION LOAD: compiles `code`, runs its top level to register its
    /// functions, and adds (or with `replace`, replaces) the library.
    /// Returns the library's name, or Redis's error text.
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        // Redis checks the name before it compiles anything.
        let (engine, name, _) = parse_metadata(code)?;
        if valid_name(&name)
            && engine.eq_ignore_ascii_case("lua")
            && self.libraries.contains_key(&name)
            && !replace
        {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let lib = self.create(code, true)?;
        for f in &lib.functions {
            if let Some(owner) = self.by_name.get(&f.name.to_ascii_lowercase()) {
                if *owner != name {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        self.unlink(&name);
        self.link(lib);
        Ok(name)
    }

    /// Builds a library from its code without adding it. `timeout`: the
    /// 500 ms bound of FUNCTION LOAD (restores and start-up have none).
    fn create(&mut self, code: &[u8], timeout: bool) -> Result<Library, String> {
        let (engine, name, body_start) = parse_metadata(code)?;
        if !valid_name(&name) {
            return Err(format!("ERR {BAD_NAME}"));
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("ERR Engine '{engine}' not found"));
        }
        let func = self
            .sandbox
            .compile(&code[body_start..], "@user_function")
            .map_err(|e| format!("ERR Error compiling function: {e}"))?;
        let registered = self
            .sandbox
            .load_library(&func, timeout)
            .map_err(|e| format!("ERR Error registering functions: {e}"))?;
        if registered.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(Library {
            name,
            code: Bytes::copy_from_slice(code),
            functions: registered
                .into_iter()
                .map(|r| FunctionInfo {
                    name: r.name,
                    description: r.description,
                    flags: ScriptFlags::from_bits(r.flags),
                    callback: r.callback,
                })
                .collect(),
        })
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in &lib.functions {
            self.by_name.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.by_name
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    /// Loads a library stored with the data, at start-up: no time bound,
    /// and it replaces a library of the same name.
    pub fn load_stored(&mut self, code: &[u8]) -> Result<String, String> {
        let lib = self.create(code, false)?;
        let name = lib.name.clone();
        for f in &lib.functions {
            if let Some(owner) = self.by_name.get(&f.name.to_ascii_lowercase()) {
                if *owner != name {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        self.unlink(&name);
        self.link(lib);
        Ok(name)
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &[u8]) -> Result<(), String> {
        let name = String::from_utf8_lossy(name);
        match self.unlink(&name) {
            Some(_) => Ok(()),
            None => Err("ERR Library not found".into()),
        }
    }

    /// FUNCTION FLUSH: no libraries, and a fresh Lua state.
    pub fn flush(&mut self) -> Result<(), String> {
        self.sandbox = Sandbox::new(Kind::Function, &self.version).map_err(|e| e.to_string())?;
        if let Some(w) = &self.watchdog {
            *self.sandbox.shared.watchdog.borrow_mut() = Some(w.clone());
        }
        self.libraries.clear();
        self.by_name.clear();
        Ok(())
    }

    /// The function FCALL names (any case): its canonical name and flags.
    pub fn lookup(&self, name: &[u8]) -> Option<(String, ScriptFlags)> {
        let lib = self
            .by_name
            .get(&String::from_utf8_lossy(name).to_ascii_lowercase())?;
        self.libraries.get(lib)?.functions.iter().find_map(|f| {
            f.name
                .as_bytes()
                .eq_ignore_ascii_case(name)
                .then(|| (f.name.clone(), f.flags))
        })
    }

    /// FCALL: runs the function `name` (as returned by [`Functions::lookup`]).
    pub fn run(
        &mut self,
        name: &str,
        keys: &[Bytes],
        args: &[Bytes],
        host: &mut dyn Host,
    ) -> Outcome {
        let callback = self
            .by_name
            .get(&name.to_ascii_lowercase())
            .and_then(|lib| self.libraries.get(lib))
            .and_then(|lib| lib.functions.iter().find(|f| f.name == name))
            .map(|f| f.callback.clone());
        match callback {
            Some(f) => self.sandbox.call(&f, true, keys, args, name, host),
            None => Outcome {
                reply: Reply::error("ERR Function not found"),
                error_counted: false,
            },
        }
    }

    /// The libraries, by name.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    pub fn function_count(&self) -> usize {
        self.by_name.len()
    }

    /// Every library's code, for persisting them.
    pub fn codes(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    /// FUNCTION DUMP: every library as Redis serializes them.
    pub fn dump(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for lib in self.libraries.values() {
            body.push(OPCODE_FUNCTION2);
            write_string(&mut body, &lib.code);
        }
        seal_payload(body)
    }

    /// FUNCTION RESTORE: loads the libraries of a dump. Nothing changes
    /// when any of them fails.
    pub fn restore(&mut self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        let (data, _) = open_payload(payload)
            .map_err(|_| "ERR DUMP payload version or checksum are wrong".to_string())?;
        let mut reader = Reader::new(data);
        let mut codes = Vec::new();
        while reader.remaining() > 0 {
            let opcode = reader
                .byte()
                .map_err(|_| "ERR can not read data type".to_string())?;
            if opcode == ferry_rdb::OPCODE_FUNCTION_PRE_GA {
                return Err("ERR Pre-GA function format not supported".into());
            }
            if opcode != OPCODE_FUNCTION2 {
                return Err("ERR given type is not a function".into());
            }
            let code = reader
                .string()
                .map_err(|_| "ERR Failed loading library payload".to_string())?;
            codes.push(code);
        }
        // Build every library and check every rule on a copy; only a
        // restore that passes all of them replaces the current set.
        let mut new_libs = Vec::new();
        let mut names = HashMap::new();
        for code in &codes {
            let lib = self.create(code, false)?;
            if names.insert(lib.name.clone(), ()).is_some() {
                return Err(format!("ERR Library '{}' already exists", lib.name));
            }
            new_libs.push(lib);
        }
        let mut libraries = if policy == RestorePolicy::Flush {
            BTreeMap::new()
        } else {
            self.libraries.clone()
        };
        for lib in &new_libs {
            if libraries.contains_key(&lib.name) {
                if policy != RestorePolicy::Replace {
                    return Err(format!("ERR Library {} already exists", lib.name));
                }
                libraries.remove(&lib.name);
            }
        }
        let mut by_name: HashMap<String, String> = libraries
            .values()
            .flat_map(|l| {
                l.functions
                    .iter()
                    .map(|f| (f.name.to_ascii_lowercase(), l.name.clone()))
            })
            .collect();
        for lib in &new_libs {
            for f in &lib.functions {
                let key = f.name.to_ascii_lowercase();
                if by_name.insert(key, lib.name.clone()).is_some() {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        for lib in new_libs {
            libraries.insert(lib.name.clone(), lib);
        }
        self.libraries = libraries;
        self.by_name = by_name;
        Ok(())
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
    pub fn list(
        &self,
        pattern: Option<&[u8]>,
        with_code: bool,
        matches: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Reply {
        let mut out = Vec::new();
        for lib in self.libraries.values() {
            if let Some(p) = pattern {
                if !matches(p, lib.name.as_bytes()) {
                    continue;
                }
            }
            let functions = lib
                .functions
                .iter()
                .map(|f| {
                    Reply::Map(vec![
                        (Reply::bulk("name"), Reply::bulk(f.name.clone())),
                        (
                            Reply::bulk("description"),
                            f.description
                                .clone()
                                .map(Reply::bulk)
                                .unwrap_or(Reply::Null),
                        ),
                        (
                            Reply::bulk("flags"),
                            Reply::Set(f.flags.names().map(Reply::status).collect()),
                        ),
                    ])
                })
                .collect();
            let mut fields = vec![
                (Reply::bulk("library_name"), Reply::bulk(lib.name.clone())),
                (Reply::bulk("engine"), Reply::bulk("LUA")),
                (Reply::bulk("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((Reply::bulk("library_code"), Reply::Bulk(lib.code.clone())));
            }
            out.push(Reply::Map(fields));
        }
        Reply::Array(out)
    }

    /// Bytes of Lua memory (INFO `used_memory_vm_functions`).
    pub fn lua_memory(&self) -> usize {
        self.sandbox.used_memory()
    }
}

/// The first line of a library: `#!<engine> name=<name>`. Returns the
/// engine, the name and where the code after the line starts.
fn parse_metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|b| *b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = ferry_resp::decode::split_inline_args(&code[..end])
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "ERR Invalid library metadata".to_string())?;
    let mut parts = parts
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let first = parts.next().unwrap_or_default();
    let engine = first.get(2..).unwrap_or_default().to_string();
    let mut name = None;
    for part in parts {
        if part.len() >= 5 && part.as_bytes()[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_string());
            continue;
        }
        return Err(format!("ERR Invalid metadata value given: {part}"));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    Ok((engine, name, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        assert_eq!(
            parse_metadata(b"#!lua name=lib\nx").unwrap(),
            ("lua".into(), "lib".into(), 14)
        );
        assert_eq!(
            parse_metadata(b"return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            parse_metadata(b"#!lua\n").unwrap_err(),
            "ERR Library name was not given"
        );
        assert_eq!(
            parse_metadata(b"#!lua name=a foo=bar\n").unwrap_err(),
            "ERR Invalid metadata value given: foo=bar"
        );
        assert!(valid_name("a_1") && !valid_name("a-1") && !valid_name(""));
        // Not a char boundary at byte 5: an error, not a panic.
        assert_eq!(
            parse_metadata("#!lua namé=x\n".as_bytes()).unwrap_err(),
            "ERR Invalid metadata value given: namé=x"
        );
    }
}
