//! Recording one [`Observation`] into the GenAI and `llmtap_*` families. Owns the mapping
//! from observation fields to label values; does not define families.

use super::ExportMetrics;
use crate::export::event::Observation;

/// A non-negative finite value, or nothing (counters and histograms refuse the rest).
fn sane(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite() && *x >= 0.0)
}

impl ExportMetrics {
    /// Record one LLM exchange. Label values are sanitised and capped.
    pub fn observe(&self, o: &Observation) {
        let g = &self.guard;
        let provider = Some(o.provider.as_str());
        let req = o.request_model.as_deref();
        let resp = o.response_model.as_deref();
        let op = Some(o.operation.as_str());

        // OTel GenAI families.
        const TU: &str = "gen_ai_client_token_usage";
        let base = |fam: &'static str| {
            [
                g.admit(fam, "gen_ai_provider_name", provider),
                g.admit(fam, "gen_ai_request_model", req),
                g.admit(fam, "gen_ai_response_model", resp),
                g.admit(fam, "gen_ai_operation_name", op),
            ]
        };
        let tu = base(TU);
        for (ty, v) in [("input", o.input_tokens), ("output", o.output_tokens)] {
            if let Some(v) = v {
                let [a, b, c, d] = &tu;
                self.token_usage
                    .with_label_values(&[a.as_str(), b, c, d, ty])
                    .observe(v as f64);
            }
        }
        if let Some(d) = sane(o.duration_s) {
            const F: &str = "gen_ai_client_operation_duration_seconds";
            let [a, b, c, e] = base(F);
            let err = g.admit(F, "error_type", o.error_type.as_deref());
            self.op_duration
                .with_label_values(&[a, b, c, e, err])
                .observe(d);
        }
        if let Some(t) = sane(o.ttft_s).filter(|_| o.streaming) {
            self.ttft
                .with_label_values(&base("gen_ai_client_operation_time_to_first_chunk_seconds"))
                .observe(t);
        }

        // llmtap_* families: `model` is the answering model, else the requested one.
        let model = resp.or(req);
        let lbl = |fam: &'static str, extra: &[(&'static str, Option<&str>)]| -> Vec<String> {
            let mut v = vec![
                g.admit(fam, "provider", provider),
                g.admit(fam, "model", model),
            ];
            v.extend(extra.iter().map(|(k, val)| g.admit(fam, k, *val)));
            if self.workload_labels {
                v.push(g.admit(fam, "namespace", o.namespace.as_deref()));
                v.push(g.admit(fam, "workload", o.workload.as_deref()));
            }
            v
        };

        let reqs = lbl(
            "llmtap_requests_total",
            &[
                ("status_class", Some(o.status_class.as_str())),
                ("error_type", o.error_type.as_deref()),
            ],
        );
        self.requests.with_label_values(&reqs).inc();

        for (ty, v) in [
            ("input", o.input_tokens),
            ("output", o.output_tokens),
            ("cache_read", o.cache_read_tokens),
            ("cache_creation", o.cache_creation_tokens),
            ("reasoning", o.reasoning_tokens),
        ] {
            if let Some(v) = v {
                let l = lbl("llmtap_tokens_total", &[("token_type", Some(ty))]);
                self.tokens.with_label_values(&l).inc_by(v);
            }
        }

        match (o.usage_reported, sane(o.cost_usd)) {
            (false, _) => self
                .usage_unreported
                .with_label_values(&lbl("llmtap_usage_unreported_total", &[]))
                .inc(),
            (true, None) => self
                .unpriced
                .with_label_values(&lbl("llmtap_unpriced_requests_total", &[]))
                .inc(),
            (true, Some(_)) => {}
        }
        if let Some(c) = sane(o.cost_usd) {
            self.cost
                .with_label_values(&lbl("llmtap_cost_usd_total", &[]))
                .inc_by(c);
        }
        if let Some(v) = sane(o.rate_limit_remaining_requests) {
            let l = lbl("llmtap_ratelimit_remaining_requests", &[]);
            self.rl_requests.with_label_values(&l).set(v);
        }
        if let Some(v) = sane(o.rate_limit_remaining_tokens) {
            let l = lbl("llmtap_ratelimit_remaining_tokens", &[]);
            self.rl_tokens.with_label_values(&l).set(v);
        }
        if let Some(reason) = o.cache_break_reason.as_deref() {
            let l = lbl("llmtap_cache_breaks_total", &[("reason", Some(reason))]);
            self.cache_breaks.with_label_values(&l).inc();
        }
        if let Some(w) = sane(o.cache_wasted_usd) {
            let l = lbl("llmtap_cache_wasted_usd_total", &[]);
            self.cache_wasted.with_label_values(&l).inc_by(w);
        }
    }
}
