//! Reading the engine's binary formats: one reader over a byte slice, one
//! error for input that ends too soon. Numbers are big-endian.
//!
//! Every binary format of the engine reads with it: frame headers, the
//! relay's control payloads, signed messages, the game configuration, the
//! table rules, the table's state, checkpoints, snapshots and STUN
//! messages.

/// The input ended before the value being read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unexpected end of input")]
pub struct UnexpectedEnd;

/// The input went on after the value being read ended (by this many
/// bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} bytes after the end")]
pub struct TrailingBytes(pub usize);

/// Reads values off the front of a byte slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader(bytes)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], UnexpectedEnd> {
        if self.0.len() < n {
            return Err(UnexpectedEnd);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// The next `N` bytes, as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], UnexpectedEnd> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, UnexpectedEnd> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, UnexpectedEnd> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, UnexpectedEnd> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, UnexpectedEnd> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A count of items that each take at least `min_len` bytes: refused
    /// when the rest of the input could not hold them (so a forged count
    /// never makes a reader reserve memory the input does not back).
    pub fn count(&mut self, min_len: usize) -> Result<usize, UnexpectedEnd> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_len.max(1)) > self.0.len() {
            return Err(UnexpectedEnd);
        }
        Ok(n)
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.0
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many bytes are left.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Ends a value that must fill the input: refused if bytes are left.
    pub fn finish(self) -> Result<(), TrailingBytes> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_stops_at_the_end() {
        let bytes = [1, 0, 2, 0, 0, 0, 3, 9];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.u64(), Err(UnexpectedEnd));
        assert_eq!(r.rest(), &[9]);
        assert_eq!(r.finish(), Err(TrailingBytes(1)));
        assert_eq!(r.u8(), Ok(9));
        assert!(r.is_empty());
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn a_count_the_input_cannot_hold_is_refused() {
        let mut r = Reader::new(&[0, 0, 0, 2, 1, 2, 3, 4]);
        assert_eq!(r.clone().count(2), Ok(2));
        assert_eq!(r.count(3), Err(UnexpectedEnd));
        let mut huge = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(huge.count(1), Err(UnexpectedEnd));
    }
}
