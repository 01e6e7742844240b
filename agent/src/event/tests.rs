//! Unit tests of the event builder, the size cap and the schema.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use super::*;
use crate::llm::{
    CacheControl, CacheTtl, CallTiming, LlmCall, PromptSegment, RequestInfo, ResponseInfo,
    SegmentKind, Usage,
};
use crate::privacy::{Privacy, Salt};

fn privacy(mode: PrivacyMode) -> Privacy {
    Privacy::new(mode, Salt::from_bytes(vec![9; 32]).expect("salt"))
}

fn seg(i: u32, text: &str) -> PromptSegment {
    PromptSegment {
        kind: SegmentKind::Message,
        role: Some("user".into()),
        index: i,
        message_index: None,
        cache_control: (i == 0).then_some(CacheControl {
            ttl: CacheTtl::FiveMinutes,
        }),
        text: text.into(),
        text_truncated: false,
    }
}

fn call(segments: Vec<PromptSegment>) -> LlmCall {
    LlmCall {
        provider: Provider::Anthropic,
        api: Api::AnthropicMessages,
        operation: Operation::Chat,
        server_address: Some("api.anthropic.com".into()),
        server_port: Some(443),
        request: RequestInfo {
            model: Some("claude-sonnet-4-5".into()),
            segments,
            ..RequestInfo::default()
        },
        response: ResponseInfo {
            status: 200,
            finish_reasons: vec!["end_turn".into(), "Weird Reason!".into()],
            error_type: None,
            ..ResponseInfo::default()
        },
        usage: Usage {
            reported: true,
            input_tokens: Some(120),
            output_tokens: Some(7),
            ..Usage::default()
        },
        timing: CallTiming {
            duration_ns: Some(1_234_567_891),
            time_to_first_chunk_ns: None,
            chunk_count: 1,
        },
        parse_errors: vec![],
    }
}

fn meta() -> ExchangeMeta {
    ExchangeMeta {
        pid: 42,
        comm: "python3".into(),
        complete: true,
        incomplete_reasons: vec![],
        observed_at: UNIX_EPOCH + Duration::from_millis(1_767_323_045_678),
        request_content_type: Some("application/json".into()),
        response_content_type: None,
        request_id: Some("req_abc".into()),
    }
}

/// The hand-written line writer and the `Serialize` derive give the same bytes.
fn assert_writer_matches_derive(ev: &LlmEvent) {
    let mut ours = Vec::new();
    ndjson::write_event(ev, &mut ours);
    let derived = serde_json::to_vec(ev).expect("derive");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&derived)
    );
}

fn json(ev: &LlmEvent) -> Value {
    assert_writer_matches_derive(ev);
    let line = ev.to_ndjson_line();
    assert!(line.len() <= MAX_EVENT_BYTES);
    assert_eq!(line.last(), Some(&b'\n'));
    let v: Value = serde_json::from_slice(&line).expect("json");
    if let Err(errors) = validate_event(&v) {
        panic!("schema: {errors:#?}\n{v:#}");
    }
    v
}

#[test]
fn strict_event_has_flat_keys_nulls_and_no_text() {
    let c = call(vec![seg(
        0,
        r#"{"role":"user","content":"hello secret world"}"#,
    )]);
    let ev = build_event(&c, &meta(), None, &privacy(PrivacyMode::Strict));
    let v = json(&ev);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["event_type"], "llm.exchange");
    assert_eq!(v["observed_at"], "2026-01-02T03:04:05.678Z");
    assert_eq!(v["usage.input_tokens"], 120);
    assert!(v["usage.cache_read_input_tokens"].is_null());
    assert!(v["cost.usd"].is_null() && v["cost.known"] == false);
    assert_eq!(v["cost.unknown_reason"], "not_priced");
    assert_eq!(v["timing.duration_ms"], 1234.568);
    assert!(v["timing.time_to_first_chunk_ms"].is_null());
    assert_eq!(
        v["response.finish_reasons"],
        serde_json::json!(["end_turn", "other"])
    );
    assert!(v["cache"].is_null() && v["workload"].is_null());
    assert_eq!(v["prompt.segments"][0]["cache_control"], "5m");
    assert!(v["prompt.segments"][0].get("snippet").is_none());
    assert_eq!(v["request.id_hash"].as_str().map(str::len), Some(32));
    let text = String::from_utf8(ev.to_ndjson_line()).expect("utf8");
    assert!(!text.contains("hello") && !text.contains("req_abc"));
}

#[test]
fn known_cost_fills_cost_fields() {
    let outcome = pricing::CostOutcome::Known(pricing::Cost {
        usd: 0.0012,
        breakdown: pricing::CostBreakdown {
            input: 0.001,
            output: 0.0002,
            ..Default::default()
        },
        pricing_version: "2026-01-01".into(),
        model_key: "anthropic/claude-sonnet-4-5".into(),
        tier: None,
    });
    let ev = build_event(
        &call(vec![]),
        &meta(),
        Some(&outcome),
        &privacy(PrivacyMode::Strict),
    );
    let v = json(&ev);
    assert_eq!(v["cost.known"], true);
    assert_eq!(v["cost.usd"], 0.0012);
    assert_eq!(v["cost.breakdown"]["output"], 0.0002);
    assert!(v["prompt.fingerprint"].is_null());
    let unknown = pricing::CostOutcome::Unknown {
        reason: pricing::UnknownReason::UnmatchedModel,
    };
    let v = json(&build_event(
        &call(vec![]),
        &meta(),
        Some(&unknown),
        &privacy(PrivacyMode::Strict),
    ));
    assert_eq!(v["cost.unknown_reason"], "unmatched_model");
}

#[test]
fn insights_and_workload_objects_validate() {
    let mut ev = build_event(&call(vec![]), &meta(), None, &privacy(PrivacyMode::Strict));
    ev.cache = Some(CacheInsight {
        status: crate::insights::CacheStatus::Break,
        reason: crate::insights::CacheReason::SystemChanged,
        segment_index: Some(1),
        expected_cached_tokens: 1000,
        reported_cached_tokens: Some(0),
        wasted_tokens_low: 900,
        wasted_tokens_high: 1000,
        wasted_usd_low: Some(0.001),
        wasted_usd_high: Some(0.002),
        confidence: crate::insights::Confidence::Agree,
    });
    ev.workload = Some(Workload {
        namespace: Some("default".into()),
        ..Workload::default()
    });
    json(&ev);
}

#[test]
fn size_cap_shrinks_snippets_then_segments() {
    let words = "lorem ipsum dolor sit amet ".repeat(20);
    let segs: Vec<_> = (0..60).map(|i| seg(i, &words)).collect();
    let ev = build_event(
        &call(segs.clone()),
        &meta(),
        None,
        &privacy(PrivacyMode::Snippets),
    );
    assert!(serde_json::to_vec(&ev).expect("json").len() > MAX_EVENT_BYTES);
    let v = json(&ev);
    assert_eq!(v["privacy.truncated"], true);
    assert_eq!(v["prompt.segment_count"], 60);
    let strict = build_event(&call(segs), &meta(), None, &privacy(PrivacyMode::Strict));
    let v = json(&strict);
    assert_eq!(v["privacy.truncated"], false);
    assert!(v["prompt.fingerprint"].is_string());
    let wide: Vec<_> = (0..64)
        .map(|i| PromptSegment {
            kind: SegmentKind::ContentBlock,
            role: Some("assistant".into()),
            message_index: Some(100_000 + i),
            ..seg(1_000_000 + i, "y")
        })
        .collect();
    let v = json(&build_event(
        &call(wide),
        &meta(),
        None,
        &privacy(PrivacyMode::Strict),
    ));
    let kept = v["prompt.segments"].as_array().map_or(0, Vec::len);
    assert!(kept > 40 && kept < 64, "kept {kept}");
    assert_eq!(v["prompt.segments_truncated"], true);
    let many: Vec<_> = (0..200).map(|i| seg(i, "x")).collect();
    let v = json(&build_event(
        &call(many),
        &meta(),
        None,
        &privacy(PrivacyMode::Strict),
    ));
    assert_eq!(v["prompt.segments_truncated"], true);
    assert_eq!(v["prompt.segment_count"], 200);
}

#[test]
fn hostile_strings_are_bounded() {
    let mut c = call(vec![]);
    c.request.model = Some("m".repeat(5000));
    c.response.error_type = Some("x".repeat(500));
    c.server_address = Some("h\u{0}ost".into());
    c.response.model = Some("gpt 4o \"mini\" é".into());
    c.usage.input_tokens = Some(u64::MAX);
    c.response.rate_limit.reset_tokens_s = Some(f64::NAN);
    c.response.rate_limit.reset_requests_s = Some(-3.0);
    c.response.retry_after_s = Some(f64::INFINITY);
    c.response.status = 7;
    let mut m = meta();
    m.comm = "a-very-long-command-name".into();
    let v = json(&build_event(&c, &m, None, &privacy(PrivacyMode::Strict)));
    assert_eq!(v["error.type"], "other");
    assert_eq!(v["process.comm"], "a-very-long-comm");
    assert_eq!(v["server.address"], "h_ost");
    assert_eq!(v["response.model"], "gpt_4o__mini___");
    assert_eq!(v["request.model"].as_str().map(str::len), Some(256));
    assert_eq!(v["usage.input_tokens"], u64::MAX);
    assert!(v["rate_limit.reset_tokens_s"].is_null() && v["rate_limit.reset_requests_s"].is_null());
    assert!(v["rate_limit.retry_after_s"].is_null() && v["response.status"].is_null());
    let mut m = meta();
    m.comm = "py\u{7}th\u{85}on".into();
    let mut c = call(vec![]);
    c.server_address = Some(" api.openai.com ".into());
    let v = json(&build_event(&c, &m, None, &privacy(PrivacyMode::Strict)));
    assert_eq!(v["process.comm"], "python", "controls removed, C1 included");
    assert_eq!(v["server.address"], "api.openai.com", "names trimmed");
}

#[test]
fn schema_rejects_broken_events() {
    let good = json(&build_event(
        &call(vec![]),
        &meta(),
        None,
        &privacy(PrivacyMode::Strict),
    ));
    let broken = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut v = good.clone();
        f(v.as_object_mut().expect("object"));
        validate_event(&v).is_err()
    };
    assert!(broken(&|m| {
        m.remove("usage.input_tokens");
    }));
    assert!(broken(&|m| {
        m.insert("usage.input_tokens".into(), Value::from(-1));
    }));
    assert!(broken(&|m| {
        m.insert("observed_at".into(), Value::from("yesterday"));
    }));
    assert!(broken(&|m| {
        m.insert("prompt.fingerprint".into(), Value::from("ABC"));
    }));
    assert!(broken(&|m| {
        m.insert("cost.known".into(), Value::from(true));
    }));
    assert!(broken(&|m| {
        m.insert("prompt_text".into(), Value::from("x"));
    }));
}

proptest::proptest! {
    /// Arbitrary field values (controls, quotes, non-ASCII, NaN, extremes) in every member the
    /// writer handles by hand: its bytes equal the derive's.
    #[test]
    fn line_writer_matches_the_derive(
        text in proptest::collection::vec(proptest::prelude::any::<String>(), 8),
        nums in proptest::collection::vec(proptest::prelude::any::<u64>(), 8),
        floats in proptest::collection::vec(proptest::prelude::any::<f64>(), 4),
        flags in proptest::collection::vec(proptest::prelude::any::<bool>(), 6),
    ) {
        let mut ev = build_event(
            &call(vec![seg(0, "a"), seg(1, "b")]),
            &meta(),
            None,
            &privacy(PrivacyMode::Strict),
        );
        let pick = |i: usize| flags[i].then(|| text[i].clone());
        ev.event_id = text[0].clone();
        ev.server_address = pick(1);
        ev.request_model = pick(2);
        ev.response_model = pick(3);
        ev.error_type = pick(4);
        ev.cost_model_key = pick(5);
        ev.process_comm = text[6].clone();
        ev.response_finish_reasons = vec![text[7].clone(), text[1].clone()];
        ev.request_max_tokens = flags[0].then_some(nums[0]);
        ev.usage_input_tokens = Some(nums[1]);
        ev.rate_limit_limit_tokens = flags[1].then_some(nums[2]);
        ev.server_port = Some(nums[3] as u16);
        ev.timing_chunk_count = nums[4] as u32;
        ev.cost_usd = Some(floats[0]);
        ev.cost_breakdown = flags[3].then_some(EventCostBreakdown {
            input: floats[0],
            cached_input: floats[1],
            cache_write_5m: 0.0,
            cache_write_1h: -0.0,
            output: floats[2],
            reasoning: floats[3],
        });
        ev.timing_duration_ms = Some(floats[1]);
        ev.rate_limit_retry_after_s = flags[2].then_some(floats[2]);
        ev.request_stream = flags[3];
        ev.prompt_segments[0].snippet = pick(5);
        ev.prompt_segments[0].snippet_truncated = flags[4].then_some(flags[5]);
        ev.prompt_segments[1].role = Some(text[3].clone());
        ev.prompt_segments[1].message_index = Some(nums[5] as u32);
        ev.prompt_segments[1].bytes = nums[6];
        ev.workload = flags[5].then(|| Workload {
            pod: Some(text[2].clone()),
            ..Workload::default()
        });
        ev.cache = flags[4].then(|| CacheInsight {
            status: crate::insights::CacheStatus::Break,
            reason: crate::insights::CacheReason::SystemChanged,
            segment_index: flags[0].then_some(nums[0] as u32),
            expected_cached_tokens: nums[7],
            reported_cached_tokens: None,
            wasted_tokens_low: 0,
            wasted_tokens_high: 1,
            wasted_usd_low: Some(floats[3]),
            wasted_usd_high: None,
            confidence: crate::insights::Confidence::NoUsage,
        });
        assert_writer_matches_derive(&ev);
    }
}

/// Every enum the line writer spells by hand is spelt as its `Serialize` derive spells it.
#[test]
fn hand_spelt_enums_match_their_serialisation() {
    fn same<T: serde::Serialize>(v: T, text: &str) {
        assert_eq!(serde_json::to_value(v).expect("enum"), Value::from(text));
    }
    same(EventType::LlmExchange, EventType::LlmExchange.as_str());
    for api in [
        Api::ChatCompletions,
        Api::Responses,
        Api::Embeddings,
        Api::Completions,
        Api::AnthropicMessages,
        Api::GenerateContent,
        Api::BedrockConverse,
        Api::BedrockInvoke,
        Api::OllamaChat,
        Api::OllamaGenerate,
    ] {
        same(api, api.as_str());
        same(api.operation(), api.operation().as_str());
    }
    for kind in [
        SegmentKind::Tools,
        SegmentKind::System,
        SegmentKind::Message,
        SegmentKind::ContentBlock,
    ] {
        same(kind, kind.as_str());
    }
    for ttl in [CacheTtl::FiveMinutes, CacheTtl::OneHour] {
        same(ttl, ttl.as_str());
    }
    for mode in [PrivacyMode::Strict, PrivacyMode::Snippets] {
        same(mode, mode.as_str());
    }
    use crate::insights::CacheReason as R;
    for r in [
        R::HitExpected,
        R::FirstSeen,
        R::TtlExpired,
        R::ModelChanged,
        R::ToolsChanged,
        R::SystemChanged,
        R::HistoryTruncated,
        R::MessageModified,
        R::LookbackExceeded,
        R::BelowMinTokens,
        R::NoBreakpoints,
        R::UnsupportedProvider,
    ] {
        same(r, r.as_str());
    }
    use Provider as P;
    for p in [
        P::OpenAi,
        P::AzureOpenAi,
        P::Anthropic,
        P::GcpGemini,
        P::GcpVertexAi,
        P::AwsBedrock,
        P::MistralAi,
        P::Groq,
        P::DeepSeek,
        P::XAi,
        P::OpenRouter,
        P::Together,
        P::Fireworks,
        P::Ollama,
        P::Vllm,
        P::LiteLlm,
        P::UnknownCompatible,
    ] {
        same(p, p.as_str());
    }
}
