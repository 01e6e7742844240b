//! Owning the loaded eBPF object: loading programs, attaching them to discovered targets,
//! detaching forgotten ones, and reporting the truth about each target.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::PathBuf,
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{MapData, ProgramArray},
    programs::{
        RawTracePoint, UProbe,
        uprobe::{UProbeAttachLocation, UProbeLinkId, UProbeScope},
    },
};
use serde::Serialize;

use super::{
    CaptureError, CaptureSettings,
    discovery::{Candidate, CandidateKind, FileId, MAX_PIDS_PER_TARGET},
    elf,
    probes::{TRACEPOINTS, TargetKind, UPROBE_PROGRAMS},
};

/// The compiled kernel programs, embedded at build time by `build.rs`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/llmtap"));

/// The embedded kernel object (empty when built with `AYA_BUILD_SKIP`). The benchmark harness
/// loads its `noop`/`noop_ret` programs from it to measure the cost floor of a uprobe.
pub fn ebpf_object() -> &'static [u8] {
    EBPF_OBJECT
}

/// Most executables remembered as "not a TLS target" before the cache is cleared.
const MAX_NEGATIVE_CACHE: usize = 8192;

/// The loaded object and the program array that must stay open for tail calls to work (the
/// kernel empties a program array when its last user reference closes).
pub struct Loaded {
    /// The object.
    pub ebpf: Ebpf,
    /// The tail-call table.
    pub jump: ProgramArray<MapData>,
}

/// Load the kernel programs with the given settings and attach the process tracepoints.
pub fn load(settings: &CaptureSettings) -> Result<Loaded, CaptureError> {
    if EBPF_OBJECT.is_empty() {
        return Err(CaptureError::NotBuilt);
    }
    raise_memlock();
    let kcfg = agent_common::CaptureConfig {
        chunk_size: settings.chunk_size,
        self_tgid: std::process::id(),
        max_capture_per_call: settings.max_capture_per_call,
    };
    let mut ebpf = EbpfLoader::new()
        .override_global(agent_common::GLOBAL_CONFIG, &kcfg, true)
        .map_max_entries(agent_common::MAP_RING, settings.ring_bytes)
        .load(EBPF_OBJECT)
        .map_err(|e| CaptureError::Load(format!("{e:#}")))?;
    for name in UPROBE_PROGRAMS {
        load_program::<UProbe>(&mut ebpf, name)?;
    }
    for (name, tp) in TRACEPOINTS {
        load_program::<RawTracePoint>(&mut ebpf, name)?
            .attach(tp)
            .map_err(|e| CaptureError::Load(format!("attach {tp}: {e}")))?;
    }
    let jump_map = ebpf
        .take_map(agent_common::MAP_JUMP)
        .ok_or_else(|| CaptureError::Load("map JUMP missing from the object".into()))?;
    let mut jump =
        ProgramArray::try_from(jump_map).map_err(|e| CaptureError::Load(format!("JUMP: {e}")))?;
    let name = agent_common::PROG_EMIT_CHUNKS;
    let fd = load_program::<UProbe>(&mut ebpf, name)?
        .fd()
        .map_err(|e| CaptureError::Load(format!("{name}: {e}")))?;
    jump.set(0, fd, 0)
        .map_err(|e| CaptureError::Load(format!("JUMP[0]: {e}")))?;
    Ok(Loaded { ebpf, jump })
}

/// Find program `name` in the object, as a `P`, and load it (verifier errors keep their tail).
fn load_program<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut P, CaptureError>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
    P: LoadableProgram + 'a,
{
    let prog: &mut P = ebpf
        .program_mut(name)
        .ok_or_else(|| CaptureError::Load(format!("program {name} missing from the object")))?
        .try_into()
        .map_err(|e| CaptureError::Load(format!("{name}: {e}")))?;
    prog.load_program()
        .map_err(|e| CaptureError::Load(format!("{name}: {}", verifier_msg(&e))))?;
    Ok(prog)
}

/// The `load()` that aya's uprobe and raw-tracepoint programs both have.
trait LoadableProgram {
    fn load_program(&mut self) -> Result<(), aya::programs::ProgramError>;
}

impl LoadableProgram for UProbe {
    fn load_program(&mut self) -> Result<(), aya::programs::ProgramError> {
        self.load()
    }
}

impl LoadableProgram for RawTracePoint {
    fn load_program(&mut self) -> Result<(), aya::programs::ProgramError> {
        self.load()
    }
}

fn verifier_msg(e: &aya::programs::ProgramError) -> String {
    // The verifier log is long; keep its tail, which names the failing instruction.
    let full = format!("{e:#}");
    let tail: Vec<&str> = full.lines().rev().take(12).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// An error with its causes (aya's attach errors keep the errno in the source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn raise_memlock() {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall with a valid pointer; failure only matters on old kernels without
    // memcg accounting of BPF memory, where loading then reports its own error.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) };
    if ret != 0 {
        tracing::debug!("could not raise RLIMIT_MEMLOCK; fine on kernels >= 5.11");
    }
}

/// Whether every probe of a target is attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TargetState {
    /// Every probe on every symbol the file defines is attached.
    Attached,
    /// Nothing is attached; `error` says why.
    Failed {
        /// What went wrong, and what to do.
        error: String,
    },
}

/// One discovered target, as reported by `llmtap targets`.
#[derive(Clone, Debug, Serialize)]
pub struct TargetStatus {
    /// Path inside the process's mount namespace.
    pub path: String,
    /// Path the agent attached through.
    pub host_path: PathBuf,
    /// Device and inode.
    pub file: FileId,
    /// Kind of target.
    pub kind: TargetKind,
    /// `symbol:program` pairs attached.
    pub probes: Vec<String>,
    /// A sample of processes mapping it.
    pub pids: BTreeSet<u32>,
    /// Attached or failed.
    #[serde(flatten)]
    pub state: TargetState,
}

/// A tolerant, flat view of [`TargetStatus`] for readers of the status file.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TargetStatusView {
    /// Path inside the process's namespace.
    pub path: String,
    /// Kind, as serialised.
    pub kind: String,
    /// Device and inode.
    pub file: FileIdView,
    /// Probes attached.
    pub probes: Vec<String>,
    /// Sample of pids.
    pub pids: Vec<u32>,
    /// `attached` or `failed`.
    pub state: String,
    /// Error, when failed.
    pub error: Option<String>,
}

/// See [`FileId`].
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct FileIdView {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

struct Target {
    status: TargetStatus,
    links: Vec<(&'static str, UProbeLinkId)>,
    failed_at: Option<std::time::Instant>,
}

/// How long a failed target waits before it is tried again.
const RETRY_FAILED_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Attaches probes to targets and remembers what it did.
pub struct Attacher {
    ebpf: Ebpf,
    _jump: ProgramArray<MapData>,
    targets: BTreeMap<FileId, Target>,
    not_targets: HashMap<FileId, ()>,
}

impl Attacher {
    /// Wrap a loaded object.
    pub fn new(loaded: Loaded) -> Self {
        Attacher {
            ebpf: loaded.ebpf,
            _jump: loaded.jump,
            targets: BTreeMap::new(),
            not_targets: HashMap::new(),
        }
    }

    /// The object, for taking maps out.
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// Attach to a candidate unless already done; merges its pids into a known target.
    pub fn consider(&mut self, c: Candidate) {
        if let Some(t) = self.targets.get_mut(&c.id) {
            for pid in &c.pids {
                if t.status.pids.len() < MAX_PIDS_PER_TARGET {
                    t.status.pids.insert(*pid);
                }
            }
            // A failed attach is retried when the file is seen again through a live process
            // (the process we first reached it through may have exited), at most every 10 s.
            let retry = matches!(t.status.state, TargetState::Failed { .. })
                && t.failed_at
                    .is_some_and(|at| at.elapsed() >= RETRY_FAILED_AFTER);
            if !retry {
                return;
            }
            self.targets.remove(&c.id);
        }
        if self.not_targets.contains_key(&c.id) {
            return;
        }
        let kind = match c.kind {
            CandidateKind::Library(k) => k,
            CandidateKind::Executable => {
                let wanted: Vec<&str> = TargetKind::OpensslInExe.required_symbols().collect();
                match elf::symbol_offsets(&c.host_path, &wanted) {
                    Ok(found) if found.len() == wanted.len() => TargetKind::OpensslInExe,
                    _ => {
                        if self.not_targets.len() >= MAX_NEGATIVE_CACHE {
                            self.not_targets.clear();
                        }
                        self.not_targets.insert(c.id, ());
                        return;
                    }
                }
            }
        };
        let mut target = self.attach_target(c, kind);
        if matches!(target.status.state, TargetState::Failed { .. }) {
            target.failed_at = Some(std::time::Instant::now());
        }
        match &target.status.state {
            TargetState::Attached => tracing::info!(
                path = %target.status.path, kind = ?kind, probes = target.links.len(), "attached"
            ),
            TargetState::Failed { error } => {
                tracing::warn!(path = %target.status.path, kind = ?kind, %error, "cannot attach")
            }
        }
        self.targets.insert(target.status.file, target);
    }

    fn attach_target(&mut self, c: Candidate, kind: TargetKind) -> Target {
        let mut status = TargetStatus {
            path: c.path,
            host_path: c.host_path,
            file: c.id,
            kind,
            probes: Vec::new(),
            pids: c.pids,
            state: TargetState::Attached,
        };
        let mut links = Vec::new();
        let symbols: Vec<&str> = kind.probes().iter().map(|p| p.symbol).collect();
        let offsets = match elf::symbol_offsets(&status.host_path, &symbols) {
            Ok(o) => o,
            Err(e) => {
                status.state = TargetState::Failed {
                    error: format!("{e}: is this a regular ELF library?"),
                };
                return Target {
                    status,
                    links,
                    failed_at: None,
                };
            }
        };
        if let Some(missing) = kind
            .probes()
            .iter()
            .find(|p| p.required && !offsets.contains_key(p.symbol))
        {
            status.state = TargetState::Failed {
                error: format!(
                    "symbol {} not found (stripped or not {kind:?})",
                    missing.symbol
                ),
            };
            return Target {
                status,
                links,
                failed_at: None,
            };
        }
        for spec in kind.probes() {
            let Some(&offset) = offsets.get(spec.symbol) else {
                continue;
            };
            match self.attach_one(spec.program, offset, &status.host_path) {
                Ok(id) => {
                    links.push((spec.program, id));
                    status
                        .probes
                        .push(format!("{}:{}", spec.symbol, spec.program));
                }
                Err(error) => {
                    self.detach_links(std::mem::take(&mut links));
                    status.probes.clear();
                    status.state = TargetState::Failed {
                        error: format!("{}: {error}", spec.symbol),
                    };
                    break;
                }
            }
        }
        Target {
            status,
            links,
            failed_at: None,
        }
    }

    fn attach_one(
        &mut self,
        program: &str,
        offset: u64,
        path: &PathBuf,
    ) -> Result<UProbeLinkId, String> {
        let prog: &mut UProbe = self
            .ebpf
            .program_mut(program)
            .ok_or_else(|| format!("program {program} missing"))?
            .try_into()
            .map_err(|e| format!("{e}"))?;
        prog.attach(
            UProbeAttachLocation::AbsoluteOffset(offset),
            path,
            UProbeScope::AllProcesses,
        )
        .map_err(|e| error_chain(&e))
    }

    fn detach_links(&mut self, links: Vec<(&'static str, UProbeLinkId)>) {
        for (program, id) in links {
            let prog: Option<&mut UProbe> = self
                .ebpf
                .program_mut(program)
                .and_then(|p| p.try_into().ok());
            if let Some(prog) = prog
                && let Err(e) = prog.detach(id)
            {
                tracing::debug!(program, error = %e, "detach failed");
            }
        }
    }

    /// Forget targets whose inode is no longer in `present`, detaching their probes.
    pub fn forget_missing(&mut self, present: &BTreeSet<FileId>) {
        let gone: Vec<FileId> = self
            .targets
            .keys()
            .filter(|id| !present.contains(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(t) = self.targets.remove(&id) {
                tracing::info!(path = %t.status.path, "target gone, detaching");
                self.detach_links(t.links);
            }
        }
    }

    /// Status of every known target.
    pub fn statuses(&self) -> Vec<TargetStatus> {
        self.targets.values().map(|t| t.status.clone()).collect()
    }
}
