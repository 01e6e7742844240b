//! Skimming stream events: a byte scan that tells whether a provider parser would read
//! anything from one JSON stream event, so that the bulk of a stream (hundreds of content
//! deltas that carry only generated text) is not deserialised at all.
//!
//! Owns: the decision "this event needs a full parse". Does not own: what a provider reads
//! (each provider lists its [`Key`]s next to its parser) or JSON errors (a skimmed event is
//! not validated beyond its braces; every event a parser could learn from is fully parsed).
//!
//! Why it is exact for valid JSON: an object key equal to `usage` is written as the bytes
//! `"usage"` unless it uses `\u` escapes (no other escape can spell a letter), so events with
//! a `\u` escape are always parsed and the others are searched for the quoted names (one SIMD
//! multi-pattern pass, aho-corasick's Teddy). Inside a string every quote is escaped, so
//! `"usage"` cannot match there; a match is a key exactly when a colon follows it (a string
//! *value* equal to a name is followed by `,`, `}` or `]`).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind, packed};
use memchr::memmem::Finder;

/// What a key's value must look like for the parser to learn something from it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Live {
    /// Any value but `null` (optional fields: `null` reads as absent).
    NonNull,
    /// One of these string values, written without escapes (`"type": "message_stop"`).
    OneOf(&'static [&'static str]),
}

/// A key a provider parser reads, at any depth.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    /// Key name, without quotes.
    pub name: &'static str,
    /// When its value matters.
    pub live: Live,
}

/// The keys one provider parser reads, compiled into a searcher.
pub(crate) struct KeySet {
    keys: &'static [Key],
    /// Teddy (SIMD) where the CPU has it.
    packed: Option<packed::Searcher>,
    /// The same search without SIMD.
    quoted: AhoCorasick,
}

impl KeySet {
    /// Compiles `keys` (names must be plain ASCII identifiers).
    pub(crate) fn new(keys: &'static [Key]) -> Self {
        let patterns: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.name)).collect();
        Self {
            keys,
            packed: packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(&patterns)
                .build(),
            // Leftmost-first (non-overlapping) matches miss nothing in valid JSON: a closing
            // quote is followed by `:`, `,`, `}`, `]` or space, never by the opening quote of
            // another name. Fixed ASCII patterns from the source: building cannot fail.
            quoted: AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(&patterns)
                .unwrap_or_else(|e| unreachable!("{e}")),
        }
    }
}

static UNICODE_ESCAPE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\u"));

/// Whether `event` (one stream event's JSON bytes, not yet checked as UTF-8) must be fully
/// parsed: it does not look like a JSON object, it contains a `\u` escape, or one of the
/// keys occurs with a live value.
pub(crate) fn needs_parse(event: &[u8], keys: &KeySet) -> bool {
    #[cfg(test)]
    if DISABLED.get() {
        return true;
    }
    let b = event.trim_ascii();
    if b.first() != Some(&b'{') || b.last() != Some(&b'}') {
        return true;
    }
    if UNICODE_ESCAPE.find(b).is_some() {
        return true;
    }
    let live = |pattern: aho_corasick::PatternID, end: usize| {
        let key = &keys.keys[pattern.as_usize()];
        b[end..]
            .trim_ascii_start()
            .strip_prefix(b":")
            .is_some_and(|value| is_live(value.trim_ascii_start(), key.live))
    };
    match &keys.packed {
        Some(s) => s.find_iter(b).any(|m| live(m.pattern(), m.end())),
        None => keys.quoted.find_iter(b).any(|m| live(m.pattern(), m.end())),
    }
}

#[cfg(test)]
thread_local! {
    /// Tests turn skimming off to compare against parsing every event.
    pub(crate) static DISABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn is_live(value: &[u8], live: Live) -> bool {
    match live {
        Live::NonNull => !value.starts_with(b"null"),
        Live::OneOf(values) => values.iter().any(|v| {
            value
                .strip_prefix(b"\"")
                .and_then(|rest| rest.strip_prefix(v.as_bytes()))
                .is_some_and(|rest| rest.first() == Some(&b'"'))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static KEYS: LazyLock<KeySet> = LazyLock::new(|| KeySet::new(LIST));
    const LIST: &[Key] = &[
        Key {
            name: "usage",
            live: Live::NonNull,
        },
        Key {
            name: "type",
            live: Live::OneOf(&["message_stop", "error"]),
        },
    ];

    /// The same key set without the SIMD searcher, as on a CPU without SSSE3.
    fn scalar() -> KeySet {
        KeySet {
            packed: None,
            ..KeySet::new(LIST)
        }
    }

    #[test]
    fn content_deltas_are_skimmed() {
        for ev in [
            r#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#,
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"usage"}}"#,
            r#" {"a":"\"usage\": 1"} "#,
            r#"{"a":"type","b":"message_stop"}"#,
        ] {
            assert!(!needs_parse(ev.as_bytes(), &KEYS), "{ev}");
            assert!(!needs_parse(ev.as_bytes(), &scalar()), "{ev}");
        }
    }

    #[test]
    fn live_keys_and_doubtful_events_are_parsed() {
        for ev in [
            r#"{"usage":{"prompt_tokens":1}}"#,
            r#"{"x":{"usage" : 3}}"#,
            r#"{"type": "message_stop"}"#,
            r#"{"type":"error","error":{}}"#,
            r#"{"\u0075sage":{}}"#,
            r#"{"a":"\u00e9"}"#,
            r#"{"usage":{}"#,
            "[DONE]",
            "",
        ] {
            assert!(needs_parse(ev.as_bytes(), &KEYS), "{ev}");
            assert!(needs_parse(ev.as_bytes(), &scalar()), "{ev}");
        }
    }
}
