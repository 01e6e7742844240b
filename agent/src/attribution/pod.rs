//! The few Pod fields attribution needs (serde structs for the Kubernetes API's JSON) and the
//! owning-workload rule. Owns no I/O and no cache.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `metadata.ownerReferences[]`, only the fields used.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerRef {
    /// Owner kind, e.g. `ReplicaSet`.
    pub kind: String,
    /// Owner name.
    pub name: String,
    /// This owner is the managing controller.
    pub controller: Option<bool>,
}

/// `metadata` of a Pod (or of a list, for `resourceVersion`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// UID.
    pub uid: String,
    /// Resource version (lists, bookmarks, objects).
    pub resource_version: Option<String>,
    /// Labels (only `pod-template-hash` is read).
    pub labels: BTreeMap<String, String>,
    /// Owners.
    pub owner_references: Vec<OwnerRef>,
}

/// A Pod as far as attribution cares.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Pod {
    /// Metadata.
    pub metadata: ObjectMeta,
}

/// `GET /api/v1/pods` answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodList {
    /// List metadata (`resourceVersion` to start the watch from).
    pub metadata: ObjectMeta,
    /// The pods.
    pub items: Vec<Pod>,
}

/// What the pod cache keeps per pod UID: already resolved, so lookups are copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, `ReplicaSet`, `Pod`, or the
    /// owner kind as given for other controllers.
    pub workload_kind: String,
    /// Workload name.
    pub workload_name: String,
}

impl Pod {
    /// Resolve the owning workload from owner references and labels alone (no further API
    /// calls, so RBAC stays at pods only):
    /// - ReplicaSet owner whose name is `<x>-<pod-template-hash label>` → Deployment `<x>`;
    /// - Job owner named `<x>-<8 or more digits>` (the CronJob controller's scheduled-time
    ///   suffix) → CronJob `<x>`; other Jobs stay Job;
    /// - no controller (or a `Node`, i.e. a static pod) → the Pod itself.
    pub fn info(&self) -> PodInfo {
        let m = &self.metadata;
        let owner = m
            .owner_references
            .iter()
            .find(|o| o.controller == Some(true))
            .or_else(|| m.owner_references.first())
            .filter(|o| !o.name.is_empty() && o.kind != "Node");
        let (kind, name) = match owner {
            None => ("Pod".to_string(), m.name.clone()),
            Some(o) if o.kind == "ReplicaSet" => match m.labels.get("pod-template-hash") {
                Some(h) => match o
                    .name
                    .strip_suffix(h.as_str())
                    .and_then(|s| s.strip_suffix('-'))
                {
                    Some(d) if !d.is_empty() => ("Deployment".into(), d.to_string()),
                    _ => (o.kind.clone(), o.name.clone()),
                },
                None => (o.kind.clone(), o.name.clone()),
            },
            Some(o) if o.kind == "Job" => match cronjob_name(&o.name) {
                Some(c) => ("CronJob".into(), c.to_string()),
                None => (o.kind.clone(), o.name.clone()),
            },
            Some(o) => (o.kind.clone(), o.name.clone()),
        };
        PodInfo {
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            workload_kind: kind,
            workload_name: name,
        }
    }
}

/// `<cronjob>-<scheduled minutes since epoch>` → `<cronjob>`.
fn cronjob_name(job: &str) -> Option<&str> {
    let (base, suffix) = job.rsplit_once('-')?;
    (suffix.len() >= 8 && suffix.bytes().all(|b| b.is_ascii_digit()) && !base.is_empty())
        .then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(owner: Option<(&str, &str)>, hash: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = "p-1".into();
        p.metadata.namespace = "ns".into();
        if let Some((kind, name)) = owner {
            p.metadata.owner_references.push(OwnerRef {
                kind: kind.into(),
                name: name.into(),
                controller: Some(true),
            });
        }
        if let Some(h) = hash {
            p.metadata
                .labels
                .insert("pod-template-hash".into(), h.into());
        }
        p
    }

    fn kind_name(p: &Pod) -> (String, String) {
        let i = p.info();
        (i.workload_kind, i.workload_name)
    }

    #[test]
    fn owners() {
        let kn = |k: &str, n: &str| (k.to_string(), n.to_string());
        let dep = pod(
            Some(("ReplicaSet", "api-server-7d9f8b6c5")),
            Some("7d9f8b6c5"),
        );
        assert_eq!(kind_name(&dep), kn("Deployment", "api-server"));
        let rs = pod(Some(("ReplicaSet", "bare-rs")), None);
        assert_eq!(kind_name(&rs), kn("ReplicaSet", "bare-rs"));
        let sts = pod(Some(("StatefulSet", "db")), None);
        assert_eq!(kind_name(&sts), kn("StatefulSet", "db"));
        let ds = pod(Some(("DaemonSet", "llmtap")), None);
        assert_eq!(kind_name(&ds), kn("DaemonSet", "llmtap"));
        let cj = pod(Some(("Job", "nightly-report-29000000")), None);
        assert_eq!(kind_name(&cj), kn("CronJob", "nightly-report"));
        let job = pod(Some(("Job", "migrate-42")), None);
        assert_eq!(kind_name(&job), kn("Job", "migrate-42"));
        assert_eq!(kind_name(&pod(None, None)), kn("Pod", "p-1"));
        assert_eq!(
            kind_name(&pod(Some(("Node", "n1")), None)),
            kn("Pod", "p-1")
        );
    }

    #[test]
    fn decodes_api_json_and_ignores_the_rest() {
        let j = r#"{"metadata":{"name":"a","namespace":"b","uid":"u","extra":1,
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"s","controller":true,"uid":"x"}]},
            "spec":{"nodeName":"n"},"status":{}}"#;
        let p: Pod = serde_json::from_str(j).expect("valid pod");
        assert_eq!(p.info().workload_name, "s");
        let p: Pod = serde_json::from_str(r#"{"metadata":{"labels":null}}"#).unwrap_or_default();
        assert_eq!(p.info().workload_kind, "Pod");
    }
}
