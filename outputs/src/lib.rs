//! Where the IRONFORGE processor's violation events go once decided, apart from the server: the gate that
//! folds floods, the bounded list of recent violations the HTTP API pages through, and the OTLP logs exporter
//! that delivers each violation downstream as a log record.
//!
//! - [`gate::EventGate`] aggregates violation events per pipeline, contract and stage within a window, under
//!   an hourly budget, so a flood is folded and counted instead of drowning the console, the watch stream
//!   and the logs endpoint.
//! - [`RecentViolations`] keeps the newest violations in memory, with positions a cursor can resume from.
//! - [`otlp_logs::OtlpLogsExporter`] queues violation log records on disk (checksummed segments with a bound
//!   in bytes) so a slow or dead endpoint neither blocks the senders nor loses what was accepted, and
//!   delivers them in batches, retrying the codes OTLP calls retryable after the endpoint's `RetryInfo` delay
//!   or a capped, jittered backoff.
//!
//! What it delivers, drops and retries is counted through `ironforge-telemetry`, and endpoints are printed
//! through `ironforge-security`'s redaction. The fan-out that feeds these (metrics, console, watch stream,
//! analysis) is the processor's.

mod disk_queue;
mod events;
pub mod gate;
mod logs_worker;
pub mod otlp_logs;
mod recent;
mod retry;

#[cfg(any(test, feature = "test-support"))]
pub use recent::test_support;
pub use recent::{RecentViolations, ViolationPage};
