//! The ACL file (`aclfile`): `user <name> <rules...>` lines, loaded at start
//! and by ACL LOAD, written by ACL SAVE, with Redis 7.0's error texts.

use super::user::{merge_selector_args, RuleError, User};
use std::collections::BTreeMap;
use std::path::Path;

/// Parses an ACL file's text into a user set; Err is Redis's error text
/// (every problem found, then the warning that nothing changed).
pub fn parse(
    path: &Path,
    text: &[u8],
    pubsub_all: bool,
) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let file = path.display();
    let mut errors = String::new();
    let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    // Every user named so far, even one whose rules failed.
    let mut seen = std::collections::HashSet::new();
    let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let start = line.iter().position(|c| !blank(c)).unwrap_or(line.len());
        let end = line
            .iter()
            .rposition(|c| !blank(c))
            .map_or(start, |e| e + 1);
        let line = &line[start..end.max(start)];
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{file}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        let shown = String::from_utf8_lossy(name);
        if name.contains(&0) {
            errors.push_str(&format!(
                "'{file}:{n}: username '{shown}' contains invalid characters. "
            ));
            continue;
        }
        if !seen.insert(name.to_vec()) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{shown}' found on line {n}. "
            ));
            continue;
        }
        let mut user = new_user(name, pubsub_all);
        let merged = match merge_selector_args(&argv[2..]) {
            Ok(m) => m,
            Err(_) => {
                errors.push_str(&format!(
                    "{file}:{n}: Unmatched parenthesis in selector definition."
                ));
                Vec::new()
            }
        };
        let mut syntax_error = false;
        for op in &merged {
            let s = op
                .iter()
                .position(|c| !matches!(c, b'\t' | b'\r' | b'\n'))
                .unwrap_or(op.len());
            let e = op
                .iter()
                .rposition(|c| !matches!(c, b'\t' | b'\r' | b'\n'))
                .map_or(s, |e| e + 1);
            let op = &op[s..e.max(s)];
            if let Err(e) = user.apply(op, pubsub_all) {
                if e == RuleError::Unknown {
                    errors.push_str(&format!(
                        "{file}:{n}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(op),
                        e.text()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{file}:{n}: {}. ", e.text()));
                    syntax_error = true;
                }
            }
        }
        if !errors.is_empty() {
            continue;
        }
        user.refresh();
        users.insert(name.to_vec(), user);
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(b"default".to_vec())
        .or_insert_with(User::default_user);
    Ok(users)
}

/// A user as ACL SETUSER or the file creates it; with
/// `acl-pubsub-default allchannels` it starts with every channel.
pub fn new_user(name: &[u8], pubsub_all: bool) -> User {
    let mut u = User::new(name);
    if pubsub_all {
        let _ = u.root.apply(b"allchannels");
    }
    u
}

/// Reads and parses the file (ACL LOAD, start-up).
pub fn load(path: &Path, pubsub_all: bool) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{}': {}",
            path.display(),
            io_text(&e)
        )
    })?;
    parse(path, &text, pubsub_all)
}

/// strerror's wording for the common cases.
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// ACL SAVE: every user as `user <name> <rules>`, written to a temporary
/// file renamed over the old one (a crash leaves the old file whole).
pub fn save(path: &Path, users: &BTreeMap<Vec<u8>, User>) -> std::io::Result<()> {
    let mut text = Vec::new();
    for u in users.values() {
        text.extend_from_slice(&u.line());
        text.push(b'\n');
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
