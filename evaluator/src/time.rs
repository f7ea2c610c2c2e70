//! Timestamps (LANGUAGE.md §10): the request's `time` and the `at` of its history entries.
//!
//! A timestamp is written in RFC 3339 (`2026-12-02T16:00:00Z`) and kept as an instant:
//! nanoseconds since the Unix epoch, UTC. The offset it was written with is not kept
//! (`2026-12-02T17:00:00+01:00` and `2026-12-02T16:00:00Z` are the same [`Timestamp`]), and it
//! prints back in UTC with `Z`.
//!
//! # What is accepted
//!
//! Exactly RFC 3339's `date-time` (section 5.6), checked character by character here, because
//! the usual parsers (jiff's included) accept more (a space for `T`, `+0200`, `[Europe/Paris]`
//! annotations, signed six-digit years, 24:00):
//!
//! ```text
//! YYYY-MM-DD ( "T" / "t" ) hh:mm:ss [ "." 1*9 DIGIT ] ( "Z" / "z" / ( "+" / "-" ) hh:mm )
//! ```
//!
//! - The calendar (month lengths, leap years) is jiff's: `2026-02-29` and `2026-02-30` are
//!   refused, `2028-02-29` accepted. Hours `00`–`23`, minutes and seconds `00`–`59`: a leap
//!   second `60` is refused (§10), and so is `24:00:00`.
//! - At least one and at most 9 fraction digits; the fraction is kept exactly (nanoseconds),
//!   never rounded.
//! - An offset's hours are `00`–`23` and its minutes `00`–`59` (RFC 3339's `time-numoffset`).
//!   `-00:00` (RFC 3339's "offset unknown") is the same instant as `Z`.
//! - The instant, in UTC, must lie in the years 0000 to 9999 (RFC 3339's range), so that it can
//!   always be printed back with `Z`: `0000-01-01T00:30:00+01:00` is refused.
//!
//! A timestamp that is not accepted is a shape error of the request (§10), naming the field.

use std::fmt;

use jiff::SignedDuration;
use jiff::civil::DateTime;

/// An instant: nanoseconds since 1970-01-01T00:00:00Z, within 0000-01-01T00:00:00Z and
/// 9999-12-31T23:59:59.999999999Z (inclusive). Ordered by time; `Display` prints RFC 3339 in
/// UTC (`2026-12-02T16:00:00Z`, `2026-12-02T15:00:00.5Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i128);

/// Nanoseconds in a second.
const NANOS: i128 = 1_000_000_000;

/// 0000-01-01T00:00:00Z in nanoseconds since the epoch (719,528 days before it).
const MIN_NANOS: i128 = -62_167_219_200 * NANOS;
/// 9999-12-31T23:59:59.999999999Z in nanoseconds since the epoch.
const MAX_NANOS: i128 = 253_402_300_800 * NANOS - 1;

/// Why a text is not an RFC 3339 timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampError {
    /// Not of the form `YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)`.
    Form,
    /// More than 9 fraction digits.
    Fraction,
    /// A date that does not exist (`2026-02-30`, month `13`, day `00`).
    Date,
    /// Seconds `60`.
    LeapSecond,
    /// An hour, minute or second out of range (`24:00:00`, `12:60:00`).
    Time,
    /// An offset whose hours exceed 23 or whose minutes exceed 59.
    Offset,
    /// The instant in UTC lies before year 0000 or after year 9999.
    Range,
}

impl TimestampError {
    /// Why, in a few words, for messages.
    pub fn reason(self) -> &'static str {
        match self {
            TimestampError::Form => {
                "not of the form YYYY-MM-DDThh:mm:ss with Z or an offset ±hh:mm"
            }
            TimestampError::Fraction => "more than 9 fraction digits",
            TimestampError::Date => "no such date",
            TimestampError::LeapSecond => "a leap second is refused",
            TimestampError::Time => "no such time of day",
            TimestampError::Offset => "offset out of range",
            TimestampError::Range => "outside the years 0000 to 9999 in UTC",
        }
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for TimestampError {}

/// 1970-01-01T00:00:00, the civil time of the epoch.
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

impl Timestamp {
    /// The earliest timestamp, 0000-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(MIN_NANOS);
    /// The latest timestamp, 9999-12-31T23:59:59.999999999Z.
    pub const MAX: Timestamp = Timestamp(MAX_NANOS);

    /// Parses an RFC 3339 timestamp (see the module documentation for exactly what is
    /// accepted).
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        parse(text.as_bytes())
    }

    /// The timestamp `nanos` nanoseconds after the epoch, if within [`Timestamp::MIN`] and
    /// [`Timestamp::MAX`].
    pub fn from_unix_nanos(nanos: i128) -> Option<Timestamp> {
        (MIN_NANOS..=MAX_NANOS).contains(&nanos).then_some(Timestamp(nanos))
    }

    /// The timestamp `seconds` seconds after the epoch, if within range.
    pub fn from_unix_seconds(seconds: i64) -> Option<Timestamp> {
        Timestamp::from_unix_nanos(i128::from(seconds) * NANOS)
    }

    /// Nanoseconds since the epoch (negative before it).
    pub fn as_unix_nanos(self) -> i128 {
        self.0
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(text)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC: `2026-12-02T16:00:00Z`; a fraction only when there is one, without
    /// trailing zeros (`.5`, `.000000001`). Parsing the output gives the same timestamp back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(NANOS);
        let nanos = self.0.rem_euclid(NANOS);
        // Within MIN..=MAX by construction, so both conversions succeed; were they ever to
        // fail, print the raw count rather than fail the formatter (`to_string` would panic).
        let civil = i64::try_from(seconds)
            .ok()
            .and_then(|s| EPOCH.checked_add(SignedDuration::from_secs(s)).ok());
        let Some(dt) = civil else {
            return write!(f, "@{}ns", self.0);
        };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        if nanos != 0 {
            let digits = format!("{nanos:09}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A fixed-width run of ASCII digits as a number; `None` if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<i32> {
    bytes.iter().try_fold(0i32, |n, &b| b.is_ascii_digit().then(|| n * 10 + i32::from(b - b'0')))
}

/// The two-digit number of `bytes[at..at + 2]`.
fn two(bytes: &[u8], at: usize) -> Result<i8, TimestampError> {
    let n = bytes.get(at..at + 2).and_then(digits).ok_or(TimestampError::Form)?;
    i8::try_from(n).map_err(|_| TimestampError::Form)
}

/// Whether `bytes[at]` is `c`.
fn byte_is(bytes: &[u8], at: usize, c: u8) -> bool {
    bytes.get(at) == Some(&c)
}

fn parse(bytes: &[u8]) -> Result<Timestamp, TimestampError> {
    use TimestampError as E;
    // `YYYY-MM-DDThh:mm:ss` is 19 bytes at fixed positions.
    let year = bytes.get(0..4).and_then(digits).ok_or(E::Form)?;
    let year = i16::try_from(year).map_err(|_| E::Form)?;
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, c)| byte_is(bytes, at, c))
        || !matches!(bytes.get(10), Some(b'T' | b't'))
    {
        return Err(E::Form);
    }
    let (month, day) = (two(bytes, 5)?, two(bytes, 8)?);
    let (hour, minute, second) = (two(bytes, 11)?, two(bytes, 14)?, two(bytes, 17)?);

    // An optional fraction: `.` and 1 to 9 digits (more is refused, not rounded).
    let mut at = 19;
    let mut nanos: i32 = 0;
    if byte_is(bytes, at, b'.') {
        let rest = bytes.get(at + 1..).unwrap_or_default();
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return Err(E::Form);
        }
        if n > 9 {
            return Err(E::Fraction);
        }
        let fraction = rest.get(..n).and_then(digits).ok_or(E::Form)?;
        nanos = fraction * 10i32.pow(9 - n as u32);
        at += 1 + n;
    }

    // The offset: `Z`, `z`, or `+hh:mm` / `-hh:mm`, and then the end.
    let offset_seconds = match bytes.get(at..) {
        Some(b"Z" | b"z") => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let (hours, minutes) = (two(bytes, at + 1)?, two(bytes, at + 4)?);
            if hours > 23 || minutes > 59 {
                return Err(E::Offset);
            }
            let seconds = i32::from(hours) * 3600 + i32::from(minutes) * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return Err(E::Form),
    };

    // The shape is RFC 3339's; now the values. The calendar is jiff's.
    if second == 60 {
        return Err(E::LeapSecond);
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(E::Time);
    }
    let civil =
        DateTime::new(year, month, day, hour, minute, second, nanos).map_err(|_| E::Date)?;
    let local = civil.duration_since(EPOCH).as_nanos();
    let utc = local - i128::from(offset_seconds) * NANOS;
    Timestamp::from_unix_nanos(utc).ok_or(E::Range)
}

#[cfg(test)]
mod tests;
