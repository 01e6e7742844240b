//! Keyed hashing of prompt segments and identifiers: HMAC-SHA256 under the operator's
//! [`Salt`]. Owns the hash construction and its output encoding; not where the salt comes
//! from (`salt.rs`) nor what the segments are (the LLM stage).
//!
//! # Construction (all HMAC-SHA256 keyed with the salt; `‖` is concatenation)
//! * segment hash `s_i = HMAC("llmtap/v1/segment\0" ‖ text_i)`, where `text_i` is the segment's
//!   text exactly as the LLM stage gives it: the segment's compact JSON (serde_json, no
//!   whitespace, keys in wire order), UTF-8.
//! * prefix chain `c_0 = HMAC("llmtap/v1/chain\0" ‖ s_0)`,
//!   `c_i = HMAC("llmtap/v1/chain\0" ‖ c_{i-1} ‖ s_i)`: equal `c_i` ⇔ equal prompt prefix
//!   up to segment `i`.
//! * prompt fingerprint `HMAC("llmtap/v1/prompt\0" ‖ c_last)`.
//! * other identifiers (request ids) `HMAC("llmtap/v1/id\0" ‖ value)`.
//!
//! Chaining uses the full 32-byte values; the output is lowercase hex of the first 16 bytes
//! (32 hex chars, 128 bits). A segment whose text was truncated by the LLM stage gets no hash,
//! and neither it nor later segments get a chain value; the fingerprint is then absent too.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Salt;
use crate::llm::PromptSegment;

type HmacSha256 = Hmac<Sha256>;

/// Hex characters in an output hash.
pub const HASH_HEX_LEN: usize = 32;

const SEGMENT: &[u8] = b"llmtap/v1/segment\0";
const CHAIN: &[u8] = b"llmtap/v1/chain\0";
const PROMPT: &[u8] = b"llmtap/v1/prompt\0";
const ID: &[u8] = b"llmtap/v1/id\0";

/// Keyed hasher; cheap to clone. `Debug` shows no key material.
#[derive(Clone)]
pub struct KeyedHasher {
    /// HMAC with the salt already absorbed: each hash clones it instead of hashing the key
    /// blocks again (two SHA-256 compressions saved per hash).
    keyed: HmacSha256,
}

impl std::fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedHasher").finish_non_exhaustive()
    }
}

/// Hashes of one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentHashes {
    /// `s_i`, hex; `None` when the segment text was truncated.
    pub hash: Option<String>,
    /// `c_i`, hex; `None` from the first truncated segment on.
    pub chain: Option<String>,
}

/// Hashes of a whole prompt.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PromptHashes {
    /// Whole-prompt fingerprint; `None` without segments or with a truncated one.
    pub fingerprint: Option<String>,
    /// Per segment, in order.
    pub segments: Vec<SegmentHashes>,
}

/// Lowercase hex of the first 16 bytes.
fn hex128(d: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(HASH_HEX_LEN);
    for b in &d[..HASH_HEX_LEN / 2] {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

impl KeyedHasher {
    /// A hasher keyed with `salt`.
    pub fn new(salt: Salt) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = <HmacSha256 as Mac>::new_from_slice(salt.bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        KeyedHasher { keyed }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.keyed.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Keyed hash of an identifier (request id), hex.
    pub fn hash_id(&self, value: &str) -> String {
        hex128(&self.mac(&[ID, value.as_bytes()]))
    }

    /// Segment hashes, prefix chain and fingerprint of `segments`.
    pub fn hash_prompt(&self, segments: &[PromptSegment]) -> PromptHashes {
        let mut out = Vec::with_capacity(segments.len());
        let mut chain: Option<[u8; 32]> = None;
        let mut broken = false;
        for seg in segments {
            if seg.text_truncated {
                broken = true;
                out.push(SegmentHashes {
                    hash: None,
                    chain: None,
                });
                continue;
            }
            let s = self.mac(&[SEGMENT, seg.text.as_bytes()]);
            let c = match chain {
                None => self.mac(&[CHAIN, &s]),
                Some(prev) => self.mac(&[CHAIN, &prev, &s]),
            };
            chain = Some(c);
            out.push(SegmentHashes {
                hash: Some(hex128(&s)),
                chain: (!broken).then(|| hex128(&c)),
            });
        }
        let fingerprint = match chain {
            Some(c) if !broken => Some(hex128(&self.mac(&[PROMPT, &c]))),
            _ => None,
        };
        PromptHashes {
            fingerprint,
            segments: out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::SegmentKind;

    fn seg(text: &str) -> PromptSegment {
        PromptSegment {
            kind: SegmentKind::Message,
            role: Some("user".into()),
            index: 0,
            message_index: None,
            cache_control: None,
            text: text.into(),
            text_truncated: false,
        }
    }

    fn hasher(b: u8) -> KeyedHasher {
        KeyedHasher::new(Salt::from_bytes(vec![b; 32]).expect("long enough"))
    }

    /// Known answers (from Python's `hmac` module): the construction never changes
    /// silently, since consumers compare hashes across agent versions.
    #[test]
    fn known_answers() {
        let h = hasher(1);
        assert_eq!(h.hash_id("abc"), "8a429ed0b5a1ef600a17b58c2a2724ee");
        let p = h.hash_prompt(&[seg("hi")]);
        assert_eq!(
            p.segments[0].hash.as_deref(),
            Some("ca8216b0fc6cd6c02fb8c8e8f78b2299")
        );
        assert_eq!(
            p.segments[0].chain.as_deref(),
            Some("413d151b4aa22d5f906f6985f78e2941")
        );
        assert_eq!(
            p.fingerprint.as_deref(),
            Some("9968a6b06181eb976794fe78460ba60c")
        );
    }

    #[test]
    fn same_salt_same_prompt_same_hashes() {
        let p = [seg(r#"{"role":"user","content":"hi"}"#), seg("b")];
        assert_eq!(hasher(1).hash_prompt(&p), hasher(1).hash_prompt(&p));
    }

    #[test]
    fn different_salts_differ() {
        let p = [seg("a")];
        let (a, b) = (hasher(1).hash_prompt(&p), hasher(2).hash_prompt(&p));
        assert_ne!(a.fingerprint, b.fingerprint);
        assert_ne!(a.segments[0].hash, b.segments[0].hash);
    }

    #[test]
    fn chain_tracks_prefix_and_fingerprint_whole_prompt() {
        let h = hasher(3);
        let x = h.hash_prompt(&[seg("a"), seg("b"), seg("c")]);
        let y = h.hash_prompt(&[seg("a"), seg("b"), seg("z")]);
        assert_eq!(x.segments[1], y.segments[1]);
        assert_ne!(x.segments[2].chain, y.segments[2].chain);
        assert_ne!(x.fingerprint, y.fingerprint);
        // Same segment at another position: same hash, other chain.
        let z = h.hash_prompt(&[seg("b")]);
        assert_eq!(z.segments[0].hash, x.segments[1].hash);
        assert_ne!(z.segments[0].chain, x.segments[1].chain);
        let fp = x.fingerprint.expect("fingerprint");
        assert_eq!(fp.len(), HASH_HEX_LEN);
        assert!(
            fp.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn truncated_segment_breaks_chain_and_fingerprint() {
        let mut t = seg("b");
        t.text_truncated = true;
        let x = hasher(4).hash_prompt(&[seg("a"), t, seg("c")]);
        assert!(x.segments[0].chain.is_some());
        assert_eq!(x.segments[1].hash, None);
        assert!(x.segments[2].hash.is_some() && x.segments[2].chain.is_none());
        assert_eq!(x.fingerprint, None);
        assert_eq!(hasher(4).hash_prompt(&[]).fingerprint, None);
    }

    #[test]
    fn id_hash_is_keyed() {
        assert_ne!(hasher(1).hash_id("req_1"), hasher(2).hash_id("req_1"));
        assert_eq!(hasher(1).hash_id("req_1").len(), HASH_HEX_LEN);
    }
}
