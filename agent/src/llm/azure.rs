//! Azure OpenAI specifics on top of `openai.rs`: deployment paths
//! (`/openai/deployments/{deployment}/…?api-version=…`) and the v1 paths. The deployment and
//! `api-version` come from detection; here the deployment stands in for the model when the body
//! names none, and Azure's numeric error codes (`"429"`) become `http_429`. Rate-limit header
//! quirks (`-1`, `0`) are handled in `headers.rs`.

use super::call::LlmCall;
use super::config::LlmConfig;
use super::openai;
use crate::reassembly::exchange::Response;

/// Parse an Azure OpenAI request body (OpenAI shape).
pub(crate) fn parse_request(call: &mut LlmCall, cfg: &LlmConfig, body: &str) {
    openai::parse_request(call, cfg, body);
    if call.request.model.is_none() {
        call.request.model = call.request.deployment.clone();
    }
}

/// Parse an Azure OpenAI response (OpenAI shape; the first stream chunk may carry only
/// `prompt_filter_results` with no model and no choices, which is harmless).
pub(crate) fn parse_response(call: &mut LlmCall, cfg: &LlmConfig, resp: &Response) {
    openai::parse_response(call, cfg, resp);
}
