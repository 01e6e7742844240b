//! Reassembly stage: turns capture chunks into HTTP exchanges (placeholder; see issue 4).
pub mod exchange;
pub use exchange::*;
