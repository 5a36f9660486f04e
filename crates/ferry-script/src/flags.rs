//! Script flags (`#!lua flags=no-writes,allow-oom` on EVAL scripts, `flags`
//! given to `redis.register_function`) and EVAL's shebang line.

/// The flags a script or function declares, in Redis's order (the order
/// FUNCTION LIST prints them in).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags(u8);

impl ScriptFlags {
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1);
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(2);
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(4);
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(8);
    /// An EVAL script without a shebang: Redis 6 semantics (it may write,
    /// and flags are not checked).
    pub const EVAL_COMPAT: ScriptFlags = ScriptFlags(16);

    /// Every named flag with its name, in Redis's order.
    pub const NAMED: [(ScriptFlags, &'static str); 4] = [
        (ScriptFlags::NO_WRITES, "no-writes"),
        (ScriptFlags::ALLOW_OOM, "allow-oom"),
        (ScriptFlags::ALLOW_STALE, "allow-stale"),
        (ScriptFlags::NO_CLUSTER, "no-cluster"),
    ];

    pub fn contains(self, other: ScriptFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: ScriptFlags) {
        self.0 |= other.0;
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(bits: u8) -> ScriptFlags {
        ScriptFlags(bits & 31)
    }

    /// The flag named `name` (exact match, as EVAL shebangs require).
    pub fn named(name: &[u8]) -> Option<ScriptFlags> {
        Self::NAMED
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(f, _)| *f)
    }

    /// Names of the flags set, in Redis's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

/// Parses an EVAL script's shebang (`#!lua flags=a,b`). Returns the flags
/// and where the code starts (the newline ending the shebang is kept, so
/// line numbers in errors match the script as sent), or Redis's error text.
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|b| *b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    // Split as Redis's sdssplitargs: any whitespace (a CR before the LF
    // too), quotes and escapes.
    let parts = ferry_resp::decode::split_inline_args(&body[..end])
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "ERR Invalid engine in script shebang".to_string())?;
    let mut parts = parts.iter().map(|p| &p[..]);
    let engine = parts.next().unwrap_or_default();
    if engine != b"#!lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(|b| *b == b',') {
            match ScriptFlags::named(name) {
                Some(f) => flags.insert(f),
                None => {
                    return Err(format!(
                        "ERR Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(name)
                    ))
                }
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(
            parse_shebang(b"return 1").unwrap(),
            (ScriptFlags::EVAL_COMPAT, 0)
        );
        let (f, at) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.contains(ScriptFlags::NO_WRITES) && f.contains(ScriptFlags::ALLOW_OOM));
        assert_eq!(at, 31);
        assert_eq!(
            parse_shebang(b"#!lua").unwrap_err(),
            "ERR Invalid script shebang"
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=x\n").unwrap_err(),
            "ERR Unexpected flag in script shebang: x"
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes,,allow-oom\n").unwrap_err(),
            "ERR Unexpected flag in script shebang: "
        );
        assert_eq!(
            parse_shebang(b"#!py\n").unwrap_err(),
            "ERR Unexpected engine in script shebang: #!py"
        );
        assert_eq!(
            parse_shebang(b"#!lua x=1\n").unwrap_err(),
            "ERR Unknown lua shebang option: x=1"
        );
        assert_eq!(
            parse_shebang(b"#!lua  flags=\n").unwrap(),
            (ScriptFlags::default(), 13)
        );
        // Windows line ends, tabs and quotes, as sdssplitargs reads them.
        assert!(parse_shebang(b"#!lua flags=no-writes\r\nreturn 1")
            .unwrap()
            .0
            .contains(ScriptFlags::NO_WRITES));
        assert!(parse_shebang(b"#!lua\tflags=\"no-writes\"\nreturn 1")
            .unwrap()
            .0
            .contains(ScriptFlags::NO_WRITES));
        assert_eq!(
            parse_shebang(b"#!lua \"unbalanced\nreturn 1").unwrap_err(),
            "ERR Invalid engine in script shebang"
        );
        assert_eq!(
            ScriptFlags::from_bits(5).names().collect::<Vec<_>>(),
            ["no-writes", "allow-stale"]
        );
    }
}
