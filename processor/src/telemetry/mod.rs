//! The processor's own telemetry: Prometheus metrics in OpenMetrics text, with trace ids as exemplars, and the
//! names of everything it publishes.

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
pub(crate) mod rate_limit;
mod registry;
mod spans;
mod transport;
mod verdicts;
mod wal;

pub(crate) use event::InternalEvent;
pub use ironforge_wal::WalUsage;
pub(crate) use labels::MAX_PIPELINES;
pub use labels::{RequestOutcome, Transport};
pub use metrics::{Metrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE};
