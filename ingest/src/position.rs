//! Source positions too large for an i64 (Kinesis sequence numbers, 56 decimal digits), stored
//! as Delta `txn` versions beside the key's ordinal, so both land in the same atomic commit.
//!
//! A position is a decimal number of at most [`DIGITS`] digits, split into [`PARTS`] parts of
//! 18 digits (each below 10^18 < 2^63), most significant first, each under its own app id
//! (`<key app id>/position/<i>`). Invariant: `decode(encode(p)) == p` for every decimal `p`
//! without leading zeros, and [`cmp`] orders positions as the numbers they are.

use std::cmp::Ordering;

/// Parts a position is split into.
pub const PARTS: usize = 4;
/// Digits per part.
const PART_DIGITS: usize = 18;
/// Longest position that can be stored.
pub const DIGITS: usize = PARTS * PART_DIGITS;

/// The app id of part `i` of the position of the key whose app id is `base`.
pub fn app_id(base: &str, i: usize) -> String {
    format!("{base}/position/{i}")
}

/// Splits a decimal position into txn versions; `None` if it is not a decimal number of at
/// most [`DIGITS`] digits.
pub fn encode(position: &str) -> Option<[i64; PARTS]> {
    if position.is_empty()
        || position.len() > DIGITS
        || !position.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let padded = format!("{position:0>DIGITS$}");
    let mut parts = [0; PARTS];
    for (i, part) in parts.iter_mut().enumerate() {
        *part = padded[i * PART_DIGITS..(i + 1) * PART_DIGITS]
            .parse()
            .expect("18 decimal digits fit an i64");
    }
    Some(parts)
}

/// Joins txn versions back into the position; `None` if any part is out of range.
pub fn decode(parts: [i64; PARTS]) -> Option<String> {
    let limit = 10_i64.pow(PART_DIGITS as u32);
    if parts.iter().any(|p| !(0..limit).contains(p)) {
        return None;
    }
    let joined: String = parts
        .iter()
        .map(|p| format!("{p:0>PART_DIGITS$}"))
        .collect();
    let trimmed = joined.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
}

/// Orders two decimal numbers without leading zeros by value.
pub fn cmp(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinesis_sequence_numbers_survive_the_round_trip() {
        for p in [
            "49590338271490256608559692538361571095921575989136588898",
            "1",
            "0",
            "999999999999999999",
            "1000000000000000000",
            &"9".repeat(DIGITS),
        ] {
            assert_eq!(decode(encode(p).unwrap()).as_deref(), Some(p));
        }
    }

    #[test]
    fn what_cannot_be_stored_is_refused() {
        assert_eq!(encode(""), None);
        assert_eq!(encode("12a"), None);
        assert_eq!(encode("-1"), None);
        assert_eq!(encode(&"1".repeat(DIGITS + 1)), None);
        assert_eq!(decode([0, 0, -1, 0]), None);
    }

    #[test]
    fn order_is_numeric() {
        assert_eq!(cmp("9", "10"), Ordering::Less);
        assert_eq!(cmp("495903", "495904"), Ordering::Less);
        assert_eq!(cmp("11", "11"), Ordering::Equal);
        assert_eq!(cmp("100", "99"), Ordering::Greater);
    }
}
