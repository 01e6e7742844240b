//! Reading one top-level member of a JSON object without deserialising the others.
//!
//! Owns: [`role_of`], the `role` of a chat message. A message is mostly its content (often
//! kilobytes of prompt text) and `serde_json` reads every byte of it to find the role, at
//! ~1 GB/s; this walks the members and jumps over strings with `memchr` (several GB/s).
//! Does not own: validation (the input is a `RawValue`, already valid JSON). Anything
//! unusual (a key with escapes, a non-object) is left to `serde_json`, so the answer is
//! always the one the derived `Deserialize` gives.

use serde::Deserialize;

use super::wire::Str;

#[derive(Deserialize)]
struct Role {
    #[serde(default)]
    role: Str,
}

/// The `role` of a message object (`{"role": "user", ...}`), as `#[derive(Deserialize)]`
/// over a struct with a lenient `role` string would read it: `None` when absent, not a
/// string, or given twice.
pub(crate) fn role_of(message: &str) -> Option<String> {
    match find_member(message.as_bytes(), b"role") {
        Found::Once(value) => {
            let value = message.get(value)?;
            serde_json::from_str::<Str>(value).ok().and_then(|s| s.0)
        }
        Found::Absent | Found::Twice => None,
        Found::Unsure => serde_json::from_str::<Role>(message)
            .ok()
            .and_then(|r| r.role.0),
    }
}

enum Found {
    /// The member's value is at this range.
    Once(std::ops::Range<usize>),
    Absent,
    Twice,
    /// Not a plain object, or a key with escapes: ask `serde_json`.
    Unsure,
}

fn find_member(b: &[u8], name: &[u8]) -> Found {
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Found::Unsure;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Found::Absent;
    }
    let mut found = None;
    loop {
        if b.get(i) != Some(&b'"') {
            return Found::Unsure;
        }
        let Some((key_end, escaped)) = string_end(b, i) else {
            return Found::Unsure;
        };
        if escaped {
            return Found::Unsure;
        }
        let key = &b[i + 1..key_end - 1];
        i = ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return Found::Unsure;
        }
        let start = ws(b, i + 1);
        let Some(end) = value_end(b, start) else {
            return Found::Unsure;
        };
        if key == name {
            if found.is_some() {
                return Found::Twice;
            }
            found = Some(start..end);
        }
        i = ws(b, end);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => break,
            _ => return Found::Unsure,
        }
    }
    found.map_or(Found::Absent, Found::Once)
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// End (past the closing quote) of the string opening at `i`, and whether it has escapes.
fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut at = i + 1;
    let mut escaped = false;
    loop {
        let j = at + memchr::memchr2(b'"', b'\\', b.get(at..)?)?;
        if b[j] == b'"' {
            return Some((j + 1, escaped));
        }
        escaped = true;
        at = j + 2;
    }
}

/// End of the value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = i;
            loop {
                match b.get(at)? {
                    b'"' => {
                        at = string_end(b, at)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            let n = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            Some(i + n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_serde(message: &str) -> Option<String> {
        serde_json::from_str::<Role>(message)
            .ok()
            .and_then(|r| r.role.0)
    }

    #[test]
    fn reads_the_role_as_serde_does() {
        for m in [
            r#"{"role":"user","content":"hi"}"#,
            r#" { "content" : [{"type":"text","text":"a \"role\": \"x\" }"}], "role" : "assistant" } "#,
            r#"{"content":{"role":"nested"},"role":"tool"}"#,
            r#"{"role":"a","role":"b"}"#,
            r#"{"role":null}"#,
            r#"{"role":3,"x":[1,2,{"y":"]"}]}"#,
            r#"{"role":"\u0075ser"}"#,
            r#"{"r\u006fle":"user"}"#,
            r#"{"role":"s\"q"}"#,
            r#"{}"#,
            r#"{"content":"no role"}"#,
            r#"["user"]"#,
            r#""user""#,
            r#"{"role":true,"n":-1.5e3}"#,
        ] {
            assert_eq!(role_of(m), by_serde(m), "{m}");
        }
        assert_eq!(role_of(r#"{"role":"user"}"#).as_deref(), Some("user"));
        let long = format!(r#"{{"role":"{}"}}"#, "r".repeat(300));
        assert_eq!(role_of(&long).map(|r| r.len()), Some(256));
    }

    /// Random messages assembled from valid pieces: the scan agrees with serde on each.
    #[test]
    fn agrees_with_serde_on_random_messages() {
        let keys = [r#""role""#, r#""content""#, r#""ro\u006ce""#, r#""name""#];
        let values = [
            r#""user""#,
            r#""sys\"tem""#,
            "null",
            "12",
            "true",
            r#"[{"type":"text","text":"x }] \\"}]"#,
            r#"{"role":"inner"}"#,
            r#""\u00e9""#,
            "[]",
        ];
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..3000 {
            let members: Vec<String> = (0..rng.usize(0..4))
                .map(|_| {
                    let ws = [" ", "", "\n"][rng.usize(..3)];
                    format!(
                        "{ws}{}{ws}:{ws}{}",
                        keys[rng.usize(..keys.len())],
                        values[rng.usize(..values.len())]
                    )
                })
                .collect();
            let m = format!("{{{}}}", members.join(","));
            assert!(serde_json::from_str::<serde_json::Value>(&m).is_ok(), "{m}");
            assert_eq!(role_of(&m), by_serde(&m), "{m}");
        }
    }
}
