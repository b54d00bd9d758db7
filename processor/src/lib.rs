//! The IRONFORGE contract processor: OTLP in, verdicts and violation events out.
//!
//! ```text
//! receivers (otlp) ─▶ Monitor ─▶ Engine (contracts, trace assembly) ─▶ outputs (metrics, console, stream, logs)
//!                                                                    └▶ api (gRPC MonitorService, admin HTTP)
//! ```
//! The engine is synchronous and transport-free; [`engine::evaluate_batch`] runs it over recorded spans.

pub mod api;
pub mod config;
pub mod engine;
pub mod ingest;
pub mod internal_events;
pub mod model;
pub mod monitor;
pub mod otlp;
pub mod outputs;
pub mod server;
pub mod telemetry;
pub mod verdict;
