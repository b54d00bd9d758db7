//! The IRONFORGE contract processor: OTLP in, verdicts and violation events out.

pub mod config;
pub mod engine;
pub mod ingest;
pub mod model;
pub mod verdict;
