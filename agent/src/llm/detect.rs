//! Detection: which provider and API an exchange belongs to, from the user's endpoint rules,
//! the host, the path, response headers and (only for ambiguous paths on unknown hosts) a peek
//! at the request body's first bytes. Parsing of bodies is not done here.
//!
//! Order: method (POST only) → user rules → built-in host table → path shape on unknown hosts.
//! Non-LLM traffic is rejected from method, host and path alone.

use serde::Serialize;

use super::call::{Api, Provider};
use super::config::LlmConfig;
use crate::reassembly::exchange::{Exchange, Headers};

/// Why LLM-looking traffic was not parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnrecognisedReason {
    /// A known LLM host (or a user rule) but a path no parser understands.
    UnknownEndpoint,
    /// Response headers name an LLM provider, but neither host nor path is known.
    ProviderHeadersOnly,
}

/// Where an exchange was found to go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Provider to report.
    pub provider: Provider,
    /// API to parse as.
    pub api: Api,
    /// Host without port.
    pub host: Option<String>,
    /// Port (443 when absent from the authority).
    pub port: Option<u16>,
    /// Model named in the URL path (Gemini, Vertex, Bedrock).
    pub path_model: Option<String>,
    /// Azure deployment from the path.
    pub deployment: Option<String>,
    /// `api-version` query parameter.
    pub api_version: Option<String>,
    /// The path asks for a stream (`:streamGenerateContent`, `converse-stream`, …).
    pub path_stream: bool,
}

/// Detection result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Not LLM traffic.
    NotLlm,
    /// LLM-looking but not understood.
    Unrecognised(UnrecognisedReason),
    /// Recognised.
    Llm(Target),
}

/// Detect provider and API of `ex`.
pub fn detect(ex: &Exchange, cfg: &LlmConfig) -> Detection {
    let req = &ex.request;
    let (path, query) = req.path.split_once('?').unwrap_or((req.path.as_str(), ""));
    let (host, port) = split_authority(req.authority.as_deref());
    let host_l = host.map(str::to_ascii_lowercase);
    // Every LLM call this stage understands is a POST.
    if !req.method.eq_ignore_ascii_case("POST") {
        return Detection::NotLlm;
    }
    let shape = api_from_path(path);

    let provider =
        if let Some(rule) = cfg.match_endpoint(host_l.as_deref().unwrap_or(""), port, path) {
            let Some(api) = rule.api.or(shape.as_ref().map(|s| s.api)) else {
                return Detection::Unrecognised(UnrecognisedReason::UnknownEndpoint);
            };
            return target(rule.provider, api, shape, host_l, port, query);
        } else if let Some(p) = host_l.as_deref().and_then(|h| provider_from_host(h, port)) {
            p
        } else {
            if !cfg.detect_unknown_hosts {
                return Detection::NotLlm;
            }
            let header_provider = ex
                .response
                .as_ref()
                .and_then(|r| provider_from_headers(&r.headers));
            match &shape {
                None if header_provider.is_some() => {
                    return Detection::Unrecognised(UnrecognisedReason::ProviderHeadersOnly);
                }
                None => return Detection::NotLlm,
                Some(s) if s.weak && header_provider.is_none() && !body_looks_llm(&req.body) => {
                    return Detection::NotLlm;
                }
                Some(s) => header_provider.unwrap_or(match s.api {
                    Api::OllamaChat | Api::OllamaGenerate => Provider::Ollama,
                    _ => Provider::UnknownCompatible,
                }),
            }
        };
    match shape {
        Some(s) => {
            let api = s.api;
            target(provider, api, Some(s), host_l, port, query)
        }
        None => Detection::Unrecognised(UnrecognisedReason::UnknownEndpoint),
    }
}

fn target(
    provider: Provider,
    api: Api,
    shape: Option<PathShape>,
    host: Option<String>,
    port: Option<u16>,
    query: &str,
) -> Detection {
    let (path_model, deployment, stream) = match shape {
        Some(s) => (s.model, s.deployment, s.stream),
        None => (None, None, false),
    };
    Detection::Llm(Target {
        provider,
        api,
        host,
        port,
        path_model,
        deployment,
        api_version: query_param(query, "api-version").map(percent_decode),
        path_stream: stream || query_param(query, "alt") == Some("sse"),
    })
}

/// What the path alone says.
#[derive(Clone, Debug)]
struct PathShape {
    api: Api,
    /// Generic enough that an unknown host needs more evidence.
    weak: bool,
    model: Option<String>,
    deployment: Option<String>,
    stream: bool,
}

fn api_from_path(path: &str) -> Option<PathShape> {
    let mut s = PathShape {
        api: Api::ChatCompletions,
        weak: false,
        model: None,
        deployment: None,
        stream: false,
    };
    if let Some(rest) = path.strip_prefix("/model/") {
        let (model, action) = rest.rsplit_once('/')?;
        s.model = Some(percent_decode(model));
        (s.api, s.stream) = match action {
            "converse" => (Api::BedrockConverse, false),
            "converse-stream" => (Api::BedrockConverse, true),
            "invoke" => (Api::BedrockInvoke, false),
            "invoke-with-response-stream" => (Api::BedrockInvoke, true),
            _ => return None,
        };
        return Some(s);
    }
    if let Some((before, action)) = path.rsplit_once(':')
        && !action.contains('/')
    {
        let model = before
            .rsplit_once("/models/")
            .map(|(_, m)| percent_decode(m));
        (s.api, s.stream) = match action {
            "generateContent" => (Api::GenerateContent, false),
            "streamGenerateContent" => (Api::GenerateContent, true),
            // Claude on Vertex: Anthropic bodies.
            "rawPredict" => (Api::AnthropicMessages, false),
            "streamRawPredict" => (Api::AnthropicMessages, true),
            _ => return None,
        };
        s.model = model;
        return Some(s);
    }
    if let Some(rest) = path.strip_prefix("/openai/deployments/") {
        s.deployment = rest.split('/').next().map(percent_decode);
    }
    let table: [(&str, Api, bool); 7] = [
        ("/chat/completions", Api::ChatCompletions, false),
        ("/responses", Api::Responses, true),
        ("/embeddings", Api::Embeddings, true),
        ("/completions", Api::Completions, true),
        ("/v1/messages", Api::AnthropicMessages, true),
        ("/api/chat", Api::OllamaChat, true),
        ("/api/generate", Api::OllamaGenerate, true),
    ];
    let (_, api, weak) = table
        .into_iter()
        .find(|(suffix, _, _)| path.ends_with(suffix))?;
    s.api = api;
    s.weak = weak;
    Some(s)
}

fn provider_from_host(host: &str, port: Option<u16>) -> Option<Provider> {
    let exact = match host {
        "api.openai.com" => Some(Provider::OpenAi),
        "api.anthropic.com" => Some(Provider::Anthropic),
        "generativelanguage.googleapis.com" => Some(Provider::GcpGemini),
        "api.mistral.ai" | "codestral.mistral.ai" => Some(Provider::MistralAi),
        "api.groq.com" => Some(Provider::Groq),
        "api.deepseek.com" => Some(Provider::DeepSeek),
        "api.x.ai" => Some(Provider::XAi),
        "openrouter.ai" => Some(Provider::OpenRouter),
        "api.together.xyz" | "api.together.ai" => Some(Provider::Together),
        "api.fireworks.ai" => Some(Provider::Fireworks),
        _ => None,
    };
    exact.or_else(|| {
        if [
            ".openai.azure.com",
            ".cognitiveservices.azure.com",
            ".services.ai.azure.com",
        ]
        .iter()
        .any(|s| host.ends_with(s))
        {
            Some(Provider::AzureOpenAi)
        } else if host.ends_with("aiplatform.googleapis.com") {
            Some(Provider::GcpVertexAi)
        } else if host.starts_with("bedrock-runtime") && host.ends_with(".amazonaws.com") {
            Some(Provider::AwsBedrock)
        } else if port == Some(11434) {
            Some(Provider::Ollama)
        } else {
            None
        }
    })
}

/// Provider named by response headers, if any.
pub fn provider_from_headers(h: &Headers) -> Option<Provider> {
    let names = || h.0.iter().map(|(n, _)| n.as_str());
    if names().any(|n| {
        matches!(
            n,
            "openai-version" | "openai-organization" | "openai-project" | "openai-processing-ms"
        )
    }) {
        Some(Provider::OpenAi)
    } else if names()
        .any(|n| n == "anthropic-organization-id" || n.starts_with("anthropic-ratelimit-"))
    {
        Some(Provider::Anthropic)
    } else if names().any(|n| n.starts_with("x-amzn-bedrock-")) {
        Some(Provider::AwsBedrock)
    } else {
        None
    }
}

/// Cheap check on the first 4 KiB: a JSON object mentioning a typical LLM request key.
fn body_looks_llm(body: &[u8]) -> bool {
    let head = &body[..body.len().min(4096)];
    let Some(first) = head.iter().find(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    *first == b'{'
        && [
            &b"\"model\""[..],
            b"\"messages\"",
            b"\"prompt\"",
            b"\"input\"",
        ]
        .iter()
        .any(|k| head.windows(k.len()).any(|w| w == *k))
}

/// Split `host[:port]` (IPv6 in brackets). Port defaults to 443: the traffic is TLS.
pub fn split_authority(a: Option<&str>) -> (Option<&str>, Option<u16>) {
    let Some(a) = a.filter(|a| !a.is_empty()) else {
        return (None, None);
    };
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (rest, None),
        }
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (a, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok(),
        None => Some(443),
    };
    (Some(host), port)
}

fn query_param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
    })
}

/// Decode `%XX` escapes (invalid escapes kept as is, invalid UTF-8 replaced); bounded length.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len().min(512));
    let mut i = 0;
    while i < b.len() && out.len() < 512 {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_and_paths() {
        assert_eq!(split_authority(Some("h:8000")), (Some("h"), Some(8000)));
        assert_eq!(split_authority(Some("h")), (Some("h"), Some(443)));
        assert_eq!(
            split_authority(Some("[::1]:11434")),
            (Some("::1"), Some(11434))
        );
        let s = api_from_path("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream")
            .unwrap();
        assert_eq!(
            s.model.as_deref(),
            Some("anthropic.claude-3-5-sonnet-20240620-v1:0")
        );
        assert!(s.stream);
        let s = api_from_path(
            "/v1/projects/p/locations/us/publishers/google/models/gemini-2.5-pro:generateContent",
        )
        .unwrap();
        assert_eq!(s.model.as_deref(), Some("gemini-2.5-pro"));
        let s = api_from_path("/openai/deployments/gpt4o-prod/chat/completions").unwrap();
        assert_eq!(s.deployment.as_deref(), Some("gpt4o-prod"));
        assert!(api_from_path("/v1/messages/count_tokens").is_none());
        let s = api_from_path("/openai/deployments/a:b/chat/completions").unwrap();
        assert_eq!(s.api, Api::ChatCompletions);
        assert!(api_from_path("/index.html").is_none());
        assert_eq!(percent_decode("a%3Ab%zz%4"), "a:b%zz%4");
    }
}
