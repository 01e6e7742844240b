//! The header allowlist: the only HTTP headers whose values may reach an event, and the
//! credential headers that are never read. Rate-limit headers are normalised by the LLM stage
//! and reach events as numbers only, so they are not read here.

use crate::reassembly::exchange::Headers;

/// Request-id headers; their values reach events only as a keyed hash.
pub const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "apim-request-id",
];

/// Headers whose (sanitised) values may be read into an event.
pub const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "apim-request-id",
];

/// Credential headers: never read into any event, whatever the allowlist says.
pub const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "x-goog-api-key",
];

/// Value of header `name` if it is allowlisted (and not a credential header), else `None`.
pub fn allowed<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    if FORBIDDEN_HEADERS.contains(&name) || !ALLOWED_HEADERS.contains(&name) {
        return None;
    }
    headers.get(name)
}

/// A media type reduced to `type/subtype` (lower-case, `[a-z0-9.+-]` only, ≤ 64 bytes).
pub fn media_type(headers: &Headers) -> Option<String> {
    let v = allowed(headers, "content-type")?;
    let mt = v.split(';').next()?.trim().to_ascii_lowercase();
    let ok = mt.len() <= 64
        && mt.split('/').count() == 2
        && mt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b));
    ok.then_some(mt)
}

/// First request-id header value present.
pub fn request_id(headers: &Headers) -> Option<&str> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|n| allowed(headers, n))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn credential_headers_are_never_read() {
        let h = Headers(
            FORBIDDEN_HEADERS
                .iter()
                .map(|n| (n.to_string(), Bytes::from_static(b"sk-secret")))
                .collect(),
        );
        for n in FORBIDDEN_HEADERS {
            assert_eq!(allowed(&h, n), None, "{n}");
        }
        assert!(
            FORBIDDEN_HEADERS
                .iter()
                .all(|f| !ALLOWED_HEADERS.contains(f))
        );
    }

    #[test]
    fn media_type_is_sanitised() {
        let h = |v: &'static str| {
            Headers(vec![(
                "content-type".into(),
                Bytes::from_static(v.as_bytes()),
            )])
        };
        assert_eq!(
            media_type(&h("Application/JSON; charset=utf-8")).as_deref(),
            Some("application/json")
        );
        assert_eq!(media_type(&h("text/html <script>")), None);
    }
}
