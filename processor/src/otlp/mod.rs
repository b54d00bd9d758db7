//! The OTLP trace receivers: gRPC (`TraceService/Export`) and HTTP (`POST /v1/traces`).
//!
//! Both decode a request, turn it into [`SpanRecord`](crate::model::SpanRecord)s with [`convert`], hand them
//! to a [`SpanSink`](crate::ingest::SpanSink) and answer as the OTLP specification asks: a partial success
//! naming the refused spans, a retryable "unavailable" carrying the retry delay when the sink sheds load, and
//! non-retryable errors for requests that are too large or cannot be decoded.

pub mod convert;
pub mod grpc;
pub mod http;
mod limits;
mod rpc;

pub use convert::{Decoded, convert_request};
pub use grpc::{GrpcReceiver, GrpcTraceService, trace_service};
pub use http::router;
pub use limits::ReceiverLimits;
