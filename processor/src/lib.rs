//! The IRONFORGE contract processor: OTLP in, verdicts and violation events out.
//!
//! ```text
//! receivers (otlp) ─▶ Monitor ─▶ Engine (contracts, trace assembly) ─▶ outputs (metrics, console, stream, logs)
//!                                                                    └▶ api (gRPC MonitorService, admin HTTP)
//! ```
//! The engine ([`ironforge_engine`]) is synchronous and transport-free; [`ironforge_engine::evaluate_batch`] runs it
//! over recorded spans.

pub mod analysis;
mod api;
pub mod check;
pub mod cli;
mod durability;
pub mod ingest;
pub mod monitor;
pub mod otlp;
mod outputs;
pub mod security_args;
pub mod server;
mod shutdown;

pub use ironforge_engine::{config, model, verdict};
