//! The running capture: a ring-reader task and a discovery task, and the handle that stops
//! them. The ring reader never waits on the pipeline: a full queue drops the event and counts it.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use agent_common::{ConnKey, ConnState, PendingCall};
use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use serde::Serialize;
use tokio::{
    io::unix::AsyncFd,
    sync::{mpsc, watch},
    task::JoinHandle,
};

use super::{
    CaptureError, CaptureSettings,
    attach::{self, Attacher, TargetStatus},
    discovery::{self, ProcRoot},
    event::{CaptureEvent, ConnId},
    queue::{self, CaptureReceiver, QueueSender},
    ring,
    stats::{KernelCounters, UserCounters, UserCountersSnapshot},
};

/// Delays after an exec at which the new process's maps are scanned: the dynamic loader maps
/// libraries shortly after exec, so one early look is not enough.
const EXEC_SCAN_DELAYS_MS: &[u64] = &[0, 20, 100, 500, 2000];
/// Most expected-offset entries the gap tracker keeps (same order as the kernel table).
const MAX_TRACKED_STREAMS: usize = 2 * agent_common::MAX_CONNS as usize;

/// A point-in-time view of capture, for `llmtap targets` and status output.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureStatus {
    /// Every discovered target.
    pub targets: Vec<TargetStatus>,
    /// Kernel counters.
    pub kernel: KernelCounters,
    /// Userspace counters.
    pub user: UserCountersSnapshot,
}

enum DiscoveryMsg {
    /// A process exec'd: scan it now and schedule the follow-up scans.
    Exec(u32),
    /// A scheduled follow-up scan of a process.
    Rescan(u32),
    /// A process exited: sweep its kernel connection entries.
    Exited(u32),
}

/// Handle on a running capture. Dropping it without [`CaptureHandle::stop`] also detaches
/// everything (the eBPF object is dropped with the tasks).
pub struct CaptureHandle {
    attacher: Arc<Mutex<Attacher>>,
    conns: Arc<Mutex<BpfHashMap<MapData, ConnKey, ConnState>>>,
    pending: BpfHashMap<MapData, u64, PendingCall>,
    counters: Arc<Mutex<PerCpuArray<MapData, u64>>>,
    user: Arc<UserCounters>,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl CaptureHandle {
    /// Current status.
    pub fn status(&self) -> CaptureStatus {
        CaptureStatus {
            targets: self
                .attacher
                .lock()
                .map(|a| a.statuses())
                .unwrap_or_default(),
            kernel: self.kernel_counters(),
            user: self.user.snapshot(),
        }
    }

    /// Kernel counters summed over CPUs.
    pub fn kernel_counters(&self) -> KernelCounters {
        let Ok(map) = self.counters.lock() else {
            return KernelCounters::default();
        };
        let mut slots = vec![0u64; agent_common::counter::COUNT as usize];
        for (i, slot) in slots.iter_mut().enumerate() {
            if let Ok(values) = map.get(&(i as u32), 0) {
                *slot = values.iter().sum();
            }
        }
        KernelCounters::from_slots(&slots)
    }

    /// Entries the kernel tables hold for process `tgid`: (in-flight calls, connections).
    /// Both drop to zero once the process has exited and the sweep has run.
    pub fn kernel_entries_for(&self, tgid: u32) -> (usize, usize) {
        let pending = self
            .pending
            .keys()
            .filter_map(|k| k.ok())
            .filter(|k| (k >> 32) as u32 == tgid)
            .count();
        let conns = self
            .conns
            .lock()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.ok())
                    .filter(|k| k.tgid == tgid)
                    .count()
            })
            .unwrap_or(0);
        (pending, conns)
    }

    /// Userspace counters.
    pub fn user_counters(&self) -> UserCountersSnapshot {
        self.user.snapshot()
    }

    /// Stop reading, detach every probe, and return the final status.
    pub async fn stop(mut self) -> CaptureStatus {
        let _ = self.stop_tx.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        // The status is read before `self` (and with it the eBPF object) is dropped.
        self.status()
    }
}

/// Load, attach and start reading. Must be called inside a tokio runtime.
pub async fn start(
    settings: CaptureSettings,
) -> Result<(CaptureHandle, CaptureReceiver), CaptureError> {
    settings.validate()?;
    let mut loaded = attach::load(&settings)?;
    let ebpf = &mut loaded.ebpf;
    let take = |ebpf: &mut aya::Ebpf, name: &str| {
        ebpf.take_map(name)
            .ok_or_else(|| CaptureError::Load(format!("map {name} missing from the object")))
    };
    let ring = RingBuf::try_from(take(ebpf, agent_common::MAP_RING)?)
        .map_err(|e| CaptureError::Load(format!("ring buffer: {e}")))?;
    let counters = PerCpuArray::<MapData, u64>::try_from(take(ebpf, agent_common::MAP_COUNTERS)?)
        .map_err(|e| CaptureError::Load(format!("counters: {e}")))?;
    let conns =
        BpfHashMap::<MapData, ConnKey, ConnState>::try_from(take(ebpf, agent_common::MAP_CONNS)?)
            .map_err(|e| CaptureError::Load(format!("connection map: {e}")))?;
    let conns = Arc::new(Mutex::new(conns));
    let pending =
        BpfHashMap::<MapData, u64, PendingCall>::try_from(take(ebpf, agent_common::MAP_PENDING)?)
            .map_err(|e| CaptureError::Load(format!("in-flight map: {e}")))?;

    let mut attacher = Attacher::new(loaded);
    let proc_root = ProcRoot::default();
    let self_pid = std::process::id();
    if settings.scan_system_libraries {
        for c in discovery::system_libraries(discovery::SYSTEM_LIB_DIRS) {
            attacher.consider(c);
        }
    }
    for (_, c) in proc_root.scan_all(self_pid) {
        attacher.consider(c);
    }
    let attacher = Arc::new(Mutex::new(attacher));

    let (tx, rx) = queue::queue(settings.queue_capacity, settings.queue_max_bytes);
    let (disc_tx, disc_rx) = mpsc::channel::<DiscoveryMsg>(4096);
    let (stop_tx, stop_rx) = watch::channel(false);
    let user = Arc::new(UserCounters::default());

    // SAFETY: the AsyncFd owns the RingBuf, whose map fd stays open and unchanged until the
    // AsyncFd is dropped.
    let ring_fd = unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
        .map_err(|e| CaptureError::Ring(e.to_string()))?;
    let reader = tokio::spawn(read_ring(
        ring_fd,
        tx,
        disc_tx.clone(),
        user.clone(),
        stop_rx.clone(),
    ));
    let discover = tokio::spawn(discover_loop(
        attacher.clone(),
        conns.clone(),
        proc_root,
        settings.clone(),
        disc_rx,
        disc_tx,
        stop_rx,
    ));
    let handle = CaptureHandle {
        attacher,
        conns,
        pending,
        counters: Arc::new(Mutex::new(counters)),
        user,
        stop_tx,
        tasks: vec![reader, discover],
    };
    Ok((handle, rx))
}

/// Expected next offset per (connection, direction): detects gaps as chunks arrive.
#[derive(Default)]
struct GapTracker {
    next: HashMap<(ConnId, u8), u64>,
}

impl GapTracker {
    fn on_chunk(&mut self, conn: ConnId, dir: u8, offset: u64, len: u64, user: &UserCounters) {
        let key = (conn, dir);
        let expected = self.next.get(&key).copied().unwrap_or(0);
        if offset > expected {
            UserCounters::add(&user.gaps, 1);
            UserCounters::add(&user.gap_bytes, offset - expected);
        }
        if self.next.len() < MAX_TRACKED_STREAMS || self.next.contains_key(&key) {
            self.next.insert(key, (offset + len).max(expected));
        } else {
            UserCounters::add(&user.streams_untracked, 1);
        }
    }

    fn on_close(&mut self, conn: ConnId, total: [u64; 2], user: &UserCounters) {
        for dir in 0..2u8 {
            let expected = self.next.remove(&(conn, dir)).unwrap_or(0);
            let t = total[dir as usize];
            if t > expected {
                UserCounters::add(&user.gaps, 1);
                UserCounters::add(&user.gap_bytes, t - expected);
            }
        }
    }

    fn on_exit(&mut self, pid: u32) {
        self.next.retain(|(c, _), _| c.tgid != pid);
    }
}

async fn read_ring(
    mut fd: AsyncFd<RingBuf<MapData>>,
    tx: QueueSender,
    disc_tx: mpsc::Sender<DiscoveryMsg>,
    user: Arc<UserCounters>,
    mut stop: watch::Receiver<bool>,
) {
    let mut gaps = GapTracker::default();
    // Chunks are submitted without a wakeup until `RING_WAKEUP_BYTES` wait (see
    // agent-common), so light traffic is picked up by this tick instead.
    let mut tick =
        tokio::time::interval(Duration::from_millis(agent_common::RING_DRAIN_INTERVAL_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => drain(fd.get_mut(), &tx, &disc_tx, &user, &mut gaps),
            _ = stop.changed() => {
                // Drain what is already in the ring so the accounting adds up.
                drain(fd.get_mut(), &tx, &disc_tx, &user, &mut gaps);
                return;
            }
            guard = fd.readable_mut() => {
                let mut guard = match guard {
                    Ok(g) => g,
                    Err(e) => {
                        tracing::error!(error = %e, "ring buffer poll failed; capture stops");
                        return;
                    }
                };
                drain(guard.get_inner_mut(), &tx, &disc_tx, &user, &mut gaps);
                guard.clear_ready();
            }
        }
    }
}

fn drain(
    ring: &mut RingBuf<MapData>,
    tx: &QueueSender,
    disc_tx: &mpsc::Sender<DiscoveryMsg>,
    user: &UserCounters,
    gaps: &mut GapTracker,
) {
    while let Some(item) = ring.next() {
        let ev = match ring::decode(&item) {
            Ok(ev) => ev,
            Err(e) => {
                UserCounters::add(&user.records_malformed, 1);
                tracing::warn!(error = %e, "undecodable ring record");
                continue;
            }
        };
        drop(item);
        let is_chunk = match &ev {
            CaptureEvent::Chunk(c) => {
                let len = c.data.len() as u64;
                UserCounters::add(&user.chunks_received, 1);
                UserCounters::add(&user.bytes_received, len);
                gaps.on_chunk(c.conn, c.direction as u8, c.offset, len, user);
                true
            }
            CaptureEvent::ConnClosed { conn, total, .. } => {
                gaps.on_close(*conn, *total, user);
                false
            }
            CaptureEvent::ProcessExec { pid } => {
                if disc_tx.try_send(DiscoveryMsg::Exec(*pid)).is_err() {
                    UserCounters::add(&user.discovery_notices_dropped, 1);
                }
                false
            }
            CaptureEvent::ProcessExit { pid, .. } => {
                gaps.on_exit(*pid);
                if disc_tx.try_send(DiscoveryMsg::Exited(*pid)).is_err() {
                    UserCounters::add(&user.discovery_notices_dropped, 1);
                }
                false
            }
        };
        if let Err(ev) = tx.try_send(ev) {
            match ev {
                CaptureEvent::Chunk(c) => {
                    UserCounters::add(&user.chunks_dropped_queue_full, 1);
                    UserCounters::add(&user.bytes_dropped_queue_full, c.data.len() as u64);
                }
                _ if !is_chunk => UserCounters::add(&user.control_dropped_queue_full, 1),
                _ => {}
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn discover_loop(
    attacher: Arc<Mutex<Attacher>>,
    conns: Arc<Mutex<BpfHashMap<MapData, ConnKey, ConnState>>>,
    proc_root: ProcRoot,
    settings: CaptureSettings,
    mut rx: mpsc::Receiver<DiscoveryMsg>,
    tx: mpsc::Sender<DiscoveryMsg>,
    mut stop: watch::Receiver<bool>,
) {
    let self_pid = std::process::id();
    let mut rescan = tokio::time::interval(settings.rescan_interval());
    rescan.tick().await;
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    let mut exited: BTreeSet<u32> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            msg = rx.recv() => match msg {
                Some(DiscoveryMsg::Exec(pid)) if pid != self_pid => {
                    // Scan now and again a little later, while the loader maps libraries.
                    scan_pid(&attacher, &proc_root, pid);
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut last = 0;
                        for &ms in &EXEC_SCAN_DELAYS_MS[1..] {
                            tokio::time::sleep(Duration::from_millis(ms - last)).await;
                            last = ms;
                            if tx.send(DiscoveryMsg::Rescan(pid)).await.is_err() {
                                return;
                            }
                        }
                    });
                }
                Some(DiscoveryMsg::Rescan(pid)) => scan_pid(&attacher, &proc_root, pid),
                Some(DiscoveryMsg::Exec(_)) => {}
                Some(DiscoveryMsg::Exited(pid)) => { exited.insert(pid); }
                None => return,
            },
            _ = sweep.tick() => {
                if !exited.is_empty()
                    && let Ok(mut conns) = conns.lock()
                {
                    sweep_exited(&mut conns, &mut exited);
                }
            }
            _ = rescan.tick() => {
                let found = proc_root.scan_all(self_pid);
                let mut present: BTreeSet<_> = found.keys().copied().collect();
                if settings.scan_system_libraries {
                    present.extend(discovery::system_libraries(discovery::SYSTEM_LIB_DIRS).iter().map(|c| c.id));
                }
                if let Ok(mut a) = attacher.lock() {
                    for (_, c) in found { a.consider(c); }
                    a.forget_missing(&present);
                }
            }
        }
    }
}

fn scan_pid(attacher: &Arc<Mutex<Attacher>>, proc_root: &ProcRoot, pid: u32) {
    let found = proc_root.scan_pid(pid);
    if found.is_empty() {
        return;
    }
    if let Ok(mut a) = attacher.lock() {
        for c in found {
            a.consider(c);
        }
    }
}

/// Remove the kernel connection entries of exited processes (the kernel cannot iterate its own
/// hash map cheaply, so userspace sweeps in batches).
fn sweep_exited(conns: &mut BpfHashMap<MapData, ConnKey, ConnState>, exited: &mut BTreeSet<u32>) {
    let stale: Vec<ConnKey> = conns
        .keys()
        .filter_map(|k| k.ok())
        .filter(|k| exited.contains(&k.tgid))
        .collect();
    for k in stale {
        let _ = conns.remove(&k);
    }
    exited.clear();
}
