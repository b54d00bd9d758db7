//! The IRONFORGE processor's own telemetry: Prometheus metrics in OpenMetrics text, with trace ids as exemplars,
//! and the names of everything it publishes.
//!
//! - [`names`] spells every metric, label and log target once: they are the public contract with the
//!   dashboards and alert rules, and the exposition is held against recorded copies in the unit tests.
//! - [`Metrics`] is the one handle every task records through; each group of metrics (verdicts, spans, ingest,
//!   outputs, health, transport, write-ahead log, analysis) is declared in the module of its job and
//!   registered through one helper.
//! - [`InternalEvent`] is the contract of the processor's events about itself (a log line and its counter in
//!   one call), and [`rate_limit`] keeps a recurring failure to one log line per interval.
//! - [`Transport`] and [`RequestOutcome`] are the closed label value sets of the receivers.
//!
//! It records the engine's, the write-ahead log's and the report's types and depends on nothing of the
//! processor's; it serves nothing itself.

mod analysis;
mod event;
#[cfg(test)]
mod exposition_tests;
mod health;
mod ingest;
mod labels;
mod metrics;
pub mod names;
mod outputs;
mod pipelines;
pub mod rate_limit;
mod registry;
mod spans;
mod transport;
mod verdicts;
mod wal;

pub use event::InternalEvent;
pub use ingest::MemoryUsage;
pub use labels::{MemoryScope, RequestOutcome, Transport};
pub use metrics::{Metrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE};
