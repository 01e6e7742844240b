//! The `Exchange`: one HTTP request and its response, reassembled from a connection's byte
//! streams. This is the value the reassembly stage hands to the LLM stage.
//!
//! Sensitive header values (`authorization`, `x-api-key`, `api-key`, `cookie`, `set-cookie`,
//! `proxy-authorization`) are never copied into an `Exchange`: the header name is kept with an
//! empty value so detection can still see that a key was present.

use bytes::Bytes;

pub use super::sse_events::{SseEvent, SseEventRef, SseEvents};
use crate::capture::event::{ConnId, ProcessInfo};

/// HTTP version the exchange was carried over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.0 or HTTP/1.1.
    Http1,
    /// HTTP/2.
    Http2,
}

/// Header list in wire order; names lower-cased, values as bytes (not necessarily UTF-8).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, Bytes)>);

impl Headers {
    /// First value of header `name` (lower-case), as UTF-8 if it is valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Whether header `name` (lower-case) is present at all.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// The request half.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Method (`POST`).
    pub method: String,
    /// Path including the query string (`/v1/chat/completions?x=y`).
    pub path: String,
    /// `Host` header (h1) or `:authority` (h2), when known.
    pub authority: Option<String>,
    /// Request headers (pseudo-headers excluded).
    pub headers: Headers,
    /// Decoded body (transfer and content encodings removed), possibly truncated, see
    /// [`Completeness`].
    pub body: Bytes,
}

/// `bytes` as `&str` without copying when valid, else a lossy copy. `std::str::from_utf8`
/// validates ASCII a word at a time; `String::from_utf8_lossy` walks byte by byte.
pub fn utf8_or_lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// One AWS event-stream message (Bedrock `*-stream` endpoints).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventStreamMessage {
    /// `:event-type` header, if any.
    pub event_type: Option<String>,
    /// `:message-type` header (`event`, `exception`, `error`), if any.
    pub message_type: Option<String>,
    /// Payload bytes (usually JSON).
    pub payload: Bytes,
    /// Timestamp of the chunk that completed the message.
    pub timestamp_ns: u64,
}

/// One line of a newline-delimited JSON stream (Ollama).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonLine {
    /// The line without its newline.
    pub line: Bytes,
    /// Timestamp of the chunk that completed the line.
    pub timestamp_ns: u64,
}

/// How the response body is framed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// A plain body (decoded).
    Full(Bytes),
    /// `text/event-stream`.
    Sse(SseEvents),
    /// `application/x-ndjson` or other newline-delimited JSON.
    NdJson(Vec<JsonLine>),
    /// `application/vnd.amazon.eventstream`.
    EventStream(Vec<EventStreamMessage>),
}

impl Default for ResponseBody {
    fn default() -> Self {
        ResponseBody::Full(Bytes::new())
    }
}

/// The response half.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Response headers (pseudo-headers excluded).
    pub headers: Headers,
    /// Decoded body or its stream events.
    pub body: ResponseBody,
}

/// Kernel monotonic timestamps (ns) of the exchange's milestones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// First byte of the request.
    pub request_start_ns: u64,
    /// Last byte of the request.
    pub request_end_ns: u64,
    /// First byte of the response (status line / HEADERS).
    pub response_first_byte_ns: Option<u64>,
    /// First stream event (SSE event, NDJSON line, event-stream message) or first body byte.
    pub first_chunk_ns: Option<u64>,
    /// Last byte of the response.
    pub response_end_ns: Option<u64>,
    /// Number of stream events / body chunks in the response.
    pub chunk_count: u32,
}

/// Why an exchange is incomplete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncompleteReason {
    /// Bytes are missing in the stream (capture loss); `bytes` missing.
    Gap {
        /// Number of missing bytes.
        bytes: u64,
    },
    /// The connection was first seen mid-way (e.g. HTTP/2 dynamic table unknown).
    HeadersUnavailable,
    /// The connection ended (or was evicted) before the response completed.
    ConnectionEnded,
    /// A buffering or decompression bound was hit.
    BoundExceeded,
    /// HTTP/2 stream reset.
    StreamReset,
    /// The bytes could not be parsed as HTTP.
    Malformed(String),
}

/// Whether the exchange was observed whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completeness {
    /// True when every byte of request and response was seen and parsed.
    pub complete: bool,
    /// Reasons, when not complete.
    pub reasons: Vec<IncompleteReason>,
}

/// One HTTP request/response pair.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Connection it was carried on.
    pub conn: ConnId,
    /// The process that made it.
    pub process: ProcessInfo,
    /// HTTP/1.x or HTTP/2.
    pub version: HttpVersion,
    /// HTTP/2 stream id.
    pub stream_id: Option<u32>,
    /// The request.
    pub request: Request,
    /// The response, if one was seen.
    pub response: Option<Response>,
    /// Milestones.
    pub timing: Timing,
    /// Completeness.
    pub completeness: Completeness,
}
