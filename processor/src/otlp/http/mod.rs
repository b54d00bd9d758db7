//! OTLP/HTTP: `POST /v1/traces` and `POST /v1/metrics` with a protobuf or OTLP/JSON body, optionally
//! gzip-compressed.
//!
//! Answers follow the OTLP/HTTP specification: 200 with the export response in the request's encoding (for
//! traces, its `partial_success` naming refused spans), 400 for an undecodable body, 413 for a body past the
//! size limit, 415 for an unsupported content type or encoding, 503 with `Retry-After` when the sink sheds
//! load. Error bodies are a `google.rpc.Status`, in protobuf or JSON as the request was. Both paths read,
//! refuse and answer alike; only what is done with the decoded request differs (`Signal`).
//!
//! OTLP/JSON traces are read by the engine's OTLP/JSON reader, metrics by `opentelemetry-proto`'s serde
//! support; both follow the OTLP rules where plain protobuf JSON differs: trace and span ids are hex
//! (base64 ids are refused as undecodable), enums are integers, and 64-bit integers may be numbers or
//! strings.

mod answer;
mod read;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use ironforge_proto::otlp::metrics_service::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use prost::Message;

use self::read::Encoding;
use super::refusal::Refusal;
use super::traces::{self, SpanCounts};
use super::{ReceiverLimits, metrics};
use crate::ingest::{Reservation, SpanSink};
use ironforge_telemetry::{RequestOutcome, Transport};

/// The OTLP/HTTP path for traces.
pub const TRACES_PATH: &str = "/v1/traces";

/// The OTLP/HTTP path for metrics.
pub const METRICS_PATH: &str = "/v1/metrics";

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// `POST /v1/traces` and `POST /v1/metrics`; other methods on them get 405 with an `Allow` header.
pub fn router(sink: Arc<dyn SpanSink>, limits: &ReceiverLimits) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export::<Traces>))
        .route(METRICS_PATH, post(export::<Metrics>))
        .with_state(Receiver {
            sink,
            max_request_bytes: limits.max_request_bytes,
        })
}

#[derive(Clone)]
struct Receiver {
    sink: Arc<dyn SpanSink>,
    max_request_bytes: usize,
}

/// What differs between the signals a path serves: the messages, what is done with a decoded request, and
/// whether answered requests are reported.
trait Signal: 'static {
    /// The request as `accept` takes it.
    type Request: Send;
    type Response: Message;
    /// What accepting a request learned, for its report.
    type Tally: Send;

    /// Reads the (inflated) body in the given encoding.
    fn decode(body: Vec<u8>, encoding: Encoding) -> Result<Self::Request, Refusal>;

    /// Accepts the request; `reservation` holds its bytes against the memory budget until its spans are
    /// evaluated.
    fn accept(
        sink: &dyn SpanSink,
        request: Self::Request,
        reservation: Reservation,
    ) -> impl Future<Output = Result<(Self::Response, Self::Tally), Refusal>> + Send;

    /// Told once the request is answered: accepted with its tally, or refused whole with this outcome.
    fn report(sink: &dyn SpanSink, answered: Result<Self::Tally, RequestOutcome>, arrived: Instant);

    /// The response in the protobuf JSON mapping.
    fn response_json(response: &Self::Response) -> serde_json::Value;
}

struct Traces;

/// A trace request's body, read in place by the engine's decoder of its encoding once the read plan is
/// known.
enum TraceRequest {
    Protobuf(Vec<u8>),
    Json(String),
}

impl Signal for Traces {
    type Request = TraceRequest;
    type Response = ExportTraceServiceResponse;
    type Tally = SpanCounts;

    fn decode(body: Vec<u8>, encoding: Encoding) -> Result<TraceRequest, Refusal> {
        match encoding {
            Encoding::Protobuf => Ok(TraceRequest::Protobuf(body)),
            Encoding::Json => String::from_utf8(body)
                .map(TraceRequest::Json)
                .map_err(|error| {
                    Refusal::Undecodable(format!("invalid OTLP/JSON body: not UTF-8: {error}"))
                }),
        }
    }

    async fn accept(
        sink: &dyn SpanSink,
        request: TraceRequest,
        reservation: Reservation,
    ) -> Result<(ExportTraceServiceResponse, SpanCounts), Refusal> {
        let body = match &request {
            TraceRequest::Protobuf(bytes) => traces::Body::Protobuf(bytes),
            TraceRequest::Json(text) => traces::Body::Json(text),
        };
        traces::accept(sink, body, reservation).await
    }

    fn report(sink: &dyn SpanSink, answered: Result<SpanCounts, RequestOutcome>, arrived: Instant) {
        traces::report(sink, Transport::Http, answered, arrived);
    }

    fn response_json(response: &ExportTraceServiceResponse) -> serde_json::Value {
        let partial = response.partial_success.as_ref();
        answer::response_json(
            "rejectedSpans",
            partial.map(|partial| (partial.rejected_spans, partial.error_message.as_str())),
        )
    }
}

struct Metrics;

impl Signal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    type Tally = ();

    fn decode(body: Vec<u8>, encoding: Encoding) -> Result<ExportMetricsServiceRequest, Refusal> {
        read::message(&body, encoding)
    }

    async fn accept(
        sink: &dyn SpanSink,
        request: ExportMetricsServiceRequest,
        _reservation: Reservation,
    ) -> Result<(ExportMetricsServiceResponse, ()), Refusal> {
        Ok((metrics::accept(sink, Transport::Http, &request), ()))
    }

    /// Metrics requests are not request reports, which count spans; their points were counted on accepting.
    fn report(_: &dyn SpanSink, _: Result<(), RequestOutcome>, _: Instant) {}

    fn response_json(response: &ExportMetricsServiceResponse) -> serde_json::Value {
        let partial = response.partial_success.as_ref();
        answer::response_json(
            "rejectedDataPoints",
            partial.map(|partial| (partial.rejected_data_points, partial.error_message.as_str())),
        )
    }
}

async fn export<S: Signal>(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let (encoding, handled) = match read::encoding(&headers) {
        // The client's encoding is unknown, so the error is spelled in the readable one.
        Err(refusal) => (Encoding::Json, Err(refusal)),
        Ok(encoding) => (
            encoding,
            handle::<S>(&receiver, encoding, &headers, body).await,
        ),
    };
    let (response, answered) = match handled {
        Ok((message, tally)) => (answer::success::<S>(encoding, &message), Ok(tally)),
        Err(refusal) => {
            let outcome = refusal.outcome();
            (answer::refusal(refusal, encoding), Err(outcome))
        }
    };
    S::report(&*receiver.sink, answered, arrived);
    response
}

async fn handle<S: Signal>(
    receiver: &Receiver,
    encoding: Encoding,
    headers: &HeaderMap,
    body: Body,
) -> Result<(S::Response, S::Tally), Refusal> {
    // Reserved as the body arrives, not as declared: an upload that declares megabytes and stalls holds
    // only what it sent, so stalled clients cannot shut everyone else out until their timeout. A body
    // declared past the limit is refused as too large by the read, not reserved.
    let declared_too_large = read::declared_length(headers)
        .is_some_and(|declared| declared > receiver.max_request_bytes);
    let reserved = if declared_too_large {
        Ok(Reservation::none())
    } else {
        receiver.sink.reserve(0)
    };
    let mut reservation = match reserved {
        Ok(reservation) => reservation,
        Err(overloaded) => {
            // Read and dropped chunk by chunk, so the client, still sending, hears the 503 and its retry
            // delay rather than a connection closed under it.
            read::discard(body, receiver.max_request_bytes).await;
            return Err(Refusal::Overloaded(overloaded));
        }
    };
    let body = read::body(body, headers, receiver.max_request_bytes, &mut reservation).await?;
    S::accept(&*receiver.sink, S::decode(body, encoding)?, reservation).await
}
