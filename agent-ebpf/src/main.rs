//! llmtap's kernel programs.
//!
//! Owns: copying the plaintext of TLS reads and writes into the ring buffer as chunks with a
//! per-connection, per-direction byte offset; counting every byte that is not delivered; telling
//! userspace about connection ends, execs and exits. Does not own: deciding what to attach to
//! (userspace discovery), or understanding the bytes.
//!
//! Every TLS data call is captured at return, when the number of bytes actually moved is known:
//! the entry probe saves the arguments in `PENDING` (keyed by thread), the return probe copies
//! `ret` bytes (or `*written` / `*readbytes` for the `_ex` calls) in chunks.
#![no_std]
#![no_main]

use agent_common::{
    CHUNK_CLASS_MEDIUM, CHUNK_CLASS_SMALL, CHUNK_MAX, CHUNKS_PER_TAIL_CALL, COMM_LEN,
    CaptureConfig, ChunkHeader, ChunkRecord, ConnClosed, ConnKey, ConnState, Continuation,
    Direction, Library, MAX_CHUNKS_PER_CALL, MAX_CONNS, MAX_PENDING, PendingCall, ProcessEvent,
    RING_WAKEUP_BYTES, chunk_flags, close_reason, counter, record_kind,
};
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_ktime_get_ns, bpf_probe_read_user, generated::bpf_probe_read_user as read_user_raw,
    },
    macros::{map, raw_tracepoint, uprobe, uretprobe},
    maps::{HashMap, PerCpuArray, ProgramArray, RingBuf},
    programs::{ProbeContext, RawTracePointContext, RetProbeContext},
};

/// Load-time configuration (userspace rewrites it with `EbpfLoader::set_global`).
#[unsafe(no_mangle)]
static CONFIG: CaptureConfig = CaptureConfig::DEFAULT;

/// Plaintext chunks and control records. Userspace sets the real size at load time.
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(agent_common::DEFAULT_RING_BYTES, 0);

/// Per-CPU counters, indexed by `agent_common::counter`.
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Connection state: start time and next offset per direction.
#[map(name = "CONNS")]
static CONNS: HashMap<ConnKey, ConnState> = HashMap::with_max_entries(MAX_CONNS, 0);

/// Continuation of a multi-chunk call, handed from the return probe to `emit_chunks` through
/// tail calls (one slot per CPU: a tail call stays on the CPU it started on).
#[map(name = "CONT")]
static CONT: PerCpuArray<Continuation> = PerCpuArray::with_max_entries(1, 0);

/// Slot 0 holds `emit_chunks`, for tail calls.
#[map(name = "JUMP")]
static JUMP: ProgramArray = ProgramArray::with_max_entries(1, 0);

/// Arguments of in-flight calls, keyed by `pid_tgid`.
#[map(name = "PENDING")]
static PENDING: HashMap<u64, PendingCall> = HashMap::with_max_entries(MAX_PENDING, 0);

#[inline(always)]
fn config() -> CaptureConfig {
    // SAFETY: CONFIG is a plain global; volatile read keeps the compiler from folding the
    // default values in, so the value userspace wrote at load time is used.
    unsafe { core::ptr::read_volatile(&CONFIG) }
}

#[inline(always)]
fn count(index: u32, by: u64) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, valid for the duration of the program.
        unsafe { *slot += by };
    }
}

#[inline(always)]
fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

#[inline(always)]
fn is_self() -> bool {
    let me = config().self_tgid;
    me != 0 && me == current_tgid()
}

// ---------------------------------------------------------------------------------------------
// Entry probes: remember the arguments.

#[inline(always)]
fn save_call(
    ctx: &ProbeContext,
    direction: Direction,
    library: Library,
    ex: bool,
) -> Result<(), i64> {
    if is_self() {
        return Ok(());
    }
    let conn_ptr: u64 = ctx.arg(0).ok_or(1i64)?;
    let buf: u64 = ctx.arg(1).ok_or(1i64)?;
    let len_out: u64 = if ex { ctx.arg(3).ok_or(1i64)? } else { 0 };
    let call = PendingCall {
        conn_ptr,
        buf,
        len_out,
        direction: direction as u8,
        library: library as u8,
        _pad: [0; 6],
    };
    if PENDING.insert(bpf_get_current_pid_tgid(), call, 0).is_err() {
        count(counter::CALLS_UNTRACKED, 1);
    }
    Ok(())
}

#[uprobe]
pub fn ssl_write(ctx: ProbeContext) -> u32 {
    save_call(&ctx, Direction::Egress, Library::OpenSsl, false).map_or(1, |_| 0)
}

#[uprobe]
pub fn ssl_read(ctx: ProbeContext) -> u32 {
    save_call(&ctx, Direction::Ingress, Library::OpenSsl, false).map_or(1, |_| 0)
}

#[uprobe]
pub fn ssl_write_ex(ctx: ProbeContext) -> u32 {
    save_call(&ctx, Direction::Egress, Library::OpenSsl, true).map_or(1, |_| 0)
}

#[uprobe]
pub fn ssl_read_ex(ctx: ProbeContext) -> u32 {
    save_call(&ctx, Direction::Ingress, Library::OpenSsl, true).map_or(1, |_| 0)
}

#[uprobe]
pub fn gnutls_send(ctx: ProbeContext) -> u32 {
    save_call(&ctx, Direction::Egress, Library::GnuTls, false).map_or(1, |_| 0)
}

#[uprobe]
pub fn gnutls_recv(ctx: ProbeContext) -> u32 {
    save_call(&ctx, Direction::Ingress, Library::GnuTls, false).map_or(1, |_| 0)
}

// ---------------------------------------------------------------------------------------------
// Return probes: copy the bytes that moved.

/// Plain calls return the byte count (`int` for OpenSSL, `ssize_t` for GnuTLS).
#[inline(always)]
fn finish_plain(ctx: &RetProbeContext, library: Library) -> Result<(), i64> {
    let key = bpf_get_current_pid_tgid();
    // SAFETY: the value is copied out before the entry is removed.
    let call = match unsafe { PENDING.get(key) } {
        Some(c) => *c,
        None => return Ok(()),
    };
    let _ = PENDING.remove(key);
    let ret: i64 = match library {
        Library::OpenSsl => ctx.ret::<i32>() as i64,
        Library::GnuTls => ctx.ret::<i64>(),
    };
    if ret <= 0 {
        count(counter::CALLS_FAILED, 1);
        return Ok(());
    }
    capture_call(ctx, &call, ret as u64)
}

/// `_ex` calls return 1 on success and store the byte count through their last argument.
#[inline(always)]
fn finish_ex(ctx: &RetProbeContext) -> Result<(), i64> {
    let key = bpf_get_current_pid_tgid();
    // SAFETY: as above.
    let call = match unsafe { PENDING.get(key) } {
        Some(c) => *c,
        None => return Ok(()),
    };
    let _ = PENDING.remove(key);
    let ret: i32 = ctx.ret();
    if ret != 1 || call.len_out == 0 {
        count(counter::CALLS_FAILED, 1);
        return Ok(());
    }
    // SAFETY: reading a user pointer through the helper; faults are reported as errors.
    let moved: u64 = match unsafe { bpf_probe_read_user(call.len_out as *const u64) } {
        Ok(v) => v,
        Err(_) => {
            count(counter::CALLS_FAILED, 1);
            return Ok(());
        }
    };
    if moved == 0 {
        count(counter::CALLS_FAILED, 1);
        return Ok(());
    }
    capture_call(ctx, &call, moved)
}

#[uretprobe]
pub fn ssl_ret(ctx: RetProbeContext) -> u32 {
    finish_plain(&ctx, Library::OpenSsl).map_or(1, |_| 0)
}

#[uretprobe]
pub fn ssl_ex_ret(ctx: RetProbeContext) -> u32 {
    finish_ex(&ctx).map_or(1, |_| 0)
}

#[uretprobe]
pub fn gnutls_ret(ctx: RetProbeContext) -> u32 {
    finish_plain(&ctx, Library::GnuTls).map_or(1, |_| 0)
}

/// Account `len` bytes of the call, advance the connection offset and emit chunks.
#[inline(always)]
fn capture_call(ctx: &RetProbeContext, call: &PendingCall, len: u64) -> Result<(), i64> {
    count(counter::CALLS, 1);
    count(counter::BYTES_SEEN, len);
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let key = ConnKey {
        tgid,
        _pad: 0,
        conn_ptr: call.conn_ptr,
    };
    let now = unsafe { bpf_ktime_get_ns() };
    let state = match CONNS.get_ptr_mut(key) {
        Some(s) => s,
        None => {
            let fresh = ConnState {
                start_ns: now,
                offset: [0, 0],
            };
            if CONNS.insert(key, fresh, 0).is_err() {
                count(counter::LOST_CONN_TABLE_FULL, len);
                return Ok(());
            }
            match CONNS.get_ptr_mut(key) {
                Some(s) => s,
                None => {
                    count(counter::LOST_CONN_TABLE_FULL, len);
                    return Ok(());
                }
            }
        }
    };
    let dir = (call.direction & 1) as usize;
    // SAFETY: pointer into the map value, valid for this program run.
    let (start_ns, base) = unsafe {
        let base = (*state).offset[dir];
        (*state).offset[dir] = base + len;
        ((*state).start_ns, base)
    };

    let cfg = config();
    let mut chunk_size = cfg.chunk_size as u64;
    if chunk_size == 0 || chunk_size > CHUNK_MAX as u64 {
        chunk_size = CHUNK_MAX as u64;
    }
    let mut wanted = len;
    let mut flags = 0u8;
    if wanted > cfg.max_capture_per_call {
        wanted = cfg.max_capture_per_call;
        flags |= chunk_flags::CALL_TRUNCATED;
    }
    if wanted > chunk_size * MAX_CHUNKS_PER_CALL as u64 {
        wanted = chunk_size * MAX_CHUNKS_PER_CALL as u64;
        flags |= chunk_flags::CALL_TRUNCATED;
    }
    if wanted < len {
        count(counter::LOST_OVER_MAX, len - wanted);
    }

    let comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
    let header = ChunkHeader {
        kind: record_kind::CHUNK,
        direction: call.direction,
        library: call.library,
        flags,
        _pad: 0,
        tgid,
        tid: pid_tgid as u32,
        len: 0,
        conn_ptr: call.conn_ptr,
        conn_start_ns: start_ns,
        offset: base,
        call_len: len,
        timestamp_ns: now,
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        comm,
    };

    // A call that fits in one chunk (the common case: headers, SSE events, small bodies) is
    // emitted here, in the smallest record class that holds it, so small writes do not pin
    // 32 KiB of ring.
    if wanted <= chunk_size {
        let n = wanted;
        let outcome = if n <= CHUNK_CLASS_SMALL as u64 {
            emit::<CHUNK_CLASS_SMALL>(&header, call.buf, 0, n, true)
        } else if n <= CHUNK_CLASS_MEDIUM as u64 {
            emit::<CHUNK_CLASS_MEDIUM>(&header, call.buf, 0, n, true)
        } else {
            emit::<CHUNK_MAX>(&header, call.buf, 0, n, true)
        };
        account(outcome, n);
        return Ok(());
    }

    // Larger calls continue in `emit_chunks`, a few chunks per tail call, so the verifier
    // checks a short loop instead of one bounded by the largest call.
    let Some(cont) = CONT.get_ptr_mut(0) else {
        count(counter::LOST_OVER_MAX, wanted);
        return Ok(());
    };
    // SAFETY: per-CPU slot; the tail call runs on this CPU before anything else can.
    unsafe {
        *cont = Continuation {
            header,
            buf: call.buf,
            wanted,
            chunk_size,
            next: 0,
        };
        JUMP.tail_call(ctx, 0);
    }
    // Only reached when the tail call failed (program array empty): nothing was emitted.
    count(counter::LOST_OVER_MAX, wanted);
    Ok(())
}

/// Emits up to `CHUNKS_PER_TAIL_CALL` chunks of the call in `CONT`, then tail-calls itself for
/// the rest. Never attached: reached only through `JUMP`.
#[uprobe]
pub fn emit_chunks(ctx: ProbeContext) -> u32 {
    let Some(cont) = CONT.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: per-CPU slot written by the return probe (or the previous tail call) just before.
    let c = unsafe { &mut *cont };
    let chunk_size = if c.chunk_size == 0 || c.chunk_size > CHUNK_MAX as u64 {
        CHUNK_MAX as u64
    } else {
        c.chunk_size
    };
    let first = c.next;
    if first >= MAX_CHUNKS_PER_CALL as u64 {
        return 0;
    }
    for j in 0..CHUNKS_PER_TAIL_CALL {
        let start = (first + j as u64) * chunk_size;
        if start >= c.wanted {
            return 0;
        }
        let mut n = c.wanted - start;
        if n > chunk_size {
            n = chunk_size;
        }
        let outcome = emit::<CHUNK_MAX>(&c.header, c.buf, start, n, start + n >= c.wanted);
        account(outcome, n);
    }
    let next = first + CHUNKS_PER_TAIL_CALL as u64;
    c.next = next;
    if next * chunk_size < c.wanted {
        // SAFETY: jumps to this same program with the same context.
        unsafe { JUMP.tail_call(&ctx, 0) };
        // The kernel's tail-call limit was reached: the rest is lost, and counted.
        count(counter::LOST_OVER_MAX, c.wanted - next * chunk_size);
    }
    0
}

#[inline(always)]
fn account(outcome: Emit, n: u64) {
    match outcome {
        Emit::Delivered => {
            count(counter::BYTES_DELIVERED, n);
            count(counter::CHUNKS_DELIVERED, 1);
        }
        Emit::RingFull => count(counter::LOST_RINGBUF_FULL, n),
        Emit::ReadFault => count(counter::LOST_READ_FAULT, n),
    }
}

enum Emit {
    Delivered,
    RingFull,
    ReadFault,
}

/// Reserve a record of payload capacity `N`, fill it with `n` bytes read from `buf + skip`,
/// and submit it.
#[inline(always)]
fn emit<const N: usize>(header: &ChunkHeader, buf: u64, skip: u64, n: u64, last: bool) -> Emit {
    let Some(mut entry) = EVENTS.reserve::<ChunkRecord<N>>(0) else {
        return Emit::RingFull;
    };
    let rec = entry.as_mut_ptr();
    let mut len = n as usize;
    if len > N {
        len = N;
    }
    // SAFETY: `rec` points at a reserved record of N payload bytes; `len <= N` is checked
    // just above so the verifier knows the write stays inside the reservation.
    let ok = unsafe {
        core::ptr::write(&raw mut (*rec).header, *header);
        (*rec).header.len = len as u32;
        (*rec).header.offset = header.offset + skip;
        if last {
            (*rec).header.flags |= chunk_flags::LAST_OF_CALL;
        }
        let dst = (&raw mut (*rec).data) as *mut core::ffi::c_void;
        let src = (buf + skip) as *const core::ffi::c_void;
        read_user_raw(dst, len as u32, src) == 0
    };
    if ok {
        // Wake the reader only once enough is waiting; it also drains on a timer.
        let flags = if EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= RING_WAKEUP_BYTES {
            BPF_RB_FORCE_WAKEUP as u64
        } else {
            BPF_RB_NO_WAKEUP as u64
        };
        entry.submit(flags);
        Emit::Delivered
    } else {
        entry.discard(0);
        Emit::ReadFault
    }
}

// ---------------------------------------------------------------------------------------------
// Connection ends.

#[inline(always)]
fn close_conn(ctx: &ProbeContext, reason: u32) -> Result<(), i64> {
    if is_self() {
        return Ok(());
    }
    let conn_ptr: u64 = ctx.arg(0).ok_or(1i64)?;
    let tgid = current_tgid();
    let key = ConnKey {
        tgid,
        _pad: 0,
        conn_ptr,
    };
    // SAFETY: copied out before removal.
    let state = match unsafe { CONNS.get(key) } {
        Some(s) => *s,
        None => return Ok(()),
    };
    let _ = CONNS.remove(key);
    count(counter::CONNS_CLOSED, 1);
    let rec = ConnClosed {
        kind: record_kind::CLOSE,
        tgid,
        reason,
        _pad: 0,
        conn_ptr,
        conn_start_ns: state.start_ns,
        total: state.offset,
        timestamp_ns: unsafe { bpf_ktime_get_ns() },
    };
    if EVENTS.output::<ConnClosed>(&rec, 0).is_err() {
        count(counter::CONTROL_LOST, 1);
    }
    Ok(())
}

#[uprobe]
pub fn ssl_shutdown(ctx: ProbeContext) -> u32 {
    close_conn(&ctx, close_reason::SHUTDOWN).map_or(1, |_| 0)
}

#[uprobe]
pub fn ssl_free(ctx: ProbeContext) -> u32 {
    close_conn(&ctx, close_reason::FREE).map_or(1, |_| 0)
}

// ---------------------------------------------------------------------------------------------
// Process lifecycle (raw tracepoints: no tracefs needed).

#[inline(always)]
fn process_event(kind: u32) {
    let rec = ProcessEvent {
        kind,
        tgid: current_tgid(),
        timestamp_ns: unsafe { bpf_ktime_get_ns() },
    };
    if EVENTS.output::<ProcessEvent>(&rec, 0).is_err() {
        count(counter::CONTROL_LOST, 1);
    }
}

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn on_exec(_ctx: RawTracePointContext) -> i32 {
    if !is_self() {
        process_event(record_kind::EXEC);
    }
    0
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn on_exit(_ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let _ = PENDING.remove(pid_tgid);
    // Only the thread-group leader's exit ends the process for our purposes; userspace sweeps
    // the connection table of that tgid.
    if (pid_tgid >> 32) as u32 == pid_tgid as u32 {
        process_event(record_kind::EXIT);
    }
    0
}

// ---------------------------------------------------------------------------------------------
// No-op probes: never attached by the agent. `cargo xtask bench` attaches them to the same
// symbols to measure the physical floor of a uprobe (docs/performance.md).

#[uprobe]
pub fn noop(_ctx: ProbeContext) -> u32 {
    0
}

#[uretprobe]
pub fn noop_ret(_ctx: RetProbeContext) -> u32 {
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
