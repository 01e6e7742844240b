//! Incremental parsers for newline-framed streaming bodies: server-sent events
//! (`text/event-stream`) and newline-delimited JSON (`application/x-ndjson`, Ollama).
//!
//! Owns: line splitting across arbitrary chunk boundaries (CRLF, LF, CR), SSE field rules,
//! stamping each event with the timestamp of the chunk that completed it. Does not own:
//! transfer or content decoding (done before bytes get here) or size bounds (the body
//! pipeline bounds the bytes fed in, which bounds everything held here).

use bytes::{Bytes, BytesMut};

use super::exchange::{JsonLine, SseEvent};

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
            let end = if self.cr_ends_line {
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

/// Bytes reserved at a time for event data: events are slices of these blocks, so a stream
/// of small events costs one allocation per block, not one per event.
const ARENA_BLOCK: usize = 16 * 1024;

/// Incremental `text/event-stream` parser.
#[derive(Debug)]
pub struct SseParser {
    lines: LineSplitter,
    first_line: bool,
    /// Data of the event being built, then its `event` and `id` values; split off as
    /// `Bytes` at dispatch.
    arena: BytesMut,
    has_data: bool,
    /// `event` and `id` of the event being built (buffers reused from event to event).
    event: Field,
    id: Field,
    retry_ms: Option<u64>,
    events: Vec<SseEvent>,
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
            first_line: true,
            arena: BytesMut::new(),
            has_data: false,
            event: Field::default(),
            id: Field::default(),
            retry_ms: None,
            events: Vec::new(),
        }
    }

    /// Feeds bytes of the stream; `ts` is the timestamp of the chunk that carried them.
    pub fn feed(&mut self, data: &[u8], ts: u64) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(data, |line| self.line(line, ts));
        self.lines = lines;
    }

    /// Events completed so far.
    pub fn events(&self) -> &[SseEvent] {
        &self.events
    }

    /// Last `retry:` value seen, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Ends the stream; an event without its terminating blank line is discarded (per the
    /// SSE specification). Returns the events.
    pub fn finish(mut self) -> Vec<SseEvent> {
        let _ = self.lines.take_partial();
        self.events
    }

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
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.event.set(value),
            b"data" => {
                let extra = usize::from(self.has_data) + value.len();
                reserve(&mut self.arena, extra);
                if self.has_data {
                    self.arena.extend_from_slice(b"\n");
                }
                self.arena.extend_from_slice(value);
                self.has_data = true;
            }
            b"id" if !value.contains(&0) => self.id.set(value),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry_ms = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, ts: u64) {
        if self.has_data {
            self.has_data = false;
            let data = self.arena.split().freeze();
            let event = self.event.split_into(&mut self.arena);
            let id = self.id.split_into(&mut self.arena);
            self.events.push(SseEvent {
                event,
                data,
                id,
                timestamp_ns: ts,
            });
        }
        self.event.clear();
        self.id.clear();
    }
}

/// Makes room in `arena` for `extra` more bytes, a whole block at a time.
fn reserve(arena: &mut BytesMut, extra: usize) {
    if arena.capacity() - arena.len() < extra {
        arena.reserve(extra.max(ARENA_BLOCK));
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

    /// The value as a slice of `arena` (copied to its end), if the field was set.
    fn split_into(&self, arena: &mut BytesMut) -> Option<Bytes> {
        self.set.then(|| {
            reserve(arena, self.buf.len());
            arena.extend_from_slice(&self.buf);
            arena.split().freeze()
        })
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
