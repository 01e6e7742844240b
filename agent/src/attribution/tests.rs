//! Attribution against a fake `/proc` tree and a fake API server on 127.0.0.1.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};

use super::*;

const CID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const UID_A: &str = "aaaaaaaa-1111-2222-3333-444444444444";
const UID_B: &str = "bbbbbbbb-1111-2222-3333-444444444444";

fn proc_entry(root: &Path, pid: u32, cgroup: &str, comm: &str) {
    let d = root.join(pid.to_string());
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("cgroup"), cgroup).expect("write cgroup");
    std::fs::write(d.join("comm"), format!("{comm}\n")).expect("write comm");
}

fn systemd_line(uid: &str) -> String {
    format!(
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{CID}.scope\n",
        uid.replace('-', "_")
    )
}

fn attributor(root: &Path) -> Attributor {
    Attributor::new(AttributorConfig {
        proc_root: root.to_path_buf(),
        max_pids: 4,
        max_pods: 16,
    })
}

#[test]
fn degrades_without_kubernetes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    proc_entry(root, 10, &systemd_line(UID_A), "python3");
    proc_entry(
        root,
        11,
        &format!("0::/system.slice/docker-{CID}.scope\n"),
        "node",
    );
    proc_entry(
        root,
        12,
        "0::/user.slice/user-1000.slice/session-2.scope\n",
        "curl",
    );
    proc_entry(root, 13, "\u{0}garbage", "");
    let a = attributor(root);

    // Pod UID known from the cgroup but no pod cache: the container.
    let r = a.attribute(10);
    assert_eq!(r.workload_kind.as_deref(), Some("container"));
    assert_eq!(r.workload_name.as_deref(), Some("0123456789ab"));
    assert_eq!(r.container_id.as_deref(), Some(CID));
    assert_eq!(r.namespace, None);
    assert_eq!(a.attribute(11).workload_kind.as_deref(), Some("container"));
    let host = a.attribute(12);
    assert_eq!(host.workload_kind.as_deref(), Some("process"));
    assert_eq!(host.workload_name.as_deref(), Some("curl"));
    assert_eq!(a.attribute(13), Attribution::default());
    // Vanished process: empty, not cached.
    assert_eq!(a.attribute(999), Attribution::default());
    assert_eq!(a.cached_pids(), 4);
}

#[test]
fn pid_cache_is_bounded_and_forget_invalidates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    for pid in 1..=6 {
        proc_entry(root, pid, "0::/\n", &format!("p{pid}"));
    }
    let a = attributor(root);
    for pid in 1..=6 {
        assert_eq!(a.attribute(pid).workload_name, Some(format!("p{pid}")));
    }
    assert_eq!(a.cached_pids(), 4);
    // The cache answers without /proc until the pid is forgotten (pid reuse).
    proc_entry(root, 6, "0::/\n", "reused");
    assert_eq!(a.attribute(6).workload_name.as_deref(), Some("p6"));
    a.forget(6);
    assert_eq!(a.attribute(6).workload_name.as_deref(), Some("reused"));
}

fn pod_json(uid: &str, name: &str, rv: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"team-a","uid":"{uid}","resourceVersion":"{rv}",
        "labels":{{"pod-template-hash":"5c8d7f9b4"}},
        "ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"chat-api-5c8d7f9b4","uid":"x","controller":true}}]}},
        "spec":{{"nodeName":"node-1","containers":[]}},"status":{{"phase":"Running"}}}}"#
    )
    .replace('\n', "")
}

/// Serves a PodList with pod A, then one watch stream (pod B added, pod A deleted); later
/// watches end empty. Requires the bearer token and the node field selector.
async fn fake_api() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let watches = Arc::new(AtomicUsize::new(0));
    let w = watches.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let w = w.clone();
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let w = w.clone();
                async move {
                    let q = req.uri().query().unwrap_or("").to_string();
                    let authed = req
                        .headers()
                        .get("authorization")
                        .is_some_and(|v| v == "Bearer test-token");
                    let (status, body) = if !authed {
                        (StatusCode::UNAUTHORIZED, String::new())
                    } else if !q.contains("fieldSelector=spec.nodeName%3Dnode-1") {
                        (StatusCode::BAD_REQUEST, String::new())
                    } else if !q.contains("watch=1") {
                        let items = pod_json(UID_A, "chat-api-5c8d7f9b4-abcde", "10");
                        (
                            StatusCode::OK,
                            format!(
                                r#"{{"kind":"PodList","metadata":{{"resourceVersion":"10"}},"items":[{items}]}}"#
                            ),
                        )
                    } else if w.fetch_add(1, Ordering::SeqCst) == 0
                        && q.contains("resourceVersion=10")
                    {
                        let b = pod_json(UID_B, "chat-api-5c8d7f9b4-fghij", "11");
                        let a = pod_json(UID_A, "chat-api-5c8d7f9b4-abcde", "12");
                        (
                            StatusCode::OK,
                            format!(
                                "{{\"type\":\"ADDED\",\"object\":{b}}}\n{{\"type\":\"DELETED\",\"object\":{a}}}\n"
                            ),
                        )
                    } else {
                        (StatusCode::OK, String::new())
                    };
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = status;
                    Ok::<_, Infallible>(resp)
                }
            });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(sock);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    (addr, watches)
}

async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_then_watch_resolves_pods_and_workloads() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("proc");
    proc_entry(&root, 20, &systemd_line(UID_A), "python3");
    proc_entry(
        &root,
        21,
        &format!("12:memory:/kubepods/burstable/pod{UID_B}/{CID}\n"),
        "node",
    );
    let token = tmp.path().join("token");
    std::fs::write(&token, "test-token\n").expect("token");
    let (addr, watches) = fake_api().await;

    let a = attributor(&root);
    let task = a
        .start_kubernetes(KubeConfig {
            base_url: format!("http://{addr}"),
            token_file: Some(token),
            ca_file: None,
            node_name: "node-1".into(),
        })
        .expect("client");
    assert!(
        wait_for(|| a.kubernetes_synced()).await,
        "list never synced"
    );
    // Pod B arrives by watch; pod A is deleted by it.
    assert!(
        wait_for(|| a.attribute(21).pod.is_some() && a.attribute(20).pod.is_none()).await,
        "watch events not applied: {:?} {:?}",
        a.attribute(20),
        a.attribute(21)
    );
    let b = a.attribute(21);
    assert_eq!(
        b,
        Attribution {
            namespace: Some("team-a".into()),
            pod: Some("chat-api-5c8d7f9b4-fghij".into()),
            workload_kind: Some("Deployment".into()),
            workload_name: Some("chat-api".into()),
            container_id: Some(CID.into()),
        }
    );
    // The deleted pod degrades to its container.
    assert_eq!(a.attribute(20).workload_kind.as_deref(), Some("container"));
    assert!(watches.load(Ordering::SeqCst) >= 1);
    task.abort();
}

#[tokio::test]
async fn unreachable_api_server_never_blocks_attribution() {
    let tmp = tempfile::tempdir().expect("tempdir");
    proc_entry(tmp.path(), 30, &systemd_line(UID_A), "python3");
    let a = attributor(tmp.path());
    let task = a
        .start_kubernetes(KubeConfig {
            base_url: "http://127.0.0.1:1".into(),
            token_file: None,
            ca_file: None,
            node_name: "node-1".into(),
        })
        .expect("client");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!a.kubernetes_synced());
    assert_eq!(a.attribute(30).workload_kind.as_deref(), Some("container"));
    task.abort();
}
