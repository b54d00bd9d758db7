//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! Status codes follow the OTLP specification, which decides what exporters retry:
//! - an oversized request is RESOURCE_EXHAUSTED without `RetryInfo`, which exporters do not retry (tonic's own
//!   OUT_OF_RANGE for it would be retried forever);
//! - an undecodable request is INVALID_ARGUMENT (tonic says INTERNAL);
//! - a sink that sheds load is UNAVAILABLE with `google.rpc.RetryInfo` in the status details.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use ironforge_proto::otlp::trace_service::trace_service_server::{
    SERVICE_NAME, TraceService, TraceServiceServer,
};
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::codec::CompressionEncoding;
use tonic::codegen::{Body, BoxFuture, Bytes, Service, StdError, http};
use tonic::server::NamedService;
use tonic::{Code, Request, Response, Status};

use super::convert::convert_request;
use super::{ReceiverLimits, rpc};
use crate::ingest::{Overloaded, SpanSink};

/// The `TraceService` implementation: decode, convert, submit.
#[derive(Clone)]
pub struct GrpcReceiver {
    sink: Arc<dyn SpanSink>,
}

impl GrpcReceiver {
    pub fn new(sink: Arc<dyn SpanSink>) -> Self {
        Self { sink }
    }
}

impl fmt::Debug for GrpcReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcReceiver").finish_non_exhaustive()
    }
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let decoded = convert_request(request.into_inner());
        let partial_success = decoded.partial_success();
        if !decoded.spans.is_empty() {
            self.sink
                .submit(decoded.spans)
                .map_err(|overloaded| status(Refusal::Overloaded(overloaded)))?;
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

/// Why a whole request was refused.
enum Refusal {
    TooLarge(String),
    Undecodable(String),
    Overloaded(Overloaded),
}

/// The one place refusals become gRPC statuses.
fn status(refusal: Refusal) -> Status {
    match refusal {
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

/// The ready service: gzip accepted, the size limit applied after decompression, and tonic's statuses for
/// requests it could not read restated as OTLP expects. Add it to a `tonic::transport::Server`.
pub fn trace_service(sink: Arc<dyn SpanSink>, limits: &ReceiverLimits) -> GrpcTraceService {
    GrpcTraceService {
        inner: TraceServiceServer::new(GrpcReceiver::new(sink))
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limits.max_request_bytes),
    }
}

/// [`TraceServiceServer`] with the statuses tonic produces while reading a request restated (see the module
/// documentation). Built by [`trace_service`].
#[derive(Debug, Clone)]
pub struct GrpcTraceService {
    inner: TraceServiceServer<GrpcReceiver>,
}

impl NamedService for GrpcTraceService {
    const NAME: &'static str = SERVICE_NAME;
}

impl<B> Service<http::Request<B>> for GrpcTraceService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<http::Request<B>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map(restate) })
    }
}

/// A status in the response headers (a "trailers-only" response) was produced before the handler ran,
/// because [`GrpcReceiver::export`] never answers OUT_OF_RANGE, RESOURCE_EXHAUSTED or INTERNAL: those come from tonic reading
/// the request, and are restated. Successful responses carry their status in trailers and pass untouched.
fn restate(response: http::Response<tonic::body::Body>) -> http::Response<tonic::body::Body> {
    let Some(framework) = Status::from_header_map(response.headers()) else {
        return response;
    };
    let refusal = match framework.code() {
        Code::OutOfRange | Code::ResourceExhausted => {
            Refusal::TooLarge(framework.message().to_owned())
        }
        Code::Internal => Refusal::Undecodable(framework.message().to_owned()),
        _ => return response,
    };
    status(refusal).into_http()
}
