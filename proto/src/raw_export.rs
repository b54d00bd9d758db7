//! OTLP `TraceService/Export` with the request as bytes: tonic reads the gRPC frame, inflates gzip and applies the
//! size limit, and the handler gets the protobuf message undecoded, to read in place (the processor's wire
//! decoder) or not at all (a receiver that measures the transport alone).
//!
//! ```
//! use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
//! use ironforge_proto::raw_export::RawTraceExport;
//! use tonic::codegen::{BoxFuture, Bytes};
//! use tonic::server::UnaryService;
//!
//! /// Answers every export and drops it.
//! #[derive(Clone)]
//! struct Drop;
//!
//! impl UnaryService<Bytes> for Drop {
//!     type Response = ExportTraceServiceResponse;
//!     type Future = BoxFuture<tonic::Response<ExportTraceServiceResponse>, tonic::Status>;
//!
//!     fn call(&mut self, _message: tonic::Request<Bytes>) -> Self::Future {
//!         Box::pin(async { Ok(tonic::Response::new(ExportTraceServiceResponse::default())) })
//!     }
//! }
//!
//! let service = RawTraceExport::new(Drop, 4 * 1024 * 1024);
//! let _server = tonic::transport::Server::builder().add_service(service);
//! ```

use std::convert::Infallible;
use std::fmt;
use std::task::{Context, Poll};

use bytes::Buf;
use tonic::Status;
use tonic::codec::{
    BufferSettings, Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings,
};
use tonic::codegen::{Body, BoxFuture, Bytes, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic_prost::ProstEncoder;

use crate::otlp::trace_service::ExportTraceServiceResponse;
use crate::otlp::trace_service::trace_service_server::SERVICE_NAME;

/// The HTTP/2 path of `TraceService/Export`, the method this server answers and an OTLP/gRPC client calls.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP `TraceService` server, handing each request's message to `H` as bytes. Other methods of the
/// service are UNIMPLEMENTED.
#[derive(Clone)]
pub struct RawTraceExport<H> {
    handler: H,
    max_request_bytes: usize,
}

impl<H> RawTraceExport<H> {
    /// Serves `handler`, refusing messages over `max_request_bytes` once inflated (RESOURCE_EXHAUSTED from
    /// tonic).
    pub fn new(handler: H, max_request_bytes: usize) -> Self {
        Self {
            handler,
            max_request_bytes,
        }
    }
}

impl<H> fmt::Debug for RawTraceExport<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTraceExport")
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

impl<H> NamedService for RawTraceExport<H> {
    const NAME: &'static str = SERVICE_NAME;
}

impl<H, B> Service<http::Request<B>> for RawTraceExport<H>
where
    H: UnaryService<Bytes, Response = ExportTraceServiceResponse> + Clone + Send + 'static,
    H::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != EXPORT_PATH {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let mut accept = EnabledCompressionEncodings::default();
        accept.enable(CompressionEncoding::Gzip);
        let mut grpc = Grpc::new(RawRequestCodec)
            .apply_compression_config(accept, EnabledCompressionEncodings::default())
            .apply_max_message_size_config(Some(self.max_request_bytes), None);
        let handler = self.handler.clone();
        Box::pin(async move { Ok(grpc.unary(handler, request).await) })
    }
}

/// Requests decode to their bytes; responses encode with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawRequestCodec;

impl Codec for RawRequestCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = ProstEncoder<ExportTraceServiceResponse>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let remaining = src.remaining();
        Ok(Some(src.copy_to_bytes(remaining)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_path_is_the_generated_service_s_export_method() {
        assert_eq!(EXPORT_PATH, format!("/{SERVICE_NAME}/Export"));
    }
}
