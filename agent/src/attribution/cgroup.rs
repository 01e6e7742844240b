//! Parsing `/proc/PID/cgroup` into a container id and a Kubernetes pod UID.
//!
//! Owns the path-shape knowledge (cgroup v1 and v2; containerd, CRI-O, docker, podman; cgroupfs
//! and systemd drivers). Does not read files nor talk to the Kubernetes API.

/// What a process's cgroup path says about it. Both fields are optional: a host process has
/// neither, a plain docker container has only a container id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupIds {
    /// Full container id (64 lowercase hex characters).
    pub container_id: Option<String>,
    /// Pod UID in its canonical dashed form (`1234abcd-…`).
    pub pod_uid: Option<String>,
}

/// Runtime prefixes of systemd scope units (`<prefix><id>.scope`).
const SCOPE_PREFIXES: [&str; 5] = [
    "cri-containerd-",
    "crio-",
    "docker-",
    "libpod-",
    "containerd-",
];

/// Parse the whole content of `/proc/PID/cgroup`. The v2 line (`0::…`) is preferred; on v1
/// hosts the first line that names a container or pod wins. Unknown shapes give nothing.
pub fn parse(content: &str) -> CgroupIds {
    let mut best = CgroupIds::default();
    let mut lines: Vec<&str> = content.lines().collect();
    // v2 unified line first.
    lines.sort_by_key(|l| !l.starts_with("0::"));
    for line in lines {
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let ids = parse_path(path);
        if ids.container_id.is_some() && ids.pod_uid.is_some() {
            return ids;
        }
        if best.container_id.is_none() && best.pod_uid.is_none() {
            best = ids;
        }
    }
    best
}

/// Parse one cgroup path. The deepest matching segment wins for each field.
pub fn parse_path(path: &str) -> CgroupIds {
    let mut ids = CgroupIds::default();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if let Some(id) = container_segment(seg) {
            ids.container_id = Some(id);
        } else if let Some(uid) = pod_segment(seg) {
            ids.pod_uid = Some(uid);
        }
    }
    ids
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`, or a bare `<id>`
/// (cgroupfs driver: `/kubepods/burstable/pod<uid>/<id>`, `/docker/<id>`).
fn container_segment(seg: &str) -> Option<String> {
    if is_container_id(seg) {
        return Some(seg.to_ascii_lowercase());
    }
    let unit = seg.strip_suffix(".scope")?;
    if unit.starts_with("crio-conmon-") {
        return None; // CRI-O's monitor process, not the container.
    }
    SCOPE_PREFIXES
        .iter()
        .find_map(|p| unit.strip_prefix(p))
        .filter(|id| is_container_id(id))
        .map(str::to_ascii_lowercase)
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_with_underscores>.slice` (systemd).
fn pod_segment(seg: &str) -> Option<String> {
    let seg = seg.strip_suffix(".slice").unwrap_or(seg);
    let raw = match seg.strip_prefix("pod") {
        Some(rest) => rest,
        None => &seg[seg.rfind("-pod")? + 4..],
    };
    let uid = raw.replace('_', "-").to_ascii_lowercase();
    is_uid(&uid).then_some(uid)
}

/// Canonical UUID shape: 8-4-4-4-12 hex digits.
fn is_uid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const UID: &str = "1234abcd-5678-90ab-cdef-1234567890ab";
    const UID_: &str = "1234abcd_5678_90ab_cdef_1234567890ab";

    fn both() -> CgroupIds {
        CgroupIds {
            container_id: Some(ID.into()),
            pod_uid: Some(UID.into()),
        }
    }

    #[test]
    fn containerd_systemd_v2() {
        let c = format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{ID}.scope\n"
        );
        assert_eq!(parse(&c), both());
    }

    #[test]
    fn guaranteed_qos_has_no_qos_segment() {
        let c = format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope");
        assert_eq!(parse(&c), both());
        let c = format!("0::/kubepods/pod{UID}/{ID}");
        assert_eq!(parse(&c), both());
    }

    #[test]
    fn containerd_cgroupfs_v1() {
        let c = format!(
            "12:memory:/kubepods/burstable/pod{UID}/{ID}\n11:cpu,cpuacct:/kubepods/burstable/pod{UID}/{ID}\n1:name=systemd:/kubepods/burstable/pod{UID}/{ID}\n"
        );
        assert_eq!(parse(&c), both());
    }

    #[test]
    fn crio_systemd_and_conmon() {
        let c = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/crio-{ID}.scope"
        );
        assert_eq!(parse(&c), both());
        let c = format!(
            "0::/kubepods.slice/kubepods-besteffort-pod{UID_}.slice/crio-conmon-{ID}.scope"
        );
        let ids = parse(&c);
        assert_eq!(ids.container_id, None);
        assert_eq!(ids.pod_uid.as_deref(), Some(UID));
    }

    #[test]
    fn docker_shapes() {
        let only = CgroupIds {
            container_id: Some(ID.into()),
            pod_uid: None,
        };
        assert_eq!(parse(&format!("0::/system.slice/docker-{ID}.scope")), only);
        assert_eq!(parse(&format!("4:pids:/docker/{ID}\n")), only);
        assert_eq!(parse(&format!("0::/machine.slice/libpod-{ID}.scope")), only);
    }

    #[test]
    fn cgroup_namespace_relative_paths() {
        let c = format!("0::/../../kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope");
        assert_eq!(parse(&c), both());
    }

    #[test]
    fn v2_line_preferred_over_v1() {
        let c = format!("3:cpu:/\n0::/kubepods/pod{UID}/{ID}\n");
        assert_eq!(parse(&c), both());
    }

    #[test]
    fn host_and_garbage_give_nothing() {
        for c in [
            "0::/user.slice/user-1000.slice/session-3.scope",
            "0::/",
            "",
            "garbage",
            "0::/kubepods.slice/kubepods-podnot-a-uid.slice/cri-containerd-xyz.scope",
            "0::/docker/0123",
            "\u{0}\u{1}:::::",
        ] {
            assert_eq!(parse(c), CgroupIds::default(), "{c:?}");
        }
    }
}
