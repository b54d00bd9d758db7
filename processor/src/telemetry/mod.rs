//! The processor's own telemetry: Prometheus metrics in OpenMetrics text, with trace ids as exemplars, and the
//! names of everything it publishes.

mod analysis;
#[cfg(test)]
mod exposition_tests;
mod labels;
pub mod metrics;
pub mod names;
pub(crate) mod rate_limit;
mod transport;
mod wal;

pub use metrics::{
    Metrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE, RequestOutcome, Transport,
};
