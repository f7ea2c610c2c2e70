use super::*;
use proptest::prelude::*;

fn ts(text: &str) -> Timestamp {
    match Timestamp::parse(text) {
        Ok(t) => t,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn bad(text: &str) -> TimestampError {
    match Timestamp::parse(text) {
        Ok(t) => panic!("{text}: accepted as {t}"),
        Err(e) => e,
    }
}

/// Nanoseconds since the epoch, by jiff's own `Timestamp` (an independent conversion); `None`
/// where jiff's range (which ends on 9999-12-30T22:00:00Z) is narrower than RFC 3339's.
fn jiff_nanos(text: &str) -> Option<i128> {
    let t: jiff::Timestamp = text.parse().ok()?;
    Some(i128::from(t.as_second()) * NANOS + i128::from(t.subsec_nanosecond()))
}

fn jiff_seconds(text: &str) -> i128 {
    jiff_nanos(text).unwrap_or_else(|| panic!("{text}: not in jiff's range"))
}

#[test]
fn the_example_of_the_reference() {
    let t = ts("2026-12-02T16:00:00Z");
    assert_eq!(t.as_unix_nanos(), jiff_seconds("2026-12-02T16:00:00Z"));
    assert_eq!(t.to_string(), "2026-12-02T16:00:00Z");
}

#[test]
fn the_epoch() {
    assert_eq!(ts("1970-01-01T00:00:00Z").as_unix_nanos(), 0);
    assert_eq!(
        Timestamp::from_unix_seconds(0).map(|t| t.to_string()).as_deref(),
        Some("1970-01-01T00:00:00Z")
    );
    assert_eq!(ts("1969-12-31T23:59:59.999999999Z").as_unix_nanos(), -1);
    assert_eq!(ts("1969-12-31T23:59:59.999999999Z").to_string(), "1969-12-31T23:59:59.999999999Z");
}

#[test]
fn t_and_z_in_either_case() {
    let t = ts("2026-12-02T16:00:00Z");
    for text in ["2026-12-02t16:00:00Z", "2026-12-02T16:00:00z", "2026-12-02t16:00:00z"] {
        assert_eq!(ts(text), t, "{text}");
    }
}

#[test]
fn numeric_offsets() {
    let t = ts("2026-12-02T16:00:00Z");
    assert_eq!(ts("2026-12-02T17:00:00+01:00"), t);
    assert_eq!(ts("2026-12-02T10:30:00-05:30"), t);
    assert_eq!(ts("2026-12-02T16:00:00+00:00"), t);
    assert_eq!(ts("2026-12-02T16:00:00-00:00"), t, "RFC 3339's unknown offset is UTC");
    assert_eq!(ts("2026-12-03T15:59:00+23:59"), t);
    assert_eq!(ts("2026-12-01T16:01:00-23:59"), t);
    // An offset crossing a day, a month and a year.
    assert_eq!(ts("2027-01-01T01:00:00+02:00"), ts("2026-12-31T23:00:00Z"));
    // Printed back in UTC.
    assert_eq!(ts("2026-12-02T17:00:00+01:00").to_string(), "2026-12-02T16:00:00Z");
}

#[test]
fn offsets_out_of_range() {
    assert_eq!(bad("2026-12-02T16:00:00+24:00"), TimestampError::Offset);
    assert_eq!(bad("2026-12-02T16:00:00+01:60"), TimestampError::Offset);
    assert_eq!(bad("2026-12-02T16:00:00-99:00"), TimestampError::Offset);
}

#[test]
fn offsets_in_other_forms() {
    for text in [
        "2026-12-02T16:00:00+0200",
        "2026-12-02T16:00:00+02",
        "2026-12-02T16:00:00+2:00",
        "2026-12-02T16:00:00+02:0",
        "2026-12-02T16:00:00+02:00:00",
        "2026-12-02T16:00:00 +02:00",
        "2026-12-02T16:00:00UTC",
        "2026-12-02T16:00:00GMT",
        "2026-12-02T16:00:00",
        "2026-12-02T16:00:00ZZ",
        "2026-12-02T16:00:00Z ",
        "2026-12-02T16:00:00−02:00", // U+2212 MINUS SIGN
        "2026-12-02T16:00:00+０2:00",
    ] {
        assert_eq!(bad(text), TimestampError::Form, "{text}");
    }
}

#[test]
fn fractions() {
    let t = ts("2026-12-02T15:00:00Z").as_unix_nanos();
    assert_eq!(ts("2026-12-02T15:00:00.5Z").as_unix_nanos(), t + 500_000_000);
    assert_eq!(ts("2026-12-02T15:00:00.05Z").as_unix_nanos(), t + 50_000_000);
    assert_eq!(ts("2026-12-02T15:00:00.000000001Z").as_unix_nanos(), t + 1);
    assert_eq!(ts("2026-12-02T15:00:00.123456789Z").as_unix_nanos(), t + 123_456_789);
    assert_eq!(ts("2026-12-02T15:00:00.000000000Z").as_unix_nanos(), t);
    assert_eq!(
        ts("2026-12-02T15:00:00.999999999+01:00").as_unix_nanos(),
        t - 3600 * NANOS + 999_999_999
    );
    // Printed without trailing zeros, or without a fraction when it is zero.
    assert_eq!(ts("2026-12-02T15:00:00.500Z").to_string(), "2026-12-02T15:00:00.5Z");
    assert_eq!(ts("2026-12-02T15:00:00.0Z").to_string(), "2026-12-02T15:00:00Z");
    assert_eq!(ts("2026-12-02T15:00:00.120000009Z").to_string(), "2026-12-02T15:00:00.120000009Z");
}

#[test]
fn fractions_malformed_or_too_long() {
    assert_eq!(bad("2026-12-02T15:00:00.1234567891Z"), TimestampError::Fraction);
    assert_eq!(bad("2026-12-02T15:00:00.0000000000Z"), TimestampError::Fraction);
    assert_eq!(bad("2026-12-02T15:00:00.Z"), TimestampError::Form);
    assert_eq!(bad("2026-12-02T15:00:00,5Z"), TimestampError::Form);
    assert_eq!(bad("2026-12-02T15:00:00.5"), TimestampError::Form);
    assert_eq!(bad("2026-12-02T15:00:00.-5Z"), TimestampError::Form);
    assert_eq!(bad("2026-12-02T15:00:00..5Z"), TimestampError::Form);
}

#[test]
fn leap_seconds_are_refused() {
    assert_eq!(bad("2016-12-31T23:59:60Z"), TimestampError::LeapSecond);
    assert_eq!(bad("2016-12-31T23:59:60.5Z"), TimestampError::LeapSecond);
    assert_eq!(bad("2017-01-01T00:59:60+01:00"), TimestampError::LeapSecond);
}

#[test]
fn times_out_of_range() {
    assert_eq!(bad("2026-12-02T24:00:00Z"), TimestampError::Time);
    assert_eq!(bad("2026-12-02T12:60:00Z"), TimestampError::Time);
    assert_eq!(bad("2026-12-02T12:00:61Z"), TimestampError::Time);
    assert_eq!(bad("2026-12-02T99:99:99Z"), TimestampError::Time);
}

#[test]
fn dates_that_do_not_exist() {
    for text in [
        "2026-02-29T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
    ] {
        assert_eq!(bad(text), TimestampError::Date, "{text}");
    }
    // Leap years.
    ts("2028-02-29T00:00:00Z");
    ts("2000-02-29T00:00:00Z");
    ts("2026-12-31T23:59:59Z");
}

#[test]
fn other_forms_are_refused() {
    for text in [
        "",
        "2026-12-02 16:00:00Z",
        "2026-12-02_16:00:00Z",
        "2026-12-02",
        "2026-12-02T16:00Z",
        "2026-12-02T16:00:00Z[Europe/Paris]",
        "2026-12-02T16:00:00+01:00[Europe/Paris]",
        "2026-12-02T16:00:00Z[u-ca=iso8601]",
        "20261202T160000Z",
        "2026-12-2T16:00:00Z",
        "2026-1-02T16:00:00Z",
        "26-12-02T16:00:00Z",
        "+2026-12-02T16:00:00Z",
        "-2026-12-02T16:00:00Z",
        "+002026-12-02T16:00:00Z",
        "-000001-12-02T16:00:00Z",
        "2026-12-02T6:00:00Z",
        "2026-12-02T16:0:00Z",
        "2026-W49-3T16:00:00Z",
        "2026-336T16:00:00Z",
        " 2026-12-02T16:00:00Z",
        "2026-12-02T16:00:00.5.5Z",
        "２０２６-12-02T16:00:00Z",
        "2026-12-02T16:00:00\u{0}Z",
        "yesterday",
        "1764691200",
    ] {
        assert_eq!(bad(text), TimestampError::Form, "{text:?}");
    }
}

#[test]
fn the_years_0000_to_9999_in_utc() {
    assert_eq!(ts("0000-01-01T00:00:00Z"), Timestamp::MIN);
    assert_eq!(ts("9999-12-31T23:59:59.999999999Z"), Timestamp::MAX);
    assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00Z");
    assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999999Z");
    assert_eq!(ts("0000-01-01T01:00:00+01:00"), Timestamp::MIN);
    assert_eq!(bad("0000-01-01T00:59:59+01:00"), TimestampError::Range);
    assert_eq!(bad("9999-12-31T23:00:00-01:00"), TimestampError::Range);
    ts("9999-12-31T23:00:00+01:00");
    // Year 0000 is a leap year (proleptic Gregorian).
    ts("0000-02-29T00:00:00Z");
    assert_eq!(Timestamp::from_unix_nanos(MIN_NANOS - 1), None);
    assert_eq!(Timestamp::from_unix_nanos(MAX_NANOS + 1), None);
    // The bounds agree with jiff.
    assert_eq!(MIN_NANOS, jiff_seconds("0000-01-01T00:00:00Z"));
    assert_eq!(MAX_NANOS, jiff_seconds("9999-12-29T23:59:59.999999999Z") + 2 * 86_400 * NANOS);
    assert_eq!(jiff_nanos("9999-12-31T00:00:00Z"), None, "where jiff's Timestamp stops");
}

#[test]
fn ordered_by_time() {
    assert!(ts("2026-12-02T16:00:00Z") < ts("2026-12-02T16:00:00.000000001Z"));
    assert!(ts("2026-12-02T16:00:00+01:00") < ts("2026-12-02T16:00:00Z"));
    assert!(ts("1969-01-01T00:00:00Z") < ts("1970-01-01T00:00:00Z"));
}

#[test]
fn errors_have_reasons() {
    assert_eq!(TimestampError::LeapSecond.to_string(), "a leap second is refused");
    assert_eq!(TimestampError::Date.to_string(), "no such date");
}

/// RFC 3339 text for random instants and offsets, with jiff as the independent oracle.
fn rfc3339() -> impl Strategy<Value = (String, i128)> {
    (
        0i64..=2_932_896,
        0i64..86_400,
        prop_oneof![Just(None), (0u32..=9, 0i32..1_000_000_000).prop_map(Some)],
        prop_oneof![Just(None), (any::<bool>(), 0i32..=23, 0i32..=59).prop_map(Some)],
        any::<bool>(),
    )
        .prop_filter_map("in range", |(day, second, fraction, offset, lower)| {
            let nanos_in_second = match fraction {
                Some((digits, n)) => {
                    let scale = 10i32.pow(9 - digits);
                    if digits == 0 { 0 } else { (n / scale) * scale }
                }
                None => 0,
            };
            let local = jiff::civil::date(0, 1, 1)
                .to_datetime(jiff::civil::Time::midnight())
                .checked_add(SignedDuration::new(day * 86_400 + second, nanos_in_second))
                .ok()?;
            let mut text = format!(
                "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}",
                local.year(),
                local.month(),
                local.day(),
                if lower { 't' } else { 'T' },
                local.hour(),
                local.minute(),
                local.second()
            );
            if let Some((digits, _)) = fraction
                && digits > 0
            {
                let all = format!("{nanos_in_second:09}");
                text.push('.');
                text.push_str(all.get(..digits as usize)?);
            }
            let offset_seconds = match offset {
                None => {
                    text.push(if lower { 'z' } else { 'Z' });
                    0
                }
                Some((negative, h, m)) => {
                    text.push_str(&format!("{}{h:02}:{m:02}", if negative { '-' } else { '+' }));
                    if negative { -(h * 3600 + m * 60) } else { h * 3600 + m * 60 }
                }
            };
            let local_nanos = local.duration_since(EPOCH).as_nanos();
            let utc = local_nanos - i128::from(offset_seconds) * NANOS;
            (MIN_NANOS..=MAX_NANOS).contains(&utc).then_some((text, utc))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Every RFC 3339 timestamp in range parses to its instant, and prints back as text that
    /// parses to the same instant; jiff's own parser (which accepts a superset) agrees.
    #[test]
    fn parses_and_prints_back((text, nanos) in rfc3339()) {
        let t = Timestamp::parse(&text);
        prop_assert_eq!(t.map(Timestamp::as_unix_nanos), Ok(nanos), "{}", text);
        let t = Timestamp(nanos);
        let printed = t.to_string();
        prop_assert_eq!(Timestamp::parse(&printed), Ok(t), "{}", printed);
        if let Some(by_jiff) = jiff_nanos(&printed) {
            prop_assert_eq!(by_jiff, nanos, "{}", printed);
        }
        let year_10k_bound = printed.len() >= 20 && printed.ends_with('Z');
        prop_assert!(year_10k_bound, "{}", printed);
    }

    /// Any text at all: an answer, never a panic; and what is accepted prints back to itself
    /// (up to the offset, case and trailing zeros).
    #[test]
    fn never_panics(text in "[0-9T:.Zz+ -]{0,40}|\\PC{0,40}") {
        if let Ok(t) = Timestamp::parse(&text) {
            prop_assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        }
    }

    /// Mutating one byte of a valid timestamp: an answer, never a panic.
    #[test]
    fn one_byte_off((text, _) in rfc3339(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len());
        if let Some(b) = bytes.get_mut(i) {
            *b = byte;
        }
        if let Ok(text) = String::from_utf8(bytes)
            && let Ok(t) = Timestamp::parse(&text)
        {
            prop_assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        }
    }
}
