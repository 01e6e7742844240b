//! NDJSON encoding with the event size cap. When an event would exceed [`MAX_EVENT_BYTES`],
//! snippets are shortened, then dropped (`privacy.truncated = true`), then just enough
//! prompt segments are dropped from the end (`prompt.segments_truncated = true`). Hashes,
//! counts and costs are never dropped.

use std::borrow::Cow;

use super::LlmEvent;

/// Largest NDJSON line, newline included.
pub const MAX_EVENT_BYTES: usize = 10 * 1024;
/// Snippets are halved down to this length before being dropped.
const MIN_SNIPPET_CHARS: usize = 32;

/// One shrinking step for a line of `len` bytes; `false` when nothing is left to shrink.
fn shrink(ev: &mut LlmEvent, len: usize) -> bool {
    let longest = ev
        .prompt_segments
        .iter()
        .filter_map(|s| s.snippet.as_ref().map(|t| t.chars().count()))
        .max();
    match longest {
        Some(n) if n > MIN_SNIPPET_CHARS => {
            let keep = n / 2;
            for s in &mut ev.prompt_segments {
                if let Some(t) = &mut s.snippet {
                    let (cut, more) = crate::privacy::redact::truncate_chars(t, keep);
                    if more {
                        *t = cut.to_owned();
                        s.snippet_truncated = Some(true);
                    }
                }
            }
            ev.privacy_truncated = true;
            true
        }
        Some(_) => {
            for s in &mut ev.prompt_segments {
                s.snippet = None;
                s.snippet_truncated = Some(true);
            }
            ev.privacy_truncated = true;
            true
        }
        None if !ev.prompt_segments.is_empty() => {
            // Drop about as many trailing segments as the excess needs, at least one.
            let n = ev.prompt_segments.len();
            let per = serde_json::to_vec(&ev.prompt_segments)
                .map_or(1, |v| v.len() / n)
                .max(1);
            let excess = len.saturating_sub(MAX_EVENT_BYTES - 1);
            let drop = excess.div_ceil(per).clamp(1, n);
            ev.prompt_segments.truncate(n - drop);
            ev.prompt_segments_truncated = true;
            true
        }
        None => false,
    }
}

impl LlmEvent {
    /// The event as one NDJSON line (`\n`-terminated), at most [`MAX_EVENT_BYTES`] long.
    pub fn to_ndjson_line(&self) -> Vec<u8> {
        let mut ev = Cow::Borrowed(self);
        loop {
            // Serialising this struct cannot fail: string keys only, no custom serialisers
            // that error.
            // Sized for a typical event (2–3 KiB) so the line is not regrown while written.
            let mut line = Vec::with_capacity(4096);
            if serde_json::to_writer(&mut line, ev.as_ref()).is_err() {
                line.clear();
            }
            if line.len() < MAX_EVENT_BYTES || !shrink(ev.to_mut(), line.len()) {
                line.push(b'\n');
                if line.len() > MAX_EVENT_BYTES {
                    tracing::warn!(bytes = line.len(), "event over the size cap");
                }
                return line;
            }
        }
    }
}
