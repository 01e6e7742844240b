//! AWS event-stream (`application/vnd.amazon.eventstream`, Bedrock streaming) framing.
//!
//! Owns: splitting a byte stream into messages (prelude: total length, headers length,
//! prelude CRC32; typed headers; payload; message CRC32), verifying both CRCs and decoding the
//! headers we report. Does not own: the JSON payloads, nor transfer/content decoding.

use bytes::Bytes;
use thiserror::Error;

use super::exchange::EventStreamMessage;

const PRELUDE: usize = 12;
const MIN_MESSAGE: usize = PRELUDE + 4;
/// Largest message accepted (the format's limit is 16 MiB plus headers).
pub const MAX_MESSAGE: usize = 24 << 20;

/// Why an event-stream could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EventStreamError {
    /// Total length below the minimum or above [`MAX_MESSAGE`].
    #[error("message length {0} out of range")]
    BadLength(u32),
    /// Headers length does not fit in the message.
    #[error("headers length {headers} does not fit message length {total}")]
    BadHeadersLength {
        /// Headers length from the prelude.
        headers: u32,
        /// Total length from the prelude.
        total: u32,
    },
    /// Prelude CRC mismatch.
    #[error("prelude CRC mismatch")]
    PreludeCrc,
    /// Message CRC mismatch.
    #[error("message CRC mismatch")]
    MessageCrc,
    /// A header is cut short or has an unknown type.
    #[error("malformed header")]
    BadHeader,
}

/// Decodes one message from the front of `buf`. `Ok(None)` means more bytes are needed;
/// `Ok(Some((message, used)))` gives the message (stamped `ts`) and its length.
pub fn decode_message(
    buf: &[u8],
    ts: u64,
) -> Result<Option<(EventStreamMessage, usize)>, EventStreamError> {
    if buf.len() < PRELUDE {
        return Ok(None);
    }
    let total = be32(&buf[0..4]);
    let headers_len = be32(&buf[4..8]);
    if crc32fast::hash(&buf[0..8]) != be32(&buf[8..12]) {
        return Err(EventStreamError::PreludeCrc);
    }
    let total_usize = total as usize;
    if !(MIN_MESSAGE..=MAX_MESSAGE).contains(&total_usize) {
        return Err(EventStreamError::BadLength(total));
    }
    if headers_len as usize > total_usize - MIN_MESSAGE {
        return Err(EventStreamError::BadHeadersLength {
            headers: headers_len,
            total,
        });
    }
    if buf.len() < total_usize {
        return Ok(None);
    }
    let msg = &buf[..total_usize];
    let body_end = total_usize - 4;
    if crc32fast::hash(&msg[..body_end]) != be32(&msg[body_end..]) {
        return Err(EventStreamError::MessageCrc);
    }
    let headers_end = PRELUDE + headers_len as usize;
    let mut out = EventStreamMessage {
        payload: Bytes::copy_from_slice(&msg[headers_end..body_end]),
        timestamp_ns: ts,
        ..EventStreamMessage::default()
    };
    parse_headers(&msg[PRELUDE..headers_end], &mut out)?;
    Ok(Some((out, total_usize)))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_headers(mut h: &[u8], out: &mut EventStreamMessage) -> Result<(), EventStreamError> {
    fn take<'a>(h: &mut &'a [u8], n: usize) -> Result<&'a [u8], EventStreamError> {
        if h.len() < n {
            return Err(EventStreamError::BadHeader);
        }
        let (a, b) = h.split_at(n);
        *h = b;
        Ok(a)
    }
    while !h.is_empty() {
        let name_len = take(&mut h, 1)?[0] as usize;
        let name = take(&mut h, name_len)?;
        let ty = take(&mut h, 1)?[0];
        let value = match ty {
            0 | 1 => None,
            2 => Some(take(&mut h, 1)?),
            3 => Some(take(&mut h, 2)?),
            4 => Some(take(&mut h, 4)?),
            5 | 8 => Some(take(&mut h, 8)?),
            9 => Some(take(&mut h, 16)?),
            6 | 7 => {
                let l = take(&mut h, 2)?;
                let l = u16::from_be_bytes([l[0], l[1]]) as usize;
                let v = take(&mut h, l)?;
                (ty == 7).then_some(v)
            }
            _ => return Err(EventStreamError::BadHeader),
        };
        let text = || value.map(|v| String::from_utf8_lossy(v).into_owned());
        match name {
            b":event-type" if ty == 7 => out.event_type = text(),
            b":message-type" if ty == 7 => out.message_type = text(),
            _ => {}
        }
    }
    Ok(())
}

/// Incremental event-stream parser; stops at the first error (framing cannot be recovered).
#[derive(Debug, Default)]
pub struct EventStreamParser {
    buf: Vec<u8>,
    messages: Vec<EventStreamMessage>,
    error: Option<EventStreamError>,
}

impl EventStreamParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; `ts` is the timestamp of the chunk that carried them.
    pub fn feed(&mut self, data: &[u8], ts: u64) {
        if self.error.is_some() {
            return;
        }
        let mut pos = 0;
        // Decode straight from `data` when nothing is held, copying only a partial tail.
        if self.buf.is_empty() {
            pos = self.decode_all(data, ts);
            if self.error.is_none() {
                self.buf.extend_from_slice(&data[pos..]);
            }
            return;
        }
        self.buf.extend_from_slice(data);
        let buf = std::mem::take(&mut self.buf);
        pos += self.decode_all(&buf, ts);
        self.buf = buf;
        self.buf.drain(..pos);
    }

    fn decode_all(&mut self, data: &[u8], ts: u64) -> usize {
        let mut pos = 0;
        loop {
            match decode_message(&data[pos..], ts) {
                Ok(Some((m, used))) => {
                    self.messages.push(m);
                    pos += used;
                }
                Ok(None) => return pos,
                Err(e) => {
                    tracing::debug!(error = %e, "event-stream framing lost");
                    self.error = Some(e);
                    return pos;
                }
            }
        }
    }

    /// Messages decoded so far.
    pub fn messages(&self) -> &[EventStreamMessage] {
        &self.messages
    }

    /// The error that stopped parsing, if any.
    pub fn error(&self) -> Option<&EventStreamError> {
        self.error.as_ref()
    }

    /// Ends the stream: returns the messages and whether bytes were left undecoded.
    pub fn finish(self) -> (Vec<EventStreamMessage>, bool) {
        let leftover = !self.buf.is_empty() || self.error.is_some();
        (self.messages, leftover)
    }
}
