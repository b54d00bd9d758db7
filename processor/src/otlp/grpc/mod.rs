//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` and
//! `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`.
//!
//! Status codes follow the OTLP specification, which decides what exporters retry:
//! - an oversized request is RESOURCE_EXHAUSTED without `RetryInfo`, which exporters do not retry (tonic's own
//!   OUT_OF_RANGE for it would be retried forever);
//! - an undecodable request is INVALID_ARGUMENT (tonic says INTERNAL);
//! - a request compressed with an unsupported encoding keeps tonic's UNIMPLEMENTED, as gRPC specifies;
//! - a sink that sheds load is UNAVAILABLE with `google.rpc.RetryInfo` in the status details.

mod export;
mod receiver;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use ironforge_proto::otlp::metrics_service::metrics_service_server::MetricsServiceServer;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{Body, BoxFuture, Bytes, Service, StdError, http};
use tonic::server::NamedService;
use tonic::{Code, Status};

pub use self::export::{Export, TraceExportServer};
pub use self::receiver::GrpcReceiver;
use super::refusal::Refusal;
use super::traces::{self, SpanCounts};
use super::{ReceiverLimits, rpc};
use crate::ingest::SpanSink;
use ironforge_telemetry::{RequestOutcome, Transport};

/// The trace service, as [`trace_service`] builds it.
pub type GrpcTraceService = GrpcService<TraceExportServer>;

/// The metrics service, as [`metrics_service`] builds it.
pub type GrpcMetricsService = GrpcService<MetricsServiceServer<GrpcReceiver>>;

/// The ready trace service: gzip accepted, the size limit applied after decompression, tonic's statuses for
/// requests it could not read restated as OTLP expects, and every export request reported to the sink. Add it
/// to a `tonic::transport::Server`.
pub fn trace_service(sink: Arc<dyn SpanSink>, limits: &ReceiverLimits) -> GrpcTraceService {
    GrpcService {
        inner: export::trace_export_server(Arc::clone(&sink), limits.max_request_bytes),
        reports: Some(sink),
    }
}

/// The ready metrics service, read under the same rules as [`trace_service`]. Its requests are not request
/// reports, which count spans; their data points reach the sink through
/// [`SpanSink::record_metric_points`].
pub fn metrics_service(sink: Arc<dyn SpanSink>, limits: &ReceiverLimits) -> GrpcMetricsService {
    let server = MetricsServiceServer::new(GrpcReceiver::new(sink))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limits.max_request_bytes);
    GrpcService {
        inner: server,
        reports: None,
    }
}

/// Why a whole request was refused, as a gRPC status: the one place refusals become statuses.
fn status(refusal: Refusal) -> Status {
    match refusal {
        Refusal::UnsupportedMediaType(detail) => Status::unimplemented(detail),
        Refusal::TooLarge(detail) => {
            Status::resource_exhausted(format!("request too large: {detail}"))
        }
        Refusal::Undecodable(detail) => {
            Status::invalid_argument(format!("undecodable request: {detail}"))
        }
        Refusal::Overloaded(overloaded) => {
            let message = overloaded.to_string();
            let details =
                rpc::status_protobuf(Code::Unavailable, &message, Some(overloaded.retry_after));
            Status::with_details(Code::Unavailable, message, Bytes::from(details))
        }
    }
}

/// A generated OTLP service with the statuses tonic produces while reading a request restated (see the module
/// documentation) and, when it has a sink to report to, each answered export request reported once. Built by
/// [`trace_service`] and [`metrics_service`].
#[derive(Clone)]
pub struct GrpcService<S> {
    inner: S,
    /// Where answered export requests are reported; `None` for a service whose requests are not reported.
    reports: Option<Arc<dyn SpanSink>>,
}

impl<S: fmt::Debug> fmt::Debug for GrpcService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcService")
            .field("inner", &self.inner)
            .field("reports", &self.reports.is_some())
            .finish()
    }
}

impl<S: NamedService> NamedService for GrpcService<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for GrpcService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>
        + NamedService,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let arrived = Instant::now();
        // A call to another method (the services define none, but a client may name one) is not an export.
        let reports = self
            .reports
            .clone()
            .filter(|_| is_export::<S>(request.uri().path()));
        let response = self.inner.call(request);
        Box::pin(async move {
            let (response, answered) = restate(response.await?);
            if let Some(sink) = reports {
                traces::report(&*sink, Transport::Grpc, answered, arrived);
            }
            Ok(response)
        })
    }
}

fn is_export<S: NamedService>(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|path| path.strip_prefix(S::NAME))
        == Some("/Export")
}

/// Restates a status in the response headers (a "trailers-only" response): one that [`GrpcReceiver`] never
/// answers (OUT_OF_RANGE, RESOURCE_EXHAUSTED, INTERNAL) was produced by tonic reading the request, before the
/// handler ran. Returns the response with how the request was answered: success carries the span counts the
/// handler left in the response extensions (none for metrics), taken out here, and a refusal its outcome.
fn restate(
    mut response: http::Response<tonic::body::Body>,
) -> (
    http::Response<tonic::body::Body>,
    Result<SpanCounts, RequestOutcome>,
) {
    let Some(framework) = Status::from_header_map(response.headers()) else {
        // Successful responses carry their status in trailers and pass untouched.
        let counts = response.extensions_mut().remove::<SpanCounts>();
        return (response, Ok(counts.unwrap_or_default()));
    };
    let refusal = match framework.code() {
        Code::OutOfRange | Code::ResourceExhausted => {
            Refusal::TooLarge(framework.message().to_owned())
        }
        Code::Internal => Refusal::Undecodable(framework.message().to_owned()),
        kept => return (response, Err(outcome(kept))),
    };
    let outcome = refusal.outcome();
    (status(refusal).into_http(), Err(outcome))
}

/// The outcome of a refusal whose status passes unchanged.
fn outcome(code: Code) -> RequestOutcome {
    match code {
        // The handler's answer to a sink shedding load.
        Code::Unavailable => RequestOutcome::Overloaded,
        // tonic's answer to an unsupported `grpc-encoding`.
        Code::Unimplemented => RequestOutcome::UnsupportedMediaType,
        Code::InvalidArgument => RequestOutcome::BadRequest,
        Code::Unauthenticated => RequestOutcome::Unauthenticated,
        _ => RequestOutcome::Internal,
    }
}
