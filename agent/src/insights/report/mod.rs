//! The cache report: reads exported NDJSON events and ranks the cache breakers by money
//! wasted per (workload, provider, model, reason), with a fix hint each, plus spend totals by
//! provider, model and workload, the cache hit ratio and the unpriced share.
//!
//! Owns event summarising and rendering (table or JSON). Does not read files or parse
//! arguments (the `llmtap report` CLI does) and does not re-classify anything: it trusts the
//! events' `cache` objects.
//!
//! Fields read: `provider`, `request.model` (fallback `response.model`), `workload` (a string,
//! or an object's `name` / `service` / `id`; fallback `process.comm`), `cost.usd`, `cost.known`,
//! `usage.input_tokens`, `usage.cache_read_input_tokens`, `cache.status`, `cache.reason`,
//! `cache.wasted_usd_low`, `cache.wasted_usd_high`, `cache.confidence`. Missing fields count
//! as absent, never as errors.

use std::collections::HashMap;
use std::io::BufRead;

use serde::Serialize;
use serde_json::Value;

use super::insight::{CacheReason, CacheStatus, Confidence};

mod table;

/// Breaker rows shown by the table (JSON carries all).
pub const TABLE_TOP_BREAKERS: usize = 15;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Human-readable text table.
    Table,
    /// Pretty JSON of [`Report`].
    Json,
}

/// Spend of one provider, model or workload.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpendRow {
    /// Provider, model or workload name.
    pub name: String,
    /// Requests.
    pub requests: u64,
    /// Priced spend, USD.
    pub usd: f64,
    /// Requests without a known cost.
    pub unpriced_requests: u64,
}

/// One cache breaker: a (workload, provider, model, reason) group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakerRow {
    /// Workload.
    pub workload: String,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Reason.
    pub reason: CacheReason,
    /// Requests.
    pub requests: u64,
    /// Summed low estimate, USD.
    pub wasted_usd_low: f64,
    /// Summed high estimate, USD.
    pub wasted_usd_high: f64,
    /// Requests whose provider numbers agree.
    pub agree: u64,
    /// Requests whose provider numbers disagree.
    pub disagree: u64,
    /// Requests without cache usage to check.
    pub no_usage: u64,
    /// Majority confidence.
    pub confidence: Confidence,
    /// What to change.
    pub fix_hint: String,
}

/// The whole report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Events read.
    pub events: u64,
    /// Priced spend, USD.
    pub spend_usd: f64,
    /// Share of events without a known cost (0–1).
    pub unpriced_share: f64,
    /// Input tokens (including cache reads and writes).
    pub input_tokens: u64,
    /// Cache-read tokens.
    pub cache_read_tokens: u64,
    /// `cache_read_tokens / input_tokens`, when there were input tokens.
    pub cache_hit_ratio: Option<f64>,
    /// Total wasted by breaks and expiries, low end, USD.
    pub wasted_usd_low: f64,
    /// Total wasted, high end, USD.
    pub wasted_usd_high: f64,
    /// Breakers, most money wasted first.
    pub breakers: Vec<BreakerRow>,
    /// Spend by provider, largest first.
    pub by_provider: Vec<SpendRow>,
    /// Spend by model, largest first.
    pub by_model: Vec<SpendRow>,
    /// Spend by workload, largest first.
    pub by_workload: Vec<SpendRow>,
}

/// Summarise `events` and render them in `format`.
pub fn report(events: impl Iterator<Item = Value>, format: ReportFormat) -> String {
    let r = summarize(events);
    match format {
        ReportFormat::Table => r.to_table(),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        }
    }
}

/// Read NDJSON events; returns them with the count of lines that were not JSON objects.
pub fn read_ndjson(reader: impl BufRead) -> std::io::Result<(Vec<Value>, usize)> {
    let (mut events, mut bad) = (Vec::new(), 0);
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(v @ Value::Object(_)) => events.push(v),
            _ => bad += 1,
        }
    }
    Ok((events, bad))
}

/// A field of an event: the contract's flat dotted key (`"request.model"`), or the same path
/// through nested objects (older or hand-written files).
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    if path.len() > 1
        && let Some(flat) = v.get(path.join("."))
    {
        return Some(flat);
    }
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)?.as_str()
}

fn f64_at(v: &Value, path: &[&str]) -> Option<f64> {
    at(v, path)?.as_f64()
}

fn u64_at(v: &Value, path: &[&str]) -> Option<u64> {
    at(v, path)?.as_u64()
}

fn workload(ev: &Value) -> String {
    let w = ev.get("workload");
    let named = match w {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(obj @ Value::Object(_)) => ["name", "service", "id"]
            .iter()
            .find_map(|k| str_at(obj, &[k])),
        _ => None,
    };
    named
        .or_else(|| str_at(ev, &["process", "comm"]))
        .unwrap_or("unknown")
        .to_owned()
}

fn add_spend(map: &mut HashMap<String, SpendRow>, name: &str, usd: Option<f64>) {
    let row = map.entry(name.to_owned()).or_insert_with(|| SpendRow {
        name: name.to_owned(),
        ..Default::default()
    });
    row.requests += 1;
    match usd {
        Some(u) => row.usd += u,
        None => row.unpriced_requests += 1,
    }
}

fn sorted(map: HashMap<String, SpendRow>) -> Vec<SpendRow> {
    let mut v: Vec<_> = map.into_values().collect();
    v.sort_by(|a, b| {
        b.usd
            .total_cmp(&a.usd)
            .then(b.requests.cmp(&a.requests))
            .then(a.name.cmp(&b.name))
    });
    v
}

/// Summarise events into a [`Report`].
pub fn summarize(events: impl Iterator<Item = Value>) -> Report {
    let mut r = Report::default();
    let (mut prov, mut model, mut wl) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut breakers: HashMap<(String, String, String, CacheReason), BreakerRow> = HashMap::new();
    let mut unpriced = 0u64;
    for ev in events {
        r.events += 1;
        let provider = str_at(&ev, &["provider"]).unwrap_or("unknown").to_owned();
        let m = str_at(&ev, &["request", "model"])
            .or_else(|| str_at(&ev, &["response", "model"]))
            .unwrap_or("unknown")
            .to_owned();
        let w = workload(&ev);
        let known = at(&ev, &["cost", "known"])
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let usd = f64_at(&ev, &["cost", "usd"]).filter(|_| known);
        if usd.is_none() {
            unpriced += 1;
        }
        r.spend_usd += usd.unwrap_or(0.0);
        add_spend(&mut prov, &provider, usd);
        add_spend(&mut model, &m, usd);
        add_spend(&mut wl, &w, usd);
        r.input_tokens += u64_at(&ev, &["usage", "input_tokens"]).unwrap_or(0);
        r.cache_read_tokens += u64_at(&ev, &["usage", "cache_read_input_tokens"]).unwrap_or(0);
        let Some(cache) = ev.get("cache") else {
            continue;
        };
        let reason = cache
            .get("reason")
            .and_then(|v| serde_json::from_value::<CacheReason>(v.clone()).ok());
        let Some(reason) = reason else { continue };
        if !matches!(reason.status(), CacheStatus::Break) && reason != CacheReason::TtlExpired {
            continue;
        }
        let (lo, hi) = (
            f64_at(cache, &["wasted_usd_low"]).unwrap_or(0.0),
            f64_at(cache, &["wasted_usd_high"]).unwrap_or(0.0),
        );
        r.wasted_usd_low += lo;
        r.wasted_usd_high += hi;
        let row = breakers
            .entry((w.clone(), provider.clone(), m.clone(), reason))
            .or_insert_with(|| BreakerRow {
                workload: w,
                provider,
                model: m,
                reason,
                requests: 0,
                wasted_usd_low: 0.0,
                wasted_usd_high: 0.0,
                agree: 0,
                disagree: 0,
                no_usage: 0,
                confidence: Confidence::NoUsage,
                fix_hint: reason.fix_hint().to_owned(),
            });
        row.requests += 1;
        row.wasted_usd_low += lo;
        row.wasted_usd_high += hi;
        match cache
            .get("confidence")
            .and_then(|v| serde_json::from_value::<Confidence>(v.clone()).ok())
        {
            Some(Confidence::Agree) => row.agree += 1,
            Some(Confidence::Disagree) => row.disagree += 1,
            _ => row.no_usage += 1,
        }
    }
    r.unpriced_share = if r.events == 0 {
        0.0
    } else {
        unpriced as f64 / r.events as f64
    };
    r.cache_hit_ratio =
        (r.input_tokens > 0).then(|| r.cache_read_tokens as f64 / r.input_tokens as f64);
    r.by_provider = sorted(prov);
    r.by_model = sorted(model);
    r.by_workload = sorted(wl);
    let mut rows: Vec<_> = breakers.into_values().collect();
    for row in &mut rows {
        row.confidence = if row.agree >= row.disagree.max(row.no_usage) && row.agree > 0 {
            Confidence::Agree
        } else if row.disagree >= row.no_usage && row.disagree > 0 {
            Confidence::Disagree
        } else {
            Confidence::NoUsage
        };
    }
    rows.sort_by(|a, b| {
        b.wasted_usd_high
            .total_cmp(&a.wasted_usd_high)
            .then(b.wasted_usd_low.total_cmp(&a.wasted_usd_low))
            .then(b.requests.cmp(&a.requests))
            .then_with(|| (&a.workload, &a.model, a.reason).cmp(&(&b.workload, &b.model, b.reason)))
    });
    r.breakers = rows;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(workload: Value, model: &str, reason: &str, lo: f64, hi: f64) -> Value {
        let status = serde_json::from_value::<CacheReason>(json!(reason))
            .map(|r| r.status())
            .ok();
        json!({
            "provider": "anthropic",
            "request": {"model": model},
            "workload": workload,
            "process": {"comm": "python3"},
            "cost": {"usd": 0.01, "known": true},
            "usage": {"input_tokens": 10000, "cache_read_input_tokens": 2000},
            "cache": {"status": status, "reason": reason, "wasted_usd_low": lo, "wasted_usd_high": hi, "confidence": "agree"}
        })
    }

    #[test]
    fn injected_breaker_ranks_first_with_its_reason_and_hint() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/insights/report_events.ndjson"
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        let (events, bad) = read_ndjson(text.as_bytes()).expect("read");
        assert_eq!(bad, 1, "the fixture has one malformed line");
        let r = summarize(events.clone().into_iter());
        let top = &r.breakers[0];
        assert_eq!(
            (top.workload.as_str(), top.reason),
            ("billing-agent", CacheReason::SystemChanged)
        );
        assert!(top.fix_hint.contains("after the last cache breakpoint"));
        let table = report(events.into_iter(), ReportFormat::Table);
        println!("{table}");
        let first = table
            .lines()
            .find(|l| l.trim_start().starts_with("1 "))
            .unwrap_or_default();
        assert!(
            first.contains("billing-agent") && first.contains("system_changed"),
            "{first}"
        );
    }

    #[test]
    fn totals_fallbacks_and_json() {
        let mut events = vec![
            ev(
                json!({"name": "svc"}),
                "claude-sonnet-4-5",
                "system_changed",
                0.1,
                0.2,
            ),
            ev(Value::Null, "claude-sonnet-4-5", "hit_expected", 0.0, 0.0),
            ev(json!("batch"), "gpt-4o", "ttl_expired", 0.01, 0.02),
        ];
        events.push(json!({"provider": "openai", "request": {"model": "mystery"}, "cost": {"known": false}}));
        let r = summarize(events.clone().into_iter());
        assert_eq!(r.events, 4);
        assert!((r.unpriced_share - 0.25).abs() < 1e-9);
        assert_eq!(r.breakers.len(), 2);
        assert!(r.by_workload.iter().any(|w| w.name == "python3"));
        assert!(r.by_workload.iter().any(|w| w.name == "unknown"));
        assert!((r.cache_hit_ratio.unwrap_or(0.0) - 0.2).abs() < 1e-9);
        let j: Value =
            serde_json::from_str(&report(events.into_iter(), ReportFormat::Json)).expect("json");
        assert_eq!(j["breakers"][0]["reason"], "system_changed");
    }
}
