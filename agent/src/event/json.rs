//! A small JSON object writer for the event line: fixed keys written as literals, strings
//! escaped exactly as `serde_json` escapes them, numbers through the same formatters.
//!
//! Owns byte-level output only. The field order and names are the event contract's and live
//! next to the writer's one caller (`ndjson`); the `Serialize` derive on [`super::LlmEvent`]
//! stays the reference, and a test demands the two produce identical bytes.

use serde::Serialize;

/// Writes one JSON object at a time into a byte buffer.
pub(crate) struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

/// Bytes that `serde_json` escapes: `"`, `\` and the C0 controls.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `s` as a JSON string, escaped as `serde_json` does (short escapes for `\b \t \n \f \r`,
/// `\u00XX` for other controls, everything else verbatim).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object.
    pub fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push(b'}');
    }

    /// Writes the separator and `"key":`. Keys are literals of the contract: no escaping.
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(!key.bytes().any(needs_escape));
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string member.
    pub fn str(&mut self, key: &'static str, v: &str) {
        write_str(self.key(key), v);
    }

    /// A string-or-null member.
    pub fn opt_str(&mut self, key: &'static str, v: Option<&str>) {
        match v {
            Some(s) => self.str(key, s),
            None => self.null(key),
        }
    }

    /// A `null` member.
    pub fn null(&mut self, key: &'static str) {
        self.key(key).extend_from_slice(b"null");
    }

    /// A boolean member.
    pub fn bool(&mut self, key: &'static str, v: bool) {
        let text: &[u8] = if v { b"true" } else { b"false" };
        self.key(key).extend_from_slice(text);
    }

    /// An unsigned integer member.
    pub fn uint(&mut self, key: &'static str, v: impl Into<u64>) {
        let mut buf = itoa::Buffer::new();
        let text = buf.format(v.into());
        self.key(key).extend_from_slice(text.as_bytes());
    }

    /// An unsigned-integer-or-null member.
    pub fn opt_uint<T: Into<u64>>(&mut self, key: &'static str, v: Option<T>) {
        match v {
            Some(n) => self.uint(key, n),
            None => self.null(key),
        }
    }

    /// A member written by its `Serialize` implementation (floats, nested objects, enums):
    /// the same bytes `serde_json` writes for it inside the derived object.
    pub fn serde<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) {
        let out = self.key(key);
        let mut ser = serde_json::Serializer::new(out);
        // Writing to a Vec cannot fail, and the event's types have no serialiser that errors.
        let _ = v.serialize(&mut ser);
    }

    /// Like [`ObjectWriter::serde`], with `null` written directly for `None`.
    pub fn opt_serde<T: Serialize>(&mut self, key: &'static str, v: Option<&T>) {
        match v {
            Some(v) => self.serde(key, v),
            None => self.null(key),
        }
    }

    /// A member holding an object written by `each`, or `null`.
    pub fn opt_object<T>(
        &mut self,
        key: &'static str,
        v: Option<&T>,
        each: impl FnOnce(&T, &mut ObjectWriter<'_>),
    ) {
        let Some(v) = v else {
            return self.null(key);
        };
        let mut obj = ObjectWriter::begin(self.key(key));
        each(v, &mut obj);
        obj.end();
    }

    /// A member holding an array of strings.
    pub fn str_array<'s>(&mut self, key: &'static str, items: impl IntoIterator<Item = &'s str>) {
        let out = self.key(key);
        out.push(b'[');
        for (i, s) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, s);
        }
        out.push(b']');
    }

    /// A member holding an array of objects, each written by `each`.
    pub fn object_array<T>(
        &mut self,
        key: &'static str,
        items: &[T],
        mut each: impl FnMut(&T, &mut ObjectWriter<'_>),
    ) {
        let out = self.key(key);
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut obj = ObjectWriter::begin(out);
            each(item, &mut obj);
            obj.end();
        }
        out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every string, controls and non-ASCII included, is escaped byte for byte as
        /// `serde_json` escapes it.
        #[test]
        fn strings_match_serde_json(s in any::<String>(), ctl in proptest::collection::vec(0u8..0x20, 0..4)) {
            let mut s = s;
            for c in ctl {
                s.push(char::from(c));
                s.push_str("\"\\");
            }
            let mut ours = Vec::new();
            write_str(&mut ours, &s);
            prop_assert_eq!(ours, serde_json::to_vec(&s).expect("string"));
        }
    }
}
