//! HTTP/2 over one connection: client preface, frames, stateful HPACK per direction, and
//! multiplexed streams each becoming an exchange.
//!
//! Owns: frame splitting (DATA, HEADERS, CONTINUATION, PUSH_PROMISE, SETTINGS incl. header
//! table size, RST_STREAM, GOAWAY, PING, WINDOW_UPDATE; PADDED and PRIORITY flags), the HPACK
//! decoder of each direction (egress carries the client's request headers, ingress the
//! server's), and per-stream request/response assembly. A connection first seen mid-way
//! cannot decode headers (HPACK's dynamic table is unknown): its streams report
//! `HeadersUnavailable`. A gap loses frame and HPACK sync, so the connection is given up.
//! Does not own: content decoding ([`super::body`]) or stream ordering.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use super::body::BodyPipeline;
use super::exchange::{Exchange, Headers, HttpVersion, IncompleteReason, Request, Response};
use super::partial::{Ctx, Partial, push_header};
use crate::capture::event::Direction;

/// The client connection preface.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// Why HTTP/2 bytes could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Http2Error {
    /// The egress did not start with the client preface.
    #[error("bad client preface")]
    Preface,
    /// A frame's length exceeds the bound.
    #[error("frame of {0} bytes over bound")]
    FrameTooLarge(usize),
    /// Padding longer than the frame, or a frame too short for its fixed fields.
    #[error("frame type {0} malformed")]
    Frame(u8),
    /// A header block was interrupted by another frame.
    #[error("header block interrupted")]
    Continuation,
    /// HPACK decoding failed. The reason is a fixed name, never header bytes.
    #[error("hpack: {0}")]
    Hpack(&'static str),
}

/// Whether `data` plausibly begins with an HTTP/2 frame header (used for connections first
/// seen mid-way, where no preface is available).
pub fn looks_like_frame(data: &[u8]) -> bool {
    data.len() >= FRAME_HEADER
        && data[3] <= CONTINUATION
        && data[5] & 0x80 == 0
        && u32::from_be_bytes([0, data[0], data[1], data[2]]) <= 1 << 20
}

/// One HPACK decoder with the frame buffer of its direction.
struct FrameDir {
    buf: BytesMut,
    preface_left: usize,
    hpack: loona_hpack::Decoder<'static>,
    hpack_ok: bool,
    /// Header block being collected: stream, kind, fragments, END_STREAM, start timestamp.
    block: Option<(u32, u8, Vec<u8>, bool, u64)>,
    frame_start: u64,
    started: bool,
}

impl FrameDir {
    fn new(preface: bool, hpack_ok: bool) -> Self {
        Self {
            buf: BytesMut::new(),
            preface_left: if preface { PREFACE.len() } else { 0 },
            hpack: loona_hpack::Decoder::new(),
            hpack_ok,
            block: None,
            frame_start: 0,
            started: false,
        }
    }
}

/// Decodes one HPACK header block with `decoder`, calling `f` per field.
pub fn decode_block(
    decoder: &mut loona_hpack::Decoder<'_>,
    block: &[u8],
    mut f: impl FnMut(&[u8], &[u8]),
) -> Result<(), Http2Error> {
    decoder
        .decode_with_cb(block, |n: Cow<'_, [u8]>, v: Cow<'_, [u8]>| f(&n, &v))
        .map_err(|e| Http2Error::Hpack(hpack_error(&e)))
}

/// A fixed name for an HPACK error (logged and counted; carries no header bytes).
fn hpack_error(e: &loona_hpack::decoder::DecoderError) -> &'static str {
    use loona_hpack::decoder::DecoderError as D;
    match e {
        D::HeaderIndexOutOfBounds => "index out of bounds",
        D::IntegerDecodingError(_) => "integer",
        D::StringDecodingError(_) => "string",
        D::InvalidMaxDynamicSize => "dynamic table size",
        D::SizeUpdateAtEnd => "size update at end",
        _ => "other",
    }
}

/// HTTP/2 state of one connection.
pub struct H2Conn {
    dirs: [FrameDir; 2],
    streams: BTreeMap<u32, Partial>,
    headers_unavailable: bool,
    dead: bool,
}

impl std::fmt::Debug for H2Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Conn")
            .field("streams", &self.streams.len())
            .field("headers_unavailable", &self.headers_unavailable)
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

fn idx(dir: Direction) -> usize {
    match dir {
        Direction::Egress => 0,
        Direction::Ingress => 1,
    }
}

/// Removes padding (and the priority block) from a HEADERS/DATA/PUSH_PROMISE payload.
fn unpad(ty: u8, flags: u8, mut p: Bytes) -> Result<Bytes, Http2Error> {
    let mut pad = 0usize;
    if flags & PADDED != 0 {
        if p.is_empty() {
            return Err(Http2Error::Frame(ty));
        }
        pad = p[0] as usize;
        p.advance(1);
    }
    if ty == HEADERS && flags & PRIORITY != 0 {
        if p.len() < 5 {
            return Err(Http2Error::Frame(ty));
        }
        p.advance(5);
    }
    if pad > p.len() {
        return Err(Http2Error::Frame(ty));
    }
    p.truncate(p.len() - pad);
    Ok(p)
}

impl H2Conn {
    /// A connection; `preface` says the egress starts with the client preface (seen from
    /// its first byte). Without it headers are unavailable.
    pub fn new(preface: bool) -> Self {
        Self {
            dirs: [
                FrameDir::new(preface, preface),
                FrameDir::new(false, preface),
            ],
            streams: BTreeMap::new(),
            headers_unavailable: !preface,
            dead: false,
        }
    }

    /// Bytes held in frame buffers.
    pub fn buffered(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.buf.len() + d.block.as_ref().map_or(0, |b| b.2.len()))
            .sum()
    }

    /// Handles in-order bytes of one direction.
    pub fn on_data(
        &mut self,
        dir: Direction,
        data: &[u8],
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        if self.dead {
            return;
        }
        let d = &mut self.dirs[idx(dir)];
        d.started = true;
        if d.buf.is_empty() {
            d.frame_start = ts;
        }
        d.buf.extend_from_slice(data);
        if let Err(e) = self.frames(dir, ts, cx, out) {
            match e {
                Http2Error::Hpack(_) => cx.stats.malformed.hpack += 1,
                _ => cx.stats.malformed.http2_frame += 1,
            }
            tracing::debug!(?dir, error = %e, "http2 framing lost; connection given up");
            self.give_up(IncompleteReason::Malformed(e.to_string()), ts, cx, out);
        }
    }

    fn frames(
        &mut self,
        dir: Direction,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) -> Result<(), Http2Error> {
        let max = cx.cfg.max_conn_buffer_bytes.min(1 << 24);
        loop {
            let d = &mut self.dirs[idx(dir)];
            if d.preface_left > 0 {
                let done = PREFACE.len() - d.preface_left;
                let n = d.preface_left.min(d.buf.len());
                if d.buf[..n] != PREFACE[done..done + n] {
                    return Err(Http2Error::Preface);
                }
                d.buf.advance(n);
                d.preface_left -= n;
                if d.preface_left > 0 {
                    return Ok(());
                }
                d.frame_start = ts;
                continue;
            }
            if d.buf.len() < FRAME_HEADER {
                return Ok(());
            }
            let len = u32::from_be_bytes([0, d.buf[0], d.buf[1], d.buf[2]]) as usize;
            if len > max {
                cx.stats.bound_hits += 1;
                return Err(Http2Error::FrameTooLarge(len));
            }
            if d.buf.len() < FRAME_HEADER + len {
                return Ok(());
            }
            let ty = d.buf[3];
            let flags = d.buf[4];
            let sid = u32::from_be_bytes([d.buf[5], d.buf[6], d.buf[7], d.buf[8]]) & 0x7fff_ffff;
            let start = d.frame_start;
            let mut frame = d.buf.split_to(FRAME_HEADER + len).freeze();
            frame.advance(FRAME_HEADER);
            d.frame_start = ts;
            self.frame(dir, ty, flags, sid, frame, start, ts, cx, out)?;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn frame(
        &mut self,
        dir: Direction,
        ty: u8,
        flags: u8,
        sid: u32,
        payload: Bytes,
        start: u64,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) -> Result<(), Http2Error> {
        let d = &mut self.dirs[idx(dir)];
        if d.block.is_some() && ty != CONTINUATION {
            return Err(Http2Error::Continuation);
        }
        match ty {
            DATA => {
                let body = unpad(ty, flags, payload)?;
                if let Some(p) = self.streams.get_mut(&sid) {
                    let pipe = match dir {
                        Direction::Egress => p.req_body.as_mut(),
                        Direction::Ingress => p.resp_body.as_mut(),
                    };
                    if let Some(pipe) = pipe {
                        pipe.feed(&body, ts);
                    }
                }
                if flags & END_STREAM != 0 {
                    self.end_half(dir, sid, ts, cx, out);
                }
            }
            HEADERS | PUSH_PROMISE => {
                let mut frag = unpad(ty, flags, payload)?;
                if ty == PUSH_PROMISE {
                    if frag.len() < 4 {
                        return Err(Http2Error::Frame(ty));
                    }
                    frag.advance(4);
                }
                let end_stream = ty == HEADERS && flags & END_STREAM != 0;
                if flags & END_HEADERS != 0 {
                    self.header_block(dir, sid, ty, &frag, end_stream, start, ts, cx, out)?;
                } else {
                    if frag.len() > cx.cfg.max_header_bytes {
                        cx.stats.bound_hits += 1;
                        return Err(Http2Error::FrameTooLarge(frag.len()));
                    }
                    d.block = Some((sid, ty, frag.to_vec(), end_stream, start));
                }
            }
            CONTINUATION => {
                let Some((bsid, kind, mut block, end_stream, bstart)) = d.block.take() else {
                    return Err(Http2Error::Continuation);
                };
                if bsid != sid {
                    return Err(Http2Error::Continuation);
                }
                block.extend_from_slice(&payload);
                if block.len() > cx.cfg.max_header_bytes {
                    cx.stats.bound_hits += 1;
                    return Err(Http2Error::FrameTooLarge(block.len()));
                }
                if flags & END_HEADERS != 0 {
                    self.header_block(dir, sid, kind, &block, end_stream, bstart, ts, cx, out)?;
                } else {
                    d.block = Some((bsid, kind, block, end_stream, bstart));
                }
            }
            RST_STREAM => {
                cx.stats.h2_stream_resets += 1;
                if let Some(mut p) = self.streams.remove(&sid) {
                    tracing::debug!(stream = sid, ?dir, "http2 stream reset");
                    abort(&mut p, IncompleteReason::StreamReset, ts, cx);
                    out.push(p.into_exchange(cx.meta, HttpVersion::Http2, ts, cx.stats));
                }
            }
            SETTINGS if flags & ACK == 0 => {
                if !payload.len().is_multiple_of(6) {
                    return Err(Http2Error::Frame(ty));
                }
                for s in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([s[0], s[1]]);
                    let v = u32::from_be_bytes([s[2], s[3], s[4], s[5]]) as usize;
                    if id == 1 {
                        // Our side's table size bounds the peer's encoder, i.e. the decoder of
                        // the other direction.
                        let other = &mut self.dirs[1 - idx(dir)];
                        other.hpack.set_max_allowed_table_size(v.max(4096));
                    }
                }
            }
            GOAWAY if payload.len() >= 4 => {
                let last = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & 0x7fff_ffff;
                tracing::debug!(?dir, last_stream = last, "http2 goaway");
            }
            _ => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn header_block(
        &mut self,
        dir: Direction,
        sid: u32,
        kind: u8,
        block: &[u8],
        end_stream: bool,
        start: u64,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) -> Result<(), Http2Error> {
        let d = &mut self.dirs[idx(dir)];
        let mut headers = Headers::default();
        let mut pseudo: [Option<String>; 4] = Default::default();
        let decoded = d.hpack_ok;
        if decoded {
            decode_block(&mut d.hpack, block, |n, v| {
                let slot = match n {
                    b":method" => 0,
                    b":path" => 1,
                    b":authority" => 2,
                    b":status" => 3,
                    _ if n.first() == Some(&b':') => return,
                    _ => {
                        push_header(&mut headers, n, v);
                        return;
                    }
                };
                pseudo[slot] = Some(String::from_utf8_lossy(v).into_owned());
            })?;
        }
        if kind == PUSH_PROMISE {
            return Ok(());
        }
        let [method, path, authority, status] = pseudo;
        let unavailable = |p: &mut Partial, cx: &mut Ctx<'_>| {
            if !decoded && !p.reasons.contains(&IncompleteReason::HeadersUnavailable) {
                cx.stats.h2_headers_unavailable += 1;
                p.add_reason(IncompleteReason::HeadersUnavailable);
            }
        };
        match dir {
            Direction::Egress => {
                if let std::collections::btree_map::Entry::Vacant(slot) = self.streams.entry(sid) {
                    let mut p = Partial {
                        stream_id: Some(sid),
                        request: Request {
                            method: method.unwrap_or_default(),
                            path: path.unwrap_or_default(),
                            authority: authority.or_else(|| headers.get("host").map(str::to_owned)),
                            body: Bytes::new(),
                            headers,
                        },
                        ..Partial::default()
                    };
                    p.req_body = Some(BodyPipeline::new(
                        None,
                        p.request.headers.get("content-encoding"),
                        cx.cfg.max_decompressed_bytes,
                    ));
                    p.timing.request_start_ns = start;
                    unavailable(&mut p, cx);
                    slot.insert(p);
                }
            }
            Direction::Ingress => {
                let code: u16 = status.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
                if decoded && (100..200).contains(&code) {
                    return Ok(());
                }
                let p = self.streams.entry(sid).or_insert_with(|| {
                    cx.stats.unpaired_responses += 1;
                    let mut p = Partial {
                        stream_id: Some(sid),
                        req_done: true,
                        ..Partial::default()
                    };
                    p.add_reason(IncompleteReason::Malformed(
                        "response without request".into(),
                    ));
                    p
                });
                unavailable(p, cx);
                if p.response.is_none() {
                    p.resp_body = Some(BodyPipeline::new(
                        headers.get("content-type"),
                        headers.get("content-encoding"),
                        cx.cfg.max_decompressed_bytes,
                    ));
                    p.response = Some(Response {
                        status: code,
                        headers,
                        body: Default::default(),
                    });
                    p.timing.response_first_byte_ns = Some(start);
                }
            }
        }
        if end_stream {
            self.end_half(dir, sid, ts, cx, out);
        }
        Ok(())
    }

    fn end_half(
        &mut self,
        dir: Direction,
        sid: u32,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        let Some(p) = self.streams.get_mut(&sid) else {
            return;
        };
        match dir {
            Direction::Egress if !p.req_done => {
                p.finish_request(ts, cx.stats);
                p.req_done = true;
            }
            Direction::Ingress if !p.resp_done => {
                p.finish_response(ts, cx.stats);
                p.resp_done = true;
            }
            _ => {}
        }
        if p.req_done
            && p.resp_done
            && let Some(p) = self.streams.remove(&sid)
        {
            out.push(p.into_exchange(cx.meta, HttpVersion::Http2, ts, cx.stats));
        }
    }

    fn give_up(
        &mut self,
        reason: IncompleteReason,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        self.dead = true;
        for d in &mut self.dirs {
            d.buf = BytesMut::new();
            d.block = None;
        }
        for (_, mut p) in std::mem::take(&mut self.streams) {
            abort(&mut p, reason.clone(), ts, cx);
            out.push(p.into_exchange(cx.meta, HttpVersion::Http2, ts, cx.stats));
        }
    }

    /// Bytes were lost in `dir`: frame and HPACK sync are gone, the connection is given up.
    /// (A gap before any byte of a direction of a connection seen mid-way is expected.)
    pub fn on_gap(
        &mut self,
        dir: Direction,
        bytes: u64,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        if self.dead || (self.headers_unavailable && !self.dirs[idx(dir)].started) {
            return;
        }
        tracing::debug!(?dir, bytes, "http2 gap; connection given up");
        self.give_up(IncompleteReason::Gap { bytes }, ts, cx, out);
    }

    /// The connection ended: every open stream is emitted incomplete.
    pub fn finish(&mut self, ts: u64, cx: &mut Ctx<'_>, out: &mut Vec<Exchange>) {
        for (_, p) in std::mem::take(&mut self.streams) {
            out.push(p.into_exchange(cx.meta, HttpVersion::Http2, ts, cx.stats));
        }
        for d in &mut self.dirs {
            d.buf = BytesMut::new();
            d.block = None;
        }
    }
}

/// Ends both halves of `p` for `reason`.
fn abort(p: &mut Partial, reason: IncompleteReason, ts: u64, cx: &mut Ctx<'_>) {
    if !p.req_done {
        p.finish_request(ts, cx.stats);
        p.req_done = true;
    }
    if !p.resp_done {
        p.finish_response(ts, cx.stats);
        p.resp_done = true;
    }
    p.add_reason(reason);
}
