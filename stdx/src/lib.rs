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

/// A string as a writ string literal, in the one canonical form every printer uses (the
/// formatter, diagnostics, decision reasons, `writ reach`, `writ import`): `\"`, `\\`, `\n`,
/// `\t` escaped, and `\u{...}` for control characters and for invisible characters that could
/// hide what the text says (zero-width spaces, bidirectional controls). The grammar reads every
/// such literal back to `value`.
pub fn quote(value: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if hides_text(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:X}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters a literal shows escaped: controls, and invisible ones that could make two
/// different strings look alike.
fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn quote_escapes_what_would_break_or_hide_the_literal() {
        assert_eq!(super::quote("plain"), "\"plain\"");
        assert_eq!(super::quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(super::quote("l1\nl2\tx"), "\"l1\\nl2\\tx\"");
        assert_eq!(super::quote("\r\u{0}"), "\"\\u{D}\\u{0}\"");
        assert_eq!(super::quote("a\u{200B}b\u{202E}"), "\"a\\u{200B}b\\u{202E}\"");
        assert_eq!(super::quote("héllo 😀"), "\"héllo 😀\"");
    }

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
