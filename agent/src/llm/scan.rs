//! Reading one member of a JSON object, or the elements of an array, without deserialising
//! the rest.
//!
//! Owns: [`member`] (a message's `role`, a block's `cache_control`) and [`elements`]. A
//! message or block is mostly prompt text, often kilobytes, and `serde_json` reads every
//! byte of it to find one small field, at ~1 GB/s; this walks the members and jumps over
//! strings with `memchr` (several GB/s). Does not own: validation (inputs are `RawValue`s,
//! already valid JSON). Anything unusual (a key with escapes, a non-object) is left to
//! `serde_json`, so the answer is always the one the derived `Deserialize` gives.

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
    member::<Str>(message, "role", |m| {
        serde_json::from_str::<Role>(m).ok().map(|r| r.role)
    })
    .and_then(|s| s.0)
}

/// Member `name` of the JSON object `object`, deserialised as `T`: what
/// `#[derive(Deserialize)]` on a struct whose one field is `name: T` would hold, with `None`
/// when the member is absent or given twice or the struct would not deserialise. `whole` is
/// that struct's parse of `object`, used when the scan cannot be sure (escaped keys, not an
/// object).
pub(crate) fn member<'a, T: Deserialize<'a>>(
    object: &'a str,
    name: &str,
    whole: impl FnOnce(&'a str) -> Option<T>,
) -> Option<T> {
    match find_member(object.as_bytes(), name.as_bytes()) {
        Found::Once(value) => serde_json::from_str(object.get(value)?).ok(),
        Found::Absent | Found::Twice => None,
        Found::Unsure => whole(object),
    }
}

/// The elements of the JSON array `array`, as the slices `Vec<&RawValue>` would give
/// (surrounding whitespace excluded); `None` when `array` is not a plain array (parse it with
/// `serde_json` then).
pub(crate) fn elements(array: &str) -> Option<Vec<&str>> {
    let b = array.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b']') {
        return (ws(b, i + 1) == b.len()).then_some(out);
    }
    loop {
        let end = value_end(b, i)?;
        out.push(array.get(i..end)?);
        i = ws(b, end);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b']') => return (ws(b, i + 1) == b.len()).then_some(out),
            _ => return None,
        }
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

    #[test]
    fn splits_arrays_as_raw_values_do() {
        for a in [
            "[]",
            " [ ] ",
            r#"[{"type":"text","text":"a ] \" ["},"s",1,null,[2,[3]]]"#,
            "[ 1 , -2.5e3 ,true ]",
        ] {
            let serde: Vec<&str> = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(a)
                .expect("valid")
                .into_iter()
                .map(|r| r.get())
                .collect();
            assert_eq!(elements(a), Some(serde), "{a}");
        }
        for a in ["{}", "\"[]\"", "", "[1] x"] {
            assert_eq!(elements(a), None, "{a}");
        }
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
