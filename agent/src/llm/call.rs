//! The normalised result of the LLM stage: [`LlmCall`] and its parts, plus the parse-error
//! kinds. Pure data; no parsing and no detection here.
//!
//! Serialising an [`LlmCall`] never emits prompt text: [`PromptSegment::text`] is skipped, it
//! exists only in memory for keyed hashing by the privacy stage.

use serde::{Deserialize, Serialize};

/// Who served the call, as OpenTelemetry `gen_ai.provider.name` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Provider {
    /// OpenAI (`api.openai.com`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Azure OpenAI / Azure AI Foundry.
    #[serde(rename = "azure.ai.openai")]
    AzureOpenAi,
    /// Anthropic (`api.anthropic.com`).
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Google AI Studio Gemini API.
    #[serde(rename = "gcp.gemini")]
    GcpGemini,
    /// Google Vertex AI.
    #[serde(rename = "gcp.vertex_ai")]
    GcpVertexAi,
    /// Amazon Bedrock.
    #[serde(rename = "aws.bedrock")]
    AwsBedrock,
    /// Mistral AI.
    #[serde(rename = "mistral_ai")]
    MistralAi,
    /// Groq.
    #[serde(rename = "groq")]
    Groq,
    /// DeepSeek.
    #[serde(rename = "deepseek")]
    DeepSeek,
    /// xAI.
    #[serde(rename = "x_ai")]
    XAi,
    /// OpenRouter.
    #[serde(rename = "openrouter")]
    OpenRouter,
    /// Together AI.
    #[serde(rename = "together")]
    Together,
    /// Fireworks AI.
    #[serde(rename = "fireworks")]
    Fireworks,
    /// Ollama (native or OpenAI-compatible API).
    #[serde(rename = "ollama")]
    Ollama,
    /// vLLM (only known through configuration).
    #[serde(rename = "vllm")]
    Vllm,
    /// LiteLLM proxy (only known through configuration).
    #[serde(rename = "litellm")]
    LiteLlm,
    /// An OpenAI-compatible (or other recognised-API) server we cannot name.
    #[serde(rename = "unknown_compatible")]
    UnknownCompatible,
}

impl Provider {
    /// The `gen_ai.provider.name` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::AzureOpenAi => "azure.ai.openai",
            Provider::Anthropic => "anthropic",
            Provider::GcpGemini => "gcp.gemini",
            Provider::GcpVertexAi => "gcp.vertex_ai",
            Provider::AwsBedrock => "aws.bedrock",
            Provider::MistralAi => "mistral_ai",
            Provider::Groq => "groq",
            Provider::DeepSeek => "deepseek",
            Provider::XAi => "x_ai",
            Provider::OpenRouter => "openrouter",
            Provider::Together => "together",
            Provider::Fireworks => "fireworks",
            Provider::Ollama => "ollama",
            Provider::Vllm => "vllm",
            Provider::LiteLlm => "litellm",
            Provider::UnknownCompatible => "unknown_compatible",
        }
    }
}

/// The wire API spoken (which parser handles it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// OpenAI Chat Completions (and compatibles).
    ChatCompletions,
    /// OpenAI Responses API.
    Responses,
    /// OpenAI Embeddings.
    Embeddings,
    /// OpenAI legacy Completions.
    Completions,
    /// Anthropic Messages.
    AnthropicMessages,
    /// Gemini / Vertex `generateContent` and `streamGenerateContent`.
    GenerateContent,
    /// Bedrock Converse / ConverseStream.
    BedrockConverse,
    /// Bedrock InvokeModel / InvokeModelWithResponseStream (Anthropic bodies understood).
    BedrockInvoke,
    /// Ollama native `/api/chat`.
    OllamaChat,
    /// Ollama native `/api/generate`.
    OllamaGenerate,
}

impl Api {
    /// The event spelling (`chat_completions`, …), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::ChatCompletions => "chat_completions",
            Api::Responses => "responses",
            Api::Embeddings => "embeddings",
            Api::Completions => "completions",
            Api::AnthropicMessages => "anthropic_messages",
            Api::GenerateContent => "generate_content",
            Api::BedrockConverse => "bedrock_converse",
            Api::BedrockInvoke => "bedrock_invoke",
            Api::OllamaChat => "ollama_chat",
            Api::OllamaGenerate => "ollama_generate",
        }
    }

    /// The OpenTelemetry `gen_ai.operation.name` this API performs.
    pub fn operation(self) -> Operation {
        match self {
            Api::ChatCompletions
            | Api::Responses
            | Api::AnthropicMessages
            | Api::BedrockConverse
            | Api::BedrockInvoke
            | Api::OllamaChat => Operation::Chat,
            Api::GenerateContent => Operation::GenerateContent,
            Api::Completions | Api::OllamaGenerate => Operation::TextCompletion,
            Api::Embeddings => Operation::Embeddings,
        }
    }
}

/// OpenTelemetry `gen_ai.operation.name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `chat`.
    Chat,
    /// `generate_content`.
    GenerateContent,
    /// `text_completion`.
    TextCompletion,
    /// `embeddings`.
    Embeddings,
}

impl Operation {
    /// The `gen_ai.operation.name` string, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::GenerateContent => "generate_content",
            Operation::TextCompletion => "text_completion",
            Operation::Embeddings => "embeddings",
        }
    }
}

/// Why part of a call could not be understood. Class only, never payload text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ParseErrorKind {
    /// The request body is not valid JSON of the expected shape.
    #[error("request body: {0}")]
    RequestJson(JsonErrorClass),
    /// The response body (or a stream event) is not valid JSON of the expected shape.
    #[error("response body: {0}")]
    ResponseJson(JsonErrorClass),
    /// A body is not UTF-8.
    #[error("body is not UTF-8")]
    NotUtf8,
    /// A body exceeded the configured size bound and was not parsed.
    #[error("body larger than the configured bound")]
    BodyTooLarge,
    /// Prompt segment text hit the configured bound; later segments have truncated text.
    #[error("prompt segment text truncated")]
    SegmentsTruncated,
    /// The response framing is not what the API uses (e.g. NDJSON for Anthropic).
    #[error("unexpected response framing")]
    UnexpectedFraming,
    /// No response was observed.
    #[error("no response observed")]
    ResponseMissing,
    /// The exchange was not observed whole (capture gap, reset, early close).
    #[error("exchange incomplete")]
    Incomplete,
    /// A stream ended without its terminal event.
    #[error("stream ended without its final event")]
    StreamTruncated,
    /// An event-stream payload could not be decoded (base64).
    #[error("event-stream payload undecodable")]
    EventPayload,
}

/// Class of a `serde_json` failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum JsonErrorClass {
    /// Malformed JSON.
    #[error("syntax")]
    Syntax,
    /// Valid JSON of the wrong shape or types (including numbers out of range).
    #[error("data")]
    Data,
    /// Ended early (truncated).
    #[error("eof")]
    Eof,
    /// Nested deeper than the parser's recursion limit.
    #[error("too deep")]
    TooDeep,
}

impl JsonErrorClass {
    /// Classify a `serde_json` error.
    pub fn of(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Eof => JsonErrorClass::Eof,
            Category::Data => JsonErrorClass::Data,
            Category::Io => JsonErrorClass::Syntax,
            Category::Syntax if e.to_string().starts_with("recursion limit") => {
                JsonErrorClass::TooDeep
            }
            Category::Syntax => JsonErrorClass::Syntax,
        }
    }
}

/// Kind of a prompt segment, in cache-prefix order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// One tool definition.
    Tools,
    /// System prompt (or one system block).
    System,
    /// One whole message / input item.
    Message,
    /// One content block of a message (Anthropic).
    ContentBlock,
}

impl SegmentKind {
    /// The event spelling, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Tools => "tools",
            SegmentKind::System => "system",
            SegmentKind::Message => "message",
            SegmentKind::ContentBlock => "content_block",
        }
    }
}

/// Cache TTL requested by a `cache_control` marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum CacheTtl {
    /// Five minutes (Anthropic default).
    #[serde(rename = "5m")]
    FiveMinutes,
    /// One hour.
    #[serde(rename = "1h")]
    OneHour,
}

impl CacheTtl {
    /// The event spelling (`5m`, `1h`), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheTtl::FiveMinutes => "5m",
            CacheTtl::OneHour => "1h",
        }
    }
}

/// A cache breakpoint marker on a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CacheControl {
    /// Requested TTL.
    pub ttl: CacheTtl,
}

/// One piece of the prompt, in the provider's cache-prefix order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptSegment {
    /// What the segment is.
    pub kind: SegmentKind,
    /// Role of the message it belongs to, when it has one.
    pub role: Option<String>,
    /// Position within its list (tool i, system block i, message i, block i of a message).
    pub index: u32,
    /// For content blocks: index of the message holding the block.
    pub message_index: Option<u32>,
    /// Cache breakpoint on this segment.
    pub cache_control: Option<CacheControl>,
    /// Compact JSON of the segment. In memory only, for keyed hashing; never serialised.
    #[serde(skip)]
    pub text: String,
    /// The text was cut (or left empty) because the segment-text bound was reached.
    pub text_truncated: bool,
}

/// What the request asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RequestInfo {
    /// Requested model (body, URL path, or Azure deployment when the body names none).
    pub model: Option<String>,
    /// Azure deployment name from the path.
    pub deployment: Option<String>,
    /// Azure `api-version` query parameter.
    pub api_version: Option<String>,
    /// Streaming was requested.
    pub stream: bool,
    /// `stream_options.include_usage` (OpenAI-compatible) was sent.
    pub include_usage: bool,
    /// Output token cap (`max_tokens`, `max_completion_tokens`, `max_output_tokens`, …).
    pub max_tokens: Option<u64>,
    /// Number of messages / contents / input items.
    pub message_count: u32,
    /// Number of tool definitions.
    pub tool_count: u32,
    /// Top-level (automatic) Anthropic `cache_control`.
    pub cache_control: Option<CacheControl>,
    /// Prompt segments in cache-prefix order.
    pub segments: Vec<PromptSegment>,
}

/// Normalised rate-limit headers. `None` when absent or meaningless (Azure `-1`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RateLimit {
    /// Requests left in the window.
    pub remaining_requests: Option<u64>,
    /// Request limit of the window.
    pub limit_requests: Option<u64>,
    /// Tokens left in the window.
    pub remaining_tokens: Option<u64>,
    /// Token limit of the window.
    pub limit_tokens: Option<u64>,
    /// Seconds until the request window resets.
    pub reset_requests_s: Option<f64>,
    /// Seconds until the token window resets.
    pub reset_tokens_s: Option<f64>,
}

/// What the response said.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ResponseInfo {
    /// Model that answered.
    pub model: Option<String>,
    /// HTTP status; 0 when no response was seen.
    pub status: u16,
    /// Finish / stop reasons, one per choice or candidate.
    pub finish_reasons: Vec<String>,
    /// Error class (`rate_limit_error`, `http_429`, …), never the message.
    pub error_type: Option<String>,
    /// Rate-limit headers.
    pub rate_limit: RateLimit,
    /// `retry-after` / `retry-after-ms`, in seconds.
    pub retry_after_s: Option<f64>,
    /// A request id header was present.
    pub request_id_present: bool,
}

/// Token usage with OpenTelemetry semantics. All `None` and `reported == false` when the
/// provider sent none: never a made-up 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// The provider reported usage.
    pub reported: bool,
    /// Input tokens INCLUDING cache reads and cache writes.
    pub input_tokens: Option<u64>,
    /// Output tokens INCLUDING reasoning.
    pub output_tokens: Option<u64>,
    /// Input tokens read from cache.
    pub cache_read_input_tokens: Option<u64>,
    /// Input tokens written to cache.
    pub cache_creation_input_tokens: Option<u64>,
    /// Of the cache writes, those with a 5-minute TTL.
    pub cache_creation_5m: Option<u64>,
    /// Of the cache writes, those with a 1-hour TTL.
    pub cache_creation_1h: Option<u64>,
    /// Of the output, reasoning / thinking tokens.
    pub reasoning_output_tokens: Option<u64>,
}

/// Call timing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallTiming {
    /// Request start to response end, when both are known.
    pub duration_ns: Option<u64>,
    /// Request start to first stream chunk (streams only).
    pub time_to_first_chunk_ns: Option<u64>,
    /// Stream events (or body chunks) in the response.
    pub chunk_count: u32,
}

/// One recognised LLM call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LlmCall {
    /// Who served it.
    pub provider: Provider,
    /// Which API.
    pub api: Api,
    /// `gen_ai.operation.name`.
    pub operation: Operation,
    /// Host, without port.
    pub server_address: Option<String>,
    /// Port (443 when the authority names none: the traffic was TLS).
    pub server_port: Option<u16>,
    /// Request side.
    pub request: RequestInfo,
    /// Response side.
    pub response: ResponseInfo,
    /// Token usage.
    pub usage: Usage,
    /// Timing.
    pub timing: CallTiming,
    /// What could not be understood (deduplicated, in first-seen order).
    pub parse_errors: Vec<ParseErrorKind>,
}

impl LlmCall {
    /// Record a parse error once.
    pub fn error(&mut self, kind: ParseErrorKind) {
        if !self.parse_errors.contains(&kind) {
            self.parse_errors.push(kind);
        }
    }
}
