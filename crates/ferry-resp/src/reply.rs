//! Typed replies and their RESP2 / RESP3 encodings.

use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;

/// The protocol a connection speaks, chosen with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// A command's reply, independent of the wire protocol.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// `+OK`: a status line.
    Status(Cow<'static, str>),
    /// `-ERR ...`: the whole text, error code included (`"ERR syntax error"`).
    Error(Cow<'static, str>),
    /// An error whose text holds client bytes that need not be UTF-8 (the
    /// unknown-command error echoes the name as sent).
    ErrorBytes(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string formatted like `%.17g` in RESP2.
    Double(f64),
    /// A RESP3 double given by its text (Redis's long-double replies, such
    /// as GEOPOS coordinates printed with 17 decimals); a bulk in RESP2.
    DoubleText(Bytes),
    /// RESP3 boolean; the integer 1 or 0 in RESP2.
    Bool(bool),
    /// RESP3 verbatim string with its three-letter format (`txt`); a bulk in RESP2.
    Verbatim(Cow<'static, str>, Bytes),
    /// RESP3 big number (its decimal digits); a bulk string in RESP2.
    BigNumber(Bytes),
    /// RESP3 out-of-band push; an array in RESP2.
    Push(Vec<Reply>),
    /// Nothing is written (a successful SHUTDOWN closes without a reply).
    NoReply,
}

impl Reply {
    pub const OK: Reply = Reply::Status(Cow::Borrowed("OK"));

    pub fn status(s: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(s))
    }

    /// An error reply; `text` carries its code (`"ERR ..."`, `"WRONGTYPE ..."`).
    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::ErrorBytes(_))
    }

    /// Appends the encoding of this reply for `proto` to `out`.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::ErrorBytes(b) => line(out, b'-', b),
            Reply::Integer(i) => header(out, b':', *i),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Null if resp3 => out.put_slice(b"_\r\n"),
            Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::NullArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::NullArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                header(out, b'*', items.len() as i64);
                items.iter().for_each(|r| r.encode(proto, out));
            }
            Reply::Set(items) => {
                header(out, if resp3 { b'~' } else { b'*' }, items.len() as i64);
                items.iter().for_each(|r| r.encode(proto, out));
            }
            Reply::Push(items) => {
                header(out, if resp3 { b'>' } else { b'*' }, items.len() as i64);
                items.iter().for_each(|r| r.encode(proto, out));
            }
            Reply::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len() as i64);
                } else {
                    header(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Reply::DoubleText(text) if resp3 => line(out, b',', text),
            Reply::DoubleText(text) => bulk(out, text),
            Reply::Bool(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Bool(b) => header(out, b':', *b as i64),
            Reply::Verbatim(fmt, body) if resp3 => {
                header(out, b'=', (body.len() + 4) as i64);
                out.put_slice(fmt.as_bytes());
                out.put_u8(b':');
                out.put_slice(body);
                out.put_slice(b"\r\n");
            }
            Reply::Verbatim(_, body) => bulk(out, body),
            Reply::BigNumber(digits) if resp3 => line(out, b'(', digits),
            Reply::BigNumber(digits) => bulk(out, digits),
            Reply::NoReply => {}
        }
    }

    /// The encoding as a fresh buffer; handy in tests.
    pub fn to_bytes(&self, proto: Protocol) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(proto, &mut out);
        out.freeze()
    }
}

fn line(out: &mut BytesMut, tag: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(tag);
    // Redis never lets CR/LF into a status or error line.
    for &b in text {
        out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, tag: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    out.reserve(digits.len() + 3);
    out.put_u8(tag);
    out.put_slice(digits.as_bytes());
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    header(out, b'$', b.len() as i64);
    out.reserve(b.len() + 2);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// Formats a double as Redis 7.0 replies with it: `inf`, `-inf`, `nan`, or
/// C's `%.17g` (17 significant digits, trailing zeros dropped, exponent form
/// below 1e-4 or from 1e17).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format_g(d, 17)
}

/// C's `%.{precision}g`.
pub fn format_g(d: f64, precision: usize) -> String {
    // Integral values (scores that are counts or timestamps) print as the
    // integer they are whenever %g would print them without an exponent:
    // the general path's exact `{:e}` formatting was 5% of a ZPOPMIN.
    let p = precision.max(1);
    if d != 0.0 && d.fract() == 0.0 && d.abs() < 10f64.powi(p.min(18) as i32) {
        return (d as i64).to_string();
    }
    format_g_general(d, p)
}

/// [`format_g`] for any value.
fn format_g_general(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = precision.max(1);
    // `{:e}` with p-1 fraction digits rounds exactly like printf does.
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_values_print_as_the_general_path_does() {
        let mut values = vec![
            1.0,
            -1.0,
            7.0,
            10.0,
            99.0,
            100.0,
            12345.0,
            1e15,
            1e16 - 1.0,
            1e16,
        ];
        values.extend([
            9007199254740992.0,
            9007199254740993.0,
            1e17 - 16.0,
            1e17,
            1e18,
            1e19,
        ]);
        values.extend([
            1.7e12,
            -4.5e15,
            123456789012345680.0,
            2f64.powi(62),
            -(2f64.powi(63)),
        ]);
        for d in values {
            for p in [1, 2, 6, 15, 17, 18, 20] {
                assert_eq!(format_g(d, p), format_g_general(d, p), "{d} at %.{p}g");
            }
        }
    }

    #[test]
    fn g_format_matches_printf() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(format_double(12345678901234567.0), "12345678901234568");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_double(-2.5e-300), "-2.5e-300");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_g(100.0, 6), "100");
    }

    #[test]
    fn resp2_and_resp3_encodings() {
        let m = Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1))]);
        assert_eq!(&m.to_bytes(Protocol::Resp2)[..], b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(&m.to_bytes(Protocol::Resp3)[..], b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(&Reply::Null.to_bytes(Protocol::Resp2)[..], b"$-1\r\n");
        assert_eq!(&Reply::NullArray.to_bytes(Protocol::Resp2)[..], b"*-1\r\n");
        assert_eq!(&Reply::Null.to_bytes(Protocol::Resp3)[..], b"_\r\n");
        assert_eq!(
            &Reply::Double(1.5).to_bytes(Protocol::Resp3)[..],
            b",1.5\r\n"
        );
        assert_eq!(
            &Reply::Double(1.5).to_bytes(Protocol::Resp2)[..],
            b"$3\r\n1.5\r\n"
        );
        assert_eq!(
            &Reply::error("ERR a\r\nb").to_bytes(Protocol::Resp2)[..],
            b"-ERR a  b\r\n"
        );
    }
}
