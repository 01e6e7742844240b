//! The layered price table: sources, precedence, lookup and costing.
//!
//! Owns [`PriceTable`] and [`Resolution`]. Sources ("layers") have the precedence
//! **override file > LiteLLM file > embedded table**. For each provider to search (the
//! requested one, then its fallbacks), the layers are tried in precedence order, and within a
//! layer the rewrites of `matching` in order; the first hit wins. So an operator's
//! `openai/gpt-4o` override also prices `gpt-4o-2024-08-06` even if a lower layer has that
//! exact name, while an Azure request still prefers any Azure entry over an OpenAI override.
//! It does not own parsing (`native`, `litellm`) or the cost formula (`cost`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cost::{Cost, CostOutcome, UnknownReason, Usage, price_usage};
use crate::date::Date;
use crate::entry::{Origin, PriceEntry};
use crate::error::PricingError;
use crate::litellm::parse_litellm;
use crate::matching::{
    KNOWN_PROVIDERS, MatchKind, Normalization, canonical_provider, is_known_provider,
    provider_fallbacks, split_provider_prefix, strip_bedrock_region, strip_bedrock_version,
    strip_date_suffix,
};
use crate::memo::{Found, Memo};
use crate::native::parse_native;
use crate::unmatched::UnmatchedCounter;

/// The price table compiled into the binary.
pub const EMBEDDED_JSON: &str = include_str!("../data/prices.json");

/// One price source with its name index.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Where the entries came from.
    pub origin: Origin,
    /// Version string of the source.
    pub version: String,
    /// `as_of` date (absent for LiteLLM files).
    pub as_of: Option<Date>,
    /// The entries.
    pub entries: Vec<PriceEntry>,
    /// provider → lower-cased model name or alias → entry index.
    index: HashMap<String, HashMap<String, (usize, bool)>>,
}

impl Layer {
    fn new(origin: Origin, version: String, as_of: Option<Date>, entries: Vec<PriceEntry>) -> Self {
        let mut index: HashMap<String, HashMap<String, (usize, bool)>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let names = index.entry(e.provider.clone()).or_default();
            for alias in &e.aliases {
                names.entry(alias.to_ascii_lowercase()).or_insert((i, true));
            }
            // Model names win over another entry's alias.
            names.insert(e.model.to_ascii_lowercase(), (i, false));
        }
        Self {
            origin,
            version,
            as_of,
            entries,
            index,
        }
    }

    fn find(&self, provider: &str, name: &str) -> Option<(usize, bool)> {
        self.index.get(provider)?.get(name).copied()
    }
}

/// A resolved model: the entry, the layer it came from and why it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution<'a> {
    /// The entry.
    pub entry: &'a PriceEntry,
    /// Source of the entry.
    pub origin: &'a Origin,
    /// Version of that source.
    pub version: &'a str,
    /// Why it matched.
    pub kind: MatchKind,
    /// The (rewritten, lower-cased) name that matched.
    pub matched_name: String,
}

/// A rewritten model name to look up.
struct Candidate {
    name: String,
    steps: Vec<Normalization>,
    /// Provider named by a `provider/` prefix when the request's provider is not a known one.
    scope: Option<String>,
}

/// Operator configuration for [`PriceTable::load`].
#[derive(Debug, Clone, Default)]
pub struct PricingConfig {
    /// Native-format override file (highest precedence).
    pub override_file: Option<PathBuf>,
    /// LiteLLM `model_prices_and_context_window.json` file.
    pub litellm_file: Option<PathBuf>,
    /// Azure deployment name → model name.
    pub azure_deployments: HashMap<String, String>,
}

/// Layers of prices plus matching configuration and the unmatched-model counter.
#[derive(Debug)]
pub struct PriceTable {
    /// Highest precedence first.
    layers: Vec<Layer>,
    azure_deployments: HashMap<String, String>,
    unmatched: UnmatchedCounter,
    /// Lookups already resolved; emptied whenever layers or mappings change.
    memo: Memo,
}

fn embedded_layer() -> &'static Result<Layer, String> {
    static EMBEDDED: OnceLock<Result<Layer, String>> = OnceLock::new();
    EMBEDDED.get_or_init(|| {
        parse_native(EMBEDDED_JSON, "embedded")
            .map(|s| Layer::new(Origin::Embedded, s.version, Some(s.as_of), s.entries))
            .map_err(|e| e.to_string())
    })
}

fn read(path: &Path) -> Result<String, PricingError> {
    std::fs::read_to_string(path).map_err(|source| PricingError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl PriceTable {
    /// The embedded table alone; needs no files.
    ///
    /// # Panics
    /// Only if the compiled-in `data/prices.json` is invalid, which the crate's tests rule out.
    pub fn embedded() -> Self {
        match Self::try_embedded() {
            Ok(table) => table,
            Err(e) => panic!("embedded price table is invalid: {e}"),
        }
    }

    /// The embedded table, or the validation error if it were broken.
    pub fn try_embedded() -> Result<Self, String> {
        let layer = embedded_layer().clone()?;
        Ok(Self {
            layers: vec![layer],
            azure_deployments: HashMap::new(),
            unmatched: UnmatchedCounter::default(),
            memo: Memo::default(),
        })
    }

    /// Embedded table plus the configured LiteLLM and override files and Azure mapping.
    /// Any file error is returned; the caller may fall back to [`PriceTable::embedded`].
    pub fn load(config: &PricingConfig) -> Result<Self, PricingError> {
        let mut table = Self::embedded();
        if let Some(path) = &config.litellm_file {
            table.add_litellm_str(&read(path)?, &path.display().to_string())?;
        }
        if let Some(path) = &config.override_file {
            table.add_override_str(&read(path)?, &path.display().to_string())?;
        }
        table.set_azure_deployments(config.azure_deployments.clone());
        Ok(table)
    }

    /// Adds a native-format override document above every existing layer.
    /// On error the table is unchanged.
    pub fn add_override_str(&mut self, text: &str, origin: &str) -> Result<(), PricingError> {
        let src = parse_native(text, origin)?;
        let layer = Layer::new(
            Origin::Override(origin.to_string()),
            src.version,
            Some(src.as_of),
            src.entries,
        );
        self.insert_layer(layer);
        Ok(())
    }

    /// Adds a LiteLLM-format document above the embedded table and below any override.
    /// On error the table is unchanged.
    pub fn add_litellm_str(&mut self, text: &str, origin: &str) -> Result<(), PricingError> {
        let src = parse_litellm(text, origin)?;
        self.insert_layer(Layer::new(
            Origin::LiteLlm(origin.to_string()),
            src.version,
            None,
            src.entries,
        ));
        Ok(())
    }

    fn insert_layer(&mut self, layer: Layer) {
        let rank = |o: &Origin| match o {
            Origin::Override(_) => 0,
            Origin::LiteLlm(_) => 1,
            Origin::Embedded => 2,
        };
        let at = self
            .layers
            .iter()
            .position(|l| rank(&l.origin) >= rank(&layer.origin))
            .unwrap_or(self.layers.len());
        self.layers.insert(at, layer);
        self.memo.clear();
    }

    /// Sets the Azure deployment → model mapping (names compare case-insensitively).
    pub fn set_azure_deployments(&mut self, map: HashMap<String, String>) {
        self.azure_deployments = map
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        self.memo.clear();
    }

    /// Layers, highest precedence first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The embedded layer (always present).
    pub fn embedded_layer(&self) -> Option<&Layer> {
        self.layers.iter().find(|l| l.origin == Origin::Embedded)
    }

    /// Version string of every layer, highest precedence first, joined by `+`.
    pub fn version(&self) -> String {
        self.layers
            .iter()
            .map(|l| l.version.as_str())
            .collect::<Vec<_>>()
            .join("+")
    }

    /// The unmatched (provider, model) counter fed by [`PriceTable::cost`].
    pub fn unmatched(&self) -> &UnmatchedCounter {
        &self.unmatched
    }

    /// Resolves a model; see the crate docs for the matching order and precedence.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Resolution<'_>> {
        let provider = canonical_provider(provider);
        let provider = provider.as_str();
        if let Some(found) = self.memo.get(provider, model) {
            return found.map(|f| self.resolution(f));
        }
        let resolved = self.search(provider, model);
        let found = resolved.as_ref().and_then(|r| self.found(r));
        self.memo.put(provider, model, found);
        resolved
    }

    /// Where `r` sits in the layers, to remember it.
    fn found(&self, r: &Resolution<'_>) -> Option<Found> {
        let layer = self
            .layers
            .iter()
            .position(|l| std::ptr::eq(&l.origin, r.origin))?;
        let entry = self.layers[layer]
            .entries
            .iter()
            .position(|e| std::ptr::eq(e, r.entry))?;
        Some(Found {
            layer,
            entry,
            kind: r.kind.clone(),
            matched_name: r.matched_name.clone(),
        })
    }

    /// A remembered resolution, read back from the layers it points into.
    fn resolution(&self, f: Found) -> Resolution<'_> {
        let layer = &self.layers[f.layer];
        Resolution {
            entry: &layer.entries[f.entry],
            origin: &layer.origin,
            version: &layer.version,
            kind: f.kind,
            matched_name: f.matched_name,
        }
    }

    /// The general search over candidates, providers and layers, for a canonical provider.
    fn search(&self, provider: &str, model: &str) -> Option<Resolution<'_>> {
        let candidates = self.candidates(provider, model);
        // Providers searched for unscoped candidates: the requested one, then its fallbacks;
        // every known provider when none was given; none for an unknown provider.
        let search: Vec<&str> = if provider.is_empty() {
            KNOWN_PROVIDERS.to_vec()
        } else if is_known_provider(provider) {
            std::iter::once(provider)
                .chain(provider_fallbacks(provider).iter().copied())
                .collect()
        } else {
            Vec::new()
        };
        let fallback_allowed = is_known_provider(provider);
        // Provider first (requested before fallbacks), then source precedence, then rewrites.
        for (i, p) in search.iter().enumerate() {
            for layer in &self.layers {
                for c in candidates.iter().filter(|c| c.scope.is_none()) {
                    if let Some(r) = Self::hit(layer, p, c, fallback_allowed && i > 0) {
                        return Some(r);
                    }
                }
            }
        }
        // Candidates whose `provider/` prefix chose the provider (aggregators, empty provider).
        for c in &candidates {
            let Some(scope) = c.scope.as_deref() else {
                continue;
            };
            let scoped = std::iter::once(scope).chain(provider_fallbacks(scope).iter().copied());
            for (i, p) in scoped.enumerate() {
                for layer in &self.layers {
                    if let Some(r) = Self::hit(layer, p, c, i > 0) {
                        return Some(r);
                    }
                }
            }
        }
        None
    }

    fn hit<'a>(
        layer: &'a Layer,
        provider: &str,
        c: &Candidate,
        fallback: bool,
    ) -> Option<Resolution<'a>> {
        let (idx, alias) = layer.find(provider, &c.name)?;
        let kind = if c.steps.is_empty() && !fallback {
            if alias {
                MatchKind::Alias
            } else {
                MatchKind::Exact
            }
        } else {
            let mut all = c.steps.clone();
            if fallback {
                all.push(Normalization::ProviderFallback);
            }
            MatchKind::Normalized(all)
        };
        Some(Resolution {
            entry: &layer.entries[idx],
            origin: &layer.origin,
            version: &layer.version,
            kind,
            matched_name: c.name.clone(),
        })
    }

    /// The names to try, in matching order, each with the rewrites that produced it.
    fn candidates(&self, provider: &str, model: &str) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut name = model.trim().to_ascii_lowercase();
        let mut steps: Vec<Normalization> = Vec::new();
        let mut scope: Option<String> = None;
        if name.is_empty() {
            return out;
        }
        if provider == "azure.ai.openai"
            && let Some(mapped) = self.azure_deployments.get(&name)
        {
            name = mapped.trim().to_ascii_lowercase();
            steps.push(Normalization::AzureDeployment);
        }
        out.push(Candidate {
            name: name.clone(),
            steps: steps.clone(),
            scope: None,
        });
        if let Some((prefix_provider, rest)) = split_provider_prefix(&name) {
            if !is_known_provider(provider) {
                scope = prefix_provider;
            }
            name = rest.to_string();
            steps.push(Normalization::ProviderPrefix);
            out.push(Candidate {
                name: name.clone(),
                steps: steps.clone(),
                scope: scope.clone(),
            });
        }
        type Rewrite = fn(&str) -> Option<&str>;
        let rewrites: [(Rewrite, Normalization); 3] = [
            (strip_bedrock_region, Normalization::BedrockRegion),
            (strip_bedrock_version, Normalization::BedrockVersion),
            (strip_date_suffix, Normalization::DateSuffix),
        ];
        for (rewrite, step) in rewrites {
            if let Some(next) = rewrite(&name) {
                name = next.to_string();
                steps.push(step);
                out.push(Candidate {
                    name: name.clone(),
                    steps: steps.clone(),
                    scope: scope.clone(),
                });
            }
        }
        out
    }

    /// Prices one request. Unmatched models are counted in [`PriceTable::unmatched`] and yield
    /// [`CostOutcome::Unknown`]; so does a usage with no token counts.
    pub fn cost(&self, provider: &str, model: &str, usage: &Usage) -> CostOutcome {
        let Some(res) = self.lookup(provider, model) else {
            self.unmatched.record(provider, model);
            return CostOutcome::Unknown {
                reason: UnknownReason::UnmatchedModel,
            };
        };
        match price_usage(res.entry, usage) {
            Some((breakdown, tier)) => CostOutcome::Known(Cost {
                usd: breakdown.total(),
                breakdown,
                pricing_version: res.version.to_string(),
                model_key: res.entry.key.clone(),
                tier,
            }),
            None => CostOutcome::Unknown {
                reason: UnknownReason::NoUsage,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered answer equals a fresh search, before and after the table changes.
    #[test]
    fn remembered_lookups_equal_fresh_searches() {
        let mut table = PriceTable::embedded();
        let probes = [
            ("openai", "gpt-4o"),
            ("openai", "gpt-4o-2024-08-06"),
            ("OpenAI", "GPT-4o-mini "),
            ("anthropic", "claude-sonnet-4-5-20250929"),
            ("azure.ai.openai", "prod"),
            ("", "openai/gpt-4o"),
            ("openrouter", "anthropic/claude-sonnet-4-5"),
            ("openai", "no-such-model"),
        ];
        let check = |table: &PriceTable| {
            for (p, m) in probes {
                let fresh = table.search(&canonical_provider(p), m);
                assert_eq!(table.lookup(p, m), fresh, "{p} {m}, first");
                assert_eq!(table.lookup(p, m), fresh, "{p} {m}, remembered");
            }
        };
        check(&table);
        table
            .add_override_str(
                r#"{"version":"t1","as_of":"2026-01-01","models":{
                    "openai/gpt-4o":{"input_per_mtok":1,"output_per_mtok":2,"source":"test"}
                }}"#,
                "test",
            )
            .expect("override parses");
        check(&table);
        assert_eq!(
            table
                .lookup("openai", "gpt-4o-2024-08-06")
                .map(|r| r.version),
            Some("t1"),
            "an override added later wins over what was remembered"
        );
        table.set_azure_deployments(HashMap::from([("prod".into(), "gpt-4o".into())]));
        check(&table);
        assert!(table.lookup("azure.ai.openai", "prod").is_some());
    }
}
