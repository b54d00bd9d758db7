//! The OTLP receivers: traces over gRPC (`TraceService/Export`) and HTTP (`POST /v1/traces`), and metrics over
//! gRPC (`MetricsService/Export`) and HTTP (`POST /v1/metrics`).
//!
//! A trace request is decoded, turned into [`SpanRecord`](crate::model::SpanRecord)s with [`convert`] and handed
//! to a [`SpanSink`](crate::ingest::SpanSink); the answer is what the OTLP specification asks: a partial success
//! naming the refused spans, a retryable "unavailable" carrying the retry delay when the sink sheds load, and
//! non-retryable errors for requests that are too large or cannot be decoded. Every answered trace request is
//! told to the sink once as a [`RequestReport`](crate::ingest::RequestReport).
//!
//! The processor judges traces only. Metrics are acknowledged so that a pipeline exporting metrics beside its
//! spans to the same endpoint sees no export failures: a metrics request is decoded in full (malformed input is
//! refused exactly as a malformed trace request is), its data points are counted for the sink, and it succeeds.

pub mod convert;
pub mod grpc;
pub mod http;
mod limits;
mod metrics;
mod refusal;
mod rpc;
mod traces;

pub use convert::{Decoded, convert_request};
pub use grpc::{GrpcMetricsService, GrpcService, GrpcTraceService, metrics_service, trace_service};
pub use http::{METRICS_PATH, TRACES_PATH, router};
pub use limits::ReceiverLimits;
