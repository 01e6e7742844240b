//! Skimming stream events: a byte scan that tells whether a provider parser would read
//! anything from one JSON stream event, so that the bulk of a stream (hundreds of content
//! deltas that carry only generated text) is not deserialised at all.
//!
//! Owns: the decision "this event needs a full parse". Does not own: what a provider reads
//! (each provider lists its [`Key`]s next to its parser) or JSON errors (a skimmed event is
//! not validated beyond its braces; every event a parser could learn from is fully parsed).
//!
//! Why it is exact for valid JSON: an object key equal to `usage` is written as the bytes
//! `"usage"` unless it uses `\u` escapes (no other escape can spell a letter). The scan
//! tokenises strings (honouring `\"`), so the string closed last before a colon outside any
//! string is that member's key; every key is checked, and text that merely looks like a key
//! (`"content":"usage: 1"`) is not one. Events with a `\u` escape are always parsed.

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
    // One forward pass that tokenises strings (so it knows which string is a key: the last
    // one closed before a colon) and looks at nothing else.
    let mut last = 0..0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match b.get(j) {
                        None => return true,
                        Some(b'"') => break,
                        Some(b'\\') if b.get(j + 1) == Some(&b'u') => return true,
                        Some(b'\\') => j += 2,
                        Some(_) => j += 1,
                    }
                }
                last = start..j;
                i = j + 1;
            }
            b':' => {
                let name = &b[last.clone()];
                let value = b[i + 1..].trim_ascii_start();
                if keys.iter().any(|k| {
                    k.name.len() == name.len()
                        && bytes_eq(k.name.as_bytes(), name)
                        && is_live(value, k.live)
                }) {
                    return true;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    false
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
