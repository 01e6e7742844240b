//! `llmtap check`: a preflight that says what this machine has and lacks for llmtap, each
//! line ok/fail with what to do. The checks are pure functions of [`Inputs`], gathered from
//! the real system by [`Inputs::gather`], so they are unit tested against fake machines.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// `CAP_SYS_ADMIN` bit.
pub const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_PERFMON` bit.
pub const CAP_PERFMON: u32 = 38;
/// `CAP_BPF` bit.
pub const CAP_BPF: u32 = 39;
/// `CAP_SYS_PTRACE` bit (reading `/proc/PID/root` and maps of other users' processes).
pub const CAP_SYS_PTRACE: u32 = 19;

/// Facts about the machine the checks judge.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `uname -r`.
    pub kernel_release: String,
    /// Whether `/sys/kernel/btf/vmlinux` exists.
    pub btf: bool,
    /// Effective capability mask (`CapEff` in `/proc/self/status`).
    pub cap_eff: u64,
    /// Effective uid.
    pub euid: u32,
    /// TLS libraries found in the standard directories.
    pub tls_libraries: Vec<PathBuf>,
    /// Whether tracefs is mounted (informational: llmtap uses raw tracepoints).
    pub tracefs: bool,
}

/// Outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Passed?
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do when it failed.
    pub remedy: Option<String>,
}

fn check(name: &'static str, ok: bool, detail: String, remedy: &str) -> Check {
    Check {
        name,
        ok,
        detail,
        remedy: (!ok).then(|| remedy.to_string()),
    }
}

/// Parse the leading `major.minor` of a kernel release string.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl Inputs {
    /// Read the real machine.
    pub fn gather() -> Inputs {
        let kernel_release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let cap_eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let tls_libraries =
            crate::capture::discovery::system_libraries(crate::capture::discovery::SYSTEM_LIB_DIRS)
                .into_iter()
                .map(|c| c.host_path)
                .collect();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        Inputs {
            kernel_release,
            btf: Path::new("/sys/kernel/btf/vmlinux").exists(),
            cap_eff,
            euid,
            tls_libraries,
            tracefs: mounts
                .lines()
                .any(|l| l.split(' ').nth(2) == Some("tracefs")),
        }
    }

    fn has_cap(&self, bit: u32) -> bool {
        self.cap_eff & (1u64 << bit) != 0
    }
}

/// Run every check.
pub fn run(i: &Inputs) -> Vec<Check> {
    let mut out = Vec::new();
    let version = kernel_version(&i.kernel_release);
    out.push(check(
        "kernel",
        version.is_some_and(|v| v >= (5, 8)),
        format!("release {:?}", i.kernel_release),
        "llmtap needs Linux >= 5.8 (ring buffers, CAP_BPF); upgrade the kernel or node image",
    ));
    out.push(check(
        "btf",
        i.btf,
        if i.btf {
            "/sys/kernel/btf/vmlinux present".into()
        } else {
            "/sys/kernel/btf/vmlinux missing".into()
        },
        "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 2021)",
    ));
    let bpf_ok = i.has_cap(CAP_SYS_ADMIN) || (i.has_cap(CAP_BPF) && i.has_cap(CAP_PERFMON));
    out.push(check(
        "capabilities",
        bpf_ok,
        format!(
            "euid {} CAP_BPF={} CAP_PERFMON={} CAP_SYS_ADMIN={} CAP_SYS_PTRACE={}",
            i.euid,
            i.has_cap(CAP_BPF),
            i.has_cap(CAP_PERFMON),
            i.has_cap(CAP_SYS_ADMIN),
            i.has_cap(CAP_SYS_PTRACE)
        ),
        "run as root, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (see docs/deployment.md)",
    ));
    out.push(check(
        "tls-libraries",
        !i.tls_libraries.is_empty(),
        if i.tls_libraries.is_empty() {
            "no libssl/libgnutls in the standard library directories".into()
        } else {
            i.tls_libraries
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
        "install OpenSSL or GnuTLS (processes that bring their own are still found through /proc)",
    ));
    out.push(Check {
        name: "tracefs",
        ok: true,
        detail: if i.tracefs {
            "mounted (not required: llmtap uses raw tracepoints)".into()
        } else {
            "not mounted (not required: llmtap uses raw tracepoints)".into()
        },
        remedy: None,
    });
    out
}

/// Render checks as aligned text lines.
pub fn render(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        s.push_str(&format!(
            "{:4} {:14} {}\n",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            c.detail
        ));
        if let Some(r) = &c.remedy {
            s.push_str(&format!("     {:14} -> {r}\n", ""));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Inputs {
        Inputs {
            kernel_release: "6.18.44-fc".into(),
            btf: true,
            cap_eff: (1 << CAP_BPF) | (1 << CAP_PERFMON),
            euid: 1000,
            tls_libraries: vec!["/usr/lib/libssl.so.3".into()],
            tracefs: false,
        }
    }

    #[test]
    fn a_good_machine_passes() {
        assert!(run(&good()).iter().all(|c| c.ok), "{:?}", run(&good()));
    }

    #[test]
    fn missing_btf_and_privileges_say_what_to_do() {
        let i = Inputs {
            btf: false,
            cap_eff: 0,
            ..good()
        };
        let checks = run(&i);
        let failed: Vec<_> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        assert_eq!(failed, ["btf", "capabilities"]);
        let text = render(&checks);
        assert!(text.contains("CONFIG_DEBUG_INFO_BTF"));
        assert!(text.contains("CAP_BPF, CAP_PERFMON"));
    }

    #[test]
    fn old_or_garbled_kernels_fail() {
        assert_eq!(kernel_version("5.4.0-100-generic"), Some((5, 4)));
        assert_eq!(kernel_version("6.18.44-fc"), Some((6, 18)));
        assert_eq!(kernel_version("garbage"), None);
        assert!(
            !run(&Inputs {
                kernel_release: "5.4.0".into(),
                ..good()
            })[0]
                .ok
        );
        assert!(
            !run(&Inputs {
                kernel_release: "".into(),
                ..good()
            })[0]
                .ok
        );
    }

    #[test]
    fn sys_admin_alone_is_enough_on_older_kernels() {
        let i = Inputs {
            cap_eff: 1 << CAP_SYS_ADMIN,
            ..good()
        };
        assert!(
            run(&i)
                .iter()
                .find(|c| c.name == "capabilities")
                .unwrap()
                .ok
        );
    }
}
