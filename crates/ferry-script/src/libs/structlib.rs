//! `struct`: Roberto Ierusalimschy's lua-struct 0.2 with Redis's fixes
//! (`integral size overflow`, the offset check of `unpack`). Sizes are those
//! of x86-64 Linux: `h` 2, `i` 4, `l`/`L`/`T` 8, `!` aligns to 8 at most.
//!
//! `pack` builds its result in a real `luaL_Buffer`, as the C library does:
//! the buffer spills strings onto the Lua stack after the `nil` marker, and
//! an option that reads past the given arguments sees them.

use std::ffi::{c_int, CStr};

use mlua::ffi::{self, lua_State};

use super::{
    check_lstring, check_number, check_stack, opt_integer, set_functions, Ctx, Fail, State,
    WorkerFn,
};

type Res = Result<c_int, Fail>;

/// Widest integer `i`/`I` accept.
const MAX_INT_SIZE: usize = 32;
/// Default and largest alignment (`!` alone): that of a double.
const MAX_ALIGN: usize = 8;

/// The library's functions, by name.
pub(crate) static FUNCS: [(&CStr, WorkerFn); 3] =
    [(c"pack", pack), (c"unpack", unpack), (c"size", size)];

/// Pushes the `struct` table.
pub(crate) unsafe fn push_module(l: *mut lua_State) {
    ffi::lua_createtable(l, 0, FUNCS.len() as c_int);
    set_functions(l, &FUNCS, None);
}

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// The format string, read as C reads it (it ends at the first NUL).
struct Fmt<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    /// `getnum`: a decimal count, or `df` when none follows.
    fn num(&mut self, df: usize) -> Result<usize, Fail> {
        if !self.peek().is_ascii_digit() {
            return Ok(df);
        }
        let mut a: i32 = 0;
        while self.peek().is_ascii_digit() {
            let d = i32::from(self.peek() - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Fail::error("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }
}

/// `optsize`: the bytes an option takes (0 for control options and `s`).
fn opt_size(opt: u8, fmt: &mut Fmt) -> Result<usize, Fail> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.num(1)?,
        b'i' | b'I' => {
            let sz = fmt.num(4)?;
            if sz > MAX_INT_SIZE {
                return Err(Fail::error(format!(
                    "integral size {sz} is larger than limit of {MAX_INT_SIZE}"
                )));
            }
            sz
        }
        _ => 0,
    })
}

/// `gettoalign`: padding before an item of `size` bytes at offset `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

/// `controloptions`: endianness, alignment, spaces; anything else is an
/// invalid option.
fn control(opt: u8, fmt: &mut Fmt, h: &mut Header) -> Result<(), Fail> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = fmt.num(MAX_ALIGN)?;
            if !a.is_power_of_two() {
                return Err(Fail::error(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
        }
        _ => {
            let mut msg = b"invalid format option '".to_vec();
            msg.push(opt);
            msg.push(b'\'');
            return Err(Fail::Arg(1, msg));
        }
    }
    Ok(())
}

/// `struct.pack(fmt, ...)`.
unsafe fn pack(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    let fmt_bytes = super::c_str(check_lstring(l, 1)?);
    let mut fmt = Fmt {
        s: fmt_bytes,
        pos: 0,
    };
    let mut h = Header::new();
    let mut arg: c_int = 2;
    let mut total: usize = 0;
    ffi::lua_pushnil(l); // separates the arguments from the buffer's strings
                         // A plain C struct without destructor: safe to lose on a Lua error.
    let mut b = std::mem::MaybeUninit::<ffi::luaL_Buffer>::uninit();
    let b = b.as_mut_ptr();
    ffi::luaL_buffinit(l, b);
    while let Some(opt) = fmt.next() {
        let mut size = opt_size(opt, &mut fmt)?;
        let pad = to_align(total, &h, opt, size);
        total += pad;
        for _ in 0..pad {
            ffi::luaL_addchar(b, 0);
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(l, arg)?;
                arg += 1;
                let mut bytes = [0u8; MAX_INT_SIZE];
                int_bytes(n, size, h.little, &mut bytes);
                ffi::luaL_addlstring(b, bytes.as_ptr().cast(), size);
            }
            b'x' => ffi::luaL_addchar(b, 0),
            b'f' => {
                let f = check_number(l, arg)? as f32;
                arg += 1;
                let bytes = if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                };
                ffi::luaL_addlstring(b, bytes.as_ptr().cast(), size);
            }
            b'd' => {
                let d = check_number(l, arg)?;
                arg += 1;
                let bytes = if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                };
                ffi::luaL_addlstring(b, bytes.as_ptr().cast(), size);
            }
            b'c' | b's' => {
                let s = check_lstring(l, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // C reports the argument after the string (a known quirk).
                    return Err(Fail::arg(arg, "string too short"));
                }
                ffi::luaL_addlstring(b, s.as_ptr().cast(), size);
                if opt == b's' {
                    ffi::luaL_addchar(b, 0);
                    size += 1;
                }
            }
            _ => control(opt, &mut fmt, &mut h)?,
        }
        total += size;
    }
    ffi::luaL_pushresult(b);
    Ok(1)
}

/// `putinteger`: the low `size` bytes of the number (as C converts it),
/// zero beyond 8 bytes.
fn int_bytes(n: f64, size: usize, little: bool, out: &mut [u8; MAX_INT_SIZE]) {
    let mut value: u64 = if n < 0.0 {
        super::c_f64_to_i64(n) as u64
    } else {
        super::c_f64_to_u64(n)
    };
    let size = size.min(MAX_INT_SIZE);
    for i in 0..size {
        let at = if little { i } else { size - 1 - i };
        out[at] = (value & 0xff) as u8;
        value >>= 8;
    }
}

/// `getinteger`: reads `size` bytes; wider than 8 bytes keeps the low 8.
fn get_integer(data: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut v: u64 = 0;
    for i in 0..size {
        let at = if little { size - 1 - i } else { i };
        v = (v << 8) | u64::from(data.get(at).copied().unwrap_or(0));
    }
    if !signed {
        return v as f64;
    }
    // The C shift count wraps at 64 bits like the x86 instruction.
    let shift = ((size * 8).wrapping_sub(1) & 63) as u32;
    let mask = u64::MAX << shift;
    if v & mask != 0 {
        v |= mask;
    }
    (v as i64) as f64
}

/// `struct.unpack(fmt, data [, pos])`: the values, then the next position.
unsafe fn unpack(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    let fmt_bytes = super::c_str(check_lstring(l, 1)?);
    let data = check_lstring(l, 2)?;
    let ld = data.len();
    let pos = opt_integer(l, 3, 1)? as usize;
    if pos == 0 {
        return Err(Fail::arg(3, "offset must be 1 or greater"));
    }
    let mut pos = pos - 1;
    let mut n: c_int = 0;
    let mut fmt = Fmt {
        s: fmt_bytes,
        pos: 0,
    };
    let mut h = Header::new();
    while let Some(opt) = fmt.next() {
        let mut size = opt_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(Fail::arg(2, "data string too short"));
        }
        check_stack(l, 2, "too many results")?;
        let item = &data[pos..];
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = get_integer(item, h.little, opt.is_ascii_lowercase(), size);
                ffi::lua_pushnumber(l, v);
                n += 1;
            }
            b'x' => {}
            b'f' => {
                let mut raw = [0u8; 4];
                raw.copy_from_slice(&item[..4]);
                let f = if h.little {
                    f32::from_le_bytes(raw)
                } else {
                    f32::from_be_bytes(raw)
                };
                ffi::lua_pushnumber(l, f64::from(f));
                n += 1;
            }
            b'd' => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&item[..8]);
                let d = if h.little {
                    f64::from_le_bytes(raw)
                } else {
                    f64::from_be_bytes(raw)
                };
                ffi::lua_pushnumber(l, d);
                n += 1;
            }
            b'c' => {
                if size == 0 {
                    if n == 0 || ffi::lua_isnumber(l, -1) == 0 {
                        return Err(Fail::error("format 'c0' needs a previous size"));
                    }
                    size = super::c_f64_to_u64(ffi::lua_tonumber(l, -1)) as usize;
                    ffi::lua_settop(l, -2);
                    n -= 1;
                    if !(size <= ld && pos <= ld - size) {
                        return Err(Fail::arg(2, "data string too short"));
                    }
                }
                super::push_bytes(l, &data[pos..pos + size]);
                n += 1;
            }
            b's' => {
                let Some(end) = item.iter().position(|&c| c == 0) else {
                    return Err(Fail::error("unfinished string in data"));
                };
                super::push_bytes(l, &item[..end]);
                size = end + 1;
                n += 1;
            }
            _ => control(opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos.wrapping_add(1) as i64);
    Ok(n + 1)
}

/// `struct.size(fmt)`: bytes `pack` would produce; formats without a fixed
/// size are rejected. Unknown letters count as 0 bytes (as in C).
unsafe fn size(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    let fmt_bytes = super::c_str(check_lstring(l, 1)?);
    let mut fmt = Fmt {
        s: fmt_bytes,
        pos: 0,
    };
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next() {
        let size = opt_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(Fail::arg(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(Fail::arg(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control(opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos as i64);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_through_bytes() {
        let mut out = [0u8; MAX_INT_SIZE];
        int_bytes(-2.0, 4, false, &mut out);
        assert_eq!(&out[..4], &[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(get_integer(&out[..4], false, true, 4), -2.0);
        assert_eq!(get_integer(&out[..4], false, false, 4), 4_294_967_294.0);
        int_bytes(1.0, 16, true, &mut out);
        assert_eq!(
            &out[..16],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn alignment_is_capped_by_the_header() {
        let h = Header {
            little: true,
            align: 8,
        };
        assert_eq!(to_align(1, &h, b'i', 4), 3);
        assert_eq!(to_align(1, &h, b'd', 8), 7);
        assert_eq!(to_align(1, &h, b'c', 8), 0);
        let h = Header {
            little: true,
            align: 2,
        };
        assert_eq!(to_align(1, &h, b'd', 8), 1);
    }

    #[test]
    fn counts_overflow_like_c() {
        let mut f = Fmt {
            s: b"99999999999",
            pos: 0,
        };
        assert!(matches!(f.num(1), Err(Fail::Error(m)) if m == b"integral size overflow"));
        let mut f = Fmt { s: b"12x", pos: 0 };
        assert_eq!(f.num(1).ok(), Some(12));
        assert_eq!(f.peek(), b'x');
    }
}
