//! Loading: overrides, LiteLLM files, precedence, validation errors and hostile input.

use std::collections::HashMap;

use pricing::{
    CostOutcome, Date, FileFormat, MatchKind, Origin, PriceTable, PricingConfig, PricingError,
    Usage, check_file, check_str,
};

const LITELLM: &str = include_str!("fixtures/litellm_small.json");
const OVERRIDE: &str = include_str!("fixtures/override_valid.json");

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn usd(table: &PriceTable, provider: &str, model: &str, usage: &Usage) -> f64 {
    match table.cost(provider, model, usage) {
        CostOutcome::Known(c) => c.usd,
        other => panic!("{provider}/{model}: {other:?}"),
    }
}

fn million_in_out() -> Usage {
    Usage {
        input_tokens: Some(1_000_000),
        output_tokens: Some(1_000_000),
        ..Usage::default()
    }
}

#[test]
fn litellm_fixture_loads_with_skips() {
    let report = check_str(LITELLM, "litellm_small.json").expect("valid");
    assert_eq!(report.format, FileFormat::LiteLlm);
    // sample_spec and the image model are skipped; six entries remain.
    assert_eq!(report.entries, 6);
    assert_eq!(report.skipped, 2);
    assert!(report.version.starts_with("litellm:"));
}

#[test]
fn litellm_entries_map_fields_and_prefixes() {
    let mut table = PriceTable::embedded();
    table
        .add_litellm_str(LITELLM, "litellm_small.json")
        .expect("loads");
    let res = table
        .lookup("anthropic", "claude-sonnet-4-5-20250929")
        .expect("found");
    assert!(matches!(res.origin, Origin::LiteLlm(_)));
    let e = res.entry;
    assert!((e.rates.cache_write_1h.unwrap_or(0.0) - 6e-6).abs() < 1e-15);
    assert_eq!(e.tiers.len(), 1);
    assert_eq!(e.tiers[0].above_input_tokens, 200_000);
    // `azure/my-gpt` is stored as provider azure, model my-gpt.
    let res = table
        .lookup("azure.ai.openai", "my-gpt")
        .expect("azure entry");
    assert_eq!(res.entry.key, "azure.ai.openai/my-gpt");
    assert_eq!(res.kind, MatchKind::Exact);
    let res = table.lookup("groq", "brand-new-model").expect("groq entry");
    assert_eq!(res.entry.key, "groq/brand-new-model");
}

#[test]
fn precedence_override_then_litellm_then_embedded() {
    let usage = million_in_out();
    let embedded = PriceTable::embedded();
    // Embedded gpt-4o: $2.50 + $10.
    assert!((usd(&embedded, "openai", "gpt-4o", &usage) - 12.5).abs() < 1e-9);

    let mut with_litellm = PriceTable::embedded();
    with_litellm
        .add_litellm_str(LITELLM, "litellm.json")
        .expect("loads");
    // LiteLLM gpt-4o: $3 + $12 beats embedded.
    assert!((usd(&with_litellm, "openai", "gpt-4o", &usage) - 15.0).abs() < 1e-9);
    // A model only in the embedded table still resolves there.
    let res = with_litellm
        .lookup("anthropic", "claude-opus-4-6")
        .expect("embedded");
    assert_eq!(res.origin, &Origin::Embedded);

    let mut full = PriceTable::embedded();
    // Insert the override first to prove order of loading does not matter.
    full.add_override_str(OVERRIDE, "override.json")
        .expect("loads");
    full.add_litellm_str(LITELLM, "litellm.json")
        .expect("loads");
    assert_eq!(full.layers().len(), 3);
    // Override gpt-4o: $2 + $8 beats LiteLLM and embedded…
    assert!((usd(&full, "openai", "gpt-4o", &usage) - 10.0).abs() < 1e-9);
    // …even for a dated name that LiteLLM has exactly: the override layer is searched first.
    let res = full.lookup("openai", "gpt-4o-2024-08-06").expect("found");
    assert!(matches!(res.origin, Origin::Override(_)));
    assert_eq!(
        res.kind,
        MatchKind::Normalized(vec![pricing::Normalization::DateSuffix])
    );
    // Override-only model via alias.
    let res = full
        .lookup("openai", "ft:gpt-4o-mini:acme:support:abc123")
        .expect("alias");
    assert_eq!(res.entry.key, "openai/in-house-finetune");
    assert_eq!(res.kind, MatchKind::Alias);
    match full.cost("openai", "gpt-4o", &usage) {
        CostOutcome::Known(c) => assert_eq!(c.pricing_version, "ops-2026-11-20"),
        other => panic!("{other:?}"),
    }
    assert!(full.version().starts_with("ops-2026-11-20+litellm:"));
}

#[test]
fn load_from_config_files() {
    let config = PricingConfig {
        override_file: Some(fixture_path("override_valid.json")),
        litellm_file: Some(fixture_path("litellm_small.json")),
        azure_deployments: HashMap::from([("chat-prod".to_string(), "gpt-4o".to_string())]),
    };
    let table = PriceTable::load(&config).expect("loads");
    let res = table
        .lookup("azure.ai.openai", "chat-prod")
        .expect("mapped");
    assert_eq!(res.entry.key, "azure.ai.openai/gpt-4o");
    let missing = PricingConfig {
        override_file: Some(fixture_path("does-not-exist.json")),
        ..PricingConfig::default()
    };
    let err = PriceTable::load(&missing).expect_err("missing file");
    assert!(matches!(err, PricingError::Io { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist.json"));
}

#[test]
fn malformed_override_names_entry_field_and_line() {
    let err = check_file(&fixture_path("override_bad_field.json")).expect_err("invalid");
    let msg = err.to_string();
    assert!(
        msg.contains("models.openai/gpt-4o.output_per_mtok"),
        "{msg}"
    );
    assert!(msg.contains("line 7"), "{msg}");
    // The embedded table is unaffected and the failed add leaves a table unchanged.
    let mut table = PriceTable::embedded();
    let text = std::fs::read_to_string(fixture_path("override_bad_field.json")).expect("read");
    assert!(table.add_override_str(&text, "bad.json").is_err());
    assert_eq!(table.layers().len(), 1);
    assert!((usd(&table, "openai", "gpt-4o", &million_in_out()) - 12.5).abs() < 1e-9);
}

fn override_with(entry_body: &str) -> String {
    format!(
        "{{\n \"version\": \"t\",\n \"as_of\": \"2026-11-20\",\n \"models\": {{\n  \"openai/x\": {entry_body}\n }}\n}}\n"
    )
}

#[test]
fn validation_errors_name_the_field() {
    let cases = [
        (
            r#"{"input_per_mtok": -1, "output_per_mtok": 1, "source": "s"}"#,
            "input_per_mtok",
        ),
        (
            r#"{"input_per_mtok": 1, "output_per_mtok": 1e300, "source": "s"}"#,
            "output_per_mtok",
        ),
        (
            r#"{"input_per_mtok": 1, "output_per_mtok": 1, "source": ""}"#,
            "source",
        ),
        (
            r#"{"input_per_mtok": 1, "output_per_mtok": 1, "inptu": 2, "source": "s"}"#,
            "inptu",
        ),
        (
            r#"{"input_per_mtok": 1, "output_per_mtok": 1, "source": "s", "tiers": [{"above_input_tokens": 0, "input_per_mtok": 1, "output_per_mtok": 1}]}"#,
            "tiers[0].above_input_tokens",
        ),
        (
            r#"{"input_per_mtok": 1, "output_per_mtok": 1, "source": "s", "tiers": [{"above_input_tokens": 5, "input_per_mtok": -2, "output_per_mtok": 1}]}"#,
            "tiers[0].input_per_mtok",
        ),
        (
            r#"{"input_per_mtok": 1, "output_per_mtok": 1, "source": "s", "aliases": [""]}"#,
            "aliases",
        ),
        (r#"{"output_per_mtok": 1, "source": "s"}"#, "input_per_mtok"),
    ];
    for (body, field) in cases {
        let err = check_str(&override_with(body), "o.json").expect_err(body);
        let msg = err.to_string();
        assert!(msg.contains(field), "{body}: {msg}");
        assert!(msg.contains("o.json"), "{msg}");
    }
    let no_slash = "{\"version\":\"t\",\"as_of\":\"2026-11-20\",\"models\":{\"gpt\":{\"input_per_mtok\":1,\"output_per_mtok\":1,\"source\":\"s\"}}}";
    assert!(
        check_str(no_slash, "o")
            .expect_err("key")
            .to_string()
            .contains("provider/model")
    );
    let bad_date = "{\"version\":\"t\",\"as_of\":\"2026-13-01\",\"models\":{}}";
    assert!(
        check_str(bad_date, "o")
            .expect_err("date")
            .to_string()
            .contains("as_of")
    );
    let dup_alias = "{\"version\":\"t\",\"as_of\":\"2026-11-01\",\"models\":{\"openai/a\":{\"input_per_mtok\":1,\"output_per_mtok\":1,\"source\":\"s\",\"aliases\":[\"b\"]},\"openai/b\":{\"input_per_mtok\":1,\"output_per_mtok\":1,\"source\":\"s\"}}}";
    assert!(
        check_str(dup_alias, "o")
            .expect_err("dup")
            .to_string()
            .contains("also used")
    );
}

#[test]
fn litellm_errors_name_entry_and_field() {
    let text = "{\n \"ok\": {\"input_cost_per_token\": 1e-6, \"litellm_provider\": \"openai\"},\n \"bad\": {\n  \"input_cost_per_token\": \"cheap\"\n }\n}\n";
    let msg = check_str(text, "l.json").expect_err("bad type").to_string();
    assert!(msg.contains("bad.input_cost_per_token"), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
    let neg = "{\"neg\": {\"input_cost_per_token\": -1e-6, \"litellm_provider\": \"openai\"}}";
    let msg = check_str(neg, "l.json").expect_err("negative").to_string();
    assert!(
        msg.contains("neg") && msg.contains("input_cost_per_token"),
        "{msg}"
    );
    assert!(check_str("[1,2]", "l.json").is_err());
    assert!(check_str("", "l.json").is_err());
    assert!(check_str("{\"x\": 1}", "l.json").is_err());
}

#[test]
fn hostile_inputs_do_not_panic() {
    let table = PriceTable::embedded();
    let huge = Usage {
        input_tokens: Some(u64::MAX),
        output_tokens: Some(u64::MAX),
        cache_read_input_tokens: Some(u64::MAX),
        cache_creation_input_tokens: Some(u64::MAX),
        cache_creation_5m: Some(u64::MAX),
        cache_creation_1h: Some(u64::MAX),
        reasoning_output_tokens: Some(u64::MAX),
    };
    for (p, m) in [
        ("openai", "gpt-5.4"),
        ("anthropic", "claude-haiku-5-5"),
        (
            "aws.bedrock",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
    ] {
        match table.cost(p, m, &huge) {
            CostOutcome::Known(c) => assert!(c.usd.is_finite() && c.usd >= 0.0, "{c:?}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        table.cost("openai", "gpt-4o", &Usage::default()),
        CostOutcome::Unknown {
            reason: pricing::UnknownReason::NoUsage
        }
    );
    let weird = [
        "\u{0}",
        "../../etc/passwd",
        "us.us.us.",
        "a/b/c/d",
        "@latest",
        ":0",
        "-v1:0",
        "モデル-20250101",
        &"x".repeat(100_000),
    ];
    for m in weird {
        let _ = table.lookup("aws.bedrock", m);
        let _ = table.lookup("", m);
        let _ = table.cost(m, m, &huge);
    }
    for text in [
        "{",
        "null",
        "{\"version\": 1}",
        "{\"version\":\"v\",\"as_of\":\"x\",\"models\":[]}",
        "{\"a\": {\"input_cost_per_token\": 1e999}}",
        "{\"version\":\"v\",\"as_of\":\"2026-01-01\",\"models\":{\"openai/x\":{\"input_per_mtok\":NaN,\"output_per_mtok\":1,\"source\":\"s\"}}}",
    ] {
        assert!(check_str(text, "h").is_err(), "{text}");
    }
}

#[test]
fn show_and_staleness() {
    let table = PriceTable::embedded();
    let report = table
        .show(
            "aws.bedrock",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        )
        .expect("found");
    let text = report.to_string();
    assert!(text.contains("bedrock region prefix removed"), "{text}");
    assert!(text.contains("above 200000 input tokens"), "{text}");
    assert!(text.contains("$3.0000 / MTok"), "{text}");
    assert!(matches!(
        table.show("openai", "nope"),
        Err(PricingError::UnknownModel { .. })
    ));

    let as_of = table.embedded_layer().and_then(|l| l.as_of).expect("as_of");
    let later = Date::from_days_since_epoch(as_of.days_since_epoch() + 91).expect("date");
    assert_eq!(table.age_days(as_of), 0);
    assert_eq!(table.age_days(later), 91);
    assert!(table.is_stale(later, pricing::DEFAULT_STALE_DAYS));
    assert!(!table.is_stale(as_of, pricing::DEFAULT_STALE_DAYS));

    let report = check_file(&fixture_path("override_valid.json")).expect("valid");
    assert_eq!(report.format, FileFormat::Native);
    assert_eq!(report.entries, 2);
    assert!(report.to_string().contains("ops-2026-11-20"));
}

#[test]
fn anthropic_native_usage_converts_to_otel() {
    use pricing::InputSemantics;
    let native = Usage {
        input_tokens: Some(1_000),
        cache_read_input_tokens: Some(20_000),
        cache_creation_input_tokens: Some(5_000),
        output_tokens: Some(10),
        ..Usage::default()
    };
    let sem =
        InputSemantics::for_provider("aws.bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0");
    assert_eq!(sem, InputSemantics::ExcludesCache);
    assert_eq!(native.clone().to_otel(sem).input_tokens, Some(26_000));
    assert_eq!(
        InputSemantics::for_provider("openai", "gpt-4o"),
        InputSemantics::IncludesCache
    );
    assert_eq!(
        native.clone().to_otel(InputSemantics::IncludesCache),
        native
    );
}
