//! The OTLP gRPC services on a loopback port, and a client for bytes no well-behaved client sends.

use std::marker::PhantomData;
use std::sync::Arc;

use ironforge_processor::ingest::SpanSink;
use ironforge_processor::otlp::{ReceiverLimits, metrics_service, trace_service};
use prost::Message;
use prost::bytes::BufMut;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};

use super::loopback_listener;

pub(crate) const TRACES_EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
pub(crate) const METRICS_EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// Serves the trace and metrics services, as the processor does; returns the endpoint URL.
pub(crate) async fn serve_grpc(sink: Arc<dyn SpanSink>, limits: &ReceiverLimits) -> String {
    let listener = loopback_listener().await;
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        Server::builder()
            .add_service(trace_service(Arc::clone(&sink), limits))
            .add_service(metrics_service(sink, limits))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    endpoint
}

/// Sends `body` as the request message of the method at `path`, and reads the answer as an `R`.
pub(crate) async fn call_raw<R>(
    endpoint: &str,
    path: &'static str,
    body: Vec<u8>,
) -> Result<R, Status>
where
    R: Message + Default + Send + 'static,
{
    let channel = Channel::from_shared(endpoint.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(path),
        RawCodec(PhantomData),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Asserts the status the services answer to a request message they cannot decode.
pub(crate) fn assert_undecodable(status: &Status) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with("undecodable request: "),
        "{status:?}"
    );
}

/// Sends a request message as given bytes and decodes the response as an `R`.
#[derive(Debug)]
struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R> Clone for RawCodec<R> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<R: Message + Default + Send + 'static> Codec for RawCodec<R> {
    type Encode = Vec<u8>;
    type Decode = R;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self::Encoder {
        self.clone()
    }

    fn decoder(&mut self) -> Self::Decoder {
        self.clone()
    }
}

impl<R: Send + 'static> Encoder for RawCodec<R> {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl<R: Message + Default + Send + 'static> Decoder for RawCodec<R> {
    type Item = R;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, Status> {
        R::decode(src)
            .map(Some)
            .map_err(|error| Status::internal(error.to_string()))
    }
}
