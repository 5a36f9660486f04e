//! `cjson`: lua-cjson 2.1.0 as Redis 7.0 builds it (nesting limits of 1000
//! both ways, `%.14g` numbers, invalid numbers refused when encoding and
//! accepted when decoding).
//!
//! Both directions walk nested data with an explicit stack instead of Rust
//! recursion (deep data must not overflow the thread's stack), while doing
//! exactly the Lua stack operations of the C code: the 8000-slot limit and
//! the order tables are filled in (hence `next`'s order) stay the same.
//! Decoded numbers are read as glibc's `strtod` reads them (hex, `inf`,
//! `nan`, ...), which is what lua-cjson relies on.

use std::ffi::{c_int, CStr};

use mlua::ffi::{self, lua_State};

use super::{
    check_integer, check_lstring, push_bytes, set_functions, set_string, Ctx, Fail, Frame, State,
    WorkerFn,
};

type Res = Result<c_int, Fail>;

/// One instance's settings (each `cjson.new()` has its own). Plain data in
/// a Lua userdata shared by the instance's functions.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: refuse NaN/Inf, 1: write nan/inf/-inf, 2: write null.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    encode_keep_buffer: i32,
    encode_number_precision: i32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            encode_keep_buffer: 1,
            encode_number_precision: 14,
        }
    }
}

/// The library's functions, by name.
pub(crate) static FUNCS: [(&CStr, WorkerFn); 10] = [
    (c"encode", encode),
    (c"decode", decode),
    (c"encode_sparse_array", encode_sparse_array),
    (c"encode_max_depth", encode_max_depth),
    (c"decode_max_depth", decode_max_depth),
    (c"encode_number_precision", encode_number_precision),
    (c"encode_keep_buffer", encode_keep_buffer),
    (c"encode_invalid_numbers", encode_invalid_numbers),
    (c"decode_invalid_numbers", decode_invalid_numbers),
    (c"new", new_instance),
];

/// Pushes a new `cjson` table with its own settings (also `cjson.new`).
pub(crate) unsafe fn push_module(l: *mut lua_State) {
    let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()).cast::<Config>();
    // Lua aligns userdata for any C type; `Config` has no destructor.
    cfg.write(Config::default());
    ffi::lua_createtable(l, 0, 13);
    set_functions(l, &FUNCS, Some(-2));
    ffi::lua_remove(l, -2);
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    set_string(l, c"_NAME", b"cjson");
    set_string(l, c"_VERSION", b"2.1.0");
}

/// The instance's settings: the userdata registered with its functions.
unsafe fn config<'a>(state: State) -> Result<&'a mut Config, Fail> {
    let missing = || Fail::error("BUG: Unable to fetch CJSON configuration");
    if state.len != std::mem::size_of::<Config>() {
        return Err(missing());
    }
    state.ptr.cast::<Config>().as_mut().ok_or_else(missing)
}

unsafe fn new_instance(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    push_module(l);
    Ok(1)
}

// ---------------------------------------------------------------------------
// Settings

/// Checks the argument count, then pads with nils.
unsafe fn arg_init(l: *mut lua_State, args: c_int) -> Result<(), Fail> {
    if ffi::lua_gettop(l) > args {
        return Err(Fail::arg(args + 1, "found too many arguments"));
    }
    while ffi::lua_gettop(l) < args {
        ffi::lua_pushnil(l);
    }
    Ok(())
}

/// Sets an integer setting from argument `idx` (if not nil) and pushes its
/// value. The range error always names argument 1, as lua-cjson does.
unsafe fn integer_option(
    l: *mut lua_State,
    idx: c_int,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> Result<(), Fail> {
    if ffi::lua_type(l, idx) != ffi::LUA_TNIL {
        let value = check_integer(l, idx)? as i32;
        if !(min <= value && value <= max) {
            return Err(Fail::arg(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    ffi::lua_pushinteger(l, i64::from(*setting));
    Ok(())
}

/// `luaL_checkoption` without default.
unsafe fn check_option(l: *mut lua_State, idx: c_int, options: &[&str]) -> Result<i32, Fail> {
    let name = super::c_str(check_lstring(l, idx)?);
    if let Some(i) = options.iter().position(|o| o.as_bytes() == name) {
        return Ok(i as i32);
    }
    let mut msg = b"invalid option '".to_vec();
    msg.extend_from_slice(name);
    msg.push(b'\'');
    Err(Fail::Arg(idx, msg))
}

/// Sets an enumerated setting (booleans mean 0 / the "on" value) and pushes
/// it back: a boolean when it is off/on, else the option's name.
unsafe fn enum_option(
    l: *mut lua_State,
    idx: c_int,
    setting: &mut i32,
    options: &[&str],
) -> Result<(), Fail> {
    if ffi::lua_type(l, idx) != ffi::LUA_TNIL {
        *setting = if ffi::lua_type(l, idx) == ffi::LUA_TBOOLEAN {
            ffi::lua_toboolean(l, idx)
        } else {
            check_option(l, idx, options)?
        };
    }
    if *setting == 0 || *setting == 1 {
        ffi::lua_pushboolean(l, *setting);
    } else {
        let name = options.get(*setting as usize).copied().unwrap_or("");
        push_bytes(l, name.as_bytes());
    }
    Ok(())
}

const OFF_ON: &[&str] = &["off", "on"];

unsafe fn encode_sparse_array(l: *mut lua_State, _: &mut Ctx, state: State) -> Res {
    arg_init(l, 3)?;
    let cfg = config(state)?;
    enum_option(l, 1, &mut cfg.sparse_convert, OFF_ON)?;
    integer_option(l, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
    integer_option(l, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
    Ok(3)
}

unsafe fn encode_max_depth(l: *mut lua_State, _: &mut Ctx, state: State) -> Res {
    arg_init(l, 1)?;
    integer_option(l, 1, &mut config(state)?.encode_max_depth, 1, i32::MAX)?;
    Ok(1)
}

unsafe fn decode_max_depth(l: *mut lua_State, _: &mut Ctx, state: State) -> Res {
    arg_init(l, 1)?;
    integer_option(l, 1, &mut config(state)?.decode_max_depth, 1, i32::MAX)?;
    Ok(1)
}

unsafe fn encode_number_precision(l: *mut lua_State, _: &mut Ctx, state: State) -> Res {
    arg_init(l, 1)?;
    integer_option(l, 1, &mut config(state)?.encode_number_precision, 1, 14)?;
    Ok(1)
}

/// Accepted for compatibility; the buffer is not observable.
unsafe fn encode_keep_buffer(l: *mut lua_State, _: &mut Ctx, state: State) -> Res {
    arg_init(l, 1)?;
    enum_option(l, 1, &mut config(state)?.encode_keep_buffer, OFF_ON)?;
    Ok(1)
}

unsafe fn encode_invalid_numbers(l: *mut lua_State, _: &mut Ctx, state: State) -> Res {
    arg_init(l, 1)?;
    enum_option(
        l,
        1,
        &mut config(state)?.encode_invalid_numbers,
        &["off", "on", "null"],
    )?;
    Ok(1)
}

unsafe fn decode_invalid_numbers(l: *mut lua_State, _: &mut Ctx, state: State) -> Res {
    arg_init(l, 1)?;
    enum_option(l, 1, &mut config(state)?.decode_invalid_numbers, OFF_ON)?;
    Ok(1)
}

// ---------------------------------------------------------------------------
// Encoding

/// `lua_typename` of the value at `idx`.
unsafe fn value_type_name(l: *mut lua_State, idx: c_int) -> &'static str {
    super::type_name(l, idx)
}

unsafe fn encode_exception(l: *mut lua_State, idx: c_int, reason: &str) -> Fail {
    Fail::error(format!(
        "Cannot serialise {}: {reason}",
        value_type_name(l, idx)
    ))
}

/// How each byte is written inside a JSON string (`None`: as is).
fn escape(b: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match b {
        0..=31 => Some(CONTROL[usize::from(b)]),
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        127 => Some(b"\\u007f"),
        _ => None,
    }
}

pub(crate) fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match escape(b) {
            Some(e) => out.extend_from_slice(e),
            None => out.push(b),
        }
    }
    out.push(b'"');
}

unsafe fn append_number(
    l: *mut lua_State,
    cfg: &Config,
    out: &mut Vec<u8>,
    idx: c_int,
) -> Result<(), Fail> {
    let num = ffi::lua_tonumber(l, idx);
    if !num.is_finite() {
        match cfg.encode_invalid_numbers {
            0 => return Err(encode_exception(l, idx, "must not be NaN or Inf")),
            // Redis's build writes C's spelling, and NaN without its sign.
            1 => out.extend_from_slice(if num.is_nan() {
                b"nan".as_slice()
            } else if num < 0.0 {
                b"-inf".as_slice()
            } else {
                b"inf".as_slice()
            }),
            _ => out.extend_from_slice(b"null"),
        }
        return Ok(());
    }
    fmt_g(out, num, cfg.encode_number_precision);
    Ok(())
}

/// `lua_array_length`: for a table whose keys are all integers >= 1, the
/// largest key (> 0 means "encode as an array"); -1 for any other table.
/// Excessively sparse arrays are refused or (if configured) become objects.
unsafe fn array_length(l: *mut lua_State, cfg: &Config) -> Result<i32, Fail> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k > f64::from(max) {
                    max = super::c_f64_to_i32(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_settop(l, -2);
                continue;
            }
        }
        ffi::lua_settop(l, -3);
        return Ok(-1);
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if cfg.sparse_convert == 0 {
            return Err(encode_exception(l, -1, "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

/// Encodes the value at the top of the stack into `out`.
unsafe fn encode_value(
    l: *mut lua_State,
    cfg: &Config,
    out: &mut Vec<u8>,
    frames: &mut Vec<Frame>,
) -> Result<(), Fail> {
    frames.clear();
    // true: a value is on top to be encoded; false: continue the innermost
    // open table.
    let mut at_value = true;
    loop {
        if at_value {
            match ffi::lua_type(l, -1) {
                ffi::LUA_TSTRING => {
                    let mut len = 0usize;
                    let p = ffi::lua_tolstring(l, -1, &mut len);
                    append_string(out, std::slice::from_raw_parts(p.cast::<u8>(), len));
                }
                ffi::LUA_TNUMBER => append_number(l, cfg, out, -1)?,
                ffi::LUA_TBOOLEAN => {
                    out.extend_from_slice(if ffi::lua_toboolean(l, -1) != 0 {
                        b"true".as_slice()
                    } else {
                        b"false"
                    });
                }
                ffi::LUA_TTABLE => {
                    let depth = frames.len() as i64 + 1;
                    if depth > i64::from(cfg.encode_max_depth) || ffi::lua_checkstack(l, 3) == 0 {
                        return Err(Fail::error(format!(
                            "Cannot serialise, excessive nesting ({depth})"
                        )));
                    }
                    let len = array_length(l, cfg)?;
                    if len > 0 {
                        out.push(b'[');
                        frames.push(Frame::Array {
                            next: 1,
                            last: i64::from(len),
                        });
                    } else {
                        out.push(b'{');
                        ffi::lua_pushnil(l);
                        frames.push(Frame::Object { first: true });
                    }
                    at_value = false;
                    continue;
                }
                ffi::LUA_TNIL => out.extend_from_slice(b"null"),
                ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
                    out.extend_from_slice(b"null")
                }
                _ => return Err(encode_exception(l, -1, "type not supported")),
            }
            // A finished scalar: drop it unless it is the top-level value.
            if frames.is_empty() {
                return Ok(());
            }
            ffi::lua_settop(l, -2);
            at_value = false;
            continue;
        }
        let Some(top) = frames.last_mut() else {
            return Ok(());
        };
        let more = match top {
            Frame::Array { next, last } => {
                if *next <= *last {
                    if *next > 1 {
                        out.push(b',');
                    }
                    ffi::lua_rawgeti_(l, -1, *next as c_int);
                    *next += 1;
                    true
                } else {
                    out.push(b']');
                    false
                }
            }
            Frame::Object { first } => {
                if ffi::lua_next(l, -2) != 0 {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    match ffi::lua_type(l, -2) {
                        ffi::LUA_TNUMBER => {
                            out.push(b'"');
                            append_number(l, cfg, out, -2)?;
                            out.extend_from_slice(b"\":");
                        }
                        ffi::LUA_TSTRING => {
                            let mut len = 0usize;
                            let p = ffi::lua_tolstring(l, -2, &mut len);
                            append_string(out, std::slice::from_raw_parts(p.cast::<u8>(), len));
                            out.push(b':');
                        }
                        _ => {
                            return Err(encode_exception(
                                l,
                                -2,
                                "table key must be a number or string",
                            ))
                        }
                    }
                    true
                } else {
                    out.push(b'}');
                    false
                }
            }
            _ => false,
        };
        if more {
            at_value = true;
            continue;
        }
        // The innermost table is complete: it is itself a finished value.
        frames.pop();
        if frames.is_empty() {
            return Ok(());
        }
        ffi::lua_settop(l, -2);
    }
}

/// `cjson.encode(value)`.
unsafe fn encode(l: *mut lua_State, cx: &mut Ctx, state: State) -> Res {
    if ffi::lua_gettop(l) != 1 {
        return Err(Fail::arg(1, "expected 1 argument"));
    }
    let cfg = *config(state)?;
    cx.out.clear();
    encode_value(l, &cfg, &mut cx.out, &mut cx.frames)?;
    push_bytes(l, &cx.out);
    Ok(1)
}

/// C's `printf("%.{prec}g", v)`.
pub(crate) fn fmt_g(out: &mut Vec<u8>, v: f64, prec: i32) {
    let p = prec.max(1) as usize;
    if v.is_nan() {
        out.extend_from_slice(if v.is_sign_negative() {
            b"-nan".as_slice()
        } else {
            b"nan"
        });
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v < 0.0 { b"-inf".as_slice() } else { b"inf" });
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() {
            b"-0".as_slice()
        } else {
            b"0"
        });
        return;
    }
    // Rust's exponent formatting rounds exactly (ties to even), as glibc.
    let e_form = format!("{:.*e}", p - 1, v);
    let Some((mantissa, exp)) = e_form.split_once('e') else {
        return;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if v < 0.0 {
        out.push(b'-');
    }
    if exp < -4 || exp >= p as i32 {
        out.push(digits[0]);
        let frac = trim_zeros(&digits[1..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(a.to_string().as_bytes());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        out.extend_from_slice(&digits[..int_len]);
        let frac = trim_zeros(&digits[int_len..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(trim_zeros(&digits));
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let end = d.iter().rposition(|&c| c != b'0').map_or(0, |i| i + 1);
    &d[..end]
}

// ---------------------------------------------------------------------------
// Decoding

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Whitespace,
    Error,
    Unknown,
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num => "T_NUMBER",
            Tok::Bool => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Whitespace => "T_WHITESPACE",
            Tok::Error => "T_ERROR",
            Tok::Unknown => "T_UNKNOWN",
        }
    }

    fn of(ch: u8) -> Tok {
        match ch {
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            0 => Tok::End,
            b' ' | b'\t' | b'\n' | b'\r' => Tok::Whitespace,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9' => {
                Tok::Unknown
            }
            _ => Tok::Error,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Tok,
    /// 0-based position the error message reports (plus one).
    index: usize,
    number: f64,
    boolean: bool,
    error: &'static str,
}

/// The JSON text, read as a C string: a NUL byte (or the end) is its end.
struct Parser<'a> {
    data: &'a [u8],
    ptr: usize,
    decode_invalid_numbers: bool,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn set_error(&self, tok: &mut Token, what: &'static str) {
        tok.kind = Tok::Error;
        tok.index = self.ptr;
        tok.error = what;
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data
            .get(self.ptr..)
            .is_some_and(|rest| rest.starts_with(word))
    }

    /// Numbers strict JSON refuses but strtod reads: leading `+`, hex,
    /// leading zeros, inf, nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' || c >= 0x80 {
            // (a C `char` above 127 is negative, so also "<= '9'")
            return false;
        }
        let rest = self.data.get(p..).unwrap_or(&[]);
        rest.len() >= 3
            && (rest[..3].eq_ignore_ascii_case(b"inf") || rest[..3].eq_ignore_ascii_case(b"nan"))
    }

    fn next_token(&mut self, tmp: &mut Vec<u8>, tok: &mut Token) {
        let mut kind;
        loop {
            kind = Tok::of(self.at(self.ptr));
            if kind != Tok::Whitespace {
                break;
            }
            self.ptr += 1;
        }
        tok.index = self.ptr;
        tok.kind = kind;
        match kind {
            Tok::Error => self.set_error(tok, "invalid token"),
            Tok::End => {}
            Tok::Unknown => self.unknown_token(tmp, tok),
            _ => self.ptr += 1,
        }
    }

    fn unknown_token(&mut self, tmp: &mut Vec<u8>, tok: &mut Token) {
        let ch = self.at(self.ptr);
        if ch == b'"' {
            self.string_token(tmp, tok);
        } else if ch == b'-' || ch.is_ascii_digit() {
            if !self.decode_invalid_numbers && self.is_invalid_number() {
                self.set_error(tok, "invalid number");
            } else {
                self.number_token(tok);
            }
        } else if self.starts_with(b"true") {
            tok.kind = Tok::Bool;
            tok.boolean = true;
            self.ptr += 4;
        } else if self.starts_with(b"false") {
            tok.kind = Tok::Bool;
            tok.boolean = false;
            self.ptr += 5;
        } else if self.starts_with(b"null") {
            tok.kind = Tok::Null;
            self.ptr += 4;
        } else if self.decode_invalid_numbers && self.is_invalid_number() {
            self.number_token(tok);
        } else {
            self.set_error(tok, "invalid token");
        }
    }

    fn number_token(&mut self, tok: &mut Token) {
        let rest = self.data.get(self.ptr..).unwrap_or(&[]);
        match strtod(super::c_str(rest)) {
            Some((v, used)) => {
                tok.kind = Tok::Num;
                tok.number = v;
                self.ptr += used;
            }
            None => self.set_error(tok, "invalid number"),
        }
    }

    fn string_token(&mut self, tmp: &mut Vec<u8>, tok: &mut Token) {
        self.ptr += 1;
        tmp.clear();
        loop {
            let mut ch = self.at(self.ptr);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                self.set_error(tok, "unexpected end of string");
                return;
            }
            if ch == b'\\' {
                ch = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(tmp) {
                            continue;
                        }
                        self.set_error(tok, "invalid unicode escape code");
                        return;
                    }
                    _ => {
                        self.set_error(tok, "invalid escape code");
                        return;
                    }
                };
                self.ptr += 1;
            }
            tmp.push(ch);
            self.ptr += 1;
        }
        self.ptr += 1;
        tok.kind = Tok::Str;
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = char::from(self.at(at + i)).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// `\uXXXX` (and a following low surrogate) as UTF-8; false if invalid.
    fn unicode_escape(&mut self, tmp: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.ptr + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.ptr + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        push_utf8(tmp, cp);
        self.ptr += len;
        true
    }
}

/// UTF-8 bytes of a code point (surrogates included, as the C code does).
fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp <= 0x7F {
        out.push(cp as u8);
    } else if cp <= 0x7FF {
        out.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
    } else if cp <= 0xFFFF {
        out.extend_from_slice(&[
            (cp >> 12) as u8 | 0xE0,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    } else {
        out.extend_from_slice(&[
            (cp >> 18) as u8 | 0xF0,
            ((cp >> 12) & 0x3F) as u8 | 0x80,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    }
}

fn parse_error(expected: &str, tok: &Token) -> Fail {
    let found = if tok.kind == Tok::Error {
        tok.error
    } else {
        tok.kind.name()
    };
    Fail::error(format!(
        "Expected {expected} but found {found} at character {}",
        tok.index as i64 + 1
    ))
}

/// `cjson.decode(text)`.
unsafe fn decode(l: *mut lua_State, cx: &mut Ctx, state: State) -> Res {
    if ffi::lua_gettop(l) != 1 {
        return Err(Fail::arg(1, "expected 1 argument"));
    }
    let cfg = *config(state)?;
    let data = check_lstring(l, 1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Fail::error("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser {
        data,
        ptr: 0,
        decode_invalid_numbers: cfg.decode_invalid_numbers != 0,
    };
    let tmp = &mut cx.tmp;
    let frames = &mut cx.frames;
    frames.clear();
    let mut tok = Token {
        kind: Tok::End,
        index: 0,
        number: 0.0,
        boolean: false,
        error: "",
    };

    // Opens a container: checks depth and stack like `json_decode_descend`.
    let descend = |frames: &Vec<Frame>, p: &Parser, slots: c_int| -> Result<(), Fail> {
        let depth = frames.len() as i64 + 1;
        if depth <= i64::from(cfg.decode_max_depth) && ffi::lua_checkstack(l, slots) != 0 {
            return Ok(());
        }
        Err(Fail::error(format!(
            "Found too many nested data structures ({depth}) at character {}",
            p.ptr as i64
        )))
    };

    #[derive(PartialEq)]
    enum Step {
        Value,
        Key,
        After,
    }
    p.next_token(tmp, &mut tok);
    let mut step = Step::Value;
    loop {
        match step {
            Step::Value => {
                step = Step::After;
                match tok.kind {
                    Tok::Str => push_bytes(l, tmp),
                    Tok::Num => ffi::lua_pushnumber(l, tok.number),
                    Tok::Bool => ffi::lua_pushboolean(l, c_int::from(tok.boolean)),
                    Tok::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
                    Tok::ObjBegin => {
                        descend(frames, &p, 3)?;
                        ffi::lua_createtable(l, 0, 0);
                        p.next_token(tmp, &mut tok);
                        if tok.kind != Tok::ObjEnd {
                            frames.push(Frame::JsonObject);
                            step = Step::Key;
                        }
                    }
                    Tok::ArrBegin => {
                        descend(frames, &p, 2)?;
                        ffi::lua_createtable(l, 0, 0);
                        p.next_token(tmp, &mut tok);
                        if tok.kind != Tok::ArrEnd {
                            frames.push(Frame::JsonArray { index: 1 });
                            step = Step::Value;
                        }
                    }
                    _ => return Err(parse_error("value", &tok)),
                }
            }
            Step::Key => {
                if tok.kind != Tok::Str {
                    return Err(parse_error("object key string", &tok));
                }
                push_bytes(l, tmp);
                p.next_token(tmp, &mut tok);
                if tok.kind != Tok::Colon {
                    return Err(parse_error("colon", &tok));
                }
                p.next_token(tmp, &mut tok);
                step = Step::Value;
            }
            Step::After => {
                let Some(top) = frames.last_mut() else { break };
                match top {
                    Frame::JsonArray { index } => {
                        ffi::lua_rawseti_(l, -2, *index as c_int);
                        *index += 1;
                        p.next_token(tmp, &mut tok);
                        if tok.kind == Tok::ArrEnd {
                            frames.pop();
                        } else if tok.kind != Tok::Comma {
                            return Err(parse_error("comma or array end", &tok));
                        } else {
                            p.next_token(tmp, &mut tok);
                            step = Step::Value;
                        }
                    }
                    _ => {
                        ffi::lua_rawset(l, -3);
                        p.next_token(tmp, &mut tok);
                        if tok.kind == Tok::ObjEnd {
                            frames.pop();
                        } else if tok.kind != Tok::Comma {
                            return Err(parse_error("comma or object end", &tok));
                        } else {
                            p.next_token(tmp, &mut tok);
                            step = Step::Key;
                        }
                    }
                }
            }
        }
    }
    p.next_token(tmp, &mut tok);
    if tok.kind != Tok::End {
        return Err(parse_error("the end", &tok));
    }
    Ok(1)
}

// ---------------------------------------------------------------------------
// strtod

fn eq_ci(s: &[u8], at: usize, word: &[u8]) -> bool {
    s.get(at..at + word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
}

/// glibc's `strtod` over `s` (no NUL inside): the value and how many bytes
/// it used, or `None` when no number starts there.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match at(i) {
        b'-' => {
            i += 1;
            true
        }
        b'+' => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    if eq_ci(s, i, b"inf") {
        let used = if eq_ci(s, i, b"infinity") {
            i + 8
        } else {
            i + 3
        };
        return Some((sign(f64::INFINITY), used));
    }
    if eq_ci(s, i, b"nan") {
        let mut used = i + 3;
        let mut v = f64::NAN;
        if at(used) == b'(' {
            let mut j = used + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                if let Some(m) = strtoull_whole(&s[used + 1..j]) {
                    const PAYLOAD: u64 = (1 << 51) - 1;
                    v = f64::from_bits((v.to_bits() & !PAYLOAD) | (m & PAYLOAD));
                }
                used = j + 1;
            }
        }
        return Some((sign(v), used));
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        return Some(match hex_float(s, i + 2) {
            Some((v, used)) => (sign(v), used),
            None => (sign(0.0), i + 1),
        });
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let int_start = i;
    let mut j = i;
    while at(j).is_ascii_digit() {
        j += 1;
    }
    let int_digits = &s[int_start..j];
    let mut frac_digits: &[u8] = &[];
    if at(j) == b'.' {
        let f = j + 1;
        let mut k = f;
        while at(k).is_ascii_digit() {
            k += 1;
        }
        frac_digits = &s[f..k];
        if !int_digits.is_empty() || !frac_digits.is_empty() {
            j = k;
        }
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exp: &[u8] = &[];
    if (at(j) | 0x20) == b'e' {
        let mut k = j + 1;
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            exp = &s[j + 1..k];
            j = k;
        }
    }
    let mut text = String::with_capacity(int_digits.len() + frac_digits.len() + exp.len() + 4);
    for &b in if int_digits.is_empty() {
        b"0".as_slice()
    } else {
        int_digits
    } {
        text.push(char::from(b));
    }
    if !frac_digits.is_empty() {
        text.push('.');
        frac_digits.iter().for_each(|&b| text.push(char::from(b)));
    }
    if !exp.is_empty() {
        text.push('e');
        push_exponent(&mut text, exp);
    }
    let v: f64 = text.parse().ok()?;
    Some((sign(v), j))
}

/// Appends a decimal exponent, trimmed of leading zeros and clamped far
/// beyond any double's range (so very long exponents still parse).
fn push_exponent(text: &mut String, exp: &[u8]) {
    let (negative, digits) = match exp.first() {
        Some(b'-') => (true, &exp[1..]),
        Some(b'+') => (false, &exp[1..]),
        _ => (false, exp),
    };
    let mut value: u64 = 0;
    for &d in digits {
        value = (value * 10 + u64::from(d - b'0')).min(1_000_000_000);
    }
    if negative {
        text.push('-');
    }
    text.push_str(&value.to_string());
}

/// `strtoull(s, &end, 0)` consuming all of `s`, as glibc reads a NaN's
/// payload; `None` if it stops early.
fn strtoull_whole(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    let (radix, digits) =
        if s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' && s[2].is_ascii_hexdigit() {
            (16, &s[2..])
        } else if s[0] == b'0' {
            (8, s)
        } else {
            (10, s)
        };
    let mut v: u64 = 0;
    let mut overflow = false;
    for &b in digits {
        let d = char::from(b).to_digit(radix)?;
        match v
            .checked_mul(u64::from(radix))
            .and_then(|x| x.checked_add(u64::from(d)))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    Some(if overflow { u64::MAX } else { v })
}

/// A hexadecimal float after "0x": `hexdigits[.hexdigits][p[sign]digits]`,
/// correctly rounded. `None` if no hex digit follows.
fn hex_float(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut mant: u64 = 0;
    let mut exp2: i64 = 0;
    let mut sticky = false;
    let mut add = |d: u32, frac: bool| {
        if mant < (1 << 60) {
            mant = mant * 16 + u64::from(d);
            if frac {
                exp2 -= 4;
            }
        } else {
            if !frac {
                exp2 += 4;
            }
            sticky |= d != 0;
        }
    };
    let mut j = start;
    let mut any = false;
    while let Some(d) = hex(at(j)) {
        add(d, false);
        any = true;
        j += 1;
    }
    if at(j) == b'.' {
        let mut k = j + 1;
        let mut frac_any = false;
        while let Some(d) = hex(at(k)) {
            add(d, true);
            frac_any = true;
            k += 1;
        }
        if any || frac_any {
            j = k;
            any = true;
        }
    }
    if !any {
        return None;
    }
    if (at(j) | 0x20) == b'p' {
        let mut k = j + 1;
        let negative = match at(k) {
            b'-' => {
                k += 1;
                true
            }
            b'+' => {
                k += 1;
                false
            }
            _ => false,
        };
        if at(k).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(k).is_ascii_digit() {
                e = (e * 10 + i64::from(at(k) - b'0')).min(1 << 40);
                k += 1;
            }
            exp2 = exp2.saturating_add(if negative { -e } else { e });
            j = k;
        }
    }
    Some((compose_binary(mant, exp2, sticky), j))
}

/// `mant * 2^exp2` (plus a nonzero tail when `sticky`), rounded to the
/// nearest double, ties to even.
fn compose_binary(mant: u64, exp2: i64, sticky: bool) -> f64 {
    if mant == 0 {
        return 0.0;
    }
    let lz = mant.leading_zeros();
    let m = mant << lz;
    // m's top bit stands for 2^e.
    let e = exp2.saturating_add(63 - i64::from(lz));
    if e > 1023 {
        return f64::INFINITY;
    }
    let bits = if e >= -1022 { 53 } else { 53 - (-1022 - e) };
    if bits <= 0 {
        // Below the smallest subnormal: round to it or to zero.
        let above_half = bits == 0 && (m > (1 << 63) || sticky);
        return if above_half { f64::from_bits(1) } else { 0.0 };
    }
    let drop = (64 - bits) as u32;
    let mut kept = m >> drop;
    let rem = m & ((1u64 << drop) - 1);
    let half = 1u64 << (drop - 1);
    if rem > half || (rem == half && (sticky || kept & 1 == 1)) {
        kept += 1;
    }
    if e >= -1022 {
        let mut e = e;
        if kept == 1 << 53 {
            kept >>= 1;
            e += 1;
            if e > 1023 {
                return f64::INFINITY;
            }
        }
        f64::from_bits((((e + 1023) as u64) << 52) | (kept & ((1 << 52) - 1)))
    } else {
        // kept counts units of 2^-1074 (reaching 2^52 is the smallest normal).
        f64::from_bits(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" {
        fn snprintf(
            buf: *mut std::ffi::c_char,
            n: usize,
            fmt: *const std::ffi::c_char,
            ...
        ) -> c_int;
        fn strtod(s: *const std::ffi::c_char, end: *mut *mut std::ffi::c_char) -> f64;
    }

    fn c_g(v: f64, prec: i32) -> String {
        let mut buf = [0 as std::ffi::c_char; 64];
        let fmt = std::ffi::CString::new(format!("%.{prec}g")).expect("fmt");
        // SAFETY: the buffer is large enough for any %g of a double.
        let n = unsafe { snprintf(buf.as_mut_ptr(), buf.len(), fmt.as_ptr(), v) };
        let bytes: Vec<u8> = buf[..n as usize].iter().map(|&c| c as u8).collect();
        String::from_utf8(bytes).expect("ascii")
    }

    fn rust_g(v: f64, prec: i32) -> String {
        let mut out = Vec::new();
        fmt_g(&mut out, v, prec);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn percent_g_matches_the_c_library() {
        let mut values = vec![
            0.1,
            -0.0,
            1e15,
            123456789012345.0,
            100000000000005.0,
            100000000000015.0,
            0.00001,
            0.0001,
            1e-5,
            123456.5,
            2.5,
            0.125,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            9.99999999999995,
            99999999999999.5,
            1.0 / 3.0,
            -2.0 / 3.0,
        ];
        // A deterministic spread of magnitudes and digit patterns.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                values.push(v);
            }
            values.push((x % 1_000_000_000_000_000) as f64 / 1000.0);
            values.push((x % 100_000) as f64 + 0.5);
        }
        for v in values {
            for prec in [1, 2, 6, 14] {
                assert_eq!(
                    rust_g(v, prec),
                    c_g(v, prec),
                    "value {v:e} precision {prec}"
                );
            }
        }
    }

    fn c_strtod(s: &str) -> (f64, usize) {
        let c = std::ffi::CString::new(s).expect("no NUL");
        let mut end = std::ptr::null_mut();
        // SAFETY: `c` is a valid C string; `end` points into it afterwards.
        let v = unsafe { strtod(c.as_ptr(), &mut end) };
        (v, end as usize - c.as_ptr() as usize)
    }

    #[test]
    fn strtod_matches_the_c_library() {
        let inputs = [
            "0", "-0", "1", "1.", "-.5", ".5", "1e5", "1e", "1e+", "1e+5x", "1.5E-3", "123abc", "00012", "0x", "0x1F",
            "-0x10", "0x1p3", "0x.8", "0x1.8p1", "0x1p-1074", "0x1p-1075", "0x1.8p-1074", "0x1p1024", "0xfffffffffffffffffff",
            "0x1.fffffffffffff8p0", "0x1.fffffffffffff7p0", "inf", "-Infinity", "infinit", "INF", "nan", "-nan", "nan(123)",
            "nan(0x10)", "nan(", "nan(abc", "1e400", "1e-400", "2.2250738585072011e-308", "4.9406564584124654e-324",
            "2.4703282292062328e-324", "2.4703282292062327e-324", "1e0000000000000000000000000001", "+7", "- 1",
            "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791.9999999999",
            "0.000000000000000000000000000000000000000000001e45",
        ];
        for s in inputs {
            let (cv, cn) = c_strtod(s);
            match super::strtod(s.as_bytes()) {
                Some((v, n)) => {
                    assert_eq!((v.to_bits(), n), (cv.to_bits(), cn), "strtod({s:?})");
                }
                None => assert_eq!(cn, 0, "strtod({s:?}) converts in C"),
            }
        }
    }

    #[test]
    fn utf8_of_code_points() {
        let mut v = Vec::new();
        push_utf8(&mut v, 0xE9);
        push_utf8(&mut v, 0x1F600);
        assert_eq!(v, "é😀".as_bytes());
    }

    #[test]
    fn strings_escape_like_lua_cjson() {
        let mut v = Vec::new();
        append_string(&mut v, b"a/b\"\\\x01\x7f\x80\n");
        assert_eq!(v, b"\"a\\/b\\\"\\\\\\u0001\\u007f\x80\\n\"");
    }
}
