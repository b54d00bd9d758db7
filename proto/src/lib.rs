//! The wire contract of the IRONFORGE performance monitor.
//!
//! - `monitor::v1` (feature `grpc`, on by default): the monitor's own protobuf API — `Violation`,
//!   `TraceVerdict` and the `MonitorService` gRPC client and server.
//! - `otlp` (feature `grpc`): the OTLP types of `opentelemetry-proto`, re-exported so the whole workspace
//!   uses one version.
//! - `raw_export` (feature `grpc`): the OTLP `TraceService/Export` server that hands each request's message to
//!   its handler as bytes.
//! - [`semconv`]: every attribute name, span kind, stage, event type and edge intent the instrumentation emits
//!   and the processor reads. No other crate spells these strings.
//!
//! ```
//! use ironforge_proto::semconv::{attr, SpanKind, Stage};
//!
//! assert_eq!(attr::SPAN_KIND, "ironforge.span.kind");
//! assert_eq!("session".parse::<SpanKind>(), Ok(SpanKind::Session));
//! assert_eq!(Stage::Discovery.as_str(), "discovery");
//! ```

pub mod semconv;

#[cfg(feature = "grpc")]
pub mod raw_export;

/// The monitor's own protobuf messages and services.
#[cfg(feature = "grpc")]
pub mod monitor {
    /// Version 1 of the `ironforge.monitor` API.
    pub mod v1 {
        #![allow(missing_docs, unused_qualifications, clippy::all, clippy::pedantic)]
        tonic::include_proto!("ironforge.monitor.v1");
    }
}

/// OTLP types, re-exported from `opentelemetry-proto`.
#[cfg(feature = "grpc")]
pub mod otlp {
    pub use opentelemetry_proto::tonic::collector::logs::v1 as logs_service;
    pub use opentelemetry_proto::tonic::collector::metrics::v1 as metrics_service;
    pub use opentelemetry_proto::tonic::collector::trace::v1 as trace_service;
    pub use opentelemetry_proto::tonic::common::v1 as common;
    pub use opentelemetry_proto::tonic::logs::v1 as logs;
    pub use opentelemetry_proto::tonic::metrics::v1 as metrics;
    pub use opentelemetry_proto::tonic::resource::v1 as resource;
    pub use opentelemetry_proto::tonic::trace::v1 as trace;
}
