//! Reading RDB lengths and strings from a byte slice.

use crate::RdbError;

/// A cursor over RDB-encoded bytes.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A length, or the special string encodings a length byte can announce.
enum Len {
    Plain(u64),
    Int8,
    Int16,
    Int32,
    Lzf,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn byte(&mut self) -> Result<u8, RdbError> {
        let b = *self.data.get(self.pos).ok_or(RdbError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        let end = self.pos.checked_add(n).ok_or(RdbError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(RdbError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn raw_length(&mut self) -> Result<Len, RdbError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Len::Plain((first & 0x3f) as u64),
            1 => Len::Plain((((first & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match first {
                0x80 => {
                    let b = self.take(4)?;
                    Len::Plain(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
                }
                0x81 => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    Len::Plain(u64::from_be_bytes(a))
                }
                _ => return Err(RdbError::BadLength),
            },
            _ => match first & 0x3f {
                0 => Len::Int8,
                1 => Len::Int16,
                2 => Len::Int32,
                3 => Len::Lzf,
                _ => return Err(RdbError::BadLength),
            },
        })
    }

    /// A plain length (not a string encoding).
    pub fn length(&mut self) -> Result<u64, RdbError> {
        match self.raw_length()? {
            Len::Plain(n) => Ok(n),
            _ => Err(RdbError::BadLength),
        }
    }

    /// Reads past a string in any of its forms, checking it as
    /// [`Reader::string`] does but without copying a plain one (an
    /// LZF-compressed string is still decompressed to check it).
    pub fn skip_string(&mut self) -> Result<(), RdbError> {
        match self.raw_length()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::Truncated)?;
                self.take(n)?;
            }
            Len::Int8 => {
                self.byte()?;
            }
            Len::Int16 => {
                self.take(2)?;
            }
            Len::Int32 => {
                self.take(4)?;
            }
            Len::Lzf => {
                let clen = usize::try_from(self.length()?).map_err(|_| RdbError::Truncated)?;
                let len = usize::try_from(self.length()?).map_err(|_| RdbError::Truncated)?;
                let compressed = self.take(clen)?;
                crate::lzf::decompress(compressed, len)?;
            }
        }
        Ok(())
    }

    /// A string in any of its forms: plain, an integer, or LZF-compressed.
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        Ok(match self.raw_length()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::Truncated)?;
                self.take(n)?.to_vec()
            }
            Len::Int8 => (self.byte()? as i8).to_string().into_bytes(),
            Len::Int16 => {
                let b = self.take(2)?;
                i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes()
            }
            Len::Int32 => {
                let b = self.take(4)?;
                i32::from_le_bytes([b[0], b[1], b[2], b[3]])
                    .to_string()
                    .into_bytes()
            }
            Len::Lzf => {
                let clen = usize::try_from(self.length()?).map_err(|_| RdbError::Truncated)?;
                let len = usize::try_from(self.length()?).map_err(|_| RdbError::Truncated)?;
                let compressed = self.take(clen)?;
                crate::lzf::decompress(compressed, len)?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{write_length, write_string};

    #[test]
    fn lengths_round_trip() {
        for n in [
            0u64,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            let mut out = Vec::new();
            write_length(&mut out, n);
            assert_eq!(Reader::new(&out).length().unwrap(), n);
        }
    }

    #[test]
    fn strings_in_every_form() {
        let mut out = Vec::new();
        write_string(&mut out, b"hello");
        out.extend_from_slice(&[0xc0, 0xfe]); // int8 -2
        out.extend_from_slice(&[0xc1, 0x39, 0x30]); // int16 12345
        out.extend_from_slice(&[0xc3, 6, 9, 2, b'a', b'b', b'c', (4 << 5), 2]); // lzf
        let mut r = Reader::new(&out);
        assert_eq!(r.string().unwrap(), b"hello");
        assert_eq!(r.string().unwrap(), b"-2");
        assert_eq!(r.string().unwrap(), b"12345");
        assert_eq!(r.string().unwrap(), b"abcabcabc");
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.string(), Err(RdbError::Truncated));
    }
}
