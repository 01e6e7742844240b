//! The exchange under construction, shared by the HTTP/1 and HTTP/2 parsers, and the header
//! normalisation rule (lower-cased names, sensitive values never copied).
//!
//! Owns: [`Partial`] (request/response halves, body pipelines, timings, incompleteness
//! reasons) and turning it into an [`Exchange`] while counting outcomes. Does not own: any
//! wire parsing.

use bytes::Bytes;

use super::body::{BodyError, BodyOutcome, BodyPipeline};
use super::config::ReassemblyStats;
use super::exchange::{
    Completeness, Exchange, Headers, HttpVersion, IncompleteReason, Request, Response, Timing,
};
use crate::capture::event::{ConnId, ProcessInfo};

/// Header names whose values are never copied into an exchange.
pub const SENSITIVE_HEADERS: [&str; 6] = [
    "authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// Appends a header: name lower-cased, value dropped when the name is sensitive.
pub fn push_header(headers: &mut Headers, name: &[u8], value: &[u8]) {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let value = if SENSITIVE_HEADERS.contains(&name.as_str()) {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(value)
    };
    headers.0.push((name, value));
}

/// Connection facts an exchange is stamped with.
#[derive(Clone, Debug)]
pub struct ConnMeta {
    /// Connection id.
    pub conn: ConnId,
    /// Process that owns the connection.
    pub process: ProcessInfo,
}

/// One exchange being reassembled.
#[derive(Debug, Default)]
pub struct Partial {
    /// HTTP/2 stream id.
    pub stream_id: Option<u32>,
    /// Request head (body filled in at the end).
    pub request: Request,
    /// Request body decoder while the body is arriving.
    pub req_body: Option<BodyPipeline>,
    /// The request was seen to its end.
    pub req_done: bool,
    /// Response head, once seen.
    pub response: Option<Response>,
    /// Response body decoder while the body is arriving.
    pub resp_body: Option<BodyPipeline>,
    /// The response was seen to its end.
    pub resp_done: bool,
    /// Milestones so far.
    pub timing: Timing,
    /// Why the exchange is incomplete, if it is.
    pub reasons: Vec<IncompleteReason>,
}

impl Partial {
    /// Records a reason once.
    pub fn add_reason(&mut self, reason: IncompleteReason) {
        if let (IncompleteReason::Gap { bytes }, Some(IncompleteReason::Gap { bytes: old })) = (
            &reason,
            self.reasons
                .iter_mut()
                .find(|r| matches!(r, IncompleteReason::Gap { .. })),
        ) {
            *old += bytes;
            return;
        }
        if !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }

    /// Ends the request body at `ts`.
    pub fn finish_request(&mut self, ts: u64, stats: &mut ReassemblyStats) {
        if let Some(p) = self.req_body.take() {
            let (body, err, encoded) = p.finish_bytes(ts);
            self.request.body = body;
            self.body_error(err, encoded, stats);
        }
        self.timing.request_end_ns = ts;
    }

    /// Ends the response body at `ts`.
    pub fn finish_response(&mut self, ts: u64, stats: &mut ReassemblyStats) {
        if let Some(p) = self.resp_body.take() {
            let BodyOutcome {
                body,
                error,
                encoded,
                first_ns,
                count,
            } = p.finish(ts);
            if let Some(r) = self.response.as_mut() {
                r.body = body;
            }
            self.timing.first_chunk_ns = first_ns;
            self.timing.chunk_count = count;
            self.body_error(error, encoded, stats);
        }
        if self.response.is_some() {
            self.timing.response_end_ns = Some(ts);
        }
    }

    fn body_error(&mut self, err: Option<BodyError>, encoded: bool, stats: &mut ReassemblyStats) {
        match err {
            None => {}
            Some(BodyError::Bound) => {
                stats.bound_hits += 1;
                if encoded {
                    stats.decompression_bombs += 1;
                }
                tracing::debug!(encoded, "body stopped at decoded size bound");
                self.add_reason(IncompleteReason::BoundExceeded);
            }
            Some(BodyError::Decode) => {
                stats.malformed.content_encoding += 1;
                self.add_reason(IncompleteReason::Malformed("content-encoding".into()));
            }
            Some(BodyError::Framing) => {
                stats.malformed.eventstream += 1;
                self.add_reason(IncompleteReason::Malformed("event-stream framing".into()));
            }
        }
    }

    /// Turns the partial into an exchange, ending open bodies at `ts` and marking the
    /// exchange incomplete (`ConnectionEnded`) if either half did not end.
    pub fn into_exchange(
        mut self,
        meta: &ConnMeta,
        version: HttpVersion,
        ts: u64,
        stats: &mut ReassemblyStats,
    ) -> Exchange {
        if !self.req_done {
            self.finish_request(ts, stats);
            self.add_reason(IncompleteReason::ConnectionEnded);
        }
        if !self.resp_done {
            self.finish_response(ts, stats);
            self.add_reason(IncompleteReason::ConnectionEnded);
        }
        let complete = self.reasons.is_empty();
        if complete {
            stats.exchanges_complete += 1;
        } else {
            stats.exchanges_incomplete += 1;
        }
        Exchange {
            conn: meta.conn,
            process: meta.process.clone(),
            version,
            stream_id: self.stream_id,
            request: self.request,
            response: self.response,
            timing: self.timing,
            completeness: Completeness {
                complete,
                reasons: self.reasons,
            },
        }
    }
}

/// What a protocol parser needs from the driver while handling bytes.
pub struct Ctx<'a> {
    /// Bounds.
    pub cfg: &'a super::config::ReassemblyConfig,
    /// Counters.
    pub stats: &'a mut ReassemblyStats,
    /// Connection facts.
    pub meta: &'a ConnMeta,
}
