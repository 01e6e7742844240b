//! Calibration of the classifier on scripted conversations (`tests/fixtures/insights/*.json`
//! at the workspace root), with precision and recall of cache breaks, compared with a naive
//! rule on token counts alone. Also the history-bound test under 100k distinct prompts.
//!
//! Fixture format: a fixture names its provider, model, family and workload; each request
//! lists its prompt as segment ids in cache-prefix order. An id's first letter gives its kind
//! (`t` tool, `s` system, `b` content block, anything else a message) and default size in
//! bytes (`t` 2000, `s` 8000, `b` 400, `big…` 8000, others 800; the fixture's `bytes` map
//! overrides). A trailing `*` marks a 5-minute breakpoint, `^` a 1-hour one. `usage` is the
//! provider's `[cache_read, cache_write]` (input tokens = bytes / 4); absent means unreported.
//! `expect` is the hand-assigned reason, `index` the first changed segment of a break.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::*;
use crate::llm::{CacheTtl, SegmentKind};

#[derive(Deserialize)]
struct Fixture {
    name: String,
    provider: String,
    model: String,
    family: String,
    #[serde(default = "default_workload")]
    workload: String,
    #[serde(default)]
    bytes: HashMap<String, u64>,
    requests: Vec<Req>,
}

fn default_workload() -> String {
    "app".into()
}

#[derive(Deserialize)]
struct Req {
    at_s: u64,
    prompt: Vec<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    workload: Option<String>,
    #[serde(default)]
    auto: bool,
    #[serde(default)]
    usage: Option<[u64; 2]>,
    expect: CacheReason,
    #[serde(default)]
    index: Option<u32>,
}

/// Test-only digest: two FNV-1a passes with different offsets. Not keyed; fixtures only.
fn digest(parts: &[&[u8]]) -> Digest {
    let mut out = [0u8; 16];
    for (half, basis) in [0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142]
        .into_iter()
        .enumerate()
    {
        let mut h = basis;
        for b in parts.iter().flat_map(|p| p.iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out[half * 8..half * 8 + 8].copy_from_slice(&h.to_le_bytes());
    }
    out
}

fn segment(token: &str, sizes: &HashMap<String, u64>, prev: &Digest) -> SegmentDigest {
    let (id, ttl) = match token.as_bytes().last() {
        Some(b'*') => (&token[..token.len() - 1], Some(CacheTtl::FiveMinutes)),
        Some(b'^') => (&token[..token.len() - 1], Some(CacheTtl::OneHour)),
        _ => (token, None),
    };
    let (kind, default_bytes) = match id.as_bytes().first() {
        Some(b't') => (SegmentKind::Tools, 2000),
        Some(b's') => (SegmentKind::System, 8000),
        _ if id.starts_with("big") => (SegmentKind::Message, 8000),
        Some(b'b') => (SegmentKind::ContentBlock, 400),
        _ => (SegmentKind::Message, 800),
    };
    let hash = digest(&[id.as_bytes()]);
    SegmentDigest {
        kind,
        role: None,
        hash,
        chain: digest(&[prev, &hash]),
        bytes: sizes.get(id).copied().unwrap_or(default_bytes),
        cache_control: ttl,
    }
}

fn shape(f: &Fixture, r: &Req) -> PromptShape {
    let mut prev = [0u8; 16];
    let segments: Vec<SegmentDigest> = r
        .prompt
        .iter()
        .map(|t| {
            let s = segment(t, &f.bytes, &prev);
            prev = s.chain;
            s
        })
        .collect();
    let input = segments.iter().map(|s| s.bytes).sum::<u64>() / 4;
    let usage = match r.usage {
        Some([read, write]) => UsageView {
            reported: true,
            input_tokens: Some(input),
            cache_read_input_tokens: Some(read),
            cache_creation_input_tokens: Some(write),
        },
        None => UsageView::default(),
    };
    let prices = if f.provider == "anthropic" {
        PriceView {
            input_per_token: 3e-6,
            cache_read_per_token: Some(0.3e-6),
            cache_write_5m_per_token: Some(3.75e-6),
            cache_write_1h_per_token: Some(6e-6),
        }
    } else {
        PriceView {
            input_per_token: 2.5e-6,
            cache_read_per_token: Some(1.25e-6),
            cache_write_5m_per_token: None,
            cache_write_1h_per_token: None,
        }
    };
    PromptShape {
        key: HistoryKey {
            workload: r.workload.clone().unwrap_or_else(|| f.workload.clone()),
            provider: f.provider.clone(),
            model_family: r.family.clone().unwrap_or_else(|| f.family.clone()),
        },
        model: r.model.clone().unwrap_or_else(|| f.model.clone()),
        observed_at_ms: 1_700_000_000_000 + r.at_s * 1000,
        segments,
        automatic_cache: r.auto.then_some(CacheTtl::FiveMinutes),
        usage,
        prices: Some(prices),
    }
}

fn fixtures() -> Vec<Fixture> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/insights");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("read fixture");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// The naive rule: a request (not the first of its key) is a break when the provider read
/// fewer cache tokens than the previous request of the key, or left at least 1024 input
/// tokens uncached. It sees token counts only.
struct Naive {
    last_read: HashMap<HistoryKey, u64>,
}

impl Naive {
    fn flags(&mut self, s: &PromptShape) -> bool {
        let (Some(input), Some(read)) = (s.usage.input_tokens, s.usage.cache_read_input_tokens)
        else {
            return false;
        };
        let prev = self.last_read.insert(s.key.clone(), read);
        prev.is_some_and(|p| read < p || input.saturating_sub(read) >= 1024)
    }
}

#[derive(Default)]
struct Score {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Score {
    fn add(&mut self, predicted: bool, truth: bool) {
        match (predicted, truth) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }
    fn precision(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fp).max(1))
    }
    fn recall(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1))
    }
}

#[test]
fn calibration_fixtures_precision_recall_vs_naive() {
    let (mut ours, mut naive) = (Score::default(), Score::default());
    let (mut total, mut reason_ok, mut agree) = (0u32, 0u32, 0u32);
    let (mut mismatches, mut disagreements) = (Vec::new(), Vec::new());
    for f in fixtures() {
        let analyzer = Analyzer::new(InsightsConfig::default()).expect("config");
        let mut rule = Naive {
            last_read: HashMap::new(),
        };
        for (i, r) in f.requests.iter().enumerate() {
            let s = shape(&f, r);
            let got = analyzer.observe(&s);
            let truth = r.expect.status() == CacheStatus::Break;
            ours.add(got.status == CacheStatus::Break, truth);
            naive.add(rule.flags(&s), truth);
            total += 1;
            let index_ok = r.index.is_none() || r.index == got.segment_index;
            if got.reason == r.expect && index_ok {
                reason_ok += 1;
            } else {
                mismatches.push(format!(
                    "{} #{i}: expected {:?}@{:?}, got {:?}@{:?}",
                    f.name, r.expect, r.index, got.reason, got.segment_index
                ));
            }
            if got.confidence == Confidence::Agree {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{} #{i}: {:?} {:?}, expected {} cached tokens, provider read {:?}",
                    f.name,
                    got.confidence,
                    got.reason,
                    got.expected_cached_tokens,
                    got.reported_cached_tokens
                ));
            }
            if truth {
                assert!(got.wasted_usd_high >= got.wasted_usd_low, "{} #{i}", f.name);
            }
        }
    }
    println!(
        "insights calibration: {total} requests, {} real breaks",
        ours.tp + ours.fn_
    );
    println!(
        "  analyzer: precision {:.1}% recall {:.1}% ({} flagged), reasons exact {:.1}%, provider agrees {:.1}%",
        ours.precision() * 100.0,
        ours.recall() * 100.0,
        ours.tp + ours.fp,
        f64::from(reason_ok) * 100.0 / f64::from(total),
        f64::from(agree) * 100.0 / f64::from(total),
    );
    println!(
        "  naive token-count rule: precision {:.1}% recall {:.1}% ({} flagged)",
        naive.precision() * 100.0,
        naive.recall() * 100.0,
        naive.tp + naive.fp
    );
    for m in &mismatches {
        println!("  mismatch: {m}");
    }
    for d in &disagreements {
        println!("  cross-check: {d}");
    }
    assert!(ours.precision() >= 0.95 && ours.recall() >= 0.95);
    assert!(
        f64::from(reason_ok) / f64::from(total) >= 0.95,
        "{mismatches:#?}"
    );
    assert!(
        naive.precision() < ours.precision() - 0.3,
        "the fixtures must include the naive rule's traps"
    );
}

#[test]
fn history_stays_bounded_under_100k_distinct_prompts() {
    let cfg = InsightsConfig {
        history: HistoryConfig {
            max_entries: 5_000,
            max_per_key: 50,
            ..HistoryConfig::default()
        },
        ..InsightsConfig::default()
    };
    let analyzer = Analyzer::new(cfg).expect("config");
    let sizes = HashMap::new();
    for n in 0u64..100_000 {
        let mut prev = [0u8; 16];
        let segments = [
            format!("t{}", n % 7),
            format!("s{}*", n % 13),
            format!("u{n}*"),
        ]
        .iter()
        .map(|t| {
            let s = segment(t, &sizes, &prev);
            prev = s.chain;
            s
        })
        .collect();
        let s = PromptShape {
            key: HistoryKey {
                workload: format!("w{}", n % 500),
                provider: "anthropic".into(),
                model_family: "claude-sonnet-4-5".into(),
            },
            model: "claude-sonnet-4-5".into(),
            observed_at_ms: n,
            segments,
            automatic_cache: None,
            usage: UsageView::default(),
            prices: None,
        };
        analyzer.observe(&s);
        if n % 10_000 == 0 {
            let st = analyzer.history_stats();
            assert!(
                st.entries <= 5_000 && st.indexed_chains <= 5_000 * 3,
                "{st:?}"
            );
        }
    }
    let st = analyzer.history_stats();
    assert_eq!(st.entries, 5_000);
    assert!(st.keys <= 500);
    assert!(st.indexed_chains <= 15_000);
    println!("history after 100k prompts: {st:?}");
}

#[test]
fn history_forgets_entries_older_than_max_age() {
    let h = History::new(HistoryConfig {
        max_age_ms: 1_000,
        ..HistoryConfig::default()
    });
    let key = HistoryKey {
        workload: "w".into(),
        provider: "openai".into(),
        model_family: "gpt-4o".into(),
    };
    let seg = history::StoredSegment {
        kind: SegmentKind::System,
        hash: [1; 16],
        chain: [2; 16],
        bytes: 10,
        cache_ttl_ms: Some(10),
    };
    assert!(h.observe(&key, "gpt-4o", 0, &[seg]).is_none());
    assert_eq!(
        h.observe(&key, "gpt-4o", 500, &[seg]).map(|p| p.shared),
        Some(1)
    );
    assert!(h.observe(&key, "gpt-4o", 5_000, &[seg]).is_none());
    assert_eq!(h.stats().entries, 1);
}

/// A one-request shape with the fixture conventions, for unit tests.
pub(super) fn simple(prompt: &[&str], at_s: u64, provider: &str, model: &str) -> PromptShape {
    let f = Fixture {
        name: "unit".into(),
        provider: provider.into(),
        model: model.into(),
        family: model.into(),
        workload: default_workload(),
        bytes: HashMap::from([("u_tail".to_owned(), 200), ("u_tail2".to_owned(), 200)]),
        requests: Vec::new(),
    };
    let r = Req {
        at_s,
        prompt: prompt.iter().map(|s| (*s).to_owned()).collect(),
        model: None,
        family: None,
        workload: None,
        auto: false,
        usage: None,
        expect: CacheReason::FirstSeen,
        index: None,
    };
    shape(&f, &r)
}
