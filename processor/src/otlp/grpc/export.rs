//! `TraceService/Export` over the raw request bytes: tonic frames and inflates the message, and the engine's
//! wire decoder reads it in place, so attributes no contract reads are never built as strings and vectors.

use std::sync::Arc;

use bytes::Buf;
use std::task::{Context, Poll};

use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use tonic::codec::{
    BufferSettings, Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings,
};
use tonic::codegen::{Body, BoxFuture, Bytes, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstEncoder;

use super::status;
use crate::ingest::SpanSink;
use crate::otlp::refusal::Refusal;
use crate::otlp::traces;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP `TraceService` server, reading requests as bytes.
#[derive(Clone)]
pub struct TraceExportServer {
    sink: Arc<dyn SpanSink>,
    max_request_bytes: usize,
}

impl std::fmt::Debug for TraceExportServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceExportServer")
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

impl TraceExportServer {
    pub fn new(sink: Arc<dyn SpanSink>, max_request_bytes: usize) -> Self {
        Self {
            sink,
            max_request_bytes,
        }
    }
}

impl NamedService for TraceExportServer {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> Service<http::Request<B>> for TraceExportServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
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
        let export = Export(Arc::clone(&self.sink));
        Box::pin(async move { Ok(grpc.unary(export, request).await) })
    }
}

struct Export(Arc<dyn SpanSink>);

impl UnaryService<Bytes> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Response<ExportTraceServiceResponse>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let sink = Arc::clone(&self.0);
        Box::pin(async move {
            // tonic has read the message by now; it counts from here until its spans are evaluated.
            let reservation = sink
                .reserve(request.get_ref().len())
                .map_err(|overloaded| status(Refusal::Overloaded(overloaded)))?;
            let (message, counts) = traces::accept(
                &*sink,
                traces::Body::Protobuf(request.get_ref()),
                reservation,
            )
            .await
            .map_err(status)?;
            let mut response = Response::new(message);
            // The service wrapper reports the request once it is answered, and reads the counts from here.
            response.extensions_mut().insert(counts);
            Ok(response)
        })
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
