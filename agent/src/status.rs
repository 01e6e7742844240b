//! The status file: the running agent rewrites `STATE_DIR/status.json` every few seconds so
//! `llmtap targets` and `llmtap status` can report the truth without a network endpoint.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name inside the state directory.
pub const STATUS_FILE: &str = "status.json";

/// What the status file holds (a superset of the capture status, kept as JSON values so
/// readers tolerate fields they do not know).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusDoc {
    /// Agent pid.
    pub pid: u32,
    /// Seconds since the Unix epoch when written.
    pub written_at: u64,
    /// Capture status.
    pub capture: serde_json::Value,
    /// Pipeline counters.
    pub pipeline: serde_json::Value,
}

/// Path of the status file in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATUS_FILE)
}

/// Write atomically (temp file + rename), mode 0600.
pub fn write(state_dir: &Path, doc: &StatusDoc) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = state_dir.join(format!(".{STATUS_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
    }
    std::fs::rename(tmp, path(state_dir))
}

/// Read the status file, if a running agent wrote one.
pub fn read(state_dir: &Path) -> Result<StatusDoc, String> {
    let p = path(state_dir);
    let text = std::fs::read_to_string(&p).map_err(|e| {
        format!(
            "no status at {} ({e}); is `llmtap run` running with this --state-dir?",
            p.display()
        )
    })?;
    let doc: StatusDoc = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a status file: {e}", p.display()))?;
    // SAFETY: kill with signal 0 only checks for existence.
    let alive = unsafe { libc::kill(doc.pid as i32, 0) } == 0;
    if !alive {
        return Err(format!(
            "{} was written by pid {}, which is no longer running",
            p.display(),
            doc.pid
        ));
    }
    Ok(doc)
}

/// Create the state directory with 0700 permissions if missing.
pub fn ensure_state_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut perms = std::fs::metadata(dir)?.permissions();
    if perms.mode() & 0o077 != 0 {
        perms.set_mode(0o700);
        std::fs::set_permissions(dir, perms)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_stale_detection() {
        let dir = std::env::temp_dir().join(format!("llmtap-status-{}", std::process::id()));
        ensure_state_dir(&dir).unwrap();
        let doc = StatusDoc {
            pid: std::process::id(),
            written_at: 1,
            capture: serde_json::json!({"targets": []}),
            pipeline: serde_json::json!({}),
        };
        write(&dir, &doc).unwrap();
        assert_eq!(read(&dir).unwrap().pid, std::process::id());
        let dead = StatusDoc {
            pid: 4_000_000,
            ..doc
        };
        write(&dir, &dead).unwrap();
        assert!(read(&dir).unwrap_err().contains("no longer running"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
