//! Body pipeline: content decoding (gzip, deflate, br, zstd) with a bound on the decoded
//! size, then the sink that frames the decoded bytes (full body, SSE, NDJSON, event-stream).
//!
//! Owns: choosing the decoder and sink from headers, streaming decoded bytes into the sink
//! as they arrive, stopping at the bound (counted as a bomb when content-encoded). Does not
//! own: transfer framing (Content-Length, chunked, HTTP/2 DATA), done by the protocol parsers.

use std::io::{self, Write};

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use super::eventstream::EventStreamParser;
use super::exchange::ResponseBody;
use super::sse::{NdJsonParser, SseParser};

/// How a body failed to decode.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The decoded size reached the bound.
    #[error("decoded body reached the size bound")]
    Bound,
    /// The content encoding could not be decoded.
    #[error("content encoding could not be decoded")]
    Decode,
    /// The stream framing (event-stream CRC, lengths) was invalid.
    #[error("stream framing invalid")]
    Framing,
}

/// The decoded body and what went wrong on the way.
#[derive(Debug)]
pub struct BodyOutcome {
    /// Decoded body or its events.
    pub body: ResponseBody,
    /// First failure, if any.
    pub error: Option<BodyError>,
    /// The body was content-encoded (so a `Bound` error is a decompression bomb).
    pub encoded: bool,
    /// First event (or first decoded body byte) timestamp.
    pub first_ns: Option<u64>,
    /// Number of events (streams) or body pieces, one per TLS call (full bodies).
    pub count: u32,
}

/// Bounded output buffer the decompressors write into.
#[derive(Debug)]
struct Spill {
    buf: Vec<u8>,
    total: usize,
    max: usize,
    exceeded: bool,
}

impl Write for Spill {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.max - self.total;
        if room == 0 && !data.is_empty() {
            self.exceeded = true;
            return Err(io::Error::other("decoded size bound"));
        }
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.total += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity,
    Gzip(Box<flate2::write::GzDecoder<Spill>>),
    Zlib(Box<flate2::write::ZlibDecoder<Spill>>),
    Raw(Box<flate2::write::DeflateDecoder<Spill>>),
    /// `deflate` before its first two bytes tell zlib from raw deflate.
    DeflateSniff(Spill, Vec<u8>),
    Br(Box<brotli::DecompressorWriter<Spill>>),
    /// zstd is decoded at the end of the body from the buffered compressed bytes.
    Zstd(Spill, Vec<u8>),
    /// Unknown coding: bytes kept as they are.
    Unknown,
}

enum Sink {
    Full(FullBody),
    Sse(SseParser),
    NdJson(NdJsonParser),
    EventStream(EventStreamParser),
}

/// A plain body as it arrives. A body that came in one piece stays a slice of the chunk that
/// carried it (no copy); a second piece copies it into an owned buffer.
enum FullBody {
    Empty,
    Shared(Bytes),
    Owned(BytesMut),
}

impl FullBody {
    fn push_slice(&mut self, data: &[u8]) {
        match self {
            FullBody::Empty => *self = FullBody::Owned(BytesMut::from(data)),
            FullBody::Shared(first) => {
                let mut owned = BytesMut::with_capacity(first.len() + data.len());
                owned.extend_from_slice(first);
                owned.extend_from_slice(data);
                *self = FullBody::Owned(owned);
            }
            FullBody::Owned(b) => b.extend_from_slice(data),
        }
    }

    fn push_shared(&mut self, data: Bytes) {
        match self {
            FullBody::Empty => *self = FullBody::Shared(data),
            _ => self.push_slice(&data),
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            FullBody::Empty => Bytes::new(),
            FullBody::Shared(b) => b,
            FullBody::Owned(b) => b.freeze(),
        }
    }
}

/// Streaming decoder of one message body.
pub struct BodyPipeline {
    decoder: Decoder,
    sink: Sink,
    max: usize,
    total: usize,
    error: Option<BodyError>,
    first_ns: Option<u64>,
    last_ns: Option<u64>,
    pieces: u32,
}

impl std::fmt::Debug for BodyPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyPipeline")
            .field("total", &self.total)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl BodyPipeline {
    /// A pipeline for a body with these `Content-Type` / `Content-Encoding` values,
    /// bounded to `max` decoded bytes.
    pub fn new(content_type: Option<&str>, content_encoding: Option<&str>, max: usize) -> Self {
        let spill = || Spill {
            buf: Vec::new(),
            total: 0,
            max,
            exceeded: false,
        };
        let enc = content_encoding
            .map(|e| e.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let decoder = match enc.as_str() {
            "" | "identity" => Decoder::Identity,
            "gzip" | "x-gzip" => Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(spill()))),
            "deflate" => Decoder::DeflateSniff(spill(), Vec::new()),
            "br" => Decoder::Br(Box::new(brotli::DecompressorWriter::new(spill(), 4096))),
            "zstd" => Decoder::Zstd(spill(), Vec::new()),
            _ => Decoder::Unknown,
        };
        let ct = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let sink = match ct.as_str() {
            "text/event-stream" => Sink::Sse(SseParser::new()),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                Sink::NdJson(NdJsonParser::new())
            }
            "application/vnd.amazon.eventstream" => Sink::EventStream(EventStreamParser::new()),
            _ => Sink::Full(FullBody::Empty),
        };
        Self {
            decoder,
            sink,
            max,
            total: 0,
            error: None,
            first_ns: None,
            last_ns: None,
            pieces: 0,
        }
    }

    /// Whether decoding stopped (bound or error); further bytes are ignored.
    pub fn failed(&self) -> Option<BodyError> {
        self.error
    }

    /// Like [`BodyPipeline::feed`], for bytes the caller holds as [`Bytes`]: a plain,
    /// unencoded body that arrives in one piece keeps them without copying.
    pub fn feed_shared(&mut self, data: Bytes, ts: u64) {
        let plain = matches!(self.decoder, Decoder::Identity | Decoder::Unknown);
        let Sink::Full(body) = &mut self.sink else {
            return self.feed(&data, ts);
        };
        if !plain || self.error.is_some() || data.is_empty() {
            return self.feed(&data, ts);
        }
        let n = data.len().min(self.max - self.total);
        self.total += n;
        body.push_shared(data.slice(..n));
        self.note(n, ts);
        if n < data.len() {
            self.error = Some(BodyError::Bound);
        }
    }

    /// Feeds encoded body bytes; `ts` is the timestamp of the chunk that carried them.
    pub fn feed(&mut self, data: &[u8], ts: u64) {
        if self.error.is_some() || data.is_empty() {
            return;
        }
        let res = match &mut self.decoder {
            Decoder::Identity | Decoder::Unknown => {
                let room = self.max - self.total;
                let n = data.len().min(room);
                self.total += n;
                sink_feed(&mut self.sink, &data[..n], ts);
                self.note(n, ts);
                if n < data.len() {
                    self.error = Some(BodyError::Bound);
                }
                return;
            }
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Zlib(d) => d.write_all(data),
            Decoder::Raw(d) => d.write_all(data),
            Decoder::Br(d) => d.write_all(data),
            Decoder::Zstd(spill, buf) => {
                if buf.len() + data.len() > spill.max {
                    spill.exceeded = true;
                    Err(io::Error::other("compressed size bound"))
                } else {
                    buf.extend_from_slice(data);
                    Ok(())
                }
            }
            Decoder::DeflateSniff(spill, head) => {
                head.extend_from_slice(data);
                if head.len() < 2 {
                    return;
                }
                let zlib = head[0] & 0x0f == 8 && u16::from_be_bytes([head[0], head[1]]) % 31 == 0;
                let spill = std::mem::replace(
                    spill,
                    Spill {
                        buf: Vec::new(),
                        total: 0,
                        max: 0,
                        exceeded: false,
                    },
                );
                let head = std::mem::take(head);
                self.decoder = if zlib {
                    Decoder::Zlib(Box::new(flate2::write::ZlibDecoder::new(spill)))
                } else {
                    Decoder::Raw(Box::new(flate2::write::DeflateDecoder::new(spill)))
                };
                return self.feed(&head, ts);
            }
        };
        self.after_write(res, ts);
    }

    fn spill(&mut self) -> Option<&mut Spill> {
        match &mut self.decoder {
            Decoder::Gzip(d) => Some(d.get_mut()),
            Decoder::Zlib(d) => Some(d.get_mut()),
            Decoder::Raw(d) => Some(d.get_mut()),
            Decoder::Br(d) => Some(d.get_mut()),
            Decoder::Zstd(s, _) | Decoder::DeflateSniff(s, _) => Some(s),
            Decoder::Identity | Decoder::Unknown => None,
        }
    }

    fn after_write(&mut self, res: io::Result<()>, ts: u64) {
        let Some(spill) = self.spill() else { return };
        let exceeded = spill.exceeded;
        let mut out = std::mem::take(&mut spill.buf);
        let total = spill.total;
        sink_feed(&mut self.sink, &out, ts);
        let n = out.len();
        out.clear();
        if let Some(spill) = self.spill() {
            spill.buf = out;
        }
        self.total = total;
        self.note(n, ts);
        if exceeded {
            self.error = Some(BodyError::Bound);
        } else if res.is_err() {
            self.error = Some(BodyError::Decode);
        }
    }

    fn note(&mut self, n: usize, ts: u64) {
        // A body piece is one TLS call's worth (calls are told apart by timestamp), so the
        // count does not depend on how the capture split the calls into chunks.
        if n > 0 && matches!(self.sink, Sink::Full(_)) && self.last_ns != Some(ts) {
            self.first_ns.get_or_insert(ts);
            self.last_ns = Some(ts);
            self.pieces = self.pieces.saturating_add(1);
        }
    }

    /// Ends the body (`ts` = timestamp of its last byte) and returns what was decoded.
    pub fn finish(mut self, ts: u64) -> BodyOutcome {
        let encoded = !matches!(self.decoder, Decoder::Identity | Decoder::Unknown);
        if self.error.is_none() {
            let res = match &mut self.decoder {
                Decoder::Gzip(d) => d.try_finish(),
                Decoder::Zlib(d) => d.try_finish(),
                Decoder::Raw(d) => d.try_finish(),
                Decoder::Br(d) => d.close(),
                Decoder::Zstd(spill, buf) => zstd_decode(buf, spill),
                Decoder::DeflateSniff(_, head) if !head.is_empty() => {
                    Err(io::Error::other("truncated deflate"))
                }
                _ => Ok(()),
            };
            self.after_write(res, ts);
        }
        let mut error = self.error;
        if error.is_none() && self.total > 0 && matches!(self.decoder, Decoder::Unknown) {
            // Unsupported coding: the bytes are kept as they came, and flagged.
            error = Some(BodyError::Decode);
        }
        let (body, first_ns, count) = match self.sink {
            Sink::Full(b) => (ResponseBody::Full(b.freeze()), self.first_ns, self.pieces),
            Sink::Sse(p) => {
                let ev = p.finish();
                let first = ev.first().map(|e| e.timestamp_ns);
                let n = count_u32(ev.len());
                (ResponseBody::Sse(ev), first, n)
            }
            Sink::NdJson(p) => {
                let ev = p.finish(ts);
                let first = ev.first().map(|e| e.timestamp_ns);
                let n = count_u32(ev.len());
                (ResponseBody::NdJson(ev), first, n)
            }
            Sink::EventStream(p) => {
                let (ev, leftover) = p.finish();
                if leftover && error.is_none() {
                    error = Some(BodyError::Framing);
                }
                let first = ev.first().map(|e| e.timestamp_ns);
                let n = count_u32(ev.len());
                (ResponseBody::EventStream(ev), first, n)
            }
        };
        BodyOutcome {
            body,
            error,
            encoded,
            first_ns,
            count,
        }
    }

    /// Ends the body and returns only its bytes (request bodies); events are not expected.
    pub fn finish_bytes(self, ts: u64) -> (Bytes, Option<BodyError>, bool) {
        let o = self.finish(ts);
        let bytes = match o.body {
            ResponseBody::Full(b) => b,
            _ => Bytes::new(),
        };
        (bytes, o.error, o.encoded)
    }
}

fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn sink_feed(sink: &mut Sink, data: &[u8], ts: u64) {
    if data.is_empty() {
        return;
    }
    match sink {
        Sink::Full(b) => b.push_slice(data),
        Sink::Sse(p) => p.feed(data, ts),
        Sink::NdJson(p) => p.feed(data, ts),
        Sink::EventStream(p) => p.feed(data, ts),
    }
}

fn zstd_decode(buf: &[u8], spill: &mut Spill) -> io::Result<()> {
    let mut src = buf;
    let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src).map_err(io::Error::other)?;
    io::copy(&mut dec, spill).map(|_| ())
}
