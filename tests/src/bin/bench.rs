//! `bench`: the end-to-end half of `cargo xtask bench` (docs/performance.md). Measures, side by
//! side in one run, what llmtap costs an application that uses the system OpenSSL:
//!
//! - `probe`: a 4 KiB `SSL_write` loop with no probe, with a no-op uprobe on the same symbols
//!   (the physical floor), and with `llmtap run`.
//! - `app`: LLM-shaped keep-alive exchanges (10 KiB request, 200-event SSE response) direct,
//!   under llmtap, and through a TLS-terminating nginx reverse proxy (no llmtap).
//! - `load`: paced exchanges at a fixed rate against a running `llmtap run`, sampling its CPU
//!   and RSS every second, then checking its loss accounting.
//!
//! The client is `tests/bench/tlsclient.c` (compiled here with gcc against libssl), the servers
//! run in this process over rustls, so only the client is observed. Each measure is written as
//! one JSON row to `--rows`; `cargo xtask bench` prints them as a table. Harness code: it
//! panics with a message when the machine is not set up.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;

/// The system OpenSSL the client links.
const LIBSSL: &str = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
/// Symbols the no-op probe is attached to (entry and return), as llmtap does.
const NOOP_SYMBOLS: &[&str] = &["SSL_write", "SSL_write_ex", "SSL_read", "SSL_read_ex"];

struct Args {
    which: Vec<String>,
    rows: PathBuf,
    llmtap: PathBuf,
    work: PathBuf,
    rounds: usize,
    writes: u64,
    exchanges: u64,
    duration: u64,
    rate: u64,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        which: Vec::new(),
        rows: PathBuf::from("/tmp/llmtap-bench/rows.jsonl"),
        llmtap: PathBuf::from("target/release/llmtap"),
        work: PathBuf::from("/tmp/llmtap-bench"),
        rounds: 5,
        writes: 100_000,
        // Long enough (1–2 s per run) for tick-based CPU accounting and for noise to average.
        exchanges: 4000,
        duration: 60,
        rate: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rows" => a.rows = val()?.into(),
            "--llmtap" => a.llmtap = val()?.into(),
            "--work" => a.work = val()?.into(),
            "--rounds" => a.rounds = val()?.parse()?,
            "--writes" => a.writes = val()?.parse()?,
            "--exchanges" => a.exchanges = val()?.parse()?,
            "--duration" => a.duration = val()?.parse()?,
            "--rate" => a.rate = val()?.parse()?,
            "probe" | "app" | "load" => a.which.push(arg),
            other => bail!(
                "unknown argument {other}; usage: bench [probe] [app] [load] [--duration S] [--rate N] [--rounds N] [--rows PATH] [--llmtap PATH]"
            ),
        }
    }
    if a.which.is_empty() {
        a.which = vec!["probe".into(), "app".into(), "load".into()];
    }
    Ok(a)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.work)?;
    if let Some(dir) = args.rows.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.rows, "")?;
    let client = build_client(&args.work)?;
    let id = tests::tls::identity(&[b"http/1.1"])?;
    let discard = serve_tls(id.config.clone(), Handler::Discard).await?;
    let llm = serve_tls(id.config.clone(), Handler::Llm).await?;
    let ctx = Ctx {
        args,
        client,
        discard,
        llm,
    };
    if ctx.args.which.iter().any(|w| w == "probe" || w == "app") {
        probe_and_app(&ctx).await?;
    }
    if ctx.args.which.iter().any(|w| w == "load") {
        load(&ctx).await?;
    }
    Ok(())
}

struct Ctx {
    args: Args,
    client: PathBuf,
    discard: u16,
    llm: u16,
}

fn build_client(work: &Path) -> Result<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/tlsclient.c");
    let out = work.join("tlsclient");
    let st = std::process::Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .args(["-lssl", "-lcrypto"])
        .status()
        .context("gcc (cargo xtask bench installs it with libssl-dev)")?;
    if !st.success() {
        bail!("gcc failed to build {}", src.display());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Servers.

#[derive(Clone, Copy)]
enum Handler {
    /// Read and discard until EOF.
    Discard,
    /// Answer each request with a chunked SSE stream of `x-events` OpenAI chunks.
    Llm,
}

async fn serve_tls(config: Arc<rustls::ServerConfig>, h: Handler) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    handle(tls, h).await;
                }
            });
        }
    });
    Ok(port)
}

async fn serve_plain(h: Handler) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(handle(tcp, h));
        }
    });
    Ok(port)
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, h: Handler) {
    let mut buf = vec![0u8; 64 * 1024];
    if let Handler::Discard = h {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
        return;
    }
    let mut pending = Vec::new();
    loop {
        let (head_end, body_len, events) = loop {
            if let Some(pos) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..pos]).to_ascii_lowercase();
                let field = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap_or(0)))
                        .unwrap_or(0usize)
                };
                break (pos + 4, field("content-length:"), field("x-events:"));
            }
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        };
        while pending.len() < head_end + body_len {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        }
        pending.drain(..head_end + body_len);
        // The whole stream in one write (TLS records of 16 KiB), as a proxy would deliver a
        // burst: this keeps the direct and nginx paths comparable (docs/performance.md).
        let mut resp = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for i in 0..events {
            let ev = if i + 1 == events {
                "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":2600,\"completion_tokens\":200,\"total_tokens\":2800,\"prompt_tokens_details\":{\"cached_tokens\":2048}}}\n\ndata: [DONE]\n\n".to_string()
            } else {
                format!(
                    "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} \"}}}}]}}\n\n"
                )
            };
            resp.extend_from_slice(format!("{:x}\r\n{ev}\r\n", ev.len()).as_bytes());
        }
        resp.extend_from_slice(b"0\r\n\r\n");
        if s.write_all(&resp).await.is_err() || s.flush().await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What is attached to libssl during a measurement.

/// A running `llmtap run`.
struct Agent {
    child: tokio::process::Child,
    state_dir: PathBuf,
    sink: PathBuf,
    log: PathBuf,
}

impl Agent {
    async fn start(ctx: &Ctx, name: &str) -> Result<Agent> {
        let dir = ctx.args.work.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let state_dir = dir.join("state");
        let sink = dir.join("events.ndjson");
        let log = dir.join("agent.log");
        let logf = std::fs::File::create(&log)?;
        let child = tokio::process::Command::new(&ctx.args.llmtap)
            .arg("run")
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--sink")
            .arg(format!("file:{}", sink.display()))
            .args(["--metrics-addr", "off"])
            .env("LLMTAP_LOG", "warn,llmtap=info")
            .stdout(Stdio::from(logf.try_clone()?))
            .stderr(Stdio::from(logf))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", ctx.args.llmtap.display()))?;
        let agent = Agent {
            child,
            state_dir,
            sink,
            log,
        };
        // Ready once the status file lists libssl as attached.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(st) = agent.status()
                && st["capture"]["targets"].as_array().is_some_and(|t| {
                    t.iter().any(|t| {
                        t.to_string().contains("libssl.so.3") && t.to_string().contains("ttached")
                    })
                })
            {
                return Ok(agent);
            }
            if Instant::now() > deadline {
                bail!(
                    "llmtap did not attach to libssl within 60 s; see {}",
                    agent.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    fn status(&self) -> Result<serde_json::Value> {
        let text = std::fs::read_to_string(self.state_dir.join("status.json"))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// SIGINT, wait, and return the agent's log.
    async fn stop(mut self) -> Result<String> {
        let pid = self.pid();
        if pid != 0 {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(pid as i32, libc::SIGINT) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        Ok(std::fs::read_to_string(&self.log)?)
    }
}

/// The no-op uprobe on the same symbols; detached on drop.
struct Noop {
    _ebpf: aya::Ebpf,
}

impl Noop {
    fn attach() -> Result<Noop> {
        use aya::programs::{UProbe, uprobe::UProbeAttachLocation, uprobe::UProbeScope};
        let mut ebpf = aya::EbpfLoader::new()
            .load(llmtap::capture::attach::ebpf_object())
            .context("load the eBPF object (built without AYA_BUILD_SKIP?)")?;
        for name in ["noop", "noop_ret"] {
            let prog: &mut UProbe = ebpf
                .program_mut(name)
                .with_context(|| format!("{name} missing from the object"))?
                .try_into()?;
            prog.load()?;
            for sym in NOOP_SYMBOLS {
                prog.attach(
                    UProbeAttachLocation::Symbol(sym),
                    LIBSSL,
                    UProbeScope::AllProcesses,
                )
                .with_context(|| format!("attach {name} to {sym}"))?;
            }
        }
        Ok(Noop { _ebpf: ebpf })
    }
}

/// A TLS-terminating nginx in front of a plain-HTTP copy of the LLM server.
struct Nginx {
    child: tokio::process::Child,
    port: u16,
}

impl Nginx {
    async fn start(work: &Path) -> Result<Nginx> {
        let backend = serve_plain(Handler::Llm).await?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let dir = work.join("nginx");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
        std::fs::write(dir.join("cert.pem"), cert.cert.pem())?;
        std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem())?;
        let d = dir.display();
        let conf = format!(
            "daemon off; master_process off; worker_processes 1; user root; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
               upstream be {{ server 127.0.0.1:{backend}; keepalive 16; }}\n\
               server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
                 client_max_body_size 16m; client_body_buffer_size 1m; keepalive_requests 100000;\n\
                 location / {{ proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\";\n\
                   proxy_buffering off; proxy_request_buffering off; }} }} }}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let child = tokio::process::Command::new("nginx")
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .kill_on_drop(true)
            .spawn()
            .context("nginx (cargo xtask bench installs it)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("nginx did not listen; see {d}/error.log");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Nginx { child, port })
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements.

async fn run_client(ctx: &Ctx, args: &[String]) -> Result<String> {
    let out = tokio::process::Command::new(&ctx.client)
        .args(args)
        .output()
        .await?;
    if !out.status.success() {
        bail!(
            "tlsclient {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// (wall, CPU) ns of the client per unit, from tlsclient's "WALL_NS CPU_NS".
fn per_unit(out: &str, n: u64) -> Result<(f64, f64)> {
    let mut it = out.split_whitespace().map(|v| v.parse::<f64>());
    let wall = it.next().context("no wall time")??;
    let cpu = it.next().context("no cpu time")??;
    Ok((wall / n as f64, cpu / n as f64))
}

/// Client CPU ns per 4 KiB `SSL_write` (the probes run in the caller's context, so CPU time
/// is what they cost it; wall time here would measure the loaded machine and the server).
async fn write_loop(ctx: &Ctx) -> Result<f64> {
    let n = ctx.args.writes;
    let out = run_client(
        ctx,
        &[
            "write".into(),
            ctx.discard.to_string(),
            n.to_string(),
            "4096".into(),
        ],
    )
    .await?;
    Ok(per_unit(&out, n)?.1)
}

/// (wall, client CPU) ns per LLM-shaped exchange on `port`.
async fn exchanges(ctx: &Ctx, port: u16) -> Result<(f64, f64)> {
    let n = ctx.args.exchanges;
    let out = run_client(
        ctx,
        &[
            "llm".into(),
            port.to_string(),
            n.to_string(),
            "10240".into(),
            "200".into(),
        ],
    )
    .await?;
    per_unit(&out, n)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn row(
    ctx: &Ctx,
    measure: &str,
    llmtap: String,
    baseline: String,
    ratio: f64,
    budget: &str,
    pass: bool,
) -> Result<()> {
    use std::io::Write;
    let r = json!({"measure": measure, "llmtap": llmtap, "baseline": baseline,
        "ratio": ratio, "budget": budget, "pass": pass});
    eprintln!("ROW {r}");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&ctx.args.rows)?;
    writeln!(f, "{r}")?;
    Ok(())
}

async fn probe_and_app(ctx: &Ctx) -> Result<()> {
    let probe = ctx.args.which.iter().any(|w| w == "probe");
    let app = ctx.args.which.iter().any(|w| w == "app");
    let nginx = if app {
        Some(Nginx::start(&ctx.args.work).await?)
    } else {
        None
    };
    let (mut w_none, mut w_noop, mut w_tap) = (vec![], vec![], vec![]);
    let (mut x_none, mut x_tap, mut x_nginx) = (vec![], vec![], vec![]);
    let (mut c_none, mut c_tap) = (vec![], vec![]);
    let mut x_noop = vec![];
    // The agent's own CPU (its userspace pipeline) per exchange while the client runs: on
    // two shared cores it competes with the client and the server for time.
    let mut a_tap = vec![];
    // Warm-up (page cache, CPU frequency, TLS session setup paths).
    if probe {
        write_loop(ctx).await?;
    }
    if app {
        exchanges(ctx, ctx.llm).await?;
    }
    for round in 0..ctx.args.rounds {
        if probe {
            w_none.push(write_loop(ctx).await?);
            let noop = Noop::attach()?;
            w_noop.push(write_loop(ctx).await?);
            drop(noop);
        }
        if app {
            let noop = Noop::attach()?;
            x_noop.push(exchanges(ctx, ctx.llm).await?.0);
            drop(noop);
        }
        if let Some(n) = &nginx {
            let (wall, cpu) = exchanges(ctx, ctx.llm).await?;
            x_none.push(wall);
            c_none.push(cpu);
            x_nginx.push(exchanges(ctx, n.port).await?.0);
        }
        let agent = Agent::start(ctx, "agent-probe").await?;
        if probe {
            w_tap.push(write_loop(ctx).await?);
        }
        if app {
            let before = sample(agent.pid()).map(|s| s.0);
            let (wall, cpu) = exchanges(ctx, ctx.llm).await?;
            x_tap.push(wall);
            c_tap.push(cpu);
            // Let the agent finish the last exchanges before reading its CPU time.
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let (Some(b), Some((a, _))) = (before, sample(agent.pid())) {
                a_tap.push(ticks_to_ns(a.saturating_sub(b)) / ctx.args.exchanges as f64);
            }
        }
        agent.stop().await?;
        eprintln!(
            "round {round}: write ns/call none {:?} noop {:?} llmtap {:?}; exchange µs none {:?} llmtap {:?} nginx {:?}",
            w_none.last(),
            w_noop.last(),
            w_tap.last(),
            x_none.last().map(|v| v / 1e3),
            x_tap.last().map(|v| v / 1e3),
            x_nginx.last().map(|v| v / 1e3)
        );
    }
    if let Some(n) = nginx {
        n.stop().await;
    }
    if probe {
        let (none, noop, tap) = (median(&mut w_none), median(&mut w_noop), median(&mut w_tap));
        let ratio = (tap - none) / (noop - none);
        row(
            ctx,
            "probe cost per 4 KiB SSL_write (added over no probe)",
            format!("{:.2} µs", (tap - none) / 1e3),
            format!("no-op uprobe {:.2} µs", (noop - none) / 1e3),
            ratio,
            "≤ 1.5",
            ratio <= 1.5,
        )?;
    }
    if app {
        let (none, tap, ngx) = (
            median(&mut x_none),
            median(&mut x_tap),
            median(&mut x_nginx),
        );
        let slowdown = (tap - none) / none;
        row(
            ctx,
            "app slowdown, LLM exchange (10 KiB req, 200 SSE events)",
            format!("{:.1} µs (+{:.2} µs)", tap / 1e3, (tap - none) / 1e3),
            format!("{:.1} µs bare", none / 1e3),
            slowdown * 100.0,
            "≤ 1 %",
            // A negative difference is noise larger than the effect: not a pass.
            (0.0..=0.01).contains(&slowdown),
        )?;
        let floor = median(&mut x_noop);
        row(
            ctx,
            "app slowdown floor: no-op uprobe on the same symbols",
            format!("{:.1} µs (+{:.2} µs)", floor / 1e3, (floor - none) / 1e3),
            format!("{:.1} µs bare", none / 1e3),
            (floor - none) / none * 100.0,
            "report (%)",
            true,
        )?;
        let vs = (tap - none) / (ngx - none);
        row(
            ctx,
            "added latency vs TLS-terminating nginx",
            format!("+{:.2} µs", (tap - none) / 1e3),
            format!("nginx +{:.2} µs", (ngx - none) / 1e3),
            vs,
            "≤ 0.1",
            (0.0..=0.1).contains(&vs),
        )?;
        let (cn, ct) = (median(&mut c_none), median(&mut c_tap));
        row(
            ctx,
            "client CPU per LLM exchange (probes run in its context)",
            format!("{:.1} µs (+{:.2} µs)", ct / 1e3, (ct - cn) / 1e3),
            format!("{:.1} µs bare", cn / 1e3),
            (ct - cn) / cn * 100.0,
            "report (%)",
            true,
        )?;
        let at = median(&mut a_tap);
        row(
            ctx,
            "agent CPU per LLM exchange (userspace pipeline, same cores)",
            format!("{:.1} µs", at / 1e3),
            format!("llmtap over bare +{:.2} µs wall", (tap - none) / 1e3),
            at / (tap - none).max(1.0),
            "report",
            true,
        )?;
    }
    Ok(())
}

/// Clock ticks (`/proc/PID/stat` units) in nanoseconds.
fn ticks_to_ns(ticks: u64) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 * 1e9 / if hz > 0 { hz as f64 } else { 100.0 }
}

/// CPU ticks (utime + stime) and VmRSS in KiB of `pid`.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command: state is index 0, so utime (14) and stime (15) are 11 and 12.
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((ticks, rss))
}

async fn load(ctx: &Ctx) -> Result<()> {
    const CLIENTS: u64 = 20;
    const REQ: &str = "2048";
    const EVENTS: &str = "20";
    let secs = ctx.args.duration;
    let agent = Agent::start(ctx, "agent-load").await?;
    let pid = agent.pid();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let per_client = ctx.args.rate as f64 / CLIENTS as f64;
    let mut kids = Vec::new();
    for _ in 0..CLIENTS {
        kids.push(
            tokio::process::Command::new(&ctx.client)
                .args([
                    "rate".to_string(),
                    ctx.llm.to_string(),
                    secs.to_string(),
                    per_client.to_string(),
                    REQ.into(),
                    EVENTS.into(),
                ])
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()?,
        );
    }
    let t0 = Instant::now();
    let (ticks0, _) = sample(pid).context("agent process vanished")?;
    let mut rss = Vec::new();
    let mut cpu = Vec::new();
    let mut last = ticks0;
    for _ in 0..secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (t, r) = sample(pid).context("agent process vanished")?;
        cpu.push((t - last) as f64 / hz * 100.0);
        last = t;
        rss.push(r as f64 / 1024.0);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let mut sent = 0u64;
    let mut done = 0u64;
    for k in kids {
        let out = k.wait_with_output().await?;
        let s = String::from_utf8_lossy(&out.stdout);
        let mut it = s.split_whitespace();
        sent += it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        done += it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    }
    // Let the pipeline drain and the status file catch up.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let status = agent.status()?;
    let sink = agent.sink.clone();
    let log = agent.stop().await?;
    // The file sink rotates: count over `events.ndjson*`.
    let mut events = 0u64;
    if let (Some(dir), Some(name)) = (sink.parent(), sink.file_name())
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let name = name.to_string_lossy().into_owned();
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&name) {
                events += std::fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains("\"process.comm\":\"tlsclient\""))
                    .count() as u64;
            }
        }
    }
    let k = &status["capture"]["kernel"];
    let u = &status["capture"]["user"];
    let g = |v: &serde_json::Value, f: &str| v[f].as_u64().unwrap_or(0);
    let seen = g(k, "bytes_seen");
    let delivered = g(k, "bytes_delivered");
    let lost = [
        "lost_over_max",
        "lost_ringbuf_full",
        "lost_read_fault",
        "lost_conn_table_full",
    ]
    .iter()
    .map(|f| g(k, f))
    .sum::<u64>();
    let dropped = g(u, "chunks_dropped_queue_full");
    let final_line = log
        .lines()
        .filter(|l| l.contains("final accounting") || l.contains("emitted"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("load: {sent} sent, {done} completed in {elapsed:.1} s; {events} tlsclient events");
    eprintln!("load: kernel seen {seen} delivered {delivered} lost {lost}; queue drops {dropped}");
    eprintln!("load: pipeline {}", status["pipeline"]["pipeline"]);
    eprintln!("load: agent final lines:\n{final_line}");
    eprintln!("load: cpu % per second {cpu:.0?}");
    eprintln!("load: rss MiB per second {rss:.1?}");
    let rate = done as f64 / secs as f64;
    let half = rss.len() / 2;
    let steady = &rss[half..];
    let rss_max = steady.iter().copied().fold(0.0, f64::max);
    let rss_min = steady.iter().copied().fold(f64::INFINITY, f64::min);
    let mut cpu_sorted = cpu.clone();
    let cpu_med = median(&mut cpu_sorted);
    // Zero uncounted loss: the kernel balances, and every completed exchange became an event
    // unless a loss was counted.
    let balanced = seen == delivered + lost;
    let all_events = events == done;
    let accounted = balanced && (all_events || lost > 0 || dropped > 0);
    row(
        ctx,
        &format!("sustained load: {rate:.0} exchanges/s for {secs} s, 20 keep-alive clients"),
        format!("{events} events / {done} exchanges"),
        format!("seen {seen} B = delivered {delivered} + lost {lost}; queue drops {dropped}"),
        events as f64 / done.max(1) as f64,
        "= 1, loss counted",
        accounted && rate >= 0.95 * ctx.args.rate as f64,
    )?;
    row(
        ctx,
        "sustained load: agent CPU (% of one core, median)",
        format!("{cpu_med:.1} %"),
        format!(
            "{} cores",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        cpu_med,
        "report",
        true,
    )?;
    row(
        ctx,
        "sustained load: agent RSS, second half (MiB)",
        format!("{rss_min:.1}–{rss_max:.1} MiB"),
        format!(
            "first sample {:.1} MiB",
            rss.first().copied().unwrap_or(0.0)
        ),
        rss_max,
        "≤ 64, flat",
        rss_max <= 64.0 && rss_max - rss_min <= 0.1 * rss_max.max(1.0),
    )?;
    Ok(())
}
