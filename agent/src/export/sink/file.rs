//! The `file:PATH` sink: NDJSON appended to `PATH`, rotated by size into `PATH.1` … `PATH.N`
//! (the oldest deleted). Writes run on the blocking pool so the async runtime never stalls.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::SinkError;
use super::stdout::io_error;
use crate::export::config::FileSinkConfig;
use crate::export::delivery::{SendError, SendFuture, Transport};
use crate::export::event::EncodedEvent;

/// A size-rotated NDJSON file.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    max_files: u32,
    file: File,
    size: u64,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl RotatingFile {
    /// Open (append) `path`.
    pub fn open(path: PathBuf, cfg: &FileSinkConfig) -> std::io::Result<Self> {
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            max_bytes: cfg.max_bytes,
            max_files: cfg.max_files,
            file,
            size,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        let oldest = numbered(&self.path, self.max_files);
        if oldest.exists() {
            std::fs::remove_file(&oldest)?;
        }
        for n in (1..self.max_files).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }

    /// Append whole lines, rotating first when a line would push a non-empty file past the
    /// size bound (a line is never split across files).
    pub fn write_lines(&mut self, lines: &[Bytes]) -> std::io::Result<()> {
        for line in lines {
            let len = line.len() as u64;
            if self.size > 0 && self.size + len > self.max_bytes {
                self.rotate()?;
            }
            self.file.write_all(line)?;
            self.size += len;
        }
        self.file.flush()
    }
}

/// The file sink.
#[derive(Debug)]
pub struct FileSink {
    file: Arc<Mutex<RotatingFile>>,
}

impl FileSink {
    /// Open the file now, so a bad path fails at start.
    pub fn open(path: PathBuf, cfg: &FileSinkConfig) -> Result<Self, SinkError> {
        let f = RotatingFile::open(path.clone(), cfg)
            .map_err(|source| SinkError::File { path, source })?;
        Ok(FileSink {
            file: Arc::new(Mutex::new(f)),
        })
    }
}

impl Transport for FileSink {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn send<'a>(&'a self, batch: &'a [EncodedEvent]) -> SendFuture<'a> {
        let lines: Vec<Bytes> = batch.iter().map(|e| e.line.clone()).collect();
        let file = Arc::clone(&self.file);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
                f.write_lines(&lines)
            })
            .await
            .map_err(|_| SendError::Retryable {
                reason: "file writer task failed".into(),
                retry_after: None,
            })?
            .map_err(|e| io_error(&e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_bounds_file_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.ndjson");
        let cfg = FileSinkConfig {
            max_bytes: 100,
            max_files: 3,
        };
        let mut f = RotatingFile::open(path.clone(), &cfg).expect("open");
        // 50 lines of 10 bytes, 10 per file: live + 3 rotated kept, the oldest 10 deleted.
        let lines: Vec<Bytes> = (0..50)
            .map(|i| Bytes::from(format!("{{\"i\":{i:03}}}\n")))
            .collect();
        assert!(lines.iter().all(|l| l.len() == 10));
        for chunk in lines.chunks(7) {
            f.write_lines(chunk).expect("write");
        }
        let read = |p: &Path| std::fs::read_to_string(p).expect("read");
        assert!(!numbered(&path, 4).exists());
        for n in 1..=3 {
            let text = read(&numbered(&path, n));
            assert_eq!(text.lines().count(), 10, "file .{n}");
        }
        assert!(read(&path).contains("\"i\":049"));
        assert!(read(&numbered(&path, 1)).contains("\"i\":039"));
        assert!(read(&numbered(&path, 3)).contains("\"i\":010"));
        let all: String = (1..=3)
            .map(|n| read(&numbered(&path, n)))
            .collect::<String>()
            + &read(&path);
        assert!(!all.contains("\"i\":009"));
        // Reopen appends.
        drop(f);
        let f2 = RotatingFile::open(path.clone(), &cfg).expect("reopen");
        assert_eq!(f2.size, read(&path).len() as u64);
    }
}
