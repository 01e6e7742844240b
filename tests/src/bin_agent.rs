//! The `llmtap` binary as a subprocess: built on demand, started with a private state
//! directory, a file sink and a metrics port, stopped with SIGINT.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Path of the `llmtap` binary, building it first (a no-op when up to date).
pub fn llmtap_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--package", "agent", "--bin", "llmtap"])
        .current_dir(&root)
        .status()
        .expect("cargo build runs");
    assert!(status.success(), "building llmtap failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("debug/llmtap")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running agent.
pub struct BinAgent {
    /// The process.
    pub child: Child,
    /// Its state directory.
    pub state_dir: PathBuf,
    /// Where its stderr (logs) goes.
    pub log_file: PathBuf,
    /// Metrics port.
    pub metrics_port: u16,
}

impl BinAgent {
    /// Start `llmtap run` with `args` added, logs at `log_level` into a file, and wait for its
    /// status file (capture attached).
    pub fn start(name: &str, log_level: &str, args: &[&str]) -> BinAgent {
        let bin = llmtap_binary();
        let state_dir =
            std::env::temp_dir().join(format!("llmtap-bin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir).expect("state dir");
        let log_file = state_dir.with_extension("log");
        let metrics_port = free_port();
        let log = std::fs::File::create(&log_file).expect("log file");
        let child = Command::new(bin)
            .args(["--log", log_level, "run", "--state-dir"])
            .arg(&state_dir)
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("llmtap starts");
        let mut agent = BinAgent {
            child,
            state_dir,
            log_file,
            metrics_port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !agent.state_dir.join("status.json").exists() {
            assert!(
                Instant::now() < deadline,
                "no status file after 60 s: {}",
                agent.log()
            );
            assert!(
                agent.child.try_wait().expect("wait").is_none(),
                "llmtap exited early: {}",
                agent.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        agent
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// GET `path` from the metrics server.
    pub fn get(&self, path: &str) -> String {
        http_get(self.metrics_port, path)
    }

    /// SIGINT, wait for exit (≤ 30 s), return (success, log).
    pub fn stop(self) -> (bool, String) {
        let mut this = self;
        this.stop_inner()
    }

    fn stop_inner(&mut self) -> (bool, String) {
        // SAFETY: signalling our own child.
        unsafe { libc_kill(self.child.id() as i32, 2) };
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "llmtap did not stop: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        (status.success(), self.log())
    }
}

impl Drop for BinAgent {
    /// A failing test must not leave a whole-node agent running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Plain HTTP/1.0 GET on 127.0.0.1:`port`; returns the body.
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n").expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    match out.find("\r\n\r\n") {
        Some(i) => out[i + 4..].to_string(),
        None => out,
    }
}
