//! Finding the first byte of a class, eight bytes at a time: the one place for the word trick
//! behind the request scanner's strings, the decision writer's escapes, the check that a
//! `path` argument is already resolved and the one that an id is printable ASCII.

/// One in every byte.
pub(crate) const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// The high bit of every byte.
pub(crate) const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of every byte of `x` below `n` (n <= 128), exact up to the lowest such byte (a
/// borrow can only mark bytes above it), which is the only one [`first`] reads.
#[inline(always)]
pub(crate) fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES.wrapping_mul(u64::from(n))) & !x & HIGH
}

/// The high bit of every byte of `x` equal to `byte`, exact up to the lowest such byte.
#[inline(always)]
pub(crate) fn equal(x: u64, byte: u8) -> u64 {
    below(x ^ ONES.wrapping_mul(u64::from(byte)), 1)
}

/// Eight bytes as a little-endian word; `None` unless `chunk` has exactly eight.
#[inline(always)]
pub(crate) fn word(chunk: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(chunk).ok().map(u64::from_le_bytes)
}

/// The index of the first byte at or after `from` in the class, or `None` when there is none
/// (or `from` is past the end). `word_hits` marks the class's bytes in a little-endian word, exact
/// up to the lowest (built from [`below`] and [`equal`]); `byte` says the same of one byte, for
/// the last few.
#[inline(always)]
pub(crate) fn first(
    bytes: &[u8],
    from: usize,
    word_hits: impl Fn(u64) -> u64,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let hits = word_hits(self::word(chunk)?);
        if hits != 0 {
            return Some(from + offset + (hits.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    if chunks.remainder().is_empty() {
        return None;
    }
    last_bytes(rest, offset, word_hits, byte).map(|at| from + at)
}

/// [`first`] for the last few bytes of `rest` (those from `offset`, fewer than eight): read as
/// the last eight of `rest` when there are eight. The ones before `offset` were read and are
/// not in the class, so they mark nothing (a byte outside the class borrows from no other) and
/// the lowest mark is the first in the class from `offset`. Out of line: the request scanner
/// reads strings in the middle of its text and almost never gets here, and the code inlined
/// made its loops slower; the decision writer, whose strings end here, pays only a call.
#[inline(never)]
fn last_bytes(
    rest: &[u8],
    offset: usize,
    word_hits: impl Fn(u64) -> u64,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    match rest.len().checked_sub(8).and_then(|last| Some((last, self::word(rest.get(last..)?)?))) {
        Some((last, x)) => {
            let hits = word_hits(x);
            (hits != 0).then(|| last + (hits.trailing_zeros() / 8) as usize)
        }
        None => rest.get(offset..)?.iter().position(|&b| byte(b)).map(|tail| offset + tail),
    }
}

/// The high bit of every byte of `x` that is zero, and of no other (exact, unlike [`below`]).
#[inline(always)]
pub(crate) fn zero_exact(x: u64) -> u64 {
    const LOW7: u64 = !HIGH;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// The high bit of every byte of `x` equal to `byte`, and of no other.
#[inline(always)]
pub(crate) fn equal_exact(x: u64, byte: u8) -> u64 {
    zero_exact(x ^ ONES.wrapping_mul(u64::from(byte)))
}
