//! The pod cache: pod UID → resolved [`PodInfo`], filled by the watch in [`super::kube`] and
//! read by [`super::Attributor`]. Bounded; owns no I/O.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::pod::{Pod, PodInfo};

/// Thread-safe, bounded map of this node's pods.
pub struct PodStore {
    cap: usize,
    pods: Mutex<HashMap<String, PodInfo>>,
    synced: AtomicBool,
    refused: AtomicU64,
}

impl PodStore {
    /// A store holding at most `cap` pods (a node runs ≤ 110 by default; extra pods are
    /// refused and counted, never evicting known ones).
    pub fn new(cap: usize) -> PodStore {
        PodStore {
            cap: cap.max(1),
            pods: Mutex::new(HashMap::new()),
            synced: AtomicBool::new(false),
            refused: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PodInfo>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Insert or update one pod (ignored without a UID).
    pub fn upsert(&self, pod: &Pod) {
        let uid = &pod.metadata.uid;
        if uid.is_empty() {
            return;
        }
        let mut m = self.lock();
        if m.len() >= self.cap && !m.contains_key(uid) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(cap = self.cap, "pod cache full; pod not attributed");
            return;
        }
        m.insert(uid.clone(), pod.info());
    }

    /// Forget a deleted pod.
    pub fn remove(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// Replace everything with a fresh list; marks the store synced.
    /// Built aside and swapped in, so lookups never see a half-filled cache.
    pub fn replace_all(&self, pods: &[Pod]) {
        let mut fresh = HashMap::with_capacity(pods.len().min(self.cap));
        for p in pods.iter().filter(|p| !p.metadata.uid.is_empty()) {
            if fresh.len() >= self.cap {
                self.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            fresh.insert(p.metadata.uid.clone(), p.info());
        }
        if fresh.len() < pods.len() && fresh.len() >= self.cap {
            tracing::warn!(
                cap = self.cap,
                listed = pods.len(),
                "pod cache full; some pods not attributed"
            );
        }
        *self.lock() = fresh;
        self.synced.store(true, Ordering::Release);
    }

    /// The pod with this UID, if known.
    pub fn get(&self, uid: &str) -> Option<PodInfo> {
        self.lock().get(uid).cloned()
    }

    /// Pods known now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// No pod known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A full list has been applied at least once.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Pods refused because the store was full.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.uid = uid.into();
        p.metadata.name = format!("pod-{uid}");
        p
    }

    #[test]
    fn bounded_and_replaceable() {
        let s = PodStore::new(2);
        s.upsert(&pod("a"));
        s.upsert(&pod("b"));
        s.upsert(&pod("c"));
        s.upsert(&pod("a"));
        s.upsert(&pod(""));
        assert_eq!(s.len(), 2);
        assert_eq!(s.refused(), 1);
        assert!(!s.synced());
        s.replace_all(&[pod("c")]);
        assert!(s.synced());
        assert!(s.get("a").is_none());
        assert_eq!(s.get("c").map(|i| i.name), Some("pod-c".into()));
    }
}
