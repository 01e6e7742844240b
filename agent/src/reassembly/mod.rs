//! Reassembly stage: turns capture chunks into HTTP exchanges.
//!
//! Owns: ordering chunk bytes per connection direction ([`stream`]), HTTP/1.1 ([`http1`]) and
//! HTTP/2 ([`http2`]) parsing, content decoding and streaming-body framing ([`body`],
//! [`sse`], [`eventstream`]), and the [`Reassembler`] driver. Does not own: LLM recognition
//! (the next stage) or capture.
pub mod body;
pub mod config;
pub mod driver;
pub mod eventstream;
pub mod exchange;
pub mod http1;
pub mod http2;
pub mod partial;
pub mod sse;
pub mod sse_events;
pub mod stream;
#[cfg(test)]
mod tests;

pub use config::{ConfigError, MalformedStats, ReassemblyConfig, ReassemblyStats};
pub use driver::Reassembler;
pub use exchange::*;
