//! Model-name matching against the embedded table, driven by `fixtures/matching.json`.

use std::collections::HashMap;

use pricing::{MatchKind, Normalization, PriceTable};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    azure_deployments: HashMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    provider: String,
    model: String,
    expect_key: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

fn kind_string(kind: &MatchKind) -> String {
    match kind {
        MatchKind::Exact => "exact".into(),
        MatchKind::Alias => "alias".into(),
        MatchKind::Normalized(steps) => {
            let names: Vec<&str> = steps
                .iter()
                .map(|s| match s {
                    Normalization::AzureDeployment => "azure_deployment",
                    Normalization::ProviderPrefix => "provider_prefix",
                    Normalization::BedrockRegion => "bedrock_region",
                    Normalization::BedrockVersion => "bedrock_version",
                    Normalization::DateSuffix => "date_suffix",
                    Normalization::ProviderFallback => "provider_fallback",
                })
                .collect();
            format!("normalized:{}", names.join(","))
        }
    }
}

#[test]
fn matching_fixture() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/matching.json")).expect("fixture parses");
    let mut table = PriceTable::embedded();
    table.set_azure_deployments(fixture.azure_deployments);
    let mut failures = Vec::new();
    for case in &fixture.cases {
        let got = table.lookup(&case.provider, &case.model);
        let got_key = got.as_ref().map(|r| r.entry.key.clone());
        let got_kind = got.as_ref().map(|r| kind_string(&r.kind));
        if got_key != case.expect_key || (case.expect_key.is_some() && got_kind != case.kind) {
            failures.push(format!(
                "({:?}, {:?}): expected {:?} [{:?}], got {:?} [{:?}]",
                case.provider, case.model, case.expect_key, case.kind, got_key, got_kind
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(fixture.cases.len() >= 40);
}

#[test]
fn unmatched_models_are_counted_and_bounded() {
    let table = PriceTable::embedded();
    let usage = pricing::Usage {
        input_tokens: Some(1),
        ..Default::default()
    };
    for i in 0..1_100 {
        let outcome = table.cost("openai", &format!("no-such-model-{i}"), &usage);
        assert_eq!(
            outcome,
            pricing::CostOutcome::Unknown {
                reason: pricing::UnknownReason::UnmatchedModel
            }
        );
    }
    table.cost("openai", "no-such-model-0", &usage);
    let snap = table.unmatched().snapshot();
    assert_eq!(snap.len(), pricing::DEFAULT_UNMATCHED_CAP + 1);
    let other = snap
        .iter()
        .find(|((p, m), _)| p == pricing::OTHER && m == pricing::OTHER)
        .expect("overflow bucket");
    assert_eq!(other.1, 100);
    let first = snap
        .iter()
        .find(|((p, m), _)| p == "openai" && m == "no-such-model-0")
        .expect("first key kept");
    assert_eq!(first.1, 2);
}
