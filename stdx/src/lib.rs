//! What every writ crate shares and none owns (rust-analyzer's `stdx`, kept small).
#![forbid(unsafe_code)]

/// Marks a state the code's invariants rule out, where the caller then takes a fail-closed
/// branch (an error, a deny, nothing printed) instead of panicking.
///
/// A debug build stops there (`debug_assert!`) so tests and fuzzing find the broken invariant;
/// a release build, which gateways run, never panics and goes on down the fail-closed branch.
/// Writing `never!` rather than a silent default says which states are impossible and why.
///
/// ```
/// # use writ_stdx::never;
/// fn first(items: &[u32]) -> Option<u32> {
///     let Some(&item) = items.first() else {
///         never!("first() is called only on a non-empty list");
///         return None;
///     };
///     Some(item)
/// }
/// # assert_eq!(first(&[3]), Some(3));
/// ```
#[macro_export]
macro_rules! never {
    ($($message:tt)+) => {
        debug_assert!(false, $($message)+)
    };
}

/// Lower-case hexadecimal, two digits a byte: the one encoding of digests, keys and ids.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 15] {
            out.push(DIGITS.get(usize::from(nibble)).map_or('0', |&d| char::from(d)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
