//! Incremental parsers for newline-framed streaming bodies: server-sent events
//! (`text/event-stream`) and newline-delimited JSON (`application/x-ndjson`, Ollama).
//!
//! Owns: line splitting across arbitrary chunk boundaries (CRLF, LF, CR), SSE field rules,
//! stamping each event with the timestamp of the chunk that completed it. Does not own:
//! transfer or content decoding (done before bytes get here) or size bounds (the body
//! pipeline bounds the bytes fed in, which bounds everything held here).

use bytes::Bytes;

use super::exchange::JsonLine;
use super::sse_events::{Slot, Span, SseEvents};

/// Splits bytes into lines ended by CRLF, LF or CR, holding a partial line between calls.
#[derive(Debug, Default)]
struct LineSplitter {
    line: Vec<u8>,
    after_cr: bool,
    cr_ends_line: bool,
}

impl LineSplitter {
    /// Feeds bytes; calls `f` with each completed line (without its terminator).
    fn feed(&mut self, mut data: &[u8], mut f: impl FnMut(&[u8])) {
        while !data.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if data[0] == b'\n' {
                    data = &data[1..];
                    continue;
                }
            }
            let end = if data[0] == b'\n' || (self.cr_ends_line && data[0] == b'\r') {
                // An empty line (an event's end in SSE): no search needed.
                Some(0)
            } else if self.cr_ends_line {
                memchr::memchr2(b'\n', b'\r', data)
            } else {
                memchr::memchr(b'\n', data)
            };
            let Some(i) = end else {
                self.line.extend_from_slice(data);
                return;
            };
            if self.line.is_empty() {
                f(&data[..i]);
            } else {
                self.line.extend_from_slice(&data[..i]);
                f(&self.line);
                self.line.clear();
            }
            self.after_cr = data[i] == b'\r';
            data = &data[i + 1..];
        }
    }

    /// The unterminated tail, if any, taken out.
    fn take_partial(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.line)
    }
}

/// Bytes reserved when a stream starts, so that a typical LLM stream (tens of KiB) grows its
/// buffer a couple of times rather than a dozen.
const INITIAL_BUF: usize = 16 * 1024;

/// Incremental `text/event-stream` parser.
#[derive(Debug)]
pub struct SseParser {
    lines: LineSplitter,
    events: Builder,
}

/// The events being built from completed lines (apart from the line splitter, so both can
/// be borrowed at once).
#[derive(Debug)]
struct Builder {
    first_line: bool,
    /// Every finished event's fields, then the data of the event being built (from
    /// `data_start`); frozen into the stream's [`SseEvents`] at the end.
    buf: Vec<u8>,
    data_start: usize,
    has_data: bool,
    /// `event` and `id` of the event being built (buffers reused from event to event);
    /// copied after the event's data at dispatch, so each data stays one contiguous span.
    event: Field,
    id: Field,
    retry_ms: Option<u64>,
    slots: Vec<Slot>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self {
            lines: LineSplitter {
                cr_ends_line: true,
                ..LineSplitter::default()
            },
            events: Builder {
                first_line: true,
                buf: Vec::new(),
                data_start: 0,
                has_data: false,
                event: Field::default(),
                id: Field::default(),
                retry_ms: None,
                slots: Vec::new(),
            },
        }
    }

    /// Feeds bytes of the stream; `ts` is the timestamp of the chunk that carried them.
    pub fn feed(&mut self, data: &[u8], ts: u64) {
        let events = &mut self.events;
        self.lines.feed(data, |line| events.line(line, ts));
    }

    /// Events completed so far.
    pub fn len(&self) -> usize {
        self.events.slots.len()
    }

    /// Whether no event has completed yet.
    pub fn is_empty(&self) -> bool {
        self.events.slots.is_empty()
    }

    /// Last `retry:` value seen, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.events.retry_ms
    }

    /// Ends the stream; an event without its terminating blank line is discarded (per the
    /// SSE specification). Returns the events.
    pub fn finish(mut self) -> SseEvents {
        let _ = self.lines.take_partial();
        let mut b = self.events;
        b.buf.truncate(b.data_start);
        SseEvents::from_parts(Bytes::from(b.buf), b.slots)
    }
}

impl Builder {
    #[inline]
    fn line(&mut self, mut line: &[u8], ts: u64) {
        if self.first_line {
            self.first_line = false;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(ts);
            return;
        }
        if line[0] == b':' {
            return;
        }
        if let Some(value) = line.strip_prefix(b"data:") {
            // The common line, without the search for its colon.
            self.data(value.strip_prefix(b" ").unwrap_or(value));
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => self.data(value),
            b"event" => self.event.set(value),
            b"id" if !value.contains(&0) => self.id.set(value),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry_ms = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => {}
        }
    }

    fn data(&mut self, value: &[u8]) {
        if self.buf.capacity() == 0 {
            // Reserved on the first data, so a stream that never sends any costs nothing.
            self.buf.reserve(INITIAL_BUF);
            self.slots.reserve(64);
        }
        if self.has_data {
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(value);
        self.has_data = true;
    }

    fn dispatch(&mut self, ts: u64) {
        if self.has_data {
            self.has_data = false;
            let data = Span::new(self.data_start, self.buf.len() - self.data_start);
            let event = self.event.copy_to(&mut self.buf);
            let id = self.id.copy_to(&mut self.buf);
            // Offsets fit in 32 bits: the body pipeline bounds the bytes fed in to at most
            // 1 GiB (validated), and the buffer never holds more than was fed in.
            if let (Some(data), Some(event), Some(id)) = (data, event, id) {
                self.slots.push(Slot {
                    data,
                    event,
                    id,
                    timestamp_ns: ts,
                });
            }
            self.data_start = self.buf.len();
        }
        self.event.clear();
        self.id.clear();
    }
}

/// A single-valued SSE field (`event`, `id`) whose buffer is reused.
#[derive(Debug, Default)]
struct Field {
    buf: Vec<u8>,
    set: bool,
}

impl Field {
    fn set(&mut self, value: &[u8]) {
        self.buf.clear();
        self.buf.extend_from_slice(value);
        self.set = true;
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.set = false;
    }

    /// Appends the value to `out`: `Some(None)` when the field was not set, `None` when the
    /// span does not fit in 32 bits.
    fn copy_to(&self, out: &mut Vec<u8>) -> Option<Option<Span>> {
        if !self.set {
            return Some(None);
        }
        let span = Span::new(out.len(), self.buf.len())?;
        out.extend_from_slice(&self.buf);
        Some(Some(span))
    }
}

/// Incremental newline-delimited JSON parser (one JSON value per line; blank lines skipped).
#[derive(Debug, Default)]
pub struct NdJsonParser {
    lines: LineSplitter,
    out: Vec<JsonLine>,
}

impl NdJsonParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; `ts` is the timestamp of the chunk that carried them.
    pub fn feed(&mut self, data: &[u8], ts: u64) {
        let out = &mut self.out;
        self.lines.feed(data, |line| push_line(out, line, ts));
    }

    /// Lines completed so far.
    pub fn lines(&self) -> &[JsonLine] {
        &self.out
    }

    /// Ends the stream: a last line without a newline still counts, stamped `ts`.
    pub fn finish(mut self, ts: u64) -> Vec<JsonLine> {
        let tail = self.lines.take_partial();
        push_line(&mut self.out, &tail, ts);
        self.out
    }
}

fn push_line(out: &mut Vec<JsonLine>, line: &[u8], ts: u64) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    out.push(JsonLine {
        line: Bytes::copy_from_slice(line),
        timestamp_ns: ts,
    });
}
