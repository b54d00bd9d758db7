//! `TraceService/Export` over the raw request bytes: tonic frames and inflates the message
//! ([`RawTraceExport`]), and the engine's wire decoder reads it in place, so attributes no contract reads are
//! never built as strings and vectors.

use std::sync::Arc;

use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use ironforge_proto::raw_export::RawTraceExport;
use tonic::codegen::{BoxFuture, Bytes};
use tonic::{Request, Response, Status};

use super::status;
use crate::ingest::SpanSink;
use crate::otlp::refusal::Refusal;
use crate::otlp::traces;

/// The OTLP `TraceService` server, reading requests as bytes.
pub type TraceExportServer = RawTraceExport<Export>;

/// Builds the server that hands each export to `sink`.
pub(super) fn trace_export_server(
    sink: Arc<dyn SpanSink>,
    max_request_bytes: usize,
) -> TraceExportServer {
    RawTraceExport::new(Export(sink), max_request_bytes)
}

/// One export request's bytes, accepted into the sink.
#[derive(Clone)]
pub struct Export(Arc<dyn SpanSink>);

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Export").finish_non_exhaustive()
    }
}

impl tonic::server::UnaryService<Bytes> for Export {
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
