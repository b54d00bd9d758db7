//! Instrumentation for IRONFORGE pipelines: `tracing` spans and OpenTelemetry metrics, exported
//! over OTLP, carrying the facts the IRONFORGE monitor checks its contracts against.
//!
//! ```
//! use ironforge_instrument::semconv::Stage;
//! use ironforge_instrument::{Config, GraphFacts};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! #[tracing::instrument(skip_all, fields(
//!     ironforge.span.kind = "session",
//!     ironforge.stage = %stage,
//!     ironforge.session.id = %id,
//! ))]
//! fn process_session(stage: Stage, id: &str) {
//!     // ... build the session's graph and score its patterns ...
//!     ironforge_instrument::record_graph(&GraphFacts {
//!         event_types: vec!["Expansion".into(), "Retracement".into()],
//!         edge_intents: vec!["TEMPORAL_NEXT".into()],
//!         node_feature_dim: 51,
//!         edge_feature_dim: 20,
//!         cross_session_edges: 0,
//!         htf_open_candle_reads: 0,
//!     });
//!     ironforge_instrument::record_authenticity(0.93);
//!     ironforge_instrument::record_memory();
//! }
//!
//! #[tracing::instrument(skip_all, fields(ironforge.span.kind = "stage", ironforge.stage = %stage))]
//! fn run_stage(stage: Stage, sessions: &[&str]) {
//!     for id in sessions {
//!         process_session(stage, id);
//!     }
//! }
//!
//! #[tracing::instrument(skip_all, fields(
//!     ironforge.span.kind = "run",
//!     ironforge.run.session_count = sessions.len() as i64,
//! ))]
//! fn run(sessions: &[&str]) {
//!     for stage in Stage::ALL {
//!         run_stage(*stage, sessions);
//!     }
//!     ironforge_instrument::record_memory();
//!     ironforge_instrument::record_overhead();
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Endpoint, protocol, headers and timeout also come from the OTEL_* environment variables.
//!     let config = Config::builder()
//!         .service_name("ironforge-replay")
//! #       // Keeps the doctest away from a collector that may be running on the default port.
//! #       .endpoint("http://127.0.0.1:9")
//!         .build();
//!     let instrumentation = ironforge_instrument::init(config)?;
//!
//!     // A binary would call `instrumentation.install_default_subscriber()?` instead.
//!     let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
//!     tracing::subscriber::with_default(subscriber, || run(&["NY_AM_2025-08-04", "LONDON_2025-08-04"]));
//!
//!     println!("instrumentation cost: {:?}", instrumentation.overhead());
//!     // Dropping the guard flushes too; `shutdown` also says whether everything was delivered.
//!     if let Err(e) = instrumentation.shutdown() {
//!         eprintln!("telemetry not fully delivered: {e}");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Marking spans
//!
//! Pipelines use plain [`#[tracing::instrument]`](macro@tracing::instrument) and say what a span is with
//! fields named by the [`semconv`] conventions. `tracing` accepts dotted field names, and the
//! OpenTelemetry layer turns every field into an attribute of the same name: a `&str` or `%value`
//! field becomes a string attribute, `i64` an integer, `f64` a float, `bool` a boolean. Unsigned
//! integers (`u64`, `usize`) become *strings* (`tracing-opentelemetry` 0.34 formats them), so pass
//! counts as `i64`, as the example does.
//!
//! | field | value | on |
//! |---|---|---|
//! | `ironforge.span.kind` | `run`, `init`, `stage`, `session`, `pattern` | every monitored span |
//! | `ironforge.stage` | `discovery`, `confluence`, `validation`, `reporting` | stage and session spans |
//! | `ironforge.session.id` | e.g. `NY_AM_2025-08-04` | session spans |
//! | `ironforge.run.session_count` | integer | the run span |
//!
//! Give the kind when the span is created, as above: the sampler reads it from the span's fields
//! when the span is first entered, and a kind recorded after that is not seen by it. Spans without a kind are not monitored:
//! they are exported according to [`Sampling`] but counted in no metric.
//!
//! Facts that are known only while the span runs go on the current span through the helpers:
//! [`record_graph`], [`record_authenticity`], [`record_memory`] and, on the run span,
//! [`record_overhead`]. They write attributes with
//! [`OpenTelemetrySpanExt::set_attribute`](tracing_opentelemetry::OpenTelemetrySpanExt::set_attribute),
//! because tracing fields cannot hold arrays.
//!
//! # Metrics
//!
//! Beside the spans, over the same OTLP connection: `ironforge.stage.duration` and
//! `ironforge.session.duration` (histograms, seconds, attribute `ironforge.stage`) and
//! `ironforge.sessions.processed` (counter) when stage and session spans close;
//! `ironforge.pattern.authenticity` (histogram) and `process.memory.usage` (gauge, bytes) from the
//! helpers; `ironforge.instrument.overhead` (counter, seconds) and
//! `ironforge.instrument.export.failures` (counter) about the instrumentation itself.
//!
//! # What it never does
//!
//! It installs no global tracer or meter provider, propagator or subscriber unless asked
//! ([`Instrumentation::install_default_subscriber`]); it never decides whether a fact breaks a
//! contract; and export failures never block, slow down or fail the pipeline: they are counted
//! ([`Instrumentation::export_failures`]) and logged at most once per metrics interval, under the
//! target [`EXPORT_LOG_TARGET`].
#![warn(missing_docs)]

mod config;
mod error;
mod export;
mod facts;
mod guard;
mod init;
#[cfg(feature = "grpc")]
mod io;
mod layer;
mod memory;
mod overhead;
mod processor;
mod sampler;
mod state;

pub use config::{Config, ConfigBuilder, Protocol, Sampling, UnknownProtocol};
pub use error::{FlushError, InitError, ShutdownCause, ShutdownError};
pub use export::{EXPORT_LOG_TARGET, ExportReport};
pub use facts::{GraphFacts, record_authenticity, record_graph, record_memory, record_overhead};
pub use guard::Instrumentation;
pub use init::init;
pub use ironforge_proto::semconv;
pub use memory::{ProcessMemory, process_memory};
pub use overhead::Overhead;
