//! The events of one `text/event-stream` body, as the reassembly stage hands them on.
//!
//! Owns: the storage of a finished stream (every event's fields are spans of one buffer) and
//! the ways to read it. Does not own: SSE parsing ([`super::sse`]) or what an event means
//! (the LLM stage).
//!
//! One buffer instead of one allocation per field: a stream of hundreds of small events
//! costs a few allocations, and a search over every event's data (the LLM stage's skim) runs
//! once over [`SseEvents::buffer`] instead of once per event.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;

use super::exchange::utf8_or_lossy;

/// A byte range of the stream's buffer. `u32` is enough: a body is bounded by
/// `max_decompressed_bytes`, which is validated to at most 1 GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// The span of `len` bytes at `start`, or `None` past `u32` offsets.
    pub(crate) fn new(start: usize, len: usize) -> Option<Self> {
        Some(Self {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(len).ok()?,
        })
    }

    fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// Where one event's fields are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) data: Span,
    pub(crate) event: Option<Span>,
    pub(crate) id: Option<Span>,
    pub(crate) timestamp_ns: u64,
}

/// The events of one stream, in order.
#[derive(Clone, Debug, Default)]
pub struct SseEvents {
    buf: Bytes,
    slots: Vec<Slot>,
}

/// One event, borrowed from its [`SseEvents`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// `event:` field, if any (bytes as sent).
    pub event: Option<&'a [u8]>,
    /// `data:` lines joined with `\n` (bytes as sent, not necessarily UTF-8).
    pub data: &'a [u8],
    /// `id:` field, if any (bytes as sent).
    pub id: Option<&'a [u8]>,
    /// Timestamp (kernel monotonic ns) of the chunk that completed the event.
    pub timestamp_ns: u64,
}

impl<'a> SseEventRef<'a> {
    /// The data as text: borrowed when it is valid UTF-8 (the normal case), otherwise a
    /// lossy copy with U+FFFD for invalid sequences.
    pub fn text(&self) -> Cow<'a, str> {
        utf8_or_lossy(self.data)
    }

    /// The `event:` field as text, if any.
    pub fn event_name(&self) -> Option<Cow<'a, str>> {
        self.event.map(utf8_or_lossy)
    }
}

/// One event as owned values: how tests and tools build a stream
/// (`events.into_iter().collect::<SseEvents>()`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:` field, if any.
    pub event: Option<Bytes>,
    /// `data:` lines joined with `\n`.
    pub data: Bytes,
    /// `id:` field, if any.
    pub id: Option<Bytes>,
    /// Timestamp of the chunk that completed the event.
    pub timestamp_ns: u64,
}

impl SseEvents {
    /// Events from a buffer and the spans of their fields in it (the SSE parser's output).
    pub(crate) fn from_parts(buf: Bytes, slots: Vec<Slot>) -> Self {
        Self { buf, slots }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Event `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<SseEventRef<'_>> {
        self.slots.get(i).map(|s| self.view(s))
    }

    /// The first event.
    pub fn first(&self) -> Option<SseEventRef<'_>> {
        self.get(0)
    }

    /// The events in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            events: self,
            slots: self.slots.iter(),
        }
    }

    /// The buffer every field is a span of. Each event's data is one contiguous range of it
    /// ([`Self::data_ranges`]), ranges are in event order and never overlap; bytes between
    /// them belong to other fields.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Where each event's data is in [`Self::buffer`], in event order.
    pub fn data_ranges(&self) -> impl ExactSizeIterator<Item = Range<usize>> + '_ {
        self.slots.iter().map(|s| s.data.range())
    }

    fn bytes(&self, span: Span) -> &[u8] {
        self.buf.get(span.range()).unwrap_or_default()
    }

    fn view(&self, s: &Slot) -> SseEventRef<'_> {
        SseEventRef {
            event: s.event.map(|e| self.bytes(e)),
            data: self.bytes(s.data),
            id: s.id.map(|i| self.bytes(i)),
            timestamp_ns: s.timestamp_ns,
        }
    }
}

/// Iterator over the events of an [`SseEvents`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    events: &'a SseEvents,
    slots: std::slice::Iter<'a, Slot>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = SseEventRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.slots.next().map(|s| self.events.view(s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a SseEvents {
    type Item = SseEventRef<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Streams are equal when their events are, however the bytes are laid out.
impl PartialEq for SseEvents {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for SseEvents {}

impl FromIterator<SseEvent> for SseEvents {
    fn from_iter<I: IntoIterator<Item = SseEvent>>(events: I) -> Self {
        let mut buf = Vec::new();
        let mut put = |b: &[u8]| {
            let span = Span::new(buf.len(), b.len());
            buf.extend_from_slice(b);
            span
        };
        let slots = events
            .into_iter()
            .filter_map(|e| {
                Some(Slot {
                    data: put(&e.data)?,
                    event: match &e.event {
                        Some(v) => Some(put(v)?),
                        None => None,
                    },
                    id: match &e.id {
                        Some(v) => Some(put(v)?),
                        None => None,
                    },
                    timestamp_ns: e.timestamp_ns,
                })
            })
            .collect();
        Self::from_parts(Bytes::from(buf), slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_streams_read_back_and_compare_by_events() {
        let ev = |event: Option<&'static str>, data: &'static str, ts| SseEvent {
            event: event.map(|e| Bytes::from_static(e.as_bytes())),
            data: Bytes::from_static(data.as_bytes()),
            id: None,
            timestamp_ns: ts,
        };
        let s: SseEvents = [ev(Some("a"), "{}", 1), ev(None, "x\ny", 2)]
            .into_iter()
            .collect();
        assert_eq!(s.len(), 2);
        let first = s.first().expect("first");
        assert_eq!(first.event_name().as_deref(), Some("a"));
        assert_eq!(first.text(), "{}");
        assert_eq!(s.get(1).map(|e| e.data), Some(&b"x\ny"[..]));
        assert!(s.get(2).is_none());
        let ranges: Vec<_> = s.data_ranges().collect();
        assert_eq!(&s.buffer()[ranges[1].clone()], b"x\ny");
        let again: SseEvents = [ev(Some("a"), "{}", 1), ev(None, "x\ny", 2)]
            .into_iter()
            .collect();
        assert_eq!(s, again);
        assert_ne!(s, SseEvents::default());
    }
}
