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
