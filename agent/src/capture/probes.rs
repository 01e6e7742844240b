//! Which kernel program goes on which library symbol. Pure data: no attaching here.

use serde::Serialize;

/// The kind of TLS target a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// `libssl.so.*` (OpenSSL 1.1 or 3).
    OpensslShared,
    /// An executable with OpenSSL linked in and its symbols exported (node).
    OpensslInExe,
    /// `libgnutls.so.*`.
    Gnutls,
}

/// Whether a probe is an entry probe or a return probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// uprobe at function entry.
    Entry,
    /// uretprobe at function return.
    Return,
}

/// One program to attach to one symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Library symbol.
    pub symbol: &'static str,
    /// Kernel program name in the eBPF object.
    pub program: &'static str,
    /// Entry or return.
    pub kind: ProbeKind,
    /// The target is not usable without it (the `_ex` calls and close hooks are optional
    /// because OpenSSL 1.1.0 lacks the former and stripped builds may lack the latter).
    pub required: bool,
}

const fn probe(
    symbol: &'static str,
    program: &'static str,
    kind: ProbeKind,
    required: bool,
) -> ProbeSpec {
    ProbeSpec {
        symbol,
        program,
        kind,
        required,
    }
}

/// OpenSSL (shared or in an executable).
pub const OPENSSL_PROBES: &[ProbeSpec] = &[
    probe("SSL_write", "ssl_write", ProbeKind::Entry, true),
    probe("SSL_write", "ssl_ret", ProbeKind::Return, true),
    probe("SSL_read", "ssl_read", ProbeKind::Entry, true),
    probe("SSL_read", "ssl_ret", ProbeKind::Return, true),
    probe("SSL_write_ex", "ssl_write_ex", ProbeKind::Entry, false),
    probe("SSL_write_ex", "ssl_ex_ret", ProbeKind::Return, false),
    probe("SSL_read_ex", "ssl_read_ex", ProbeKind::Entry, false),
    probe("SSL_read_ex", "ssl_ex_ret", ProbeKind::Return, false),
    probe("SSL_shutdown", "ssl_shutdown", ProbeKind::Entry, false),
    probe("SSL_free", "ssl_free", ProbeKind::Entry, false),
];

/// GnuTLS. The close hooks reuse the OpenSSL close programs: both take the connection pointer
/// as first argument.
pub const GNUTLS_PROBES: &[ProbeSpec] = &[
    probe("gnutls_record_send", "gnutls_send", ProbeKind::Entry, true),
    probe("gnutls_record_send", "gnutls_ret", ProbeKind::Return, true),
    probe("gnutls_record_recv", "gnutls_recv", ProbeKind::Entry, true),
    probe("gnutls_record_recv", "gnutls_ret", ProbeKind::Return, true),
    probe("gnutls_bye", "ssl_shutdown", ProbeKind::Entry, false),
    probe("gnutls_deinit", "ssl_free", ProbeKind::Entry, false),
];

/// Every uprobe program in the object, to load once.
pub const UPROBE_PROGRAMS: &[&str] = &[
    "ssl_write",
    "ssl_read",
    "ssl_write_ex",
    "ssl_read_ex",
    "ssl_ret",
    "ssl_ex_ret",
    "ssl_shutdown",
    "ssl_free",
    "gnutls_send",
    "gnutls_recv",
    "gnutls_ret",
];

/// Raw tracepoints: (program, tracepoint).
pub const TRACEPOINTS: &[(&str, &str)] = &[
    ("on_exec", "sched_process_exec"),
    ("on_exit", "sched_process_exit"),
];

impl TargetKind {
    /// The probes this kind of target gets.
    pub fn probes(self) -> &'static [ProbeSpec] {
        match self {
            TargetKind::OpensslShared | TargetKind::OpensslInExe => OPENSSL_PROBES,
            TargetKind::Gnutls => GNUTLS_PROBES,
        }
    }

    /// Symbols a file must export to be this kind.
    pub fn required_symbols(self) -> impl Iterator<Item = &'static str> {
        let mut seen: Vec<&'static str> = Vec::new();
        for p in self.probes() {
            if p.required && !seen.contains(&p.symbol) {
                seen.push(p.symbol);
            }
        }
        seen.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probe_program_is_loaded() {
        for p in OPENSSL_PROBES.iter().chain(GNUTLS_PROBES) {
            assert!(
                UPROBE_PROGRAMS.contains(&p.program),
                "{} not in UPROBE_PROGRAMS",
                p.program
            );
        }
    }

    #[test]
    fn required_symbols_are_data_calls() {
        let s: Vec<_> = TargetKind::OpensslShared.required_symbols().collect();
        assert_eq!(s, ["SSL_write", "SSL_read"]);
        let g: Vec<_> = TargetKind::Gnutls.required_symbols().collect();
        assert_eq!(g, ["gnutls_record_send", "gnutls_record_recv"]);
    }
}
