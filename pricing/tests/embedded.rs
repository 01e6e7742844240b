//! The embedded table loads, is large enough and covers every required provider.

use pricing::{KNOWN_PROVIDERS, PriceTable};

#[test]
fn embedded_table_is_valid_and_covers_providers() {
    let table = PriceTable::try_embedded().expect("embedded table must validate");
    let layer = table.embedded_layer().expect("embedded layer");
    assert!(
        layer.entries.len() >= 100,
        "only {} entries",
        layer.entries.len()
    );
    for provider in KNOWN_PROVIDERS.iter().filter(|p| **p != "gcp.vertex_ai") {
        assert!(
            layer.entries.iter().any(|e| e.provider == *provider),
            "no entry for {provider}"
        );
    }
    for e in &layer.entries {
        assert!(!e.source.is_empty(), "{} has no source", e.key);
        assert!(
            e.source.contains("https://"),
            "{} source lacks a URL",
            e.key
        );
    }
    assert!(!table.version().is_empty());
}
