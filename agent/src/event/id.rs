//! Event ids: UUIDv7 (RFC 9562), time-ordered by the millisecond, without a system call per
//! event.
//!
//! The 74 bits after the timestamp come from a per-thread generator: a 128-bit seed read once
//! from the OS (`getrandom`), then a counter passed through a bijective mixer. Ids from one
//! thread never repeat (the mixer is a permutation of the counter), and ids from different
//! threads or nodes collide only if two 64-bit random seeds do. They are identifiers, not
//! secrets: nothing derives from them, and they are not keyed like the hashes in `privacy`.
//!
//! Not here: the event's other fields (`build`).

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::{Builder, Uuid};

thread_local! {
    /// (seed, counter) of this thread's generator; the seed is drawn on first use.
    static STATE: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// SplitMix64's output function: a bijection on `u64` that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 10 bytes UUIDv7 takes after the timestamp. It keeps 74 of their 80 bits (the high
/// nibble of byte 0 and the top two bits of byte 2 become version and variant), so the bytes
/// are laid out to keep all 64 bits of the permuted counter plus 10 more mixed bits.
fn next_random() -> [u8; 10] {
    let (seed, n) = STATE.with(|s| {
        let (seed, n) = s.get().unwrap_or_else(|| {
            let mut b = [0u8; 16];
            // Without an OS source (never seen on Linux ≥ 3.17), ids stay unique per thread
            // and time-ordered; only cross-node uniqueness rests on the clock.
            let _ = getrandom::fill(&mut b);
            let (a, c) = b.split_at(8);
            let word = |h: &[u8]| u64::from_le_bytes(h.try_into().unwrap_or_default());
            (word(a), word(c))
        });
        s.set(Some((seed, n.wrapping_add(1))));
        (seed, n)
    });
    // A bijection of the counter: distinct for every id this thread makes.
    let unique = mix(n) ^ seed;
    let extra = mix(unique ^ n.rotate_left(32)) & 0x3ff;
    let bits74 = (u128::from(unique) << 10) | u128::from(extra);
    let rand_a = (bits74 >> 62) as u16; // 12 bits
    let rand_b = (bits74 as u64) & ((1 << 62) - 1); // 62 bits
    let mut out = [0u8; 10];
    out[..2].copy_from_slice(&rand_a.to_be_bytes());
    out[2..].copy_from_slice(&rand_b.to_be_bytes());
    out
}

/// A fresh UUIDv7 for an event observed at `now`.
pub fn event_id(now: SystemTime) -> Uuid {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Builder::from_unix_timestamp_millis(ms, &next_random()).into_uuid()
}

/// [`event_id`] as the 36-character lower-case hyphenated text events carry.
pub fn event_id_text(now: SystemTime) -> String {
    let mut buf = [0u8; 36];
    event_id(now).hyphenated().encode_lower(&mut buf).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::Duration;

    #[test]
    fn ids_are_v7_carry_the_time_and_do_not_repeat() {
        let at = UNIX_EPOCH + Duration::from_millis(1_767_323_045_678);
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let id = event_id(at);
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = id.get_timestamp().expect("v7 has one").to_unix();
            assert_eq!((secs, nanos / 1_000_000), (1_767_323_045, 678));
            assert!(seen.insert(id), "repeated id");
        }
    }

    /// All 64 bits of the permuted counter survive the version and variant bits, so ids of
    /// one thread in one millisecond cannot collide.
    #[test]
    fn the_counter_survives_the_version_and_variant_bits() {
        for n in [0u64, 1, u64::MAX, 0x8000_0000_0000_0000] {
            STATE.with(|s| s.set(Some((0, n))));
            let id = event_id(UNIX_EPOCH).as_u128();
            let kept = ((id >> 64) & 0xfff) << 62 | (id & ((1 << 62) - 1));
            assert_eq!((kept >> 10) as u64, mix(n), "counter {n:#x}");
        }
    }

    #[test]
    fn text_form_is_hyphenated_lower_case() {
        let t = event_id_text(SystemTime::now());
        assert_eq!(t.len(), 36);
        assert!(Uuid::parse_str(&t).is_ok());
        assert_eq!(t, t.to_ascii_lowercase());
        assert_eq!(&t[14..15], "7");
    }

    #[test]
    fn other_threads_draw_other_seeds() {
        let at = SystemTime::now();
        let here = event_id(at);
        let there = std::thread::spawn(move || event_id(at))
            .join()
            .expect("thread");
        assert_ne!(here, there);
    }
}
