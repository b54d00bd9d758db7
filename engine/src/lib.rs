//! The IRONFORGE contract engine: contract files, the spans they read, trace assembly and verdicts.
//!
//! No transport and no clock: receivers hand it [`SpanRecord`](model::SpanRecord)s and the time, and it
//! hands back violations and verdicts. The live processor, `check` over recorded traces and the analysis
//! all run this one engine.
//!
//! ```
//! use std::sync::Arc;
//! use ironforge_engine::config::ContractFile;
//! use ironforge_engine::{ContractSet, Engine, Now};
//!
//! let file = ContractFile::embedded_default().expect("the embedded defaults are valid");
//! let mut engine = Engine::new(Arc::new(ContractSet::new(file, None)));
//! let events = engine.tick(Now::system());
//! assert!(events.is_empty());
//! ```

pub mod config;
pub mod decided_trace;
pub mod decode;
pub mod evaluate;
mod intern;
pub mod json;
pub mod model;
pub mod plan;
pub mod verdict;
pub mod wire;

pub use decided_trace::{DecidedSpan, DecidedTrace, Observation};
pub use evaluate::{
    Capacity, Contract, ContractSet, EVICTED, Engine, EngineEvent, EngineStats, Now,
    RESERVABLE_PART, Reservation, UNCOUNTED_PART, batch_bytes, decide_batch, evaluate_batch,
};

use std::time::Duration;

/// The engine is over its in-flight bounds; the client should retry after the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("processor overloaded; retry after {retry_after:?}")]
pub struct Overloaded {
    pub retry_after: Duration,
}
