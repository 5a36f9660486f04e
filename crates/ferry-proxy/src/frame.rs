//! Replies from the upstream server, framed: where one RESP2/RESP3 reply
//! ends in a buffer, and the little the proxy needs to read of one (is it
//! an error, the elements of an array, a bulk string's bytes).
//!
//! Written here because the proxy forwards replies as raw bytes and only
//! needs their boundaries; a full client-side parser would build values
//! the proxy never uses.

/// The length of the first whole reply in `buf`, None when more bytes are
/// needed, Err on bytes that are not RESP.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut pos = 0;
    // Elements still to read, a stack of counts (nested aggregates).
    let mut todo: Vec<u64> = Vec::new();
    loop {
        let Some(line_end) = find_crlf(buf, pos) else {
            return Ok(None);
        };
        let kind = buf[pos];
        let head = &buf[pos + 1..line_end];
        pos = line_end + 2;
        let number = || -> Result<i64, String> {
            std::str::from_utf8(head)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad length {:?}", String::from_utf8_lossy(head)))
        };
        let mut children = 0u64;
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'!' | b'=' => {
                let n = number()?;
                if n >= 0 {
                    let end = pos + n as usize + 2;
                    if buf.len() < end {
                        return Ok(None);
                    }
                    pos = end;
                }
            }
            b'*' | b'~' | b'>' => {
                children = number()?.max(0) as u64;
            }
            b'%' | b'|' => {
                children = number()?.max(0) as u64 * 2;
            }
            other => return Err(format!("unexpected reply type byte {:?}", other as char)),
        }
        // An attribute (`|`) precedes the reply it annotates: its pairs
        // and that reply are read as one.
        if kind == b'|' {
            todo.push(children + 1);
            continue;
        }
        if children > 0 {
            todo.push(children);
            continue;
        }
        // One value done: pop finished aggregates.
        loop {
            match todo.last_mut() {
                None => return Ok(Some(pos)),
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        todo.pop();
                    } else {
                        break;
                    }
                }
            }
        }
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| p + from)
}

/// A reply, read as far as the proxy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Error,
    Null,
    Simple(Vec<u8>),
    Bulk(Vec<u8>),
    Int(i64),
    Array(Vec<Value>),
    /// Push messages and anything else (maps, sets, doubles...).
    Other,
}

/// Parses one whole reply (as framed by [`reply_len`]).
pub fn parse(buf: &[u8]) -> Value {
    fn one(buf: &[u8], pos: &mut usize) -> Option<Value> {
        let end = find_crlf(buf, *pos)?;
        let kind = buf[*pos];
        let head = &buf[*pos + 1..end];
        *pos = end + 2;
        let n = || std::str::from_utf8(head).ok()?.parse::<i64>().ok();
        Some(match kind {
            b'-' | b'!' => {
                if kind == b'!' {
                    *pos += n()? as usize + 2;
                }
                Value::Error
            }
            b'_' => Value::Null,
            b'+' => Value::Simple(head.to_vec()),
            b':' => Value::Int(n()?),
            b'$' | b'=' => {
                let len = n()?;
                if len < 0 {
                    Value::Null
                } else {
                    let v = buf.get(*pos..*pos + len as usize)?.to_vec();
                    *pos += len as usize + 2;
                    Value::Bulk(v)
                }
            }
            b'*' | b'~' | b'>' => {
                let len = n()?;
                if len < 0 {
                    return Some(Value::Null);
                }
                let mut items = Vec::with_capacity(len.min(1024) as usize);
                for _ in 0..len {
                    items.push(one(buf, pos)?);
                }
                if kind == b'>' {
                    Value::Other
                } else {
                    Value::Array(items)
                }
            }
            b'%' => {
                for _ in 0..n()? * 2 {
                    one(buf, pos)?;
                }
                Value::Other
            }
            _ => Value::Other,
        })
    }
    let mut pos = 0;
    one(buf, &mut pos).unwrap_or(Value::Other)
}

/// Whether the reply is a RESP3 push (`>`), which answers no command.
pub fn is_push(buf: &[u8]) -> bool {
    buf.first() == Some(&b'>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_every_kind() {
        for (text, len) in [
            ("+OK\r\n", Some(5)),
            ("-ERR x\r\n:1\r\n", Some(8)),
            ("$3\r\nabc\r\n", Some(9)),
            ("$3\r\nab", None),
            ("$-1\r\n", Some(5)),
            ("*2\r\n$1\r\na\r\n:5\r\n", Some(15)),
            ("*2\r\n$1\r\na\r\n", None),
            ("*-1\r\n", Some(5)),
            ("*0\r\n", Some(4)),
            ("*1\r\n*1\r\n+x\r\n+y\r\n", Some(12)),
            ("%1\r\n+k\r\n+v\r\n", Some(12)),
            (">3\r\n+message\r\n+c\r\n+m\r\n", Some(22)),
            ("|1\r\n+a\r\n+b\r\n:7\r\n", Some(16)),
            ("_\r\n", Some(3)),
            (",1.5\r\n", Some(6)),
        ] {
            assert_eq!(reply_len(text.as_bytes()), Ok(len), "{text:?}");
        }
        assert!(reply_len(b"?x\r\n").is_err());
    }

    #[test]
    fn reads_values() {
        assert_eq!(
            parse(b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"),
            Value::Array(vec![Value::Bulk(b"k".to_vec()), Value::Bulk(b"v".to_vec())])
        );
        assert_eq!(parse(b"-ERR\r\n"), Value::Error);
        assert_eq!(parse(b"*-1\r\n"), Value::Null);
        assert_eq!(parse(b":3\r\n"), Value::Int(3));
    }
}
