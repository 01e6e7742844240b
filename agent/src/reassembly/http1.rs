//! HTTP/1.x over one connection: requests on egress, responses on ingress, paired in order.
//!
//! Owns: head parsing (`httparse`), body framing (Content-Length, chunked, until close, the
//! no-body rules for HEAD/1xx/204/304), keep-alive and pipelining, `100-continue` interim
//! responses, and what a gap does (the touched exchange is marked, the direction
//! resynchronises on the next request/status line). Does not own: stream ordering
//! ([`super::stream`]) or content decoding ([`super::body`]).

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use super::body::BodyPipeline;
use super::exchange::{Exchange, Headers, HttpVersion, IncompleteReason, Request, Response};
use super::partial::{Ctx, Partial, push_header};
use crate::capture::event::Direction;

const MAX_HEADERS: usize = 128;
const MAX_LINE: usize = 4096;
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"PATCH ",
    b"HEAD ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
];

/// Why HTTP/1 bytes could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Http1Error {
    /// The head did not parse. The reason is a fixed name, never captured bytes.
    #[error("invalid head: {0}")]
    Head(&'static str),
    /// `Content-Length` was not a number.
    #[error("invalid content-length")]
    ContentLength,
    /// A chunk-size line was invalid or too long.
    #[error("invalid chunk framing")]
    Chunk,
}

/// A fixed name for a head parse error (logged and counted; carries no captured bytes).
fn head_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "header name",
        httparse::Error::HeaderValue => "header value",
        httparse::Error::NewLine => "new line",
        httparse::Error::Status => "status",
        httparse::Error::Token => "token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "version",
    }
}

/// Body framing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Close,
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailer,
}

enum Step {
    /// `start` framing bytes (a chunk-size line), `len` body bytes, then `skip` framing
    /// bytes (the CRLF that ends a chunk, when it is already there).
    Body {
        start: usize,
        len: usize,
        skip: usize,
    },
    Skip(usize),
    Done(usize),
    NeedMore,
}

impl Framing {
    /// The body bytes of a sized body or chunk (`rem` left) at `buf[start..]` (not empty),
    /// with the CRLF that ends a chunk when it is there too.
    fn body_at(&mut self, rem: u64, buf: &[u8], start: usize) -> Step {
        let n = rem.min((buf.len() - start) as u64);
        let len = n as usize;
        let mut skip = 0;
        *self = match *self {
            Framing::ChunkData(_) if n == rem => match &buf[start + len..] {
                [b'\r', b'\n', ..] => {
                    skip = 2;
                    Framing::ChunkSize
                }
                [b'\n', ..] => {
                    skip = 1;
                    Framing::ChunkSize
                }
                _ => Framing::ChunkEnd,
            },
            Framing::ChunkData(_) => Framing::ChunkData(rem - n),
            _ => Framing::Length(rem - n),
        };
        Step::Body { start, len, skip }
    }

    fn next(&mut self, buf: &[u8]) -> Result<Step, Http1Error> {
        let avail = buf.len() as u64;
        Ok(match *self {
            Framing::Length(0) => Step::Done(0),
            Framing::Length(rem) | Framing::ChunkData(rem) => {
                if avail == 0 {
                    return Ok(Step::NeedMore);
                }
                self.body_at(rem, buf, 0)
            }
            Framing::Close if buf.is_empty() => Step::NeedMore,
            Framing::Close => Step::Body {
                start: 0,
                len: buf.len(),
                skip: 0,
            },
            Framing::ChunkEnd => match buf {
                [b'\r', b'\n', ..] => {
                    *self = Framing::ChunkSize;
                    Step::Skip(2)
                }
                [b'\n', ..] => {
                    *self = Framing::ChunkSize;
                    Step::Skip(1)
                }
                [] | [b'\r'] => Step::NeedMore,
                _ => return Err(Http1Error::Chunk),
            },
            Framing::ChunkSize | Framing::Trailer => {
                let plain = match *self {
                    Framing::ChunkSize => plain_size_line(buf),
                    _ => None,
                };
                let (size, used) = match plain {
                    Some(found) => found,
                    None => {
                        let Some(i) = memchr::memchr(b'\n', buf) else {
                            if buf.len() > MAX_LINE {
                                return Err(Http1Error::Chunk);
                            }
                            return Ok(Step::NeedMore);
                        };
                        let line = buf[..i].strip_suffix(b"\r").unwrap_or(&buf[..i]);
                        if *self == Framing::Trailer {
                            if line.is_empty() {
                                return Ok(Step::Done(i + 1));
                            }
                            return Ok(Step::Skip(i + 1));
                        }
                        (chunk_size(line)?, i + 1)
                    }
                };
                if size == 0 {
                    *self = Framing::Trailer;
                    return Ok(Step::Skip(used));
                }
                *self = Framing::ChunkData(size);
                if used < buf.len() {
                    // The chunk's data follows its size line: one step for both.
                    self.body_at(size, buf, used)
                } else {
                    Step::Skip(used)
                }
            }
        })
    }
}

/// The common chunk-size line, read in one pass: 1 to 16 hex digits then CRLF (or LF).
/// Returns the size and the line's length with its terminator; `None` for anything else
/// (extensions, whitespace, leading zeros past 16 digits, a line not complete yet), which
/// [`chunk_size`] then handles.
fn plain_size_line(buf: &[u8]) -> Option<(u64, usize)> {
    let mut size = 0u64;
    for (i, &b) in buf.iter().enumerate().take(17) {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b'\r' if i > 0 => return (buf.get(i + 1) == Some(&b'\n')).then_some((size, i + 2)),
            b'\n' if i > 0 => return Some((size, i + 1)),
            _ => return None,
        };
        if i == 16 {
            return None;
        }
        size = (size << 4) | u64::from(digit);
    }
    None
}

/// The size on a chunk-size line (hex digits, then optional whitespace and extensions).
fn chunk_size(line: &[u8]) -> Result<u64, Http1Error> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let hex = line[..end].trim_ascii();
    let significant = &hex[hex.iter().position(|&b| b != b'0').unwrap_or(hex.len())..];
    if hex.is_empty() || significant.len() > 16 {
        return Err(Http1Error::Chunk);
    }
    significant.iter().try_fold(0u64, |size, &b| {
        let digit = (b as char).to_digit(16).ok_or(Http1Error::Chunk)?;
        Ok((size << 4) | u64::from(digit))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(Framing),
    Resync,
}

/// One direction's parser state.
#[derive(Debug)]
struct Dir {
    buf: BytesMut,
    state: State,
    head_start: Option<u64>,
    scan: usize,
}

impl Dir {
    fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            state: State::Head,
            head_start: None,
            scan: 0,
        }
    }
}

#[derive(Debug)]
enum Slot {
    Real(Box<Partial>),
    /// Requests lost in an egress gap of this many bytes.
    Lost(u64),
}

#[derive(Debug)]
enum Target {
    None,
    Slot,
    Orphan(Box<Partial>),
}

/// HTTP/1 state of one connection.
#[derive(Debug)]
pub struct H1Conn {
    req: Dir,
    resp: Dir,
    queue: VecDeque<Slot>,
    answered: usize,
    target: Target,
    resp_gap: Option<u64>,
    dead: bool,
}

impl Default for H1Conn {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether the head is complete: `\n\n` or `\r\n\r\n` occurs in `buf` at or after `*scan - 3`
/// (bytes before were searched by earlier calls). Stops at the first blank line, so a body
/// that arrived with its head is not scanned.
fn find_head_end(buf: &[u8], scan: &mut usize) -> bool {
    let from = scan.saturating_sub(3);
    *scan = buf.len();
    memchr::memchr_iter(b'\n', &buf[from..]).any(|i| {
        let i = from + i;
        let next = &buf[i + 1..];
        next.first() == Some(&b'\n')
            || (next.starts_with(b"\r\n") && i > from && buf[i - 1] == b'\r')
    })
}

/// Counts malformed HTTP/1 input of `dir`.
fn count_malformed(dir: Direction, cx: &mut Ctx<'_>) {
    match dir {
        Direction::Egress => cx.stats.malformed.http1_request += 1,
        Direction::Ingress => cx.stats.malformed.http1_response += 1,
    }
}

/// Finds the start of a plausible request line (egress) or status line (ingress).
fn find_start(buf: &[u8], dir: Direction) -> Option<usize> {
    (0..buf.len()).find(|&i| {
        (i == 0 || buf[i - 1] == b'\n') && {
            let rest = &buf[i..];
            match dir {
                Direction::Egress => METHODS.iter().any(|m| rest.starts_with(m)),
                Direction::Ingress => rest.starts_with(b"HTTP/1."),
            }
        }
    })
}

fn header<'h>(hs: &'h [httparse::Header<'_>], name: &str) -> Option<&'h str> {
    hs.iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::trim)
}

fn body_framing(hs: &[httparse::Header<'_>], default: Framing) -> Result<Framing, Http1Error> {
    if let Some(te) = header(hs, "transfer-encoding")
        && te
            .rsplit(',')
            .next()
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
    {
        return Ok(Framing::ChunkSize);
    }
    match header(hs, "content-length") {
        Some(cl) => cl
            .parse()
            .map(Framing::Length)
            .map_err(|_| Http1Error::ContentLength),
        None => Ok(default),
    }
}

fn to_headers(hs: &[httparse::Header<'_>]) -> Headers {
    let mut out = Headers::default();
    for h in hs {
        push_header(&mut out, h.name.as_bytes(), h.value);
    }
    out
}

impl H1Conn {
    /// A connection with nothing seen yet.
    pub fn new() -> Self {
        Self {
            req: Dir::new(),
            resp: Dir::new(),
            queue: VecDeque::new(),
            answered: 0,
            target: Target::None,
            resp_gap: None,
            dead: false,
        }
    }

    /// Bytes held in parser buffers.
    pub fn buffered(&self) -> usize {
        self.req.buf.len() + self.resp.buf.len()
    }

    fn dir(&mut self, dir: Direction) -> &mut Dir {
        match dir {
            Direction::Egress => &mut self.req,
            Direction::Ingress => &mut self.resp,
        }
    }

    /// Handles in-order bytes of one direction.
    pub fn on_data(
        &mut self,
        dir: Direction,
        data: &Bytes,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        if self.dead {
            return;
        }
        let d = self.dir(dir);
        if d.buf.is_empty() && d.state == State::Head {
            d.head_start = Some(ts);
        }
        if !d.buf.is_empty() {
            d.buf.extend_from_slice(data);
            self.process(dir, ts, cx, out);
            return;
        }
        // Nothing buffered: heads are parsed and body bytes fed from the chunk itself, and
        // only what cannot be used yet (a partial head or chunk-size line) is buffered.
        let mut input = &data[..];
        while !self.dead {
            match self.dir(dir).state {
                State::Body(mut f) => {
                    if input.is_empty() && f != Framing::Length(0) {
                        return; // every other framing state needs bytes
                    }
                    let step = f.next(input);
                    self.dir(dir).state = State::Body(f);
                    let at = data.len() - input.len();
                    match self.body_step(dir, step, input, Some((data, at)), ts, cx, out) {
                        Some(n) => input = &input[n..],
                        None => break,
                    }
                }
                State::Head if !input.is_empty() => {
                    if !find_head_end(input, &mut 0) {
                        break;
                    }
                    match self.parse_head(dir, input, ts, cx, out) {
                        Ok(n) => input = &input[n..],
                        Err(e) => {
                            input = &input[1..];
                            self.head_failed(dir, e, ts, cx, out);
                        }
                    }
                }
                State::Head | State::Resync => break,
            }
        }
        if !input.is_empty() {
            self.dir(dir).buf.extend_from_slice(input);
            self.process(dir, ts, cx, out);
        }
    }

    /// Acts on one framing step of a body in `dir`, read from `input` (the buffered bytes,
    /// or the chunk itself when nothing is buffered; then `chunk` is that chunk and where
    /// `input` starts in it, so body bytes can be kept without a copy). Returns the bytes
    /// used, or `None` when more bytes are needed.
    #[allow(clippy::too_many_arguments)]
    fn body_step(
        &mut self,
        dir: Direction,
        step: Result<Step, Http1Error>,
        input: &[u8],
        chunk: Option<(&Bytes, usize)>,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) -> Option<usize> {
        match step {
            Ok(Step::Body { start, len, skip }) => {
                let p = self.current(dir);
                let pipe = p.and_then(|p| match dir {
                    Direction::Egress => p.req_body.as_mut(),
                    Direction::Ingress => p.resp_body.as_mut(),
                });
                match (pipe, chunk) {
                    (Some(pipe), Some((chunk, at))) => {
                        pipe.feed_shared(chunk.slice(at + start..at + start + len), ts);
                    }
                    (Some(pipe), None) => pipe.feed(&input[start..start + len], ts),
                    (None, _) => {}
                }
                Some(start + len + skip)
            }
            Ok(Step::Skip(n)) => Some(n),
            Ok(Step::Done(n)) => {
                let d = self.dir(dir);
                d.state = State::Head;
                d.scan = 0;
                d.head_start = (input.len() > n).then_some(ts);
                self.end_message(dir, ts, cx, out);
                Some(n)
            }
            Ok(Step::NeedMore) => None,
            Err(e) => {
                count_malformed(dir, cx);
                // `Http1Error` displays fixed names only, never captured bytes.
                tracing::debug!(?dir, error = %e, "http1 body framing malformed");
                self.broken(dir, IncompleteReason::Malformed(e.to_string()), ts, cx, out);
                Some(0)
            }
        }
    }

    fn current(&mut self, dir: Direction) -> Option<&mut Partial> {
        match dir {
            Direction::Egress => match self.queue.back_mut() {
                Some(Slot::Real(p)) if !p.req_done => Some(p),
                _ => None,
            },
            Direction::Ingress => match &mut self.target {
                Target::None => None,
                Target::Orphan(p) => Some(p),
                Target::Slot => match self.queue.get_mut(self.answered) {
                    Some(Slot::Real(p)) => Some(p),
                    _ => None,
                },
            },
        }
    }

    fn process(&mut self, dir: Direction, ts: u64, cx: &mut Ctx<'_>, out: &mut Vec<Exchange>) {
        loop {
            if self.dead {
                self.req.buf.clear();
                self.resp.buf.clear();
                return;
            }
            let d = self.dir(dir);
            match d.state {
                State::Head => {
                    if d.buf.is_empty() {
                        return;
                    }
                    if !find_head_end(&d.buf, &mut d.scan) {
                        if d.buf.len() > cx.cfg.max_header_bytes {
                            cx.stats.bound_hits += 1;
                            tracing::debug!(?dir, len = d.buf.len(), "http1 head over bound");
                            self.broken(dir, IncompleteReason::BoundExceeded, ts, cx, out);
                        }
                        return;
                    }
                    let buf = std::mem::take(&mut d.buf);
                    let res = self.parse_head(dir, &buf, ts, cx, out);
                    self.dir(dir).buf = buf;
                    match res {
                        Ok(n) => self.dir(dir).buf.advance(n),
                        Err(e) => {
                            self.dir(dir).buf.advance(1);
                            self.head_failed(dir, e, ts, cx, out);
                        }
                    }
                }
                State::Body(mut f) => {
                    let step = f.next(&d.buf);
                    d.state = State::Body(f);
                    // Lend the buffer out (no copy, no refcount) while the step reads it.
                    let mut buf = std::mem::take(&mut d.buf);
                    let used = self.body_step(dir, step, &buf, None, ts, cx, out);
                    buf.advance(used.unwrap_or(0));
                    self.dir(dir).buf = buf;
                    if used.is_none() {
                        return;
                    }
                }
                State::Resync => match find_start(&d.buf, dir) {
                    Some(i) => {
                        d.buf.advance(i);
                        d.state = State::Head;
                        d.scan = 0;
                        d.head_start = Some(ts);
                    }
                    None => {
                        let keep = d.buf.len().min(16);
                        let drop = d.buf.len() - keep;
                        d.buf.advance(drop);
                        return;
                    }
                },
            }
        }
    }

    /// Parses a complete head of `dir` at the start of `head`; returns its length.
    fn parse_head(
        &mut self,
        dir: Direction,
        head: &[u8],
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) -> Result<usize, Http1Error> {
        match dir {
            Direction::Egress => self.parse_request(head, ts, cx),
            Direction::Ingress => self.parse_response(head, ts, cx, out),
        }
    }

    /// A head did not parse: counted, and the direction resynchronises.
    fn head_failed(
        &mut self,
        dir: Direction,
        e: Http1Error,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        count_malformed(dir, cx);
        tracing::debug!(?dir, error = %e, "http1 head malformed, resynchronising");
        self.broken(dir, IncompleteReason::Malformed(e.to_string()), ts, cx, out);
    }

    // Not inlined: the header array (4 KiB) would otherwise be in every call's frame.
    #[inline(never)]
    fn parse_request(
        &mut self,
        head: &[u8],
        ts: u64,
        cx: &mut Ctx<'_>,
    ) -> Result<usize, Http1Error> {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut r = httparse::Request::new(&mut hs);
        let n = match r.parse(head) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Err(Http1Error::Head("incomplete")),
            Err(e) => return Err(Http1Error::Head(head_error(e))),
        };
        let framing = body_framing(r.headers, Framing::Length(0))?;
        let mut p = Partial {
            request: Request {
                method: r.method.unwrap_or_default().to_owned(),
                path: r.path.unwrap_or_default().to_owned(),
                authority: header(r.headers, "host").map(str::to_owned),
                headers: to_headers(r.headers),
                body: Default::default(),
            },
            req_body: Some(BodyPipeline::new(
                None,
                header(r.headers, "content-encoding"),
                cx.cfg.max_decompressed_bytes,
            )),
            ..Partial::default()
        };
        p.timing.request_start_ns = self.req.head_start.unwrap_or(ts);
        self.queue.push_back(Slot::Real(Box::new(p)));
        self.req.state = State::Body(framing);
        Ok(n)
    }

    #[inline(never)]
    fn parse_response(
        &mut self,
        head: &[u8],
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) -> Result<usize, Http1Error> {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut r = httparse::Response::new(&mut hs);
        let n = match r.parse(head) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Err(Http1Error::Head("incomplete")),
            Err(e) => return Err(Http1Error::Head(head_error(e))),
        };
        let status = r.code.unwrap_or_default();
        let start = self.resp.head_start.unwrap_or(ts);
        if (100..200).contains(&status) && status != 101 {
            // Interim response (100 Continue, 103 Early Hints): the final one follows.
            self.resp.head_start = (head.len() > n).then_some(ts);
            self.resp.scan = 0;
            return Ok(n);
        }
        let framed = body_framing(r.headers, Framing::Close);
        let pipe = BodyPipeline::new(
            header(r.headers, "content-type"),
            header(r.headers, "content-encoding"),
            cx.cfg.max_decompressed_bytes,
        );
        let response = Response {
            status,
            headers: to_headers(r.headers),
            body: Default::default(),
        };
        self.pair(start, cx, out);
        let head_req = match &self.target {
            Target::Slot => matches!(self.queue.get(self.answered),
                Some(Slot::Real(p)) if p.request.method.eq_ignore_ascii_case("HEAD")),
            _ => false,
        };
        let no_body = head_req || status == 204 || status == 304 || status == 101;
        let framing = if no_body { Framing::Length(0) } else { framed? };
        if let Some(p) = self.current(Direction::Ingress) {
            p.response = Some(response);
            p.resp_body = Some(pipe);
            p.timing.response_first_byte_ns = Some(start);
        }
        if status == 101 {
            tracing::debug!("http1 connection switched protocols; no longer parsed");
        }
        self.resp.state = State::Body(framing);
        Ok(n)
    }

    /// Chooses the request a response at `start` answers.
    fn pair(&mut self, start: u64, cx: &mut Ctx<'_>, out: &mut Vec<Exchange>) {
        if let Some(bytes) = self.resp_gap.take() {
            // Responses were lost: a request whose successor was sent before this response
            // began (no pipelining) must have had its response in the gap.
            while let (Some(Slot::Real(_)), Some(Slot::Real(next))) = (
                self.queue.get(self.answered),
                self.queue.get(self.answered + 1),
            ) {
                if next.timing.request_start_ns > start {
                    break;
                }
                if let Some(Slot::Real(p)) = self.queue.get_mut(self.answered) {
                    p.add_reason(IncompleteReason::Gap { bytes });
                    p.resp_done = true;
                }
                self.answered += 1;
            }
            self.emit_ready(start, cx, out);
        }
        while let (Some(Slot::Lost(_)), Some(Slot::Real(next))) = (
            self.queue.get(self.answered),
            self.queue.get(self.answered + 1),
        ) {
            if next.timing.request_start_ns > start {
                break;
            }
            self.queue.remove(self.answered);
        }
        self.target = match self.queue.get(self.answered) {
            Some(Slot::Real(_)) => Target::Slot,
            Some(Slot::Lost(bytes)) => {
                let mut p = Partial::default();
                p.add_reason(IncompleteReason::Gap { bytes: *bytes });
                p.req_done = true;
                Target::Orphan(Box::new(p))
            }
            None => {
                cx.stats.unpaired_responses += 1;
                let mut p = Partial::default();
                p.add_reason(IncompleteReason::Malformed(
                    "response without request".into(),
                ));
                p.req_done = true;
                Target::Orphan(Box::new(p))
            }
        };
    }

    fn end_message(&mut self, dir: Direction, ts: u64, cx: &mut Ctx<'_>, out: &mut Vec<Exchange>) {
        match dir {
            Direction::Egress => {
                if let Some(p) = self.current(dir) {
                    p.finish_request(ts, cx.stats);
                    p.req_done = true;
                }
            }
            Direction::Ingress => {
                let switched = matches!(self.current(dir), Some(p)
                    if p.response.as_ref().is_some_and(|r| r.status == 101));
                if let Some(p) = self.current(dir) {
                    p.finish_response(ts, cx.stats);
                    p.resp_done = true;
                }
                match std::mem::replace(&mut self.target, Target::None) {
                    Target::Slot => self.answered += 1,
                    Target::Orphan(p) => {
                        out.push(p.into_exchange(cx.meta, HttpVersion::Http1, ts, cx.stats));
                    }
                    Target::None => {}
                }
                self.dead |= switched;
            }
        }
        self.emit_ready(ts, cx, out);
    }

    fn emit_ready(&mut self, ts: u64, cx: &mut Ctx<'_>, out: &mut Vec<Exchange>) {
        while let Some(Slot::Real(p)) = self.queue.front()
            && p.req_done
            && p.resp_done
        {
            if let Some(Slot::Real(p)) = self.queue.pop_front() {
                self.answered = self.answered.saturating_sub(1);
                out.push(p.into_exchange(cx.meta, HttpVersion::Http1, ts, cx.stats));
            }
        }
    }

    /// The current message of `dir` cannot go on: it ends incomplete for `reason`, and the
    /// direction resynchronises.
    fn broken(
        &mut self,
        dir: Direction,
        reason: IncompleteReason,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        let in_body = matches!(self.dir(dir).state, State::Body(_));
        if in_body && let Some(p) = self.current(dir) {
            p.add_reason(reason);
            self.end_message(dir, ts, cx, out);
        }
        let d = self.dir(dir);
        d.state = State::Resync;
        d.scan = 0;
    }

    /// Bytes were lost in `dir`.
    pub fn on_gap(
        &mut self,
        dir: Direction,
        bytes: u64,
        ts: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        if self.dead {
            return;
        }
        let d = self.dir(dir);
        if let State::Body(Framing::Length(rem)) = d.state
            && rem > bytes
        {
            // Framing survives: skip the lost bytes inside a sized body.
            d.state = State::Body(Framing::Length(rem - bytes));
            if let Some(p) = self.current(dir) {
                p.add_reason(IncompleteReason::Gap { bytes });
            }
            return;
        }
        self.broken(dir, IncompleteReason::Gap { bytes }, ts, cx, out);
        self.dir(dir).buf.clear();
        match dir {
            Direction::Egress => self.queue.push_back(Slot::Lost(bytes)),
            Direction::Ingress => {
                *self.resp_gap.get_or_insert(0) += bytes;
            }
        }
    }

    /// The connection ended at `ts` (`closed`: really closed, not evicted): a response
    /// delimited by close completes, everything else in flight is emitted incomplete.
    pub fn finish(&mut self, ts: u64, closed: bool, cx: &mut Ctx<'_>, out: &mut Vec<Exchange>) {
        if !self.dead {
            match self.resp.state {
                State::Body(Framing::Close) if closed => {
                    self.end_message(Direction::Ingress, ts, cx, out)
                }
                State::Body(_) => self.broken(
                    Direction::Ingress,
                    IncompleteReason::ConnectionEnded,
                    ts,
                    cx,
                    out,
                ),
                _ => {}
            }
            if let State::Body(_) = self.req.state {
                self.broken(
                    Direction::Egress,
                    IncompleteReason::ConnectionEnded,
                    ts,
                    cx,
                    out,
                );
            }
        }
        if let Target::Orphan(p) = std::mem::replace(&mut self.target, Target::None) {
            out.push(p.into_exchange(cx.meta, HttpVersion::Http1, ts, cx.stats));
        }
        while let Some(slot) = self.queue.pop_front() {
            if let Slot::Real(p) = slot {
                out.push(p.into_exchange(cx.meta, HttpVersion::Http1, ts, cx.stats));
            }
        }
        self.answered = 0;
        self.req = Dir::new();
        self.resp = Dir::new();
    }
}

#[cfg(test)]
mod tests {
    use super::{Http1Error, chunk_size, find_head_end};

    /// The one-pass reader agrees with the general one wherever it answers.
    #[test]
    fn plain_size_lines_agree_with_chunk_size() {
        for line in [
            "1a\r\n",
            "1A\n",
            "0\r\n",
            "ffffffffffffffff\r\n",
            "00000000000000001\r\n",
            "1a;x=1\r\n",
            "1a \r\n",
            "\r\n",
            "1a\r",
            "1a",
            "1a\rx\n",
            "g\r\n",
        ] {
            let b = line.as_bytes();
            if let Some((size, used)) = super::plain_size_line(b) {
                let i = b.iter().position(|&c| c == b'\n').expect("complete line");
                assert_eq!(used, i + 1, "{line:?}");
                let l = b[..i].strip_suffix(b"\r").unwrap_or(&b[..i]);
                assert_eq!(chunk_size(l), Ok(size), "{line:?}");
            }
        }
        assert_eq!(super::plain_size_line(b"7d\r\n{"), Some((0x7d, 4)));
        assert_eq!(super::plain_size_line(b"1a;x\r\n"), None);
        assert_eq!(super::plain_size_line(b"1a\r"), None);
        assert_eq!(super::plain_size_line(b"00000000000000001\r\n"), None);
    }

    #[test]
    fn chunk_size_lines() {
        for (line, size) in [
            ("1a", 26),
            ("1A;name=value", 26),
            (" 1a \t", 26),
            ("1a ; ext", 26),
            ("000000000000000000000001a", 26),
            ("0", 0),
            ("ffffffffffffffff", u64::MAX),
        ] {
            assert_eq!(chunk_size(line.as_bytes()), Ok(size), "{line:?}");
        }
        for line in [
            "",
            ";x",
            "+1a",
            "-1",
            "1 a",
            "g",
            "1_0",
            "10000000000000000",
            "é",
        ] {
            assert_eq!(
                chunk_size(line.as_bytes()),
                Err(Http1Error::Chunk),
                "{line:?}"
            );
        }
    }

    /// Fed in every split, the incremental search agrees with a whole-buffer search.
    #[test]
    fn head_end_is_found_across_any_split() {
        let naive =
            |b: &[u8]| b.windows(2).any(|w| w == b"\n\n") || b.windows(4).any(|w| w == b"\r\n\r\n");
        for input in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\n\nmore"[..],
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\rx\n",
            b"HTTP/1.1 200 OK\r\nA: b\n\r\n",
            b"\r\n\r\n",
            b"no end\r\n",
        ] {
            for cut in 0..=input.len() {
                let mut scan = 0;
                let first = find_head_end(&input[..cut], &mut scan);
                let both = first || find_head_end(input, &mut scan);
                assert_eq!(both, naive(input), "{input:?} cut at {cut}");
                assert_eq!(first, naive(&input[..cut]), "{input:?} cut at {cut}");
            }
        }
    }
}
