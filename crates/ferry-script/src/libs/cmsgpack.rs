//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis bundles it.
//!
//! Packing: integral doubles become the smallest MessagePack integer,
//! other numbers a float32 when exact, else a float64; strings use
//! fixstr/str8/str16/str32; a table whose keys are exactly 1..n is an
//! array, any other a map; nesting deeper than 16 tables packs `nil`;
//! values of other types pack `nil`.
//!
//! Unpacking walks nested data with an explicit stack (no Rust recursion)
//! but pushes exactly what the C decoder pushes, so Lua's 8000-slot limit
//! trips at the same place ("too many return values ...").

use std::ffi::{c_int, CStr};

use mlua::ffi::{self, lua_State};

use super::{
    check_integer, check_lstring, check_stack, opt_integer, set_functions, set_string, Ctx, Fail,
    Frame, State, WorkerFn,
};

type Res = Result<c_int, Fail>;

/// Tables nested deeper than this pack as `nil`.
const MAX_NESTING: i32 = 16;

const TOO_MANY_VALUES: &str =
    "too many return values at once; use unpack_one or unpack_limit instead.";

/// The library's functions, by name.
pub(crate) static FUNCS: [(&CStr, WorkerFn); 4] = [
    (c"pack", pack),
    (c"unpack", unpack),
    (c"unpack_one", unpack_one),
    (c"unpack_limit", unpack_limit),
];

/// Pushes the `cmsgpack` table.
pub(crate) unsafe fn push_module(l: *mut lua_State) {
    ffi::lua_createtable(l, 0, 8);
    set_functions(l, &FUNCS, None);
    set_string(l, c"_NAME", b"cmsgpack");
    set_string(l, c"_VERSION", b"lua-cmsgpack 0.4.0");
    set_string(
        l,
        c"_COPYRIGHT",
        b"Copyright (C) 2012, Salvatore Sanfilippo",
    );
    set_string(l, c"_DESCRIPTION", b"MessagePack C implementation for Lua");
}

// ---------------------------------------------------------------------------
// Encoding

fn put_uint(out: &mut Vec<u8>, tag: u8, v: u64, width: usize) {
    out.push(tag);
    out.extend_from_slice(&v.to_be_bytes()[8 - width..]);
}

/// The smallest integer encoding, as lua-cmsgpack chooses it.
pub(crate) fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => put_uint(out, 0xcc, n as u64, 1),
            0x100..=0xffff => put_uint(out, 0xcd, n as u64, 2),
            0x1_0000..=0xffff_ffff => put_uint(out, 0xce, n as u64, 4),
            _ => put_uint(out, 0xcf, n as u64, 8),
        }
    } else {
        match n {
            -32..=-1 => out.push(n as u8),
            -128..=-33 => put_uint(out, 0xd0, n as u64, 1),
            -32768..=-129 => put_uint(out, 0xd1, n as u64, 2),
            -2_147_483_648..=-32769 => put_uint(out, 0xd2, n as u64, 4),
            _ => put_uint(out, 0xd3, n as u64, 8),
        }
    }
}

/// float32 when the double survives the round trip, else float64.
pub(crate) fn encode_double(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if f64::from(f) == d {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

/// A number: integer encoding when `(int64_t)n == n` (and not infinite).
pub(crate) fn encode_number(out: &mut Vec<u8>, n: f64) {
    let i = super::c_f64_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(out, i);
    } else {
        encode_double(out, n);
    }
}

pub(crate) fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        put_uint(out, 0xd9, len as u64, 1);
    } else if len <= 0xffff {
        put_uint(out, 0xda, len as u64, 2);
    } else {
        put_uint(out, 0xdb, len as u64 & 0xffff_ffff, 4);
    }
    out.extend_from_slice(s);
}

fn encode_header(out: &mut Vec<u8>, n: u64, fix: u8, tag16: u8, tag32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        put_uint(out, tag16, n, 2);
    } else {
        put_uint(out, tag32, n & 0xffff_ffff, 4);
    }
}

/// Encodes the value at the top of the stack and pops it. Nesting is at
/// most 16 tables, so plain recursion is fine here.
unsafe fn encode_value(l: *mut lua_State, out: &mut Vec<u8>, level: i32) -> Result<(), Fail> {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(l, -1, &mut len);
            encode_bytes(out, std::slice::from_raw_parts(p.cast::<u8>(), len));
        }
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(out, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TTABLE => {
            if table_is_an_array(l)? {
                encode_array(l, out, level)?;
            } else {
                encode_map(l, out, level)?;
            }
        }
        _ => out.push(0xc0),
    }
    ffi::lua_settop(l, -2);
    Ok(())
}

/// True when the table's keys are exactly 1..n (n counted, max compared).
unsafe fn table_is_an_array(l: *mut lua_State) -> Result<bool, Fail> {
    let top = ffi::lua_gettop(l);
    let mut count: i32 = 0;
    let mut max: i32 = 0;
    check_stack(l, 2, "in function table_is_an_array")?;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER {
            ffi::lua_settop(l, top);
            return Ok(false);
        }
        let n = ffi::lua_tonumber(l, -1);
        if n <= 0.0 || n.is_infinite() || f64::from(super::c_f64_to_i32(n)) != n {
            ffi::lua_settop(l, top);
            return Ok(false);
        }
        if n > f64::from(max) {
            max = super::c_f64_to_i32(n);
        }
        count = count.wrapping_add(1);
    }
    ffi::lua_settop(l, top);
    Ok(max == count)
}

unsafe fn encode_array(l: *mut lua_State, out: &mut Vec<u8>, level: i32) -> Result<(), Fail> {
    let len = ffi::lua_objlen(l, -1);
    encode_header(out, len as u64, 0x90, 0xdc, 0xdd);
    check_stack(l, 1, "in function mp_encode_lua_table_as_array")?;
    for j in 1..=len {
        ffi::lua_pushnumber(l, j as f64);
        ffi::lua_gettable_(l, -2);
        encode_value(l, out, level + 1)?;
    }
    Ok(())
}

unsafe fn encode_map(l: *mut lua_State, out: &mut Vec<u8>, level: i32) -> Result<(), Fail> {
    check_stack(l, 3, "in function mp_encode_lua_table_as_map")?;
    let mut len: u64 = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        len += 1;
    }
    encode_header(out, len, 0x80, 0xde, 0xdf);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pushvalue(l, -2);
        encode_value(l, out, level + 1)?; // the key
        encode_value(l, out, level + 1)?; // the value
    }
    Ok(())
}

/// `cmsgpack.pack(...)`: every argument packed, concatenated.
unsafe fn pack(l: *mut lua_State, cx: &mut Ctx, _: State) -> Res {
    let nargs = ffi::lua_gettop(l);
    if nargs == 0 {
        return Err(Fail::arg(0, "MessagePack pack needs input."));
    }
    if ffi::lua_checkstack(l, nargs) == 0 {
        return Err(Fail::arg(0, "Too many arguments for MessagePack pack."));
    }
    for i in 1..=nargs {
        check_stack(l, 1, "in function mp_check")?;
        ffi::lua_pushvalue(l, i);
        cx.out.clear();
        encode_value(l, &mut cx.out, 0)?;
        super::push_bytes(l, &cx.out);
    }
    ffi::lua_concat(l, nargs);
    Ok(1)
}

// ---------------------------------------------------------------------------
// Decoding

/// Why decoding stopped early (reported once back at the top level).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CurErr {
    None,
    Eof,
    BadFmt,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    err: CurErr,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    /// `mp_cur_need`: false (and EOF recorded) if fewer bytes remain.
    fn need(&mut self, n: usize) -> bool {
        if self.left() < n {
            self.err = CurErr::Eof;
            return false;
        }
        true
    }

    /// Big-endian unsigned integer of `width` bytes after the tag byte.
    fn be(&self, width: usize) -> u64 {
        let bytes = self
            .data
            .get(self.pos + 1..self.pos + 1 + width)
            .unwrap_or(&[]);
        bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }

    fn bytes(&self, from: usize, len: usize) -> &[u8] {
        self.data
            .get(self.pos + from..self.pos + from + len)
            .unwrap_or(&[])
    }
}

/// What decoding one item produced.
enum Item {
    /// A complete value is on top of the stack.
    Value,
    /// A container was opened (its table is on top, its frame pushed).
    Opened,
    /// The cursor recorded an error.
    Stopped,
}

/// Decodes one MessagePack object (with everything nested in it) and
/// leaves it on the stack; on a cursor error returns with `c.err` set.
unsafe fn decode_one(
    l: *mut lua_State,
    c: &mut Cursor,
    frames: &mut Vec<Frame>,
) -> Result<(), Fail> {
    frames.clear();
    loop {
        let produced = match decode_item(l, c, frames)? {
            Item::Stopped => return Ok(()),
            Item::Value => true,
            Item::Opened => false,
        };
        if settle(l, frames, produced) {
            return Ok(());
        }
    }
}

/// Stores a finished value into its container(s) and decides what comes
/// next; true when the outermost value is complete.
unsafe fn settle(l: *mut lua_State, frames: &mut Vec<Frame>, mut produced: bool) -> bool {
    loop {
        let Some(top) = frames.last_mut() else {
            return true;
        };
        match top {
            Frame::MpArray { left, index } => {
                if produced {
                    ffi::lua_settable(l, -3);
                }
                if *left == 0 {
                    frames.pop();
                    produced = true;
                    continue;
                }
                *left -= 1;
                ffi::lua_pushnumber(l, *index as f64);
                *index += 1;
                return false;
            }
            Frame::MpMap { left, have_key } => {
                if produced {
                    if !*have_key {
                        *have_key = true;
                        return false; // now the value of this pair
                    }
                    ffi::lua_settable(l, -3);
                    *have_key = false;
                }
                if *left == 0 {
                    frames.pop();
                    produced = true;
                    continue;
                }
                *left -= 1;
                return false; // now the key of the next pair
            }
            _ => return true,
        }
    }
}

/// `mp_decode_to_lua_type` without the recursion: pushes a scalar, or opens
/// a container.
unsafe fn decode_item(
    l: *mut lua_State,
    c: &mut Cursor,
    frames: &mut Vec<Frame>,
) -> Result<Item, Fail> {
    if !c.need(1) {
        return Ok(Item::Stopped);
    }
    check_stack(l, 1, TOO_MANY_VALUES)?;
    let tag = c.data[c.pos];
    macro_rules! need {
        ($n:expr) => {
            if !c.need($n) {
                return Ok(Item::Stopped);
            }
        };
    }
    match tag {
        0xcc..=0xcf => {
            let width = 1usize << (tag - 0xcc);
            need!(1 + width);
            // Unsigned values go through lua_Integer, so 64-bit ones above
            // i64::MAX come out negative, as in C.
            ffi::lua_pushinteger(l, c.be(width) as i64);
            c.pos += 1 + width;
        }
        0xd0..=0xd3 => {
            let width = 1usize << (tag - 0xd0);
            need!(1 + width);
            let raw = c.be(width);
            let shift = 64 - 8 * width as u32;
            let v = ((raw << shift) as i64) >> shift;
            ffi::lua_pushnumber(l, v as f64);
            c.pos += 1 + width;
        }
        0xc0 => {
            ffi::lua_pushnil(l);
            c.pos += 1;
        }
        0xc2 | 0xc3 => {
            ffi::lua_pushboolean(l, c_int::from(tag == 0xc3));
            c.pos += 1;
        }
        0xca => {
            need!(5);
            ffi::lua_pushnumber(l, f64::from(f32::from_bits(c.be(4) as u32)));
            c.pos += 5;
        }
        0xcb => {
            need!(9);
            ffi::lua_pushnumber(l, f64::from_bits(c.be(8)));
            c.pos += 9;
        }
        0xd9..=0xdb => {
            let width = 1usize << (tag - 0xd9);
            need!(1 + width);
            let len = c.be(width) as usize;
            c.pos += 1 + width;
            need!(len);
            super::push_bytes(l, c.bytes(0, len));
            c.pos += len;
        }
        0xdc | 0xdd | 0x90..=0x9f => {
            let len = match tag {
                0xdc | 0xdd => {
                    let width = if tag == 0xdc { 2 } else { 4 };
                    need!(1 + width);
                    let len = c.be(width);
                    c.pos += 1 + width;
                    len
                }
                _ => {
                    c.pos += 1;
                    u64::from(tag & 0x0f)
                }
            };
            ffi::lua_createtable(l, 0, 0);
            check_stack(l, 1, "in function mp_decode_to_lua_array")?;
            frames.push(Frame::MpArray {
                left: len,
                index: 1,
            });
            return Ok(Item::Opened);
        }
        0xde | 0xdf | 0x80..=0x8f => {
            let len = match tag {
                0xde | 0xdf => {
                    let width = if tag == 0xde { 2 } else { 4 };
                    need!(1 + width);
                    let len = c.be(width);
                    c.pos += 1 + width;
                    len
                }
                _ => {
                    c.pos += 1;
                    u64::from(tag & 0x0f)
                }
            };
            ffi::lua_createtable(l, 0, 0);
            frames.push(Frame::MpMap {
                left: len,
                have_key: false,
            });
            return Ok(Item::Opened);
        }
        0x00..=0x7f => {
            ffi::lua_pushinteger(l, i64::from(tag));
            c.pos += 1;
        }
        0xe0..=0xff => {
            ffi::lua_pushinteger(l, i64::from(tag as i8));
            c.pos += 1;
        }
        0xa0..=0xbf => {
            let len = usize::from(tag & 0x1f);
            need!(1 + len);
            super::push_bytes(l, c.bytes(1, len));
            c.pos += 1 + len;
        }
        _ => {
            c.err = CurErr::BadFmt;
            return Ok(Item::Stopped);
        }
    }
    Ok(Item::Value)
}

/// `mp_unpack_full`: decodes up to `limit` objects from `offset`; with a
/// limit or offset, the next offset (-1 at the end) comes first.
unsafe fn unpack_full(l: *mut lua_State, cx: &mut Ctx, limit: i64, offset: i64) -> Res {
    let s = check_lstring(l, 1)?;
    let len = s.len();
    if offset < 0 || limit < 0 {
        return Err(Fail::error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset as u64 > len as u64 {
        return Err(Fail::error(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cursor {
        data: s,
        pos: offset as usize,
        err: CurErr::None,
    };
    let mut cnt: c_int = 0;
    while c.left() > 0 && i64::from(cnt) < limit {
        decode_one(l, &mut c, &mut cx.frames)?;
        match c.err {
            CurErr::Eof => return Err(Fail::error("Missing bytes in input.")),
            CurErr::BadFmt => return Err(Fail::error("Bad data format in input.")),
            CurErr::None => {}
        }
        cnt += 1;
    }
    if !decode_all {
        check_stack(l, 1, "in function mp_unpack_full")?;
        let next = if c.left() == 0 { -1 } else { c.pos as i64 };
        ffi::lua_pushinteger(l, next);
        ffi::lua_insert(l, 2);
        cnt += 1;
    }
    Ok(cnt)
}

/// `cmsgpack.unpack(s)`: every object in `s`.
unsafe fn unpack(l: *mut lua_State, cx: &mut Ctx, _: State) -> Res {
    unpack_full(l, cx, 0, 0)
}

/// Drops all arguments but the first (`lua_pop(L, lua_gettop(L)-1)`).
unsafe fn keep_first(l: *mut lua_State) {
    let n = ffi::lua_gettop(l) - 1;
    ffi::lua_settop(l, -n - 1);
}

/// `cmsgpack.unpack_one(s [, offset])`.
unsafe fn unpack_one(l: *mut lua_State, cx: &mut Ctx, _: State) -> Res {
    let offset = opt_integer(l, 2, 0)?;
    keep_first(l);
    unpack_full(l, cx, 1, offset)
}

/// `cmsgpack.unpack_limit(s, limit [, offset])`.
unsafe fn unpack_limit(l: *mut lua_State, cx: &mut Ctx, _: State) -> Res {
    let limit = check_integer(l, 2)?;
    let offset = opt_integer(l, 3, 0)?;
    keep_first(l);
    unpack_full(l, cx, limit, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Vec<u8> {
        let mut v = Vec::new();
        encode_int(&mut v, n);
        v
    }

    fn num(n: f64) -> Vec<u8> {
        let mut v = Vec::new();
        encode_number(&mut v, n);
        v
    }

    #[test]
    fn integers_take_the_smallest_width() {
        assert_eq!(int(0), [0x00]);
        assert_eq!(int(127), [0x7f]);
        assert_eq!(int(128), [0xcc, 0x80]);
        assert_eq!(int(256), [0xcd, 0x01, 0x00]);
        assert_eq!(int(65536), [0xce, 0, 1, 0, 0]);
        assert_eq!(int(1 << 32), [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(int(-1), [0xff]);
        assert_eq!(int(-32), [0xe0]);
        assert_eq!(int(-33), [0xd0, 0xdf]);
        assert_eq!(int(-129), [0xd1, 0xff, 0x7f]);
        assert_eq!(int(-32769), [0xd2, 0xff, 0xff, 0x7f, 0xff]);
        assert_eq!(int(i64::MIN), [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn numbers_choose_integer_float_or_double() {
        assert_eq!(num(-0.0), [0x00]);
        assert_eq!(num(0.5), [0xca, 0x3f, 0x00, 0x00, 0x00]);
        assert_eq!(num(0.1)[0], 0xcb);
        assert_eq!(num(f64::INFINITY), [0xca, 0x7f, 0x80, 0x00, 0x00]);
        assert_eq!(num(f64::NAN)[0], 0xcb);
        // 2^63 does not survive (int64_t) and is packed as a float.
        assert_eq!(
            num(9_223_372_036_854_775_808.0),
            [0xca, 0x5f, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn strings_pick_their_header() {
        let mut v = Vec::new();
        encode_bytes(&mut v, &[b'a'; 31]);
        assert_eq!(v[0], 0xbf);
        v.clear();
        encode_bytes(&mut v, &[b'a'; 32]);
        assert_eq!(&v[..2], &[0xd9, 32]);
        v.clear();
        encode_bytes(&mut v, &[b'a'; 256]);
        assert_eq!(&v[..3], &[0xda, 1, 0]);
        v.clear();
        encode_bytes(&mut v, &[b'a'; 65536]);
        assert_eq!(&v[..5], &[0xdb, 0, 1, 0, 0]);
    }
}
