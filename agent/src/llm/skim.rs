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
//! *value* equal to a name is followed by `,`, `}` or `]`). Names marked [`Live::Anywhere`]
//! count as keys or as string values (`"type": "message_stop"`), which over-parses at worst.

use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind, packed};
use memchr::memmem::Finder;

use crate::reassembly::exchange::SseEvents;

/// What a key's value must look like for the parser to learn something from it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Live {
    /// Any value but `null` (optional fields: `null` reads as absent).
    NonNull,
    /// The quoted name anywhere, as a key or as a string value: for values a parser looks
    /// for (`"message_stop"` in `"type": "message_stop"`). Cheaper than matching the key
    /// when the key (`type`) is in every event and the value in almost none.
    Anywhere,
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

/// For each event of `events`, whether it must be fully parsed: its data does not look like
/// a JSON object, contains a `\u` escape, or has one of the keys with a live value.
///
/// One search over the stream's whole buffer, not one per event (a per-call search setup
/// cost as much as the search itself on events of ~100 bytes). A match is attributed to the
/// event whose data it starts in. No match can straddle an object event's edge: patterns
/// are a quoted name or `\u`, and an object's data starts with `{` and ends with `}` (plus
/// whitespace), bytes no pattern contains; matches outside any data (`event:` values) are
/// ignored.
pub(crate) fn events_to_parse(events: &SseEvents, keys: &KeySet) -> Vec<bool> {
    let buf = events.buffer();
    let ranges: Vec<Range<usize>> = events.data_ranges().collect();
    #[cfg(test)]
    if DISABLED.get() {
        return vec![true; ranges.len()];
    }
    // Spans always lie within the buffer (`SseEvents` builds them); a span that did not
    // would make its event parsed, never a panic.
    let mut parse: Vec<bool> = ranges
        .iter()
        .map(|r| buf.get(r.clone()).is_none_or(|d| !is_object(d)))
        .collect();
    let mut owner = Owner::new(&ranges);
    for pos in UNICODE_ESCAPE.find_iter(buf) {
        if let Some(i) = owner.at(pos) {
            parse[i] = true;
        }
    }
    let mut owner = Owner::new(&ranges);
    let mut on_match = |pattern: aho_corasick::PatternID, start: usize, end: usize| {
        if let Some(i) = owner.at(start)
            && !parse[i]
            && end <= ranges[i].end
            && buf
                .get(end..ranges[i].end)
                .is_some_and(|after| is_live_key(after, &keys.keys[pattern.as_usize()]))
        {
            parse[i] = true;
        }
    };
    match &keys.packed {
        Some(s) => s
            .find_iter(buf)
            .for_each(|m| on_match(m.pattern(), m.start(), m.end())),
        None => keys
            .quoted
            .find_iter(buf)
            .for_each(|m| on_match(m.pattern(), m.start(), m.end())),
    }
    parse
}

/// Which event's data a position is in, for positions given in increasing order.
struct Owner<'r> {
    ranges: &'r [Range<usize>],
    next: usize,
}

impl<'r> Owner<'r> {
    fn new(ranges: &'r [Range<usize>]) -> Self {
        Self { ranges, next: 0 }
    }

    fn at(&mut self, pos: usize) -> Option<usize> {
        while self.ranges.get(self.next).is_some_and(|r| r.end <= pos) {
            self.next += 1;
        }
        self.ranges
            .get(self.next)
            .is_some_and(|r| r.start <= pos)
            .then_some(self.next)
    }
}

fn is_object(data: &[u8]) -> bool {
    let b = data.trim_ascii();
    b.first() == Some(&b'{') && b.last() == Some(&b'}')
}

/// Whether the bytes after a quoted key name (up to the end of its event) are a colon and
/// a value the parser learns from.
fn is_live_key(after: &[u8], key: &Key) -> bool {
    if let Live::Anywhere = key.live {
        return true;
    }
    after
        .trim_ascii_start()
        .strip_prefix(b":")
        .is_some_and(|value| is_live(value.trim_ascii_start(), key.live))
}

/// The same decision for one event on its own: the reference the batched search is tested
/// against.
#[cfg(test)]
pub(crate) fn needs_parse(event: &[u8], keys: &KeySet) -> bool {
    if !is_object(event) || UNICODE_ESCAPE.find(event).is_some() {
        return true;
    }
    let live = |pattern: aho_corasick::PatternID, end: usize| {
        is_live_key(&event[end..], &keys.keys[pattern.as_usize()])
    };
    match &keys.packed {
        Some(s) => s.find_iter(event).any(|m| live(m.pattern(), m.end())),
        None => keys
            .quoted
            .find_iter(event)
            .any(|m| live(m.pattern(), m.end())),
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
        Live::Anywhere => true,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::reassembly::exchange::SseEvent;

    static KEYS: LazyLock<KeySet> = LazyLock::new(|| KeySet::new(LIST));
    const LIST: &[Key] = &[
        Key {
            name: "usage",
            live: Live::NonNull,
        },
        Key {
            name: "message_stop",
            live: Live::Anywhere,
        },
        Key {
            name: "error",
            live: Live::Anywhere,
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
            r#"{"a":"type","b":"message_stopped"}"#,
            r#"{"type":"content_block_delta","delta":{"text":"\"message_stop\""}}"#,
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

    /// The batched search over a whole stream decides every event as the per-event search
    /// does, whatever sits between the events' data in the buffer (here: `event:` values
    /// that contain key names).
    #[test]
    fn one_search_over_the_stream_decides_like_one_per_event() {
        let pool = [
            r#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#,
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"usage"}}"#,
            r#" {"a":"\"usage\": 1"} "#,
            r#"{"usage":{"prompt_tokens":1}}"#,
            r#"{"x":{"usage" : 3}}"#,
            r#"{"type": "message_stop"}"#,
            r#"{"a":"\u00e9"}"#,
            r#"{"usage":{}"#,
            r#"x"usa"#,
            r#"ge": 1}"#,
            "\\",
            "u",
            "[DONE]",
            "",
        ];
        let names = [r#""usage": 1"#, r#""type":"error"#, "\\", "message_stop"];
        let mut rng = fastrand::Rng::with_seed(5);
        let scalar = scalar();
        for _ in 0..2000 {
            let picked: Vec<&str> = (0..rng.usize(0..8))
                .map(|_| pool[rng.usize(..pool.len())])
                .collect();
            let stream: SseEvents = picked
                .iter()
                .map(|d| SseEvent {
                    event: rng
                        .bool()
                        .then(|| Bytes::from_static(names[rng.usize(..names.len())].as_bytes())),
                    data: Bytes::copy_from_slice(d.as_bytes()),
                    ..SseEvent::default()
                })
                .collect();
            for keys in [&*KEYS, &scalar] {
                let one_by_one: Vec<bool> = picked
                    .iter()
                    .map(|d| needs_parse(d.as_bytes(), keys))
                    .collect();
                assert_eq!(events_to_parse(&stream, keys), one_by_one, "{picked:?}");
            }
        }
    }
}
