//! Redaction of snippet text (snippets mode only): secrets, contact details, card-like and long
//! digit runs, IP addresses, replaced by `[REDACTED:<class>]`. Owns the patterns (compiled once)
//! and snippet truncation; not the decision whether snippets are emitted (`Privacy`).
//!
//! Redaction happens *before* truncation, on a bounded window whose last partial word is
//! dropped, so a secret cut by a bound is never half-emitted.

use std::sync::LazyLock;

use regex::Regex;

/// Longest snippet, in characters.
pub const MAX_SNIPPET_CHARS: usize = 256;
/// Characters of source text examined for one snippet.
const WINDOW_CHARS: usize = 2048;

/// `(class, pattern)`; patterns with a capture group named `s` redact only that group.
const PATTERNS: &[(&str, &str)] = &[
    ("anthropic_key", r"sk-ant-[A-Za-z0-9_\-]{6,}"),
    (
        "openai_key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{12,}",
    ),
    ("aws_access_key", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    (
        "aws_secret",
        r"(?i)aws[A-Za-z0-9_ \-]{0,30}(?:secret|key)[A-Za-z0-9_ \-]{0,20}[\s:=\x22']{1,5}(?P<s>[A-Za-z0-9/+=]{40})",
    ),
    ("google_key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    (
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
    ),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
    ),
    ("bearer", r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{6,}"),
    (
        "email",
        r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    ),
    ("card", r"\b(?:\d[ \-]?){12,18}\d\b"),
    (
        "phone",
        r"(?:\+\d{1,3}[\s.\-]?\(?\d{1,4}\)?(?:[\s.\-]?\d{2,4}){2,4}|\(?\b\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}\b)",
    ),
    ("digits", r"\d{9,}"),
    (
        "ipv6",
        r"(?i)(?:\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|(?:\b[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}\b(?::[0-9a-f]{1,4}\b){0,5})?|::(?:[0-9a-f]{1,4}\b)(?::[0-9a-f]{1,4}\b){0,5})",
    ),
    ("ipv4", r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
];

static RULES: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|(class, p)| (*class, Regex::new(p).expect("constant redaction pattern")))
        .collect()
});

/// Replace every sensitive match in `text` by `[REDACTED:<class>]`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for (class, re) in RULES.iter() {
        if !re.is_match(&out) {
            continue;
        }
        let tag = format!("[REDACTED:{class}]");
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| {
                match (c.get(0), c.name("s")) {
                    (Some(all), Some(s)) => {
                        let a = all.as_str();
                        let keep = a.get(..s.start() - all.start()).unwrap_or_default();
                        format!("{keep}{tag}")
                    }
                    _ => tag.clone(),
                }
            })
            .into_owned();
    }
    out
}

/// First `max` characters of `s` (on a char boundary) and whether anything was cut.
pub fn truncate_chars(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (s.get(..i).unwrap_or_default(), true),
        None => (s, false),
    }
}

/// Readable text of a segment: the string leaves of its JSON (roles, types, ids and binary
/// `data` skipped), joined by spaces; the raw text when it is not JSON.
pub fn readable_text(segment_json: &str) -> String {
    fn walk(v: &serde_json::Value, key: Option<&str>, out: &mut Vec<String>) {
        const SKIP: &[&str] = &[
            "role",
            "type",
            "id",
            "tool_use_id",
            "tool_call_id",
            "cache_control",
            "ttl",
            "media_type",
            "mime_type",
            "mimeType",
            "data",
            "signature",
        ];
        if key.is_some_and(|k| SKIP.contains(&k)) {
            return;
        }
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| walk(x, Some(k), out)),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(segment_json) {
        Ok(v) => {
            let mut parts = Vec::new();
            walk(&v, None, &mut parts);
            parts.join(" ")
        }
        Err(_) => segment_json.to_owned(),
    }
}

/// A redacted snippet of at most `max_chars` characters, and whether it was cut.
/// `source_cut`: `text` itself was already cut by an earlier bound (its end may be half a
/// secret), so its last partial word is dropped too.
pub fn snippet(text: &str, max_chars: usize, source_cut: bool) -> (String, bool) {
    let (mut window, cut) = truncate_chars(text, WINDOW_CHARS);
    let cut = cut || source_cut;
    if cut {
        // Drop the last partial word: it may be the start of a secret.
        window = window
            .rfind(char::is_whitespace)
            .and_then(|i| window.get(..i))
            .unwrap_or_default();
    }
    let red = redact(window);
    let (s, more) = truncate_chars(&red, max_chars.min(MAX_SNIPPET_CHARS));
    (s.to_owned(), cut || more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        assert_eq!(RULES.len(), PATTERNS.len());
    }

    #[test]
    fn redacts_each_class() {
        let cases = [
            ("key sk-proj-AbCdEf0123456789xyz ok", "sk-proj-"),
            ("key sk-canary-0123456789abcdef", "sk-canary"),
            ("x sk-ant-api03-abcdefghijkl", "sk-ant"),
            ("AKIAIOSFODNN7EXAMPLE", "AKIA"),
            ("ASIAIOSFODNN7EXAMPLE", "ASIA"),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "wJalr",
            ),
            ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIza"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_"),
            ("github_pat_11ABCDEFG0123456789_abcdef", "github_pat"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-abc", "eyJ"),
            ("Authorization: Bearer abc.def-123456", "abc.def"),
            ("mail jane.doe+x@example.co.uk now", "example"),
            ("call +44 20 7946 0958 now", "7946"),
            ("call (415) 555-0132 now", "555"),
            ("card 4111 1111 1111 1111", "1111"),
            ("ssn 123456789", "123456789"),
            ("host 10.1.2.3", "10.1.2.3"),
            ("v6 2001:db8::8a2e:370:7334", "2001:db8"),
            ("v6 fe80:0:0:0:202:b3ff:fe1e:8329", "fe80"),
        ];
        for (text, secret) in cases {
            let r = redact(text);
            assert!(!r.contains(secret), "{text:?} -> {r:?}");
            assert!(r.contains("[REDACTED:"), "{text:?} -> {r:?}");
        }
    }

    #[test]
    fn keeps_ordinary_text() {
        let t = "The meeting on 2024-01-15 at 12:30 covers 3 items.";
        assert_eq!(redact(t), t);
    }

    #[test]
    fn snippet_is_bounded_on_char_boundaries() {
        let long = "é".repeat(1000);
        let (s, cut) = snippet(&long, 300, false);
        assert_eq!(s.chars().count(), MAX_SNIPPET_CHARS);
        assert!(cut);
        let (s, cut) = snippet("short", 256, false);
        assert_eq!((s.as_str(), cut), ("short", false));
    }

    #[test]
    fn window_cut_never_leaves_half_a_secret() {
        let text = format!("{} sk-ant-abcdefghijklmnop", "a ".repeat(1020));
        let (s, _) = snippet(&text, 256, false);
        assert!(!s.contains("sk-"));
        let (s, cut) = snippet("my key is sk-ant-ab", 256, true);
        assert_eq!((s.as_str(), cut), ("my key is", true));
    }

    #[test]
    fn readable_text_skips_structure() {
        let t =
            readable_text(r#"{"role":"user","content":[{"type":"text","text":"hello there"}]}"#);
        assert_eq!(t, "hello there");
        assert_eq!(readable_text("not json"), "not json");
    }
}
