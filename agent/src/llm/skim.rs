//! Skimming stream events: a byte scan that tells whether a provider parser would read
//! anything from one JSON stream event, so that the bulk of a stream (hundreds of content
//! deltas that carry only generated text) is not deserialised at all.
//!
//! Owns: the decision "this event needs a full parse". Does not own: what a provider reads
//! (each provider lists its [`Key`]s next to its parser) or JSON errors (a skimmed event is
//! not validated beyond its braces; every event a parser could learn from is fully parsed).
//!
//! Why it is exact for valid JSON: an object key equal to `usage` is written as the bytes
//! `"usage"` unless it uses `\u` escapes (no other escape can spell a letter), and every key
//! is followed by optional whitespace and a colon. The scan looks back from every colon, so
//! it sees every key; an escaped quote in a string is preceded by a backslash and never
//! matches a key's closing quote. Events containing `\u` anywhere are always parsed. Text
//! that merely looks like a key (`"content":"usage: 1"`) only costs a full parse.

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

/// Whether `event` (one stream event's JSON bytes, not yet checked as UTF-8) must be fully
/// parsed: it does not look like a JSON object, it contains a `\u` escape, or one of `keys`
/// occurs with a live value.
pub(crate) fn needs_parse(event: &[u8], keys: &[Key]) -> bool {
    #[cfg(test)]
    if DISABLED.get() {
        return true;
    }
    let b = event.trim_ascii();
    if b.first() != Some(&b'{') || b.last() != Some(&b'}') {
        return true;
    }
    let longest = keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
    // One pass over colons and backslashes. Every key is followed by optional whitespace
    // and a colon: look back from each colon for `"name"`.
    memchr::memchr2_iter(b':', b'\\', b).any(|colon| {
        if b[colon] == b'\\' {
            return b.get(colon + 1) == Some(&b'u');
        }
        let Some(close) = b[..colon].iter().rposition(|c| !c.is_ascii_whitespace()) else {
            return false;
        };
        if b[close] != b'"' {
            return false;
        }
        let window = &b[close.saturating_sub(longest + 1)..close];
        let Some(open) = window.iter().rposition(|&c| c == b'"') else {
            return false;
        };
        let name = &window[open + 1..];
        keys.iter().any(|k| {
            k.name.len() == name.len()
                && bytes_eq(k.name.as_bytes(), name)
                && is_live(b[colon + 1..].trim_ascii_start(), k.live)
        })
    })
}

/// Byte equality of two short slices of equal length, without a `memcmp` call.
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
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
            let v = v.as_bytes();
            value.len() > v.len() + 1
                && value[0] == b'"'
                && value[v.len() + 1] == b'"'
                && bytes_eq(v, &value[1..=v.len()])
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[Key] = &[
        Key {
            name: "usage",
            live: Live::NonNull,
        },
        Key {
            name: "type",
            live: Live::OneOf(&["message_stop", "error"]),
        },
    ];

    #[test]
    fn content_deltas_are_skimmed() {
        for ev in [
            r#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#,
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"usage"}}"#,
            r#" {"a":"\"usage\": 1"} "#,
            r#"{"a":"type","b":"message_stop"}"#,
        ] {
            assert!(!needs_parse(ev.as_bytes(), KEYS), "{ev}");
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
            assert!(needs_parse(ev.as_bytes(), KEYS), "{ev}");
        }
    }
}
