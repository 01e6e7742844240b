//! Builds the kernel programs (`agent-ebpf`) with aya-build and leaves the object at
//! `$OUT_DIR/llmtap`, where `capture::loader` embeds it.
//!
//! `AYA_BUILD_SKIP=1` skips the eBPF build (for quick userspace-only checks); an empty object
//! is written instead and loading fails at run time with a message that says so.
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir
        .parent()
        .ok_or_else(|| anyhow::anyhow!("agent crate has no parent directory"))?
        .join("agent-ebpf");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let skipped =
        std::env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skipped {
        std::fs::write(out_dir.join("llmtap"), [])?;
        println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
        return Ok(());
    }
    let root_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "agent-ebpf",
            root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
