//! Unit tests of the analyzer as a whole: automatic-cache steps, unmodelled providers and the
//! serialised `cache` object, counters, concurrency and configuration checks.

use super::calibration_tests::simple;
use super::*;

#[test]
fn automatic_cache_ignores_changes_inside_the_last_step() {
    let a = Analyzer::new(InsightsConfig::default()).expect("config");
    let first = a.observe(&simple(
        &["t1", "t2", "t3", "s1", "u_tail"],
        0,
        "openai",
        "gpt-4o",
    ));
    assert_eq!(first.reason, CacheReason::FirstSeen);
    // 3500 + 50 tokens: the changed 50-token tail lies inside the last 128-token step.
    let second = a.observe(&simple(
        &["t1", "t2", "t3", "s1", "u_tail2"],
        5,
        "openai",
        "gpt-4o",
    ));
    assert_eq!(second.reason, CacheReason::HitExpected);
    assert_eq!(second.expected_cached_tokens, 3_456);
    assert_eq!(second.confidence, Confidence::NoUsage);
}

#[test]
fn unmodelled_providers_and_serialised_shape() {
    let a = Analyzer::new(InsightsConfig::default()).expect("config");
    let i = a.observe(&simple(&["t1", "s1", "u1"], 0, "ollama", "llama3"));
    assert_eq!(i.status, CacheStatus::NotCacheable);
    assert_eq!(i.reason, CacheReason::UnsupportedProvider);
    let v = serde_json::to_value(&i).expect("serialise");
    assert_eq!(v["status"], "not_cacheable");
    assert_eq!(v["reason"], "unsupported_provider");
    assert_eq!(v["confidence"], "no_usage");
    assert!(v["wasted_usd_low"].is_number() && v.get("segment_index").is_some());
}

#[test]
fn breaks_are_counted_by_provider_model_reason() {
    let a = Analyzer::new(InsightsConfig::default()).expect("config");
    a.observe(&simple(
        &["t1", "t2", "t3*", "s1*", "u1*"],
        0,
        "anthropic",
        "claude-sonnet-4-5",
    ));
    let b = a.observe(&simple(
        &["t1", "t2", "t3*", "s2*", "u1*"],
        9,
        "anthropic",
        "claude-sonnet-4-5",
    ));
    assert_eq!(
        (b.reason, b.segment_index),
        (CacheReason::SystemChanged, Some(3))
    );
    assert!(b.wasted_usd_low.unwrap_or(0.0) > 0.0);
    assert!(b.wasted_usd_high >= b.wasted_usd_low);
    let snap = a.counters().snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].0.reason, CacheReason::SystemChanged);
    assert_eq!(snap[0].1.count, 1);
    assert!(snap[0].1.wasted_usd_high > 0.0);
}

#[test]
fn counters_fold_models_past_the_cap() {
    let c = InsightCounters::new(2);
    let insight = CacheInsight {
        status: CacheStatus::Break,
        reason: CacheReason::ToolsChanged,
        segment_index: Some(0),
        expected_cached_tokens: 0,
        reported_cached_tokens: None,
        wasted_tokens_low: 1,
        wasted_tokens_high: 2,
        wasted_usd_low: Some(0.1),
        wasted_usd_high: Some(0.2),
        confidence: Confidence::NoUsage,
    };
    for m in ["a", "b", "c", "d"] {
        c.record("openai", m, &insight);
    }
    let snap = c.snapshot();
    assert_eq!(snap.len(), 3);
    assert!(
        snap.iter()
            .any(|(k, v)| k.model == metrics::OTHER_MODEL && v.count == 2)
    );
}

#[test]
fn history_bounds_hold_under_concurrent_observers() {
    let cfg = InsightsConfig {
        history: HistoryConfig {
            max_entries: 300,
            max_per_key: 10,
            ..HistoryConfig::default()
        },
        ..InsightsConfig::default()
    };
    let a = std::sync::Arc::new(Analyzer::new(cfg).expect("config"));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let a = std::sync::Arc::clone(&a);
            std::thread::spawn(move || {
                for n in 0..2_000u64 {
                    let id = format!("u{t}-{n}*");
                    let mut s = simple(
                        &["t1", "s1*", id.as_str()],
                        n,
                        "anthropic",
                        "claude-sonnet-4-5",
                    );
                    s.key.workload = format!("w{}", n % 40);
                    a.observe(&s);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("observer thread");
    }
    let st = a.history_stats();
    assert!(st.entries <= 300 && st.keys <= 40, "{st:?}");
}

#[test]
fn invalid_config_is_rejected() {
    let mut cfg = InsightsConfig::default();
    cfg.history.max_entries = 0;
    assert_eq!(
        Analyzer::new(cfg).err(),
        Some(ConfigError::Zero("history.max_entries"))
    );
    let mut cfg = InsightsConfig::default();
    cfg.savings.token_estimate_margin = 1.5;
    assert!(matches!(
        Analyzer::new(cfg),
        Err(ConfigError::OutOfRange(_))
    ));
}

#[test]
fn config_deserialises_with_defaults() {
    let cfg: InsightsConfig = toml::from_str(
        "automatic_ttl_ms = 300000\n[history]\nmax_entries = 50\n[savings]\ncount_ttl_expired = false\n",
    )
    .expect("toml");
    assert_eq!(cfg.automatic_ttl_ms, 300_000);
    assert_eq!(cfg.history.max_entries, 50);
    assert_eq!(
        cfg.history.max_per_key,
        HistoryConfig::default().max_per_key
    );
    assert!(!cfg.savings.count_ttl_expired);
    assert!(toml::from_str::<InsightsConfig>("bogus = 1").is_err());
}
