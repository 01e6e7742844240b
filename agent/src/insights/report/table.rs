//! Text rendering of a [`Report`]: header totals, the ranked breakers with fix hints, and the
//! spend tables. Owns layout only; the numbers come from `summarize`.

use std::fmt::Write as _;

use super::{Report, TABLE_TOP_BREAKERS};
use crate::insights::Confidence;

fn confidence_str(c: Confidence) -> &'static str {
    match c {
        Confidence::Agree => "agree",
        Confidence::Disagree => "disagree",
        Confidence::NoUsage => "no_usage",
    }
}

impl Report {
    /// Render as a text table.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "llmtap cache report: {} events, spend ${:.4} (unpriced {:.1}% of events)",
            self.events,
            self.spend_usd,
            self.unpriced_share * 100.0
        );
        match self.cache_hit_ratio {
            Some(h) => {
                let _ = writeln!(
                    s,
                    "cache hit ratio {:.1}% ({} cache-read of {} input tokens)",
                    h * 100.0,
                    self.cache_read_tokens,
                    self.input_tokens
                );
            }
            None => s.push_str("cache hit ratio: no input tokens reported\n"),
        }
        let _ = writeln!(
            s,
            "wasted by cache breaks and expiries: ${:.4} - ${:.4}\n",
            self.wasted_usd_low, self.wasted_usd_high
        );
        s.push_str("Top cache breakers (by money wasted)\n");
        if self.breakers.is_empty() {
            s.push_str("  none\n");
        }
        let _ = writeln!(
            s,
            "{:>3}  {:<20} {:<16} {:<28} {:<18} {:>6} {:>23}  confidence",
            "#", "workload", "provider", "model", "reason", "reqs", "wasted usd (low-high)"
        );
        for (i, b) in self.breakers.iter().take(TABLE_TOP_BREAKERS).enumerate() {
            let range = format!("{:.4}-{:.4}", b.wasted_usd_low, b.wasted_usd_high);
            let _ = writeln!(
                s,
                "{:>3}  {:<20} {:<16} {:<28} {:<18} {:>6} {:>23}  {} ({}/{}/{})",
                i + 1,
                b.workload,
                b.provider,
                b.model,
                b.reason.as_str(),
                b.requests,
                range,
                confidence_str(b.confidence),
                b.agree,
                b.disagree,
                b.no_usage
            );
            let _ = writeln!(s, "       fix: {}", b.fix_hint);
        }
        for (title, rows) in [
            ("provider", &self.by_provider),
            ("model", &self.by_model),
            ("workload", &self.by_workload),
        ] {
            let _ = writeln!(s, "\nSpend by {title}");
            for r in rows {
                let _ = writeln!(
                    s,
                    "  {:<40} ${:>12.4}  {:>7} reqs  {:>5} unpriced",
                    r.name, r.usd, r.requests, r.unpriced_requests
                );
            }
        }
        s
    }
}
