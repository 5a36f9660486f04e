//! `bit`: LuaBitOp 1.0.2, as Redis bundles it. Operands are doubles turned
//! into 32-bit integers by adding 2^52+2^51 and keeping the low word (so
//! they wrap modulo 2^32 and fractions round to nearest even); results are
//! signed 32-bit numbers.

use std::ffi::{c_int, CStr};

use mlua::ffi::{self, lua_State};

use super::{set_functions, type_error, Ctx, Fail, State, WorkerFn};

type Res = Result<c_int, Fail>;

/// The library's functions, by name.
pub(crate) static FUNCS: [(&CStr, WorkerFn); 12] = [
    (c"tobit", tobit),
    (c"bnot", bnot),
    (c"band", band),
    (c"bor", bor),
    (c"bxor", bxor),
    (c"lshift", lshift),
    (c"rshift", rshift),
    (c"arshift", arshift),
    (c"rol", rol),
    (c"ror", ror),
    (c"bswap", bswap),
    (c"tohex", tohex),
];

/// Pushes the `bit` table.
pub(crate) unsafe fn push_module(l: *mut lua_State) {
    ffi::lua_createtable(l, 0, FUNCS.len() as c_int);
    set_functions(l, &FUNCS, None);
}

/// LuaBitOp's normalisation of a double to 32 bits.
pub(crate) fn tobit_of(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// `barg`: the argument as 32 bits; a non-number raises "number expected"
/// (only detected when the bits are 0, exactly as LuaBitOp checks it).
unsafe fn barg(l: *mut lua_State, idx: c_int) -> Result<u32, Fail> {
    let b = tobit_of(ffi::lua_tonumber(l, idx));
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        return Err(type_error(l, idx, "number"));
    }
    Ok(b)
}

unsafe fn push_bits(l: *mut lua_State, b: u32) -> Res {
    ffi::lua_pushnumber(l, f64::from(b as i32));
    Ok(1)
}

unsafe fn tobit(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    push_bits(l, barg(l, 1)?)
}

unsafe fn bnot(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    push_bits(l, !barg(l, 1)?)
}

/// The n-ary operations check argument 1, then the others from the last.
unsafe fn fold(l: *mut lua_State, op: fn(u32, u32) -> u32) -> Res {
    let mut b = barg(l, 1)?;
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, barg(l, i)?);
        i -= 1;
    }
    push_bits(l, b)
}

unsafe fn band(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    fold(l, |a, b| a & b)
}

unsafe fn bor(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    fold(l, |a, b| a | b)
}

unsafe fn bxor(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    fold(l, |a, b| a ^ b)
}

/// Shifts take the count modulo 32.
unsafe fn shift(l: *mut lua_State, op: fn(u32, u32) -> u32) -> Res {
    let b = barg(l, 1)?;
    let n = barg(l, 2)? & 31;
    push_bits(l, op(b, n))
}

unsafe fn lshift(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    shift(l, |b, n| b << n)
}

unsafe fn rshift(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    shift(l, |b, n| b >> n)
}

unsafe fn arshift(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    shift(l, |b, n| ((b as i32) >> n) as u32)
}

unsafe fn rol(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    shift(l, u32::rotate_left)
}

unsafe fn ror(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    shift(l, u32::rotate_right)
}

unsafe fn bswap(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    push_bits(l, barg(l, 1)?.swap_bytes())
}

/// `tohex(x [, n])`: n digits (default 8, at most 8); negative n means
/// upper case.
unsafe fn tohex(l: *mut lua_State, _: &mut Ctx, _: State) -> Res {
    let b = barg(l, 1)?;
    let n = if ffi::lua_type(l, 2) == ffi::LUA_TNONE {
        8
    } else {
        barg(l, 2)? as i32
    };
    let mut buf = [0u8; 8];
    let len = hex_digits(b, n, &mut buf);
    super::push_bytes(l, &buf[..len]);
    Ok(1)
}

/// Writes `tohex`'s digits into `buf`, returning how many.
fn hex_digits(mut b: u32, n: i32, buf: &mut [u8; 8]) -> usize {
    let (n, digits) = if n < 0 {
        // -INT_MIN overflows; Redis's build treats it as "more than 8".
        (n.checked_neg().unwrap_or(i32::MAX), b"0123456789ABCDEF")
    } else {
        (n, b"0123456789abcdef")
    };
    let n = n.min(8) as usize;
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_wraps_and_rounds_to_even() {
        assert_eq!(tobit_of(1.0), 1);
        assert_eq!(tobit_of(-1.0) as i32, -1);
        assert_eq!(tobit_of(4_294_967_296.0), 0);
        assert_eq!(tobit_of(4_294_967_297.0), 1);
        assert_eq!(tobit_of(2_147_483_648.0) as i32, i32::MIN);
        assert_eq!(tobit_of(0.5), 0);
        assert_eq!(tobit_of(1.5), 2);
        assert_eq!(tobit_of(2.5), 2);
        assert_eq!(tobit_of(f64::INFINITY), 0);
        assert_eq!(tobit_of(f64::NAN), 0);
    }

    #[test]
    fn hex_digits_cover_case_and_width() {
        let mut buf = [0u8; 8];
        let n = hex_digits(0xdead_beef, 8, &mut buf);
        assert_eq!(&buf[..n], b"deadbeef");
        let n = hex_digits(0xdead_beef, -4, &mut buf);
        assert_eq!(&buf[..n], b"BEEF");
        let n = hex_digits(1, 20, &mut buf);
        assert_eq!(&buf[..n], b"00000001");
        let n = hex_digits(0xabcdef, i32::MIN, &mut buf);
        assert_eq!(&buf[..n], b"00ABCDEF");
        assert_eq!(hex_digits(1, 0, &mut buf), 0);
    }
}
