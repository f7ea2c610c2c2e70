//! Decision ids: UUIDv7 (the millisecond it was decided, then 74 random bits), made without a
//! system call or a lock. `Uuid::now_v7` asks the kernel for randomness (`getrandom`) and takes
//! a shared lock for every id, which at tens of thousands of decisions per second is a
//! measurable part of a decision's cost; here each thread seeds a SplitMix64 generator once
//! from `Uuid::now_v7` and draws from it.
//!
//! Ids only need to be unique, not unpredictable: they name log lines, they grant nothing.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::{Builder, Uuid};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let (high, low) = Uuid::now_v7().as_u64_pair();
    // The low half is 62 random bits; the high half adds the time, so threads seeded in the
    // same millisecond still differ by their random bits.
    low ^ high.rotate_left(29)
}

/// SplitMix64 (Steele, Lea and Flood): a full-period 64-bit generator.
fn next(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    state.set(s);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A new id for a decision made at `at`, hyphenated (36 characters).
pub fn new_id(at: SystemTime) -> String {
    let millis = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let (a, b) = STATE.with(|state| (next(state), next(state)));
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&a.to_le_bytes());
    random[8..].copy_from_slice(&b.to_le_bytes()[..2]);
    let id = Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut buffer = Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut buffer).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_uuids_and_distinct() {
        let at = SystemTime::now();
        let ids: Vec<String> = (0..1000).map(|_| new_id(at)).collect();
        for id in &ids {
            let parsed = Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(id.len(), 36);
            assert_eq!(id, &parsed.hyphenated().to_string());
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        let millis = at.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let (seconds, nanos) = Uuid::parse_str(&ids[0]).unwrap().get_timestamp().unwrap().to_unix();
        assert_eq!(seconds * 1000 + u64::from(nanos) / 1_000_000, millis);
    }
}
