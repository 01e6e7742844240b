//! `cargo xtask demo`: a newcomer's first run. Starts the local LLM test server and the agent,
//! makes OpenAI- and Anthropic-shaped calls with real clients (curl over HTTP/1.1 and HTTP/2,
//! python, node, and two scripted conversations, one of which breaks prompt caching), then
//! prints the events, a `/metrics` excerpt, the cache report and the final accounting.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::sh;

const METRICS_PORT: u16 = 19464;

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run the demo.
pub fn run() -> Result<()> {
    crate::setup::run()?;
    sh::step("build");
    sh::cargo(&[
        "build",
        "--release",
        "--package",
        "agent",
        "--bin",
        "llmtap",
    ])?;
    sh::cargo(&[
        "build",
        "--release",
        "--package",
        "tests",
        "--bin",
        "llm-test-server",
    ])?;
    let root = sh::workspace_root()?;
    let bin = root.join("target/release");
    let dir = PathBuf::from("/tmp/llmtap-demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    sh::step("start the local LLM test server (TLS on 127.0.0.1)");
    let mut server = Command::new(root.join("target/debug/llm-test-server"))
        .stdout(Stdio::piped())
        .spawn()
        .context("llm-test-server")?;
    let mut first = String::new();
    BufReader::new(server.stdout.take().context("server stdout")?).read_line(&mut first)?;
    let _server = Killer(server);
    let url = first
        .trim()
        .strip_prefix("listening ")
        .context("server did not say where it listens")?
        .to_string();
    let port = url.rsplit(':').next().unwrap_or_default().to_string();
    eprintln!("     {url}");

    sh::step("start llmtap (embedded defaults, file sink, metrics on 127.0.0.1:19464)");
    let events = dir.join("events.ndjson");
    let log = std::fs::File::create(dir.join("agent.log"))?;
    let mut cmd = sh::as_root(&bin.join("llmtap").to_string_lossy());
    cmd.args(["run", "--state-dir"])
        .arg(dir.join("state"))
        .arg("--sink")
        .arg(format!("file:{}", events.display()))
        .args(["--metrics-addr", &format!("127.0.0.1:{METRICS_PORT}")])
        .stdout(Stdio::null())
        .stderr(log);
    let agent = cmd.spawn().context("llmtap")?;
    let agent_pid = agent.id();
    let mut agent = Killer(agent);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("state/status.json").exists() {
        if Instant::now() > deadline || agent.0.try_wait()?.is_some() {
            bail!(
                "llmtap did not start; see {}",
                dir.join("agent.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    sh::step("real clients call the test server");
    let openai = r#"{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello"}]}"#;
    let streamed = r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Stream a haiku"}]}"#;
    let body1 = write(&dir, "openai.json", openai)?;
    let body2 = write(&dir, "openai-stream.json", streamed)?;
    client(
        "curl (HTTP/1.1, OpenAI)",
        Command::new("curl")
            .args([
                "-sS",
                "-k",
                "--http1.1",
                "-H",
                "content-type: application/json",
                "--data-binary",
            ])
            .arg(format!("@{}", body1.display()))
            .arg(format!("{url}/v1/chat/completions")),
    )?;
    client(
        "curl (HTTP/2, OpenAI stream)",
        Command::new("curl")
            .args([
                "-sS",
                "-k",
                "--http2",
                "-N",
                "-H",
                "content-type: application/json",
                "--data-binary",
            ])
            .arg(format!("@{}", body2.display()))
            .arg(format!("{url}/v1/chat/completions")),
    )?;
    let node = "const https=require('https');const b=JSON.stringify({model:'gpt-4o',messages:[{role:'user',content:'hi from node'}]});\
        setTimeout(()=>{const r=https.request({host:'127.0.0.1',port:process.argv[1],path:'/v1/chat/completions',method:'POST',rejectUnauthorized:false,\
        headers:{'content-type':'application/json','content-length':Buffer.byteLength(b)}},(res)=>{res.resume();});r.end(b);},1000);";
    client(
        "node (OpenSSL inside the executable)",
        Command::new("node").args(["-e", node, &port]),
    )?;
    let script = root.join("tests/scripts/conversation.py");
    for (name, mode) in [("support-bot", "stable"), ("billing-agent", "timestamp")] {
        let py = python_named(&dir, name)?;
        client(
            &format!("python as {name} (Anthropic conversation, {mode} system prompt)"),
            Command::new(py)
                .arg(&script)
                .args([port.as_str(), mode, "5"]),
        )?;
    }
    std::thread::sleep(Duration::from_secs(2));

    sh::step("events (one per LLM call; no prompt text, keyed hashes only)");
    let text = std::fs::read_to_string(&events).unwrap_or_default();
    println!(
        "{:<14} {:<10} {:<28} {:>7} {:>6} {:>11} {:>9}  cache",
        "process", "provider", "model", "in", "out", "cost $", "ttfc ms"
    );
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let n = |k: &str| {
            v[k].as_u64()
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<14} {:<10} {:<28} {:>7} {:>6} {:>11} {:>9}  {}",
            v["process.comm"].as_str().unwrap_or("?"),
            v["provider"].as_str().unwrap_or("?"),
            v["response.model"]
                .as_str()
                .or(v["request.model"].as_str())
                .unwrap_or("?"),
            n("usage.input_tokens"),
            n("usage.output_tokens"),
            v["cost.usd"]
                .as_f64()
                .map(|c| format!("{c:.6}"))
                .unwrap_or_else(|| "unpriced".into()),
            v["timing.time_to_first_chunk_ms"]
                .as_f64()
                .map(|t| format!("{t:.1}"))
                .unwrap_or_else(|| "-".into()),
            v["cache"]["reason"].as_str().unwrap_or("-"),
        );
    }

    sh::step(&format!(
        "/metrics excerpt (http://127.0.0.1:{METRICS_PORT}/metrics)"
    ));
    let metrics = http_get(METRICS_PORT, "/metrics").unwrap_or_default();
    for l in metrics
        .lines()
        .filter(|l| {
            !l.starts_with('#')
                && (l.starts_with("llmtap_cost")
                    || l.starts_with("llmtap_tokens")
                    || l.starts_with("llmtap_requests")
                    || l.starts_with("llmtap_cache"))
        })
        .take(30)
    {
        println!("{l}");
    }

    sh::step("llmtap report: what breaks prompt caching, ranked by money wasted");
    let report = Command::new(bin.join("llmtap"))
        .arg("report")
        .arg("--events")
        .arg(&events)
        .output()?;
    print!("{}", String::from_utf8_lossy(&report.stdout));

    sh::step("stop (SIGINT): drain and account");
    let _ = Command::new("kill")
        .args(["-INT", &agent_pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.0.try_wait()?.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
    for l in log
        .lines()
        .filter(|l| l.contains("final accounting") || l.starts_with("llmtap export:"))
    {
        println!("{l}");
    }
    eprintln!(
        "\nEverything is in {}: events.ndjson, agent.log.",
        dir.display()
    );
    Ok(())
}

fn write(dir: &Path, name: &str, body: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, body)?;
    Ok(p)
}

fn client(what: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("     {what}");
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| what.to_string())?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// A symlink to the real python so the process name (the workload outside Kubernetes) is `name`.
fn python_named(dir: &Path, name: &str) -> Result<PathBuf> {
    let exe =
        sh::output("python3", &["-c", "import sys; print(sys.executable)"]).context("python3")?;
    let real = std::fs::canonicalize(exe.trim())?;
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(real, &link)?;
    Ok(link)
}

fn http_get(port: u16, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(out))
}
