//! Shared parsing helpers for the provider parsers: bounded body access, JSON error
//! classification, lenient number/string fields, `cache_control` markers and the bounded
//! prompt-segment sink. No provider knowledge here.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::call::{
    CacheControl, CacheTtl, JsonErrorClass, LlmCall, ParseErrorKind, PromptSegment, SegmentKind,
};
use super::config::LlmConfig;

/// Which half of the exchange a body belongs to (for error kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Response,
}

impl Side {
    fn json_error(self, class: JsonErrorClass) -> ParseErrorKind {
        match self {
            Side::Request => ParseErrorKind::RequestJson(class),
            Side::Response => ParseErrorKind::ResponseJson(class),
        }
    }
}

/// The body as UTF-8, or `None` (with the error recorded) when it is empty, too large or not
/// UTF-8.
pub(crate) fn body_str<'a>(call: &mut LlmCall, cfg: &LlmConfig, body: &'a [u8]) -> Option<&'a str> {
    if body.is_empty() {
        return None;
    }
    if body.len() > cfg.max_body_bytes {
        tracing::debug!(
            len = body.len(),
            bound = cfg.max_body_bytes,
            "llm body too large"
        );
        call.error(ParseErrorKind::BodyTooLarge);
        return None;
    }
    // SIMD validation: every request and response body passes here, 10s of KiB each.
    match simdutf8::basic::from_utf8(body) {
        Ok(s) => Some(s),
        Err(_) => {
            call.error(ParseErrorKind::NotUtf8);
            None
        }
    }
}

/// A response body to parse as JSON: like [`body_str`], but an error status with a body that
/// is not JSON at all (a proxy's HTML or plain-text page) is skipped, not counted as a parse
/// error; the status still gives the error class.
pub(crate) fn response_json<'a>(
    call: &mut LlmCall,
    cfg: &LlmConfig,
    status: u16,
    body: &'a [u8],
) -> Option<&'a str> {
    let plain = status >= 400 && !matches!(body.trim_ascii_start().first(), Some(b'{' | b'['));
    if plain {
        return None;
    }
    body_str(call, cfg, body)
}

/// Parse `text` as `T`, recording a classified error on failure.
/// The text must be a JSON object (serde would otherwise accept an array for a struct).
pub(crate) fn parse<'a, T: Deserialize<'a>>(
    call: &mut LlmCall,
    side: Side,
    text: &'a str,
) -> Option<T> {
    if text.trim_start().as_bytes().first() != Some(&b'{') {
        call.error(side.json_error(JsonErrorClass::Data));
        return None;
    }
    parse_any(call, side, text)
}

/// Parse `text` (any JSON value) as `T`, recording a classified error on failure.
pub(crate) fn parse_any<'a, T: Deserialize<'a>>(
    call: &mut LlmCall,
    side: Side,
    text: &'a str,
) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            let class = JsonErrorClass::of(&e);
            tracing::debug!(
                ?side,
                ?class,
                line = e.line(),
                column = e.column(),
                "llm json error"
            );
            call.error(side.json_error(class));
            None
        }
    }
}

/// A token count that tolerates the wire: negative, fractional, out-of-range, null or
/// non-numeric values become `None` instead of failing the whole body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Count(pub Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a token count")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                Ok(Count(u64::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                let ok = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19;
                Ok(Count(ok.then_some(v as u64)))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Count, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Count, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string field that tolerates other JSON types (they become `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Str(pub Option<String>);

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str, E> {
                // Bound what a hostile peer can make us keep: 256 characters.
                let end = if v.len() <= 256 {
                    v.len()
                } else {
                    v.char_indices().nth(256).map_or(v.len(), |(i, _)| i)
                };
                Ok(Str(Some(v[..end].to_owned())))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Str, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Str, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean field that tolerates other JSON types (they become `None`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Flag(v.as_bool()))
    }
}

/// `cache_control: {type: "ephemeral", ttl: "5m" | "1h"}` as sent.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireCacheControl {
    #[serde(default)]
    ttl: Str,
}

impl WireCacheControl {
    /// The normalised marker (unknown TTLs read as the 5-minute default).
    pub(crate) fn normalise(&self) -> CacheControl {
        let ttl = match self.ttl.0.as_deref() {
            Some("1h") => CacheTtl::OneHour,
            _ => CacheTtl::FiveMinutes,
        };
        CacheControl { ttl }
    }
}

/// Just the `cache_control` of a block / tool / system entry, everything else skipped.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CacheMarked {
    #[serde(default)]
    pub cache_control: Option<WireCacheControl>,
}

/// Bounded collector of prompt segments.
pub(crate) struct Segments {
    budget: usize,
    truncated: bool,
}

/// Where a segment sits.
pub(crate) struct SegmentAt<'r> {
    pub kind: SegmentKind,
    pub role: Option<&'r str>,
    pub index: usize,
    pub message_index: Option<usize>,
    pub cache_control: Option<CacheControl>,
}

impl Segments {
    /// A sink that keeps at most `budget` bytes of segment text in total.
    pub(crate) fn new(budget: usize) -> Self {
        Segments {
            budget,
            truncated: false,
        }
    }

    /// Append a segment whose raw JSON is `raw` (minified into its text).
    pub(crate) fn push(&mut self, call: &mut LlmCall, at: SegmentAt<'_>, raw: &str) {
        let mut text = String::new();
        let cut = !minify(raw, &mut text, self.budget);
        self.budget -= text.len();
        if cut && !self.truncated {
            self.truncated = true;
            tracing::debug!(
                segment = call.request.segments.len(),
                "llm segment text bound hit"
            );
            call.error(ParseErrorKind::SegmentsTruncated);
        }
        call.request.segments.push(PromptSegment {
            kind: at.kind,
            role: at.role.map(|r| r.chars().take(64).collect()),
            index: clamp_u32(at.index),
            message_index: at.message_index.map(clamp_u32),
            cache_control: at.cache_control,
            text,
            text_truncated: cut,
        });
    }
}

/// An error class fit to report: a short identifier (`rate_limit_error`, `RESOURCE_EXHAUSTED`),
/// never free text.
pub(crate) fn error_class(s: Option<&str>) -> Option<String> {
    let s = s?.trim();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    ok.then(|| s.to_string())
}

/// A plain segment position (no message index, no cache marker).
pub(crate) fn at(kind: SegmentKind, role: Option<&str>, index: usize) -> SegmentAt<'_> {
    SegmentAt {
        kind,
        role,
        index,
        message_index: None,
        cache_control: None,
    }
}

/// Saturating `usize` → `u32`.
pub(crate) fn clamp_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Copy `raw` JSON into `out` without insignificant whitespace, at most `limit` bytes.
/// Returns false when cut. Iterative: no recursion, whatever the nesting.
pub(crate) fn minify(raw: &str, out: &mut String, limit: usize) -> bool {
    let bytes = raw.as_bytes();
    let mut start = 0;
    let mut kept = 0;
    // Copy runs of significant bytes between whitespace, so UTF-8 sequences are never split
    // except at the final cut, which is moved back to a char boundary.
    let flush = |from: usize, to: usize, out: &mut String, kept: &mut usize| -> bool {
        let room = limit.saturating_sub(*kept);
        let mut end = to.min(from + room);
        while end > from && !raw.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&raw[from..end]);
        *kept += end - from;
        end == to
    };
    out.reserve(raw.len().min(limit));
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i + 1),
            b' ' | b'\n' | b'\r' | b'\t' => {
                if !flush(start, i, out, &mut kept) {
                    return false;
                }
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    flush(start, bytes.len(), out, &mut kept)
}

/// Index just past the quote that closes the string whose contents start at `from` (or the
/// end of `bytes` when it is unterminated). Jumps from quote or backslash to the next.
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    while let Some(j) = bytes
        .get(from..)
        .and_then(|b| memchr::memchr2(b'"', b'\\', b))
    {
        if bytes[from + j] == b'"' {
            return from + j + 1;
        }
        from += j + 2;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_string_spaces_and_bounds() {
        let mut s = String::new();
        assert!(minify(
            "{ \"a b\" : [1, 2],\n \"c\":\"\\\" x\" }",
            &mut s,
            100
        ));
        assert_eq!(s, "{\"a b\":[1,2],\"c\":\"\\\" x\"}");
        let mut s = String::new();
        assert!(!minify("\"ééé\"", &mut s, 4));
        assert_eq!(s, "\"é");
    }

    #[test]
    fn lenient_count() {
        let c: Vec<Count> =
            serde_json::from_str("[1, -1, 1.5, 1e30, null, \"x\", {\"a\":[1]}, [2], 3.0]").unwrap();
        let got: Vec<_> = c.into_iter().map(|c| c.0).collect();
        assert_eq!(
            got,
            [Some(1), None, None, None, None, None, None, None, Some(3)]
        );
    }
}
