//! Equality of the short strings a decision compares all the time (tool, argument, attribute,
//! role and evidence names; ids), without a call to `memcmp` for each.
//!
//! Most of those strings are under 17 bytes, and `==` on two of them calls the C library's
//! `memcmp` (through the PLT), which cost a 27-rule decision about a tenth of its instructions.
//! [`same`] compares them in at most two overlapping loads per side instead, and falls back
//! on `==` beyond 16 bytes.
//!
//! invariant: `same(a, b) == (a == b)` (property-tested below).

/// Whether `a` and `b` are the same text.
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

/// The `N` bytes of `s` from `at` (all within `s` where [`same`] reads them).
#[inline(always)]
fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
    s.get(at..at + N).and_then(|w| <[u8; N]>::try_from(w).ok()).unwrap_or([0; N])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::same;

    #[test]
    fn every_length_and_every_differing_byte() {
        for n in 0..40 {
            let a: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert!(same(&a, &a.clone()), "{a}");
            for at in 0..n {
                let mut b = a.clone().into_bytes();
                b[at] = b'!';
                let b = String::from_utf8(b).unwrap();
                assert!(!same(&a, &b) && !same(&b, &a), "{a} {b}");
            }
            assert!(!same(&a, &format!("{a}x")) && !same(&format!("x{a}"), &a));
        }
    }

    proptest! {
        #[test]
        fn same_is_equality(a in "[ab\u{e9}]{0,20}", b in "[ab\u{e9}]{0,20}") {
            prop_assert_eq!(same(&a, &b), a == b);
        }
    }
}
