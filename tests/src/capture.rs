//! Running the agent's capture through its library API inside a test, and turning the chunks
//! it delivers back into per-connection byte streams.

use std::{collections::BTreeMap, time::Duration};

use llmtap::capture::{
    self, CaptureEvent, CaptureHandle, CaptureSettings, CaptureStatus, Chunk, ConnId, Direction,
};

/// Whether privileged tests can run here. Not root: skip, unless `CI=true`, where a test that
/// needs privileges must run, so this panics instead.
pub fn privileged_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc_geteuid() } == 0;
    if root {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: needs root to load eBPF, and CI=true forbids skipping");
    }
    eprintln!("SKIP {test}: needs root to load eBPF programs");
    false
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// One direction of one connection, rebuilt from chunks by offset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    /// Bytes in offset order; holes are not filled.
    pub data: Vec<u8>,
    /// Bytes missing between chunks (capture loss).
    pub gap_bytes: u64,
    /// Chunks that made it.
    pub chunks: usize,
    /// Process ids the chunks were attributed to.
    pub pids: Vec<u32>,
}

/// Streams keyed by connection and direction.
pub type Streams = BTreeMap<(ConnId, u8), Stream>;

/// Put chunks back together by offset.
pub fn reassemble<'a>(chunks: impl IntoIterator<Item = &'a Chunk>) -> Streams {
    let mut by_stream: BTreeMap<(ConnId, u8), Vec<&Chunk>> = BTreeMap::new();
    for c in chunks {
        by_stream
            .entry((c.conn, c.direction as u8))
            .or_default()
            .push(c);
    }
    let mut out = Streams::new();
    for (key, mut cs) in by_stream {
        cs.sort_by_key(|c| c.offset);
        let mut s = Stream::default();
        let mut next = 0u64;
        for c in cs {
            if c.offset > next {
                s.gap_bytes += c.offset - next;
            }
            s.data.extend_from_slice(&c.data);
            next = c.offset + c.data.len() as u64;
            s.chunks += 1;
            if !s.pids.contains(&c.process.pid) {
                s.pids.push(c.process.pid);
            }
        }
        out.insert(key, s);
    }
    out
}

/// A running capture that keeps every chunk it sees.
pub struct Tap {
    handle: CaptureHandle,
    rx: llmtap::capture::CaptureReceiver,
    /// Every chunk received so far.
    pub chunks: Vec<Chunk>,
    /// Every other event received so far.
    pub others: Vec<CaptureEvent>,
}

impl Tap {
    /// Start with default settings.
    pub async fn start() -> Tap {
        Self::start_with(CaptureSettings::default()).await
    }

    /// Start with the given settings; panics with the agent's message if loading fails.
    pub async fn start_with(settings: CaptureSettings) -> Tap {
        match capture::start(settings).await {
            Ok((handle, rx)) => Tap {
                handle,
                rx,
                chunks: Vec::new(),
                others: Vec::new(),
            },
            Err(e) => panic!("capture failed to start: {e}"),
        }
    }

    /// Pull events for `dur`.
    pub async fn pump(&mut self, dur: Duration) {
        let deadline = tokio::time::Instant::now() + dur;
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            match ev {
                CaptureEvent::Chunk(c) => self.chunks.push(c),
                other => self.others.push(other),
            }
        }
    }

    /// Pull events until `done(streams of pid)` holds or `timeout` passes; returns those streams.
    pub async fn wait_for_pid(
        &mut self,
        pid: u32,
        timeout: Duration,
        done: impl Fn(&Streams) -> bool,
    ) -> Streams {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let streams = self.streams_for_pid(pid);
            if done(&streams) || tokio::time::Instant::now() > deadline {
                return streams;
            }
            self.pump(Duration::from_millis(50)).await;
        }
    }

    /// Streams whose chunks came from `pid`.
    pub fn streams_for_pid(&self, pid: u32) -> Streams {
        reassemble(self.chunks.iter().filter(|c| c.process.pid == pid))
    }

    /// Streams whose chunks came from a process named `comm`.
    pub fn streams_for_comm(&self, comm: &str) -> Streams {
        reassemble(self.chunks.iter().filter(|c| c.process.comm == comm))
    }

    /// Pull events until `done(all streams)` holds or `timeout` passes.
    pub async fn wait_all(
        &mut self,
        timeout: Duration,
        done: impl Fn(&Streams) -> bool,
    ) -> Streams {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let streams = reassemble(self.chunks.iter());
            if done(&streams) || tokio::time::Instant::now() > deadline {
                return streams;
            }
            self.pump(Duration::from_millis(50)).await;
        }
    }

    /// Entries the kernel tables hold for `tgid`: (in-flight calls, connections).
    pub fn kernel_entries_for(&self, tgid: u32) -> (usize, usize) {
        self.handle.kernel_entries_for(tgid)
    }

    /// The capture's current status.
    pub fn status(&self) -> CaptureStatus {
        self.handle.status()
    }

    /// Stop and return the final status. Kernel counters are summed CPU by CPU while other
    /// processes on the machine may be mid-call, so this waits (up to 3 s) for a snapshot at
    /// rest in which `seen = delivered + lost` holds.
    pub async fn stop(mut self) -> CaptureStatus {
        self.pump(Duration::from_millis(100)).await;
        for _ in 0..30 {
            if self.handle.kernel_counters().balanced() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.handle.stop().await
    }
}

/// The egress and ingress streams of the single connection in `streams`, if there is one.
pub fn only_connection(streams: &Streams) -> Option<(Stream, Stream)> {
    let conns: Vec<ConnId> = streams
        .keys()
        .map(|(c, _)| *c)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if conns.len() != 1 {
        return None;
    }
    let c = conns[0];
    let eg = streams
        .get(&(c, Direction::Egress as u8))
        .cloned()
        .unwrap_or_default();
    let ing = streams
        .get(&(c, Direction::Ingress as u8))
        .cloned()
        .unwrap_or_default();
    Some((eg, ing))
}
