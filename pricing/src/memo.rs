//! A bounded memo of resolved lookups, so that pricing the same model again costs one hash
//! lookup instead of building and searching every candidate name.
//!
//! Owns only storage. The table decides what a lookup means and empties the memo whenever
//! its layers or Azure mapping change. Keys come from traffic, so the memo is bounded: once it
//! holds [`MAX_REMEMBERED`] names it starts over.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::matching::MatchKind;

/// Most (provider, model) pairs remembered.
pub const MAX_REMEMBERED: usize = 1024;

/// A resolution as indices into the table's layers.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub layer: usize,
    pub entry: usize,
    pub kind: MatchKind,
    pub matched_name: String,
}

/// canonical provider → model as given → outcome (`None`: no entry matched).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_provider: HashMap<String, HashMap<String, Option<Found>>>,
    len: usize,
}

impl Memo {
    /// The remembered outcome, if this pair was looked up before (`Some(None)`: unmatched).
    pub fn get(&self, provider: &str, model: &str) -> Option<Option<Found>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_provider.get(provider)?.get(model).cloned()
    }

    /// Remembers an outcome, starting over when full.
    pub fn put(&self, provider: &str, model: &str, found: Option<Found>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.len >= MAX_REMEMBERED {
            inner.by_provider.clear();
            inner.len = 0;
        }
        let models = inner.by_provider.entry(provider.to_owned()).or_default();
        if models.insert(model.to_owned(), found).is_none() {
            inner.len += 1;
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        inner.by_provider.clear();
        inner.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded() {
        let memo = Memo::default();
        for i in 0..MAX_REMEMBERED * 3 {
            memo.put("openai", &format!("model-{i}"), None);
        }
        let inner = memo.inner.lock().expect("not poisoned");
        let held: usize = inner.by_provider.values().map(HashMap::len).sum();
        assert!(held <= MAX_REMEMBERED && held == inner.len);
        drop(inner);
        assert!(
            memo.get("openai", "model-0").is_none(),
            "forgotten after starting over"
        );
    }
}
