//! ACL users and selectors: the rules of ACL SETUSER applied to them, and
//! the canonical rule text ACL LIST and ACL GETUSER show (Redis 7.0's
//! ACLSetUser/ACLSetSelector and ACLDescribeUser).

use super::catalog::{category_bit, Catalog, CATEGORIES};
use sha2::{Digest, Sha256};

/// Key pattern permissions.
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
const ALL: u8 = READ | WRITE;

/// Why a rule was refused (Redis's errno codes), with Redis's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Unknown,
    Syntax,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSub,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSub => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// A set of command, key and channel permissions. A user has a root
/// selector and may have more; a command is allowed if one allows it.
#[derive(Debug, Clone)]
pub struct Selector {
    /// Allowed commands, by catalog id.
    allowed: Vec<bool>,
    /// Set by `+@all`: commands added later would be allowed (ACL LIST
    /// then starts with `+@all`).
    future: bool,
    /// `+select|0`: first arguments allowed for a command not allowed as
    /// a whole, by catalog id.
    firstargs: Vec<(usize, Vec<String>)>,
    pub all_keys: bool,
    pub patterns: Vec<(Vec<u8>, u8)>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
}

impl Default for Selector {
    fn default() -> Self {
        Selector::new()
    }
}

impl Selector {
    /// No command, key or channel.
    pub fn new() -> Selector {
        Selector {
            allowed: vec![false; Catalog::get().len()],
            future: false,
            firstargs: Vec::new(),
            all_keys: false,
            patterns: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
        }
    }

    pub fn allows_command(&self, id: usize, argv: &[bytes::Bytes]) -> bool {
        if self.allowed[id] {
            return true;
        }
        match (argv.get(1), self.firstargs.iter().find(|(i, _)| *i == id)) {
            (Some(arg), Some((_, list))) => {
                list.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(arg))
            }
            _ => false,
        }
    }

    /// Whether `key` may be accessed with `access` (READ/WRITE bits).
    pub fn allows_key(&self, key: &[u8], access: u8) -> bool {
        self.all_keys
            || self
                .patterns
                .iter()
                .any(|(p, f)| f & access == access && ferry_store::glob::glob_match(p, key, false))
    }

    /// Whether a channel (or, for PSUBSCRIBE, a pattern taken literally)
    /// is allowed.
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p[..] == channel[..]
                } else {
                    ferry_store::glob::glob_match(p, channel, false)
                }
            })
    }

    fn set_command(&mut self, id: usize, allow: bool) {
        let cat = Catalog::get();
        self.allowed[id] = allow;
        self.firstargs.retain(|(i, _)| *i != id);
        for &sub in &cat.entries[id].children {
            self.allowed[sub] = allow;
        }
    }

    fn set_category(&mut self, bit: u32, allow: bool) {
        let cat = Catalog::get();
        for id in 0..cat.len() {
            if cat.entries[id].categories & bit != 0 {
                self.set_command(id, allow);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        self.allowed.iter_mut().for_each(|b| *b = allow);
        self.future = allow;
        self.firstargs.clear();
    }

    /// One selector rule (Redis's ACLSetSelector).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"allkeys" | b"~*" | b"%rw~*" | b"%wr~*" => {
                self.all_keys = true;
                self.patterns.clear();
                return Ok(());
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.patterns.clear();
                return Ok(());
            }
            b"allchannels" | b"&*" => {
                self.all_channels = true;
                self.channels.clear();
                return Ok(());
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                return Ok(());
            }
            b"allcommands" | b"+@all" => {
                self.set_all(true);
                return Ok(());
            }
            b"nocommands" | b"-@all" => {
                self.set_all(false);
                return Ok(());
            }
            _ => {}
        }
        let bytes = op;
        match bytes.first() {
            Some(b'~') | Some(b'%') => {
                if self.all_keys {
                    return Err(RuleError::KeyAfterAll);
                }
                let (flags, pat) = if bytes[0] == b'%' {
                    let mut flags = 0;
                    let mut rest = None;
                    for (i, c) in bytes.iter().enumerate().skip(1) {
                        match c.to_ascii_uppercase() {
                            b'R' if flags & READ == 0 => flags |= READ,
                            b'W' if flags & WRITE == 0 => flags |= WRITE,
                            b'~' => {
                                rest = Some(&bytes[i + 1..]);
                                break;
                            }
                            _ => return Err(RuleError::Syntax),
                        }
                    }
                    // Redis accepts `%R` alone: an empty pattern.
                    if flags == 0 {
                        return Err(RuleError::Syntax);
                    }
                    (flags, rest.unwrap_or_default())
                } else {
                    (ALL, &bytes[1..])
                };
                if pat == b"*" && flags == ALL {
                    self.all_keys = true;
                    self.patterns.clear();
                } else if let Some(existing) = self.patterns.iter_mut().find(|(p, _)| p == pat) {
                    existing.1 |= flags;
                } else {
                    self.patterns.push((pat.to_vec(), flags));
                }
                Ok(())
            }
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::ChannelAfterAll);
                }
                let pat = bytes[1..].to_vec();
                if !self.channels.contains(&pat) {
                    self.channels.push(pat);
                }
                Ok(())
            }
            Some(&sign @ (b'+' | b'-')) => {
                let allow = sign == b'+';
                let cat = Catalog::get();
                let Ok(name) = std::str::from_utf8(&lower[1..]) else {
                    return Err(RuleError::Unknown);
                };
                if let Some(category) = name.strip_prefix('@') {
                    let bit = category_bit(category).ok_or(RuleError::Unknown)?;
                    self.set_category(bit, allow);
                    return Ok(());
                }
                if !allow || !name.contains('|') {
                    let id = cat.lookup(name).ok_or(RuleError::Unknown)?;
                    self.set_command(id, allow);
                    return Ok(());
                }
                // `+cmd|sub`: a subcommand, or a first argument of a
                // command without subcommands.
                let Some((cmd, sub)) = name.rsplit_once('|') else {
                    return Err(RuleError::Unknown);
                };
                let id = cat.lookup(cmd).ok_or(RuleError::Unknown)?;
                if cat.entries[id].parent.is_some() {
                    return Err(RuleError::FirstArgOfSub);
                }
                if !cat.entries[id].children.is_empty() {
                    let sid = cat.lookup(name).ok_or(RuleError::Unknown)?;
                    self.set_command(sid, true);
                    return Ok(());
                }
                match self.firstargs.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, list)) => {
                        if !list.iter().any(|a| a == sub) {
                            list.push(sub.to_string())
                        }
                    }
                    None => self.firstargs.push((id, vec![sub.to_string()])),
                }
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    /// The command rules, as Redis 7.0 describes them: `+@all` or `-@all`,
    /// then the categories that fit best, then single commands.
    pub fn describe_commands(&self) -> String {
        let cat = Catalog::get();
        let mut rules = String::new();
        let additive = !self.future;
        let mut fake = Selector::new();
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.set_all(true);
        }
        let mut temp = self.clone();
        let mut applied = vec![false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0usize);
            for (j, name) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let bit = 1u32 << j;
                let (mut on, mut off) = (0usize, 0usize);
                // Subcommands count too, as in Redis.
                for id in 0..cat.len() {
                    if cat.entries[id].categories & bit != 0 {
                        if temp.allowed[id] {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some((j, *name));
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some((j, name)) = best else { break };
            let bit = 1u32 << j;
            fake.set_category(bit, additive);
            temp.set_category(bit, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(name);
            rules.push(' ');
            applied[j] = true;
        }
        for id in cat.top() {
            self.describe_single(id, &mut fake, &mut rules);
            for &sub in &cat.entries[id].children {
                self.describe_single(sub, &mut fake, &mut rules);
            }
        }
        rules.pop();
        rules
    }

    fn describe_single(&self, id: usize, fake: &mut Selector, rules: &mut String) {
        let cat = Catalog::get();
        let mine = self.allowed[id];
        if mine != fake.allowed[id] {
            rules.push(if mine { '+' } else { '-' });
            rules.push_str(&cat.entries[id].name);
            rules.push(' ');
            fake.set_command(id, mine);
        }
        if !mine {
            if let Some((_, list)) = self.firstargs.iter().find(|(i, _)| *i == id) {
                for a in list {
                    rules.push('+');
                    rules.push_str(&cat.entries[id].name);
                    rules.push('|');
                    rules.push_str(a);
                    rules.push(' ');
                }
            }
        }
    }

    /// The key patterns as ACL LIST shows them (`~*`, `~a %R~b`).
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let parts: Vec<Vec<u8>> = self
            .patterns
            .iter()
            .map(|(p, f)| {
                let prefix: &[u8] = match *f {
                    READ => b"%R~",
                    WRITE => b"%W~",
                    _ => b"~",
                };
                [prefix, p].concat()
            })
            .collect();
        parts.join(&b' ')
    }

    /// The channel patterns as ACL GETUSER shows them (`&*`, `&a &b`).
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let parts: Vec<Vec<u8>> = self
            .channels
            .iter()
            .map(|c| [&b"&"[..], c].concat())
            .collect();
        parts.join(&b' ')
    }

    /// The selector's rules in ACL LIST's form: keys, channels, commands.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            out.extend_from_slice(&keys);
            out.push(b' ');
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            let ch = self.describe_channels();
            if !ch.is_empty() {
                out.extend_from_slice(&ch);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands().as_bytes());
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitize {
    Unset,
    Sanitize,
    Skip,
}

#[derive(Debug, Clone)]
pub struct User {
    /// Bytes, as in Redis (any byte but space and NUL).
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    pub sanitize: Sanitize,
    /// SHA-256 hex digests, in the order added.
    pub passwords: Vec<String>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
    /// Every command, key and channel allowed: the check is skipped.
    /// Kept up to date by [`User::refresh`].
    pub unrestricted: bool,
}

pub fn hash_password(pass: &[u8]) -> String {
    let digest = Sha256::digest(pass);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `#`/`!` hash: 64 lowercase hex digits.
fn valid_hash(h: &[u8]) -> Option<String> {
    let ok = h.len() == 64
        && h.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    ok.then(|| String::from_utf8_lossy(h).into_owned())
}

impl User {
    /// A user as ACL SETUSER creates it: off, no passwords, no permissions.
    pub fn new(name: &[u8]) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: Sanitize::Unset,
            passwords: Vec::new(),
            root: Selector::new(),
            selectors: Vec::new(),
            unrestricted: false,
        }
    }

    /// Recomputes [`User::unrestricted`] after rules changed.
    pub fn refresh(&mut self) {
        let r = &self.root;
        self.unrestricted = r.all_keys && r.all_channels && r.allowed.iter().all(|b| *b);
    }

    /// The built-in `default` user: every permission, no password.
    pub fn default_user() -> User {
        let mut u = User::new(b"default");
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = u.apply(op.as_bytes(), false);
        }
        u.refresh();
        u
    }

    /// One rule (Redis's ACLSetUser); `op` is a single argument, a whole
    /// selector `(...)` included. `pubsub_all`: `acl-pubsub-default` is
    /// `allchannels` (new selectors and `reset` allow every channel).
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            // An empty rule does nothing, as in Redis.
            b"" => {}
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.sanitize = Sanitize::Skip,
            b"sanitize-payload" => self.sanitize = Sanitize::Sanitize,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                for r in [
                    "resetpass",
                    "resetkeys",
                    "resetchannels",
                    if pubsub_all { "allchannels" } else { "" },
                    "off",
                    "sanitize-payload",
                    "clearselectors",
                    "-@all",
                ] {
                    self.apply(r.as_bytes(), pubsub_all)?;
                }
            }
            _ => match op[0] {
                b'>' => {
                    let h = hash_password(&op[1..]);
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                b'#' => {
                    let h = valid_hash(&op[1..]).ok_or(RuleError::BadHash)?;
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                b'<' | b'!' => {
                    let h = if op[0] == b'<' {
                        hash_password(&op[1..])
                    } else {
                        valid_hash(&op[1..]).ok_or(RuleError::BadHash)?
                    };
                    let before = self.passwords.len();
                    self.passwords.retain(|p| *p != h);
                    if before == self.passwords.len() {
                        return Err(RuleError::NoSuchPassword);
                    }
                }
                b'(' if op.len() >= 2 && op[op.len() - 1] == b')' => {
                    let mut s = Selector::new();
                    s.all_channels = pubsub_all;
                    for inner in op[1..op.len() - 1]
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|w| !w.is_empty())
                    {
                        s.apply(inner)?;
                    }
                    self.selectors.push(s);
                }
                _ => self.root.apply(op)?,
            },
        }
        Ok(())
    }

    /// Whether a client of this user may stay subscribed to `channels`
    /// and `patterns` (a pattern must be allowed literally).
    pub fn may_subscribe(&self, channels: &[bytes::Bytes], patterns: &[bytes::Bytes]) -> bool {
        let sels = || std::iter::once(&self.root).chain(self.selectors.iter());
        channels
            .iter()
            .all(|c| sels().any(|s| s.allows_channel(c, false)))
            && patterns
                .iter()
                .all(|p| sels().any(|s| s.allows_channel(p, true)))
    }

    /// Whether `pass` logs this user in (an enabled user only).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        let h = hash_password(pass);
        // Every stored hash is compared in full, as Redis's time-independent
        // comparison does, so timing says nothing about which one matched.
        let found = self.passwords.iter().fold(false, |acc, p| {
            let diff = p
                .bytes()
                .zip(h.bytes())
                .fold((p.len() != h.len()) as u8, |d, (a, b)| d | (a ^ b));
            acc | (diff == 0)
        });
        self.nopass || found
    }

    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Sanitize::Skip => f.push("skip-sanitize-payload"),
            Sanitize::Sanitize => f.push("sanitize-payload"),
            Sanitize::Unset => {}
        }
        f
    }

    /// The rules after `user <name>` in ACL LIST and the ACL file.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = self.flags().join(" ").into_bytes();
        for p in &self.passwords {
            out.extend_from_slice(b" #");
            out.extend_from_slice(p.as_bytes());
        }
        out.push(b' ');
        out.extend_from_slice(&self.root.describe());
        for s in &self.selectors {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&s.describe());
            out.push(b')');
        }
        out
    }

    /// `user <name> <rules>`: a line of ACL LIST and of the ACL file.
    pub fn line(&self) -> Vec<u8> {
        [&b"user "[..], &self.name, b" ", &self.describe()].concat()
    }
}

/// ACL SETUSER's arguments with selectors split over several arguments
/// joined (`(~x` `+get)` is one selector); Err is the argument an unclosed
/// selector starts with.
pub fn merge_selector_args<A: AsRef<[u8]>>(args: &[A]) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut out = Vec::new();
    // The selector being joined, and the argument it started with.
    let mut open: Option<(Vec<u8>, &[u8])> = None;
    for a in args {
        let a = a.as_ref();
        if let Some((acc, _)) = &mut open {
            acc.push(b' ');
            acc.extend_from_slice(a);
            if a.ends_with(b")") {
                out.extend(open.take().map(|(acc, _)| acc));
            }
        } else if a.starts_with(b"(") && !a.ends_with(b")") {
            open = Some((a.to_vec(), a));
        } else {
            out.push(a.to_vec());
        }
    }
    match open {
        Some((_, start)) => Err(start.to_vec()),
        None => Ok(out),
    }
}
