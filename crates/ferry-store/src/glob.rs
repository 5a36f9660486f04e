//! Redis's glob-style pattern matching (KEYS, SCAN MATCH, CONFIG GET).
//!
//! Written here because the semantics must be Redis's `stringmatchlen`
//! exactly (`\` escapes, `[^a-z]`, unterminated `[` matching literally), which
//! general-purpose glob crates do not follow.

/// Whether `s` matches `pattern`; `nocase` folds ASCII case.
///
/// As in Redis, an empty string matches only an empty pattern (even `*`
/// does not match it; KEYS and SCAN special-case a lone `*`).
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut budget = 1_000_000u32;
    match_inner(pattern, s, nocase, &mut budget)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_inner(mut p: &[u8], mut s: &[u8], nocase: bool, budget: &mut u32) -> bool {
    // A pathological pattern (many stars) gives up instead of running away.
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    if s.is_empty() {
        return p.is_empty();
    }
    while let Some(&pc) = p.first() {
        match pc {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                // Only non-empty rests: an empty one is matched by the
                // trailing-star rule below, as Redis does.
                for i in 0..s.len() {
                    if match_inner(&p[1..], &s[i..], nocase, budget) {
                        return true;
                    }
                    if *budget == 0 {
                        return false;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                let Some(&c) = s.first() else {
                    return false;
                };
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    match p.first() {
                        Some(b'\\') if p.len() >= 2 => {
                            p = &p[1..];
                            if eq(p[0], c, nocase) {
                                matched = true;
                            }
                        }
                        Some(b']') => break,
                        None => {
                            // Unterminated class: Redis steps back to treat the
                            // end of the pattern as reached.
                            p = &p[..0];
                            break;
                        }
                        Some(_) if p.len() >= 3 && p[1] == b'-' => {
                            let (mut lo, mut hi) = (p[0], p[2]);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            let (c2, lo, hi) = if nocase {
                                (
                                    c.to_ascii_lowercase(),
                                    lo.to_ascii_lowercase(),
                                    hi.to_ascii_lowercase(),
                                )
                            } else {
                                (c, lo, hi)
                            };
                            if c2 >= lo && c2 <= hi {
                                matched = true;
                            }
                            p = &p[2..];
                        }
                        Some(&x) => {
                            if eq(x, c, nocase) {
                                matched = true;
                            }
                        }
                    }
                    if p.is_empty() {
                        break;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.first().is_none_or(|&c| !eq(p[0], c, nocase)) {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                if s.first().is_none_or(|&c| !eq(pc, c, nocase)) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// The literal bytes a pattern must start with (up to its first special
/// character), used to narrow an index range.
pub fn literal_prefix(pattern: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' | b'?' | b'[' => break,
            b'\\' if i + 1 < pattern.len() => {
                out.push(pattern[i + 1]);
                i += 2;
            }
            b'\\' => break,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_glob_cases() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(m("", ""));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a*b*", "xaxb"));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hbllo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(!m("abc", "abcd"));
        assert!(m("user:*", "user:1"));
        assert!(!m("user:?", "user:"));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert_eq!(literal_prefix(b"user:\\*x*"), b"user:*x".to_vec());
    }
}
