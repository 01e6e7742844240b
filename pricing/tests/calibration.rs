//! Hand-computed costs (`fixtures/calibration.json`) against the embedded table.

use std::collections::HashMap;

use pricing::{CostBreakdown, CostOutcome, PriceTable, Usage};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    azure_deployments: HashMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FixtureUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_creation_5m: Option<u64>,
    cache_creation_1h: Option<u64>,
    reasoning_output_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Breakdown {
    input: f64,
    cached_input: f64,
    cache_write_5m: f64,
    cache_write_1h: f64,
    output: f64,
    reasoning: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    provider: String,
    model: String,
    usage: FixtureUsage,
    arithmetic: String,
    expected_usd: f64,
    expected_key: String,
    expected_tier: Option<u64>,
    #[serde(default)]
    expected_breakdown: Option<Breakdown>,
}

const EPS: f64 = 1e-9;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= EPS
}

fn breakdown_matches(got: &CostBreakdown, want: &Breakdown) -> bool {
    close(got.input, want.input)
        && close(got.cached_input, want.cached_input)
        && close(got.cache_write_5m, want.cache_write_5m)
        && close(got.cache_write_1h, want.cache_write_1h)
        && close(got.output, want.output)
        && close(got.reasoning, want.reasoning)
}

#[test]
fn calibration_fixture() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/calibration.json")).expect("fixture parses");
    let mut table = PriceTable::embedded();
    table.set_azure_deployments(fixture.azure_deployments);
    let embedded_version = table.embedded_layer().expect("embedded").version.clone();
    let mut failures = Vec::new();
    for case in &fixture.cases {
        assert!(
            !case.arithmetic.is_empty(),
            "{}: arithmetic missing",
            case.name
        );
        let u = &case.usage;
        let usage = Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_creation_5m: u.cache_creation_5m,
            cache_creation_1h: u.cache_creation_1h,
            reasoning_output_tokens: u.reasoning_output_tokens,
        };
        match table.cost(&case.provider, &case.model, &usage) {
            CostOutcome::Known(cost) => {
                let ok = close(cost.usd, case.expected_usd)
                    && cost.model_key == case.expected_key
                    && cost.tier == case.expected_tier
                    && cost.pricing_version == embedded_version
                    && close(cost.breakdown.total(), cost.usd)
                    && case
                        .expected_breakdown
                        .as_ref()
                        .is_none_or(|b| breakdown_matches(&cost.breakdown, b));
                if !ok {
                    failures.push(format!("{}: got {cost:?}", case.name));
                }
            }
            other => failures.push(format!("{}: got {other:?}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let providers: std::collections::HashSet<_> = fixture
        .cases
        .iter()
        .map(|c| pricing::canonical_provider(&c.provider))
        .collect();
    assert!(
        providers.len() >= 9,
        "calibration must cover every provider: {providers:?}"
    );
}
