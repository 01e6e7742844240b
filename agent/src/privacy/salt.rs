//! The hashing salt: where it comes from ([`load_salt`]) and how it is kept secret ([`Salt`]
//! never prints its bytes). Hashing itself is in `hash.rs`.
//!
//! Precedence: the `LLMTAP_HASH_SALT` environment variable (hex or base64), then
//! `privacy.salt_file` (hex, base64 or raw bytes — e.g. a mounted Kubernetes Secret), then the
//! `salt` file in the state directory, generated once (32 random bytes, mode 0600) and reused.
//! A configured source that cannot be read or is too short is an error: silently falling back
//! to a random salt would break fingerprint stability across nodes without anyone noticing.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;

/// Environment variable holding the salt (hex or base64).
pub const SALT_ENV: &str = "LLMTAP_HASH_SALT";
/// Name of the generated salt file inside the state directory.
pub const SALT_FILE_NAME: &str = "salt";
/// Bytes of a generated salt.
pub const GENERATED_SALT_LEN: usize = 32;
/// Shortest salt accepted from an operator.
pub const MIN_SALT_LEN: usize = 16;
/// Longest salt file read.
const MAX_SALT_FILE: u64 = 4096;

/// Secret key for keyed hashing. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(Vec<u8>);

impl Salt {
    /// A salt from raw bytes; `None` when shorter than [`MIN_SALT_LEN`].
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Salt> {
        (bytes.len() >= MIN_SALT_LEN).then_some(Salt(bytes))
    }

    /// A salt from operator text: hex first, then standard or URL-safe base64 (padded or not).
    pub fn parse(text: &str) -> Result<Salt, SaltError> {
        let t = text.trim();
        let bytes = decode_hex(t)
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .or_else(|| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(t)
                    .ok()
            })
            .or_else(|| base64::engine::general_purpose::URL_SAFE.decode(t).ok())
            .or_else(|| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
            })
            .ok_or(SaltError::Undecodable)?;
        let len = bytes.len();
        Salt::from_bytes(bytes).ok_or(SaltError::TooShort { len })
    }

    /// 32 fresh random bytes.
    pub fn generate() -> Result<Salt, SaltError> {
        let mut b = vec![0u8; GENERATED_SALT_LEN];
        getrandom::fill(&mut b).map_err(|e| SaltError::Random(e.to_string()))?;
        Ok(Salt(b))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(<redacted>)")
    }
}

/// Where the salt in use came from (safe to log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaltSource {
    /// The `LLMTAP_HASH_SALT` environment variable.
    Env,
    /// `privacy.salt_file`.
    File(PathBuf),
    /// The state directory's `salt` file, reused.
    StateReused(PathBuf),
    /// The state directory's `salt` file, generated now.
    StateGenerated(PathBuf),
}

/// Why no salt could be loaded. Never carries salt bytes.
#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    /// Neither hex nor base64.
    #[error("salt is neither hex nor base64")]
    Undecodable,
    /// Decoded to fewer than [`MIN_SALT_LEN`] bytes.
    #[error("salt has {len} bytes, at least {MIN_SALT_LEN} are required")]
    TooShort {
        /// Decoded length.
        len: usize,
    },
    /// A salt file could not be read or written.
    #[error("salt file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The state directory's salt file has the wrong size (corrupt or foreign).
    #[error("salt file {path} has {len} bytes, expected {GENERATED_SALT_LEN}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: usize,
    },
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
}

fn decode_hex(t: &str) -> Option<Vec<u8>> {
    if t.is_empty() || !t.len().is_multiple_of(2) || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SaltError + '_ {
    move |source| SaltError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, SaltError> {
    use std::io::Read;
    let f = fs::File::open(path).map_err(io_err(path))?;
    let mut buf = Vec::new();
    f.take(MAX_SALT_FILE)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    Ok(buf)
}

/// Salt from an operator file: text that decodes as hex/base64, else the raw bytes.
fn from_operator_file(path: &Path) -> Result<Salt, SaltError> {
    let raw = read_bounded(path)?;
    if let Ok(text) = std::str::from_utf8(&raw)
        && let Ok(salt) = Salt::parse(text)
    {
        return Ok(salt);
    }
    let len = raw.len();
    Salt::from_bytes(raw).ok_or(SaltError::TooShort { len })
}

/// Read the state directory's salt, or create it (0600) when absent.
fn from_state_dir(dir: &Path) -> Result<(Salt, SaltSource), SaltError> {
    let path = dir.join(SALT_FILE_NAME);
    match read_state_file(&path) {
        Ok(salt) => return Ok((salt, SaltSource::StateReused(path))),
        Err(SaltError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    let salt = Salt::generate()?;
    // Write a private temporary file, then link it into place: never a partial salt file, and
    // a concurrent creator wins cleanly (we then read theirs).
    let tmp = dir.join(format!(".{SALT_FILE_NAME}.{}.tmp", std::process::id()));
    let written = write_private(&tmp, salt.bytes()).and_then(|()| {
        fs::hard_link(&tmp, &path).or_else(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(e),
        })
    });
    let _ = fs::remove_file(&tmp);
    written.map_err(io_err(&path))?;
    let stored = read_state_file(&path)?;
    let source = if stored == salt {
        tracing::info!(path = %path.display(), "generated hashing salt");
        SaltSource::StateGenerated(path)
    } else {
        SaltSource::StateReused(path)
    };
    Ok((stored, source))
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn read_state_file(path: &Path) -> Result<Salt, SaltError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "salt file readable by others; setting 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
    }
    let raw = read_bounded(path)?;
    if raw.len() != GENERATED_SALT_LEN {
        return Err(SaltError::Corrupt {
            path: path.to_owned(),
            len: raw.len(),
        });
    }
    Ok(Salt(raw))
}

/// Load the salt from `env_value` (the `LLMTAP_HASH_SALT` value, if set and non-empty), else
/// `salt_file`, else the state directory. Testable core of [`load_salt`].
pub fn load_salt_from(
    env_value: Option<&str>,
    salt_file: Option<&Path>,
    state_dir: &Path,
) -> Result<(Salt, SaltSource), SaltError> {
    if let Some(v) = env_value.filter(|v| !v.trim().is_empty()) {
        return Ok((Salt::parse(v)?, SaltSource::Env));
    }
    if let Some(p) = salt_file {
        return Ok((from_operator_file(p)?, SaltSource::File(p.to_owned())));
    }
    from_state_dir(state_dir)
}

/// Load the salt as configured, reading `LLMTAP_HASH_SALT` from the environment.
pub fn load_salt(
    salt_file: Option<&Path>,
    state_dir: &Path,
) -> Result<(Salt, SaltSource), SaltError> {
    let env = std::env::var(SALT_ENV).ok();
    load_salt_from(env.as_deref(), salt_file, state_dir)
}
