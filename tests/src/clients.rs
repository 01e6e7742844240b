//! Real TLS clients as child processes: curl (libssl `SSL_write`/`SSL_read`), python3 (`ssl`,
//! the `_ex` calls), node (OpenSSL inside the executable), gnutls-cli (GnuTLS).

use std::{path::Path, process::Stdio};

use tokio::process::{Child, Command};

/// Python client: POST `body_file` to `url`/`path` with `http.client`, print the response body.
pub const PYTHON_CLIENT: &str = r#"
import ssl, sys, http.client, urllib.parse, time
url, path, body_file = sys.argv[1], sys.argv[2], sys.argv[3]
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
time.sleep(delay)
u = urllib.parse.urlparse(url)
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
body = open(body_file, 'rb').read()
c.request("POST", path, body=body, headers={"content-type": "application/json"})
r = c.getresponse()
sys.stdout.buffer.write(r.read())
"#;

/// Node client: POST a file with the `https` module.
pub const NODE_CLIENT: &str = r#"
const https = require('https'); const fs = require('fs');
const [url, path, bodyFile, delay] = process.argv.slice(1);
const u = new URL(url); const body = fs.readFileSync(bodyFile);
setTimeout(() => {
const req = https.request({ host: u.hostname, port: u.port, path, method: 'POST', rejectUnauthorized: false,
  headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
  const parts = []; res.on('data', (d) => parts.push(d)); res.on('end', () => process.stdout.write(Buffer.concat(parts)));
});
req.on('error', (e) => { console.error(e); process.exit(1); });
req.end(body);
}, parseFloat(delay || '0') * 1000);
"#;

fn quiet(mut cmd: Command) -> std::io::Result<Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
}

/// `curl --http1.1 -k -X POST --data-binary @body_file url+path`.
pub fn curl(url: &str, path: &str, body_file: &Path) -> std::io::Result<Child> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--http1.1",
        "-k",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
    ])
    .arg("--data-binary")
    .arg(format!("@{}", body_file.display()))
    .arg(format!("{url}{path}"));
    quiet(cmd)
}

/// python3 with [`PYTHON_CLIENT`], optionally sleeping `delay_s` before connecting.
pub fn python(url: &str, path: &str, body_file: &Path, delay_s: f64) -> std::io::Result<Child> {
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(PYTHON_CLIENT)
        .arg(url)
        .arg(path)
        .arg(body_file)
        .arg(delay_s.to_string());
    quiet(cmd)
}

/// node with [`NODE_CLIENT`], waiting `delay_s` before connecting (node links OpenSSL into its
/// executable; a process that makes its first TLS call within milliseconds of exec can beat
/// discovery, see docs/capture.md).
pub fn node(url: &str, path: &str, body_file: &Path, delay_s: f64) -> std::io::Result<Child> {
    let mut cmd = Command::new("node");
    cmd.arg("-e")
        .arg(NODE_CLIENT)
        .arg(url)
        .arg(path)
        .arg(body_file)
        .arg(delay_s.to_string());
    quiet(cmd)
}

/// A unique temporary file holding `bytes`.
pub fn temp_file(name: &str, bytes: &[u8]) -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("llmtap-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

/// gnutls-cli sending the bytes of `request_file` (kept open a little so the response arrives
/// before stdin closes).
pub fn gnutls(port: u16, request_file: &Path) -> std::io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "(cat '{}'; sleep 3) | exec gnutls-cli --insecure --logfile=/dev/null --port {port} 127.0.0.1",
        request_file.display()
    ));
    quiet(cmd)
}

/// Python client inside a private mount namespace, loading a copy of libssl from a tmpfs path
/// that does not exist on the host (a container-like library).
pub fn python_in_mount_namespace(
    url: &str,
    path: &str,
    body_file: &Path,
    libssl: &Path,
) -> std::io::Result<Child> {
    let script = format!(
        "mount -t tmpfs llmtap-test /mnt && mkdir -p /mnt/llmtap-lib && cp '{lib}' /mnt/llmtap-lib/ && \
         LD_LIBRARY_PATH=/mnt/llmtap-lib exec python3 -c \"$LLMTAP_PY\" '{url}' '{path}' '{body}' 1.5",
        lib = libssl.display(),
        body = body_file.display(),
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("LLMTAP_PY", PYTHON_CLIENT);
    quiet(cmd)
}

/// Python making `n` concurrent connections (threads), each POSTing a distinct body
/// `{"conn": "<tag>-<i>", "pad": "..."}` of about `size` bytes.
pub fn python_concurrent(url: &str, tag: &str, n: usize, size: usize) -> std::io::Result<Child> {
    let script = r#"
import ssl, sys, http.client, urllib.parse, threading, time
url, tag, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlparse(url)
ctx = ssl._create_unverified_context()
errors = []
def one(i):
    try:
        body = ('{"conn":"%s-%d","pad":"' % (tag, i)).encode()
        body += b'x' * max(0, size - len(body) - 2) + b'"}'
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
        c.request("POST", "/v1/chat/completions", body=body, headers={"content-type": "application/json"})
        c.getresponse().read()
        c.close()
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
if errors:
    print(errors[:3], file=sys.stderr); sys.exit(1)
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .arg(url)
        .arg(tag)
        .arg(n.to_string())
        .arg(size.to_string());
    quiet(cmd)
}

/// The system's OpenSSL library (to copy into a private mount namespace).
pub fn system_libssl() -> Option<std::path::PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu/libssl.so.3",
        "/lib/x86_64-linux-gnu/libssl.so.3",
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists())
}

/// curl with arbitrary extra arguments (headers, `--http2`, …) POSTing `body_file`.
pub fn curl_with(
    url: &str,
    path: &str,
    body_file: &Path,
    extra: &[&str],
) -> std::io::Result<Child> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-k",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
    ])
    .args(extra)
    .arg("--data-binary")
    .arg(format!("@{}", body_file.display()))
    .arg(format!("{url}{path}"));
    quiet(cmd)
}

/// The scripted conversation client (`tests/scripts/conversation.py`).
pub fn conversation_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/conversation.py")
}

/// A python interpreter reachable under the name `comm` (a symlink to the real executable),
/// so its process name — the workload llmtap reports outside Kubernetes — is `comm`.
pub fn python_named(comm: &str) -> std::io::Result<std::path::PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()?;
    let real = std::fs::canonicalize(String::from_utf8_lossy(&out.stdout).trim())?;
    let dir = std::env::temp_dir().join(format!("llmtap-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let link = dir.join(comm);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(real, &link)?;
    Ok(link)
}
