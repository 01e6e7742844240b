//! Workload attribution: which Kubernetes pod and workload (or container, or process) a pid
//! belongs to. pid → `/proc/PID/cgroup` → container id and pod UID ([`cgroup`]) → pod name,
//! namespace and owning workload from a node-scoped pod watch ([`kube`], [`store`], [`pod`]).
//!
//! Owns the pid cache, the pod cache and the fallbacks: without a service account the answer
//! degrades to the container (`workload_kind = "container"`) or the process
//! (`workload_kind = "process"`, name = `comm`). Does not put the answer into events or metric
//! labels (the pipeline does) and never blocks on the network: lookups read caches and, on a
//! pid-cache miss, two small `/proc` files.

pub mod cgroup;
pub mod kube;
pub mod pod;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use cgroup::CgroupIds;
pub use kube::{KubeConfig, KubeError};
use store::PodStore;

/// Who made an LLM call, as far as the node can tell. Every field is optional; unknown parts
/// stay `None` rather than failing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// Kubernetes namespace.
    pub namespace: Option<String>,
    /// Pod name.
    pub pod: Option<String>,
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, `ReplicaSet`, `Pod` (or
    /// another controller kind) in Kubernetes; `container` or `process` outside it.
    pub workload_kind: Option<String>,
    /// Workload name; the short (12-character) container id, or the process `comm`, outside
    /// Kubernetes.
    pub workload_name: Option<String>,
    /// Full container id from the cgroup path.
    pub container_id: Option<String>,
}

/// Bounds and paths of an [`Attributor`].
#[derive(Clone, Debug)]
pub struct AttributorConfig {
    /// Root of the proc filesystem (`/proc`; a fake tree in tests).
    pub proc_root: PathBuf,
    /// Most pids cached; the oldest entry is evicted beyond it.
    pub max_pids: usize,
    /// Most pods cached (a node runs ≤ 110 pods by default).
    pub max_pods: usize,
}

impl Default for AttributorConfig {
    fn default() -> Self {
        AttributorConfig {
            proc_root: PathBuf::from("/proc"),
            max_pids: 16_384,
            max_pods: 4_096,
        }
    }
}

struct PidEntry {
    ids: CgroupIds,
    comm: Option<String>,
    seq: u64,
}

#[derive(Default)]
struct PidCache {
    map: HashMap<u32, PidEntry>,
    seq: u64,
}

struct Inner {
    cfg: AttributorConfig,
    pids: Mutex<PidCache>,
    pods: Arc<PodStore>,
}

/// Resolves pids to [`Attribution`]s. Cheap to clone (shared caches).
#[derive(Clone)]
pub struct Attributor {
    inner: Arc<Inner>,
}

impl Attributor {
    /// An attributor with empty caches and no Kubernetes watch (container/process only until
    /// [`Attributor::start_kubernetes`] or [`Attributor::start_in_cluster`]).
    pub fn new(cfg: AttributorConfig) -> Attributor {
        let pods = Arc::new(PodStore::new(cfg.max_pods));
        Attributor {
            inner: Arc::new(Inner {
                cfg,
                pids: Mutex::new(PidCache::default()),
                pods,
            }),
        }
    }

    /// Start the node-scoped pod list+watch against `kube` on the current tokio runtime.
    /// The task ends once every clone of this attributor is dropped (at the latest when the
    /// current watch request ends, ≤ 5 minutes) or when the handle is aborted.
    pub fn start_kubernetes(
        &self,
        kube: KubeConfig,
    ) -> Result<tokio::task::JoinHandle<()>, KubeError> {
        let client = kube::KubeClient::new(kube)?;
        let store = Arc::downgrade(&self.inner.pods);
        Ok(tokio::spawn(kube::run(client, store)))
    }

    /// Start the watch with the in-cluster service account; `Ok(None)` outside Kubernetes
    /// (attribution then degrades to container id or process name).
    pub fn start_in_cluster(&self) -> Result<Option<tokio::task::JoinHandle<()>>, KubeError> {
        match KubeConfig::in_cluster()? {
            Some(k) => self.start_kubernetes(k).map(Some),
            None => {
                tracing::info!(
                    "no Kubernetes service account; attributing to containers and processes"
                );
                Ok(None)
            }
        }
    }

    /// Whether the pod cache has applied a full list at least once.
    pub fn kubernetes_synced(&self) -> bool {
        self.inner.pods.synced()
    }

    /// Attribute `pid`. Never blocks on the network; a pid seen for the first time costs one
    /// read of `/proc/PID/cgroup` (and `/proc/PID/comm` for host processes). A vanished
    /// process gives an empty attribution, which is not cached.
    pub fn attribute(&self, pid: u32) -> Attribution {
        let cached = {
            let c = self.lock();
            c.map.get(&pid).map(|e| (e.ids.clone(), e.comm.clone()))
        };
        let (ids, comm) = match cached {
            Some(v) => v,
            None => match self.read_proc(pid) {
                Some(v) => {
                    self.insert(pid, v.0.clone(), v.1.clone());
                    v
                }
                None => return Attribution::default(),
            },
        };
        self.compose(ids, comm)
    }

    /// Drop `pid` from the cache (call on process exit: pids are reused).
    pub fn forget(&self, pid: u32) {
        self.lock().map.remove(&pid);
    }

    /// Pids cached now.
    pub fn cached_pids(&self) -> usize {
        self.lock().map.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PidCache> {
        self.inner.pids.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_proc(&self, pid: u32) -> Option<(CgroupIds, Option<String>)> {
        let dir = self.inner.cfg.proc_root.join(pid.to_string());
        let content = match std::fs::read_to_string(dir.join("cgroup")) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(pid, error = %e, "cgroup of process unreadable");
                return None;
            }
        };
        let ids = cgroup::parse(&content);
        let comm = if ids.container_id.is_none() {
            std::fs::read_to_string(dir.join("comm"))
                .ok()
                .map(|c| c.trim_end_matches('\n').to_string())
                .filter(|c| !c.is_empty())
        } else {
            None
        };
        Some((ids, comm))
    }

    fn insert(&self, pid: u32, ids: CgroupIds, comm: Option<String>) {
        let mut c = self.lock();
        if c.map.len() >= self.inner.cfg.max_pids.max(1) && !c.map.contains_key(&pid) {
            let oldest = c.map.iter().min_by_key(|(_, e)| e.seq).map(|(p, _)| *p);
            if let Some(p) = oldest {
                c.map.remove(&p);
            }
        }
        c.seq += 1;
        let seq = c.seq;
        c.map.insert(pid, PidEntry { ids, comm, seq });
    }

    fn compose(&self, ids: CgroupIds, comm: Option<String>) -> Attribution {
        let pod = ids.pod_uid.as_deref().and_then(|u| self.inner.pods.get(u));
        match (pod, ids.container_id) {
            (Some(p), cid) => Attribution {
                namespace: Some(p.namespace),
                pod: Some(p.name),
                workload_kind: Some(p.workload_kind),
                workload_name: Some(p.workload_name),
                container_id: cid,
            },
            (None, Some(cid)) => Attribution {
                workload_kind: Some("container".into()),
                workload_name: Some(cid.chars().take(12).collect()),
                container_id: Some(cid),
                ..Attribution::default()
            },
            (None, None) => Attribution {
                workload_kind: comm.as_ref().map(|_| "process".to_string()),
                workload_name: comm,
                ..Attribution::default()
            },
        }
    }
}

#[cfg(test)]
mod tests;
