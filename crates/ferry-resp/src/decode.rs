//! Streaming command decoder.
//!
//! [`decode_command`] looks at the front of a read buffer and either returns one
//! whole command (consuming its bytes), `Ok(None)` when more bytes are needed
//! (the "incomplete" case, kept apart from errors), or a [`ProtocolError`]
//! after which the connection must be closed, as Redis does.

use bytes::{Buf, Bytes, BytesMut};

/// Request limits; defaults are Redis 7.0's.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk string accepted.
    pub max_bulk_len: usize,
    /// The largest element count of a multibulk request.
    pub max_multibulk_len: usize,
    /// The longest inline command, and the longest `*N` / `$N` header line.
    pub max_inline_len: usize,
    /// Set while the client has not authenticated: Redis then refuses
    /// multibulk counts over 10 and bulks over 16 KiB.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
            unauthenticated: false,
        }
    }
}

/// A request that breaks the protocol. `Display` gives Redis's exact text
/// (without the `ERR ` prefix the server adds).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    TooBigInline,
    TooBigMbulkCount,
    TooBigBulkCount,
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    UnbalancedQuotes,
    UnauthenticatedMultibulk,
    UnauthenticatedBulk,
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::TooBigInline => f.write_str("Protocol error: too big inline request"),
            ProtocolError::TooBigMbulkCount => {
                f.write_str("Protocol error: too big mbulk count string")
            }
            ProtocolError::TooBigBulkCount => {
                f.write_str("Protocol error: too big bulk count string")
            }
            ProtocolError::InvalidMultibulkLength => {
                f.write_str("Protocol error: invalid multibulk length")
            }
            ProtocolError::InvalidBulkLength => f.write_str("Protocol error: invalid bulk length"),
            ProtocolError::ExpectedDollar(b) => {
                write!(f, "Protocol error: expected '$', got '{}'", *b as char)
            }
            ProtocolError::UnbalancedQuotes => {
                f.write_str("Protocol error: unbalanced quotes in request")
            }
            ProtocolError::UnauthenticatedMultibulk => {
                f.write_str("Protocol error: unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulk => {
                f.write_str("Protocol error: unauthenticated bulk length")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Decodes one command from the front of `buf`.
///
/// Returns `Ok(Some(args))` and consumes the bytes of the command; `Ok(None)`
/// when the buffer holds only part of a command (nothing is consumed); an
/// empty `args` for requests Redis silently skips (`*0`, an empty inline line).
pub fn decode_command(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => decode_multibulk(buf, limits),
        Some(_) => decode_inline(buf, limits),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| p + from)
}

/// Parses a `*N`/`$N` header number as Redis's `string2ll` does: optional
/// minus sign, digits, no leading `+`, no spaces, fits an i64.
fn parse_header_number(digits: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(digits).ok()?;
    if s.is_empty() || s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse::<i64>().ok()
}

fn decode_multibulk(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(line_end) = find_crlf(buf, 0) else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::TooBigMbulkCount);
        }
        return Ok(None);
    };
    if line_end > limits.max_inline_len {
        return Err(ProtocolError::TooBigMbulkCount);
    }
    let count =
        parse_header_number(&buf[1..line_end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count > limits.max_multibulk_len as i64 {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    if count > 10 && limits.unauthenticated {
        return Err(ProtocolError::UnauthenticatedMultibulk);
    }
    if count <= 0 {
        buf.advance(line_end + 2);
        return Ok(Some(Vec::new()));
    }
    // First pass: check that the whole command is buffered, validating headers
    // as we go so that errors surface as early as Redis reports them.
    let count = count as usize;
    let mut pos = line_end + 2;
    // On the stack for the usual short commands: a heap list per command
    // was a malloc and free on the hot path.
    let mut spans: smallvec::SmallVec<[(usize, usize); 8]> = smallvec::SmallVec::new();
    for _ in 0..count {
        let Some(&first) = buf.get(pos) else {
            return Ok(None);
        };
        let Some(hdr_end) = find_crlf(buf, pos) else {
            if buf.len() - pos > limits.max_inline_len {
                return Err(ProtocolError::TooBigBulkCount);
            }
            return Ok(None);
        };
        if hdr_end - pos > limits.max_inline_len {
            return Err(ProtocolError::TooBigBulkCount);
        }
        if first != b'$' {
            return Err(ProtocolError::ExpectedDollar(first));
        }
        let len =
            parse_header_number(&buf[pos + 1..hdr_end]).ok_or(ProtocolError::InvalidBulkLength)?;
        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if len > 16384 && limits.unauthenticated {
            return Err(ProtocolError::UnauthenticatedBulk);
        }
        let start = hdr_end + 2;
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        spans.push((start, end));
        pos = end + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Ok(Some(
        spans.into_iter().map(|(s, e)| frame.slice(s..e)).collect(),
    ))
}

fn decode_inline(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    // Redis finds the end of the line with strchr, which stops at a NUL
    // byte: a line with a NUL before its newline never completes, and the
    // client eventually hits the inline size limit.
    let searchable = match buf.iter().position(|&b| b == 0) {
        Some(nul) => &buf[..nul],
        None => &buf[..],
    };
    let Some(nl) = searchable.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(None);
    };
    if nl > limits.max_inline_len {
        return Err(ProtocolError::TooBigInline);
    }
    let mut line_end = nl;
    if line_end > 0 && buf[line_end - 1] == b'\r' {
        line_end -= 1;
    }
    let args = split_inline_args(&buf[..line_end])?;
    buf.advance(nl + 1);
    Ok(Some(args))
}

/// C's `isspace`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline command line like Redis's `sdssplitargs`: whitespace
/// separated words, `"double quotes"` with `\n \r \t \b \a \\ \" \xHH`
/// escapes, `'single quotes'` with only `\'`. A closing quote must be followed
/// by whitespace or the end of the line.
pub fn split_inline_args(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    // Redis parses the line as a C string: a NUL byte ends it.
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    let hi = hex_val(line[i + 2]).unwrap_or(0);
                    let lo = hex_val(line[i + 3]).unwrap_or(0);
                    cur.push(hi * 16 + lo);
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut b = BytesMut::from(input);
        decode_command(&mut b, &Limits::default())
    }

    #[test]
    fn multibulk_whole_and_partial() {
        let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        for cut in 0..full.len() {
            assert_eq!(dec(&full[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        assert_eq!(
            dec(full),
            Ok(Some(vec![Bytes::from("GET"), Bytes::from("k")]))
        );
    }

    #[test]
    fn multibulk_errors_match_redis() {
        assert_eq!(dec(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(
            dec(b"*1\r\n+a\r\n"),
            Err(ProtocolError::ExpectedDollar(b'+'))
        );
        assert_eq!(dec(b"*1\r\n$-3\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(
            dec(b"*1\r\n$536870913\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            dec(b"*3000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(dec(b"*2000000\r\n"), Ok(None));
        assert_eq!(dec(b"*01\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(
            ProtocolError::ExpectedDollar(b'+').to_string(),
            "Protocol error: expected '$', got '+'"
        );
    }

    #[test]
    fn inline_commands() {
        assert_eq!(
            dec(b"SET k \"a b\\x41\\n\" 'c\\'d'\r\n"),
            Ok(Some(vec![
                Bytes::from("SET"),
                Bytes::from("k"),
                Bytes::from("a bA\n"),
                Bytes::from("c'd"),
            ]))
        );
        assert_eq!(dec(b"\r\n"), Ok(Some(vec![])));
        // A NUL hides the newline, as in Redis (regression: it used to loop forever).
        assert_eq!(dec(b"GET a\0 b\r\n"), Ok(None));
        assert_eq!(dec(b"\0x\r\n"), Ok(None));
        let mut long = b"GET \0".to_vec();
        long.resize(70 * 1024, b'a');
        assert_eq!(dec(&long), Err(ProtocolError::TooBigInline));
        assert_eq!(dec(b"PING"), Ok(None));
        assert_eq!(dec(b"GET \"abc\r\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(dec(b"GET \"a\"b\r\n"), Err(ProtocolError::UnbalancedQuotes));
        let long = vec![b'a'; 64 * 1024 + 1];
        assert_eq!(dec(&long), Err(ProtocolError::TooBigInline));
    }

    #[test]
    fn zero_count_is_skipped() {
        let mut b = BytesMut::from(&b"*0\r\n*-1\r\nPING\r\n"[..]);
        let l = Limits::default();
        assert_eq!(decode_command(&mut b, &l), Ok(Some(vec![])));
        assert_eq!(decode_command(&mut b, &l), Ok(Some(vec![])));
        assert_eq!(
            decode_command(&mut b, &l),
            Ok(Some(vec![Bytes::from("PING")]))
        );
        assert!(b.is_empty());
    }
}
