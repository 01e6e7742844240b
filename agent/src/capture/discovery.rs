//! Finding TLS libraries in every process: parsing `/proc/PID/maps`, classifying mapped files,
//! and naming them through `/proc/PID/root` so files in other mount namespaces are reachable.
//! Owns no kernel state; `attach` decides what to do with what is found.

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use super::probes::TargetKind;

/// Identity of a file: uprobes live on the inode, so one attach covers every process mapping it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

/// A file worth attaching to, as found in one or more processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Inode identity.
    pub id: FileId,
    /// Path as the owning process sees it (inside its mount namespace).
    pub path: String,
    /// Path usable from the agent's namespace (`/proc/PID/root/...`).
    pub host_path: PathBuf,
    /// What it is, judged from the name (executables are confirmed by their symbols later).
    pub kind: CandidateKind,
    /// A sample of processes mapping it.
    pub pids: BTreeSet<u32>,
}

/// What a mapped file looks like from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    /// A library of a known kind.
    Library(TargetKind),
    /// The main executable of a process: may have OpenSSL linked in.
    Executable,
}

/// Most pids kept per candidate (a sample for status output).
pub const MAX_PIDS_PER_TARGET: usize = 16;

/// Classify a mapped file by its name.
pub fn classify_library(path: &str) -> Option<TargetKind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.starts_with("libssl.so") {
        Some(TargetKind::OpensslShared)
    } else if name.starts_with("libgnutls.so") {
        Some(TargetKind::Gnutls)
    } else {
        None
    }
}

/// One line of `/proc/PID/maps` that names a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapsEntry {
    /// Whether the mapping is executable.
    pub exec: bool,
    /// Inode from the maps line (0 for anonymous).
    pub inode: u64,
    /// Path (may end in ` (deleted)`).
    pub path: String,
}

/// Parse `/proc/PID/maps` text; lines that do not name a file are skipped, malformed lines too.
pub fn parse_maps(text: &str) -> Vec<MapsEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(6, ' ');
        let (Some(_range), Some(perms), Some(_off), Some(_dev), Some(inode)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let path = fields.next().unwrap_or("").trim_start();
        if !path.starts_with('/') {
            continue;
        }
        let Ok(inode) = inode.parse::<u64>() else {
            continue;
        };
        out.push(MapsEntry {
            exec: perms.as_bytes().get(2) == Some(&b'x'),
            inode,
            path: path.to_string(),
        });
    }
    out
}

/// Where `/proc` is (tests point this at a fake tree).
#[derive(Clone, Debug)]
pub struct ProcRoot(pub PathBuf);

impl Default for ProcRoot {
    fn default() -> Self {
        ProcRoot(PathBuf::from("/proc"))
    }
}

impl ProcRoot {
    /// All numeric entries of `/proc`.
    pub fn pids(&self) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir(&self.0) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Candidates of one process (empty if it vanished or cannot be read).
    pub fn scan_pid(&self, pid: u32) -> Vec<Candidate> {
        let base = self.0.join(pid.to_string());
        let Ok(maps) = std::fs::read_to_string(base.join("maps")) else {
            return Vec::new();
        };
        let exe = std::fs::read_link(base.join("exe")).ok();
        let mut out: Vec<Candidate> = Vec::new();
        for entry in parse_maps(&maps) {
            if !entry.exec || entry.path.ends_with(" (deleted)") {
                continue;
            }
            let kind = match classify_library(&entry.path) {
                Some(k) => CandidateKind::Library(k),
                None if exe.as_deref() == Some(Path::new(&entry.path)) => CandidateKind::Executable,
                None => continue,
            };
            let host_path = base.join("root").join(entry.path.trim_start_matches('/'));
            let Ok(meta) = std::fs::metadata(&host_path) else {
                continue;
            };
            let id = FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            };
            if out.iter().any(|c| c.id == id) {
                continue;
            }
            out.push(Candidate {
                id,
                path: entry.path,
                host_path,
                kind,
                pids: BTreeSet::from([pid]),
            });
        }
        out
    }

    /// Candidates of every process except `skip_pid`, merged by inode.
    pub fn scan_all(&self, skip_pid: u32) -> BTreeMap<FileId, Candidate> {
        let mut merged: BTreeMap<FileId, Candidate> = BTreeMap::new();
        for pid in self.pids() {
            if pid == skip_pid {
                continue;
            }
            for c in self.scan_pid(pid) {
                merge(&mut merged, c);
            }
        }
        merged
    }
}

/// Merge a candidate into a map keyed by inode, keeping a bounded pid sample.
pub fn merge(into: &mut BTreeMap<FileId, Candidate>, c: Candidate) {
    match into.get_mut(&c.id) {
        Some(existing) => {
            for pid in c.pids {
                if existing.pids.len() < MAX_PIDS_PER_TARGET {
                    existing.pids.insert(pid);
                }
            }
        }
        None => {
            into.insert(c.id, c);
        }
    }
}

/// Well-known library directories scanned at start, so host processes that start later are
/// covered before their first TLS call.
pub const SYSTEM_LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/lib64",
    "/usr/lib",
    "/usr/local/lib",
];

/// TLS libraries present in the host's library directories (real files, symlinks resolved).
pub fn system_libraries(dirs: &[&str]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Some(p) = path.to_str() else { continue };
            let Some(kind) = classify_library(p) else {
                continue;
            };
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let id = FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            };
            if out.iter().any(|c| c.id == id) {
                continue;
            }
            let real = std::fs::canonicalize(&path).unwrap_or(path.clone());
            out.push(Candidate {
                id,
                path: real.display().to_string(),
                host_path: real,
                kind: CandidateKind::Library(kind),
                pids: BTreeSet::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234 /usr/bin/node
55d0c0a02000-55d0c0b02000 r-xp 00002000 fd:01 1234 /usr/bin/node
7f00000000-7f00001000 r-xp 00000000 fd:01 777 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f00002000-7f00003000 r-xp 00000000 fd:01 778 /usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3
7f00004000-7f00005000 rw-p 00000000 00:00 0 [heap]
7f00006000-7f00007000 r-xp 00000000 fd:01 779 /old/libssl.so.1.1 (deleted)
garbage line
";

    #[test]
    fn parses_maps_lines_and_skips_garbage() {
        let e = parse_maps(MAPS);
        assert_eq!(e.len(), 5);
        assert!(!e[0].exec && e[1].exec);
        assert_eq!(e[2].inode, 777);
        assert!(e[4].path.ends_with("(deleted)"));
    }

    #[test]
    fn classifies_by_name() {
        assert_eq!(
            classify_library("/usr/lib/libssl.so.3"),
            Some(TargetKind::OpensslShared)
        );
        assert_eq!(
            classify_library("/x/libssl.so.1.1"),
            Some(TargetKind::OpensslShared)
        );
        assert_eq!(
            classify_library("/x/libgnutls.so.30"),
            Some(TargetKind::Gnutls)
        );
        assert_eq!(classify_library("/x/libcrypto.so.3"), None);
        assert_eq!(classify_library("/x/libsslx.so"), None);
    }

    #[test]
    fn scans_a_fake_proc_tree_through_root() {
        let tmp = std::env::temp_dir().join(format!("llmtap-proc-{}", std::process::id()));
        let pid_dir = tmp.join("42");
        let lib_dir = pid_dir.join("root/opt/app/lib");
        std::fs::create_dir_all(&lib_dir).unwrap();
        std::fs::write(lib_dir.join("libssl.so.3"), b"x").unwrap();
        std::fs::write(
            pid_dir.join("maps"),
            "7f-80 r-xp 00000000 fd:01 5 /opt/app/lib/libssl.so.3\n7f-80 r-xp 0 fd:01 6 /opt/app/lib/libmissing.so\n",
        )
        .unwrap();
        let found = ProcRoot(tmp.clone()).scan_all(0);
        assert_eq!(found.len(), 1);
        let c = found.values().next().unwrap();
        assert_eq!(c.path, "/opt/app/lib/libssl.so.3");
        assert!(c.host_path.ends_with("42/root/opt/app/lib/libssl.so.3"));
        assert_eq!(c.kind, CandidateKind::Library(TargetKind::OpensslShared));
        assert_eq!(c.pids, BTreeSet::from([42]));
        let _ = std::fs::remove_dir_all(tmp);
    }

    #[test]
    fn merge_bounds_the_pid_sample() {
        let mut m = BTreeMap::new();
        for pid in 0..100 {
            merge(
                &mut m,
                Candidate {
                    id: FileId { dev: 1, ino: 1 },
                    path: "/l".into(),
                    host_path: "/l".into(),
                    kind: CandidateKind::Executable,
                    pids: BTreeSet::from([pid]),
                },
            );
        }
        assert_eq!(
            m[&FileId { dev: 1, ino: 1 }].pids.len(),
            MAX_PIDS_PER_TARGET
        );
    }
}
