//! Reading exported symbols of an ELF file and turning their addresses into file offsets, so a
//! uprobe can be attached by offset without re-reading a 100 MB executable once per probe.

use std::{collections::HashMap, fs::File, path::Path};

use object::{Object, ObjectSegment, ObjectSymbol};

/// Errors reading an ELF file.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not an ELF object we can read.
    #[error("not a readable ELF file: {0}")]
    Parse(String),
}

/// File offsets of the requested symbols that the file defines (dynamic symbols first, then the
/// static table). Symbols it does not define are absent from the map.
pub fn symbol_offsets(path: &Path, wanted: &[&str]) -> Result<HashMap<String, u64>, ElfError> {
    let file = File::open(path).map_err(|source| ElfError::Open {
        path: path.display().to_string(),
        source,
    })?;
    // SAFETY: the mapping is read-only and private; if another process truncates the file
    // while we parse, reads of the vanished pages fault, which is the accepted risk of every
    // ELF reader that maps files (executables are not rewritten in place in practice).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| ElfError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let elf = object::File::parse(&*map).map_err(|e| ElfError::Parse(e.to_string()))?;
    let mut out = HashMap::new();
    let tables = [elf.dynamic_symbols(), elf.symbols()];
    for table in tables {
        for sym in table {
            if !sym.is_definition() || sym.address() == 0 {
                continue;
            }
            let Ok(name) = sym.name() else { continue };
            // Versioned names may carry `@VERSION` in some tables.
            let base = name.split('@').next().unwrap_or(name);
            if wanted.contains(&base)
                && !out.contains_key(base)
                && let Some(offset) = address_to_offset(&elf, sym.address())
            {
                out.insert(base.to_string(), offset);
            }
        }
        if out.len() == wanted.len() {
            break;
        }
    }
    Ok(out)
}

/// Translate a virtual address into a file offset through the loadable segments.
fn address_to_offset<'d, R: object::ReadRef<'d>>(
    elf: &object::File<'d, R>,
    addr: u64,
) -> Option<u64> {
    elf.segments().find_map(|seg| {
        let (file_off, file_len) = seg.file_range();
        let start = seg.address();
        (addr >= start && addr < start + file_len).then(|| addr - start + file_off)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libc_symbols_in_the_running_system() {
        // libc is on every machine this runs on; its `write` is exported.
        let libc = [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
        let Some(libc) = libc else { return };
        let found = symbol_offsets(libc, &["write", "no_such_symbol_here"]).expect("libc parses");
        assert!(found.contains_key("write"));
        assert!(!found.contains_key("no_such_symbol_here"));
    }

    #[test]
    fn non_elf_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("llmtap-elf-test-{}", std::process::id()));
        std::fs::write(&dir, b"not an elf").unwrap();
        let err = symbol_offsets(&dir, &["x"]).unwrap_err();
        assert!(err.to_string().contains("not a readable ELF"));
        let _ = std::fs::remove_file(&dir);
    }
}
