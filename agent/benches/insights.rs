//! Insights history under load: throughput of `Analyzer::observe` on distinct prompts, and the
//! history's entries and approximate memory once its bounds are reached.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use llmtap::insights::{
    Analyzer, Digest, HistoryConfig, HistoryKey, InsightsConfig, PromptShape, SegmentDigest,
    UsageView,
};
use llmtap::llm::{CacheTtl, SegmentKind};

fn digest(a: u64, b: u64) -> Digest {
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&a.to_le_bytes());
    d[8..].copy_from_slice(&b.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    d
}

/// A conversation-like prompt: shared tools and system, then `turns` messages unique to `n`.
fn shape(n: u64, turns: u64) -> PromptShape {
    let mut segments = vec![
        SegmentDigest {
            kind: SegmentKind::Tools,
            role: None,
            hash: digest(1, 0),
            chain: digest(1, 0),
            bytes: 4000,
            cache_control: None,
        },
        SegmentDigest {
            kind: SegmentKind::System,
            role: None,
            hash: digest(2, 0),
            chain: digest(2, 1),
            bytes: 8000,
            cache_control: Some(CacheTtl::FiveMinutes),
        },
    ];
    for t in 0..turns {
        segments.push(SegmentDigest {
            kind: SegmentKind::Message,
            role: Some("user".into()),
            hash: digest(n, t),
            chain: digest(n ^ 0xabcd, t + 2),
            bytes: 800,
            cache_control: (t + 1 == turns).then_some(CacheTtl::FiveMinutes),
        });
    }
    PromptShape {
        key: HistoryKey {
            workload: format!("w{}", n % 200),
            provider: "anthropic".into(),
            model_family: "claude-sonnet-4-5".into(),
        },
        model: "claude-sonnet-4-5".into(),
        observed_at_ms: n,
        segments,
        automatic_cache: None,
        usage: UsageView::default(),
        prices: None,
    }
}

fn bench(c: &mut Criterion) {
    let cfg = InsightsConfig {
        history: HistoryConfig {
            max_entries: 10_000,
            max_per_key: 64,
            ..HistoryConfig::default()
        },
        ..InsightsConfig::default()
    };
    let analyzer = Analyzer::new(cfg).expect("default config is valid");
    for n in 0..100_000u64 {
        analyzer.observe(&shape(n, 8));
    }
    let stats = analyzer.history_stats();
    println!(
        "insights history after 100k distinct prompts: {} entries, {} keys, {} indexed chains, ~{:.1} MiB",
        stats.entries,
        stats.keys,
        stats.indexed_chains,
        stats.approx_bytes as f64 / (1024.0 * 1024.0)
    );
    let mut n = 100_000u64;
    c.bench_function("insights_observe_10_segments", |b| {
        b.iter(|| {
            n += 1;
            black_box(analyzer.observe(&shape(n, 8)))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
