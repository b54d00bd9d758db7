//! OTLP/HTTP: `POST /v1/traces` with a protobuf or OTLP/JSON body, optionally gzip-compressed.
//!
//! Answers follow the OTLP/HTTP specification: 200 with an `ExportTraceServiceResponse` in the request's
//! encoding (its `partial_success` naming refused spans), 400 for an undecodable body, 413 for a body past
//! the size limit, 415 for an unsupported content type or encoding, 503 with `Retry-After` when the sink
//! sheds load. Error bodies are a `google.rpc.Status`, in protobuf or JSON as the request was.
//!
//! OTLP/JSON is read by `opentelemetry-proto`'s serde support, which follows the OTLP rules where plain
//! protobuf JSON differs: trace and span ids are hex (base64 ids are refused as undecodable), enums are
//! integers, and 64-bit integers may be numbers or strings.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flate2::read::MultiGzDecoder;
use futures::StreamExt;
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use tonic::Code;

use super::convert::convert_request;
use super::{ReceiverLimits, rpc};
use crate::ingest::{Overloaded, SpanSink};

/// The OTLP/HTTP path for traces.
pub const TRACES_PATH: &str = "/v1/traces";

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// `POST /v1/traces`; other methods on it get 405 with an `Allow` header.
pub fn router(sink: Arc<dyn SpanSink>, limits: &ReceiverLimits) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export))
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// Why a whole request was refused.
enum Refusal {
    UnsupportedMediaType(String),
    TooLarge(String),
    Undecodable(String),
    Overloaded(Overloaded),
}

async fn export(State(receiver): State<Receiver>, headers: HeaderMap, body: Body) -> Response {
    let encoding = match encoding(&headers) {
        Ok(encoding) => encoding,
        // The client's encoding is unknown, so the error is spelled in the readable one.
        Err(refusal) => return refuse(refusal, Encoding::Json),
    };
    match accept(&receiver, encoding, &headers, body).await {
        Ok(response) => answer(encoding, &response),
        Err(refusal) => refuse(refusal, encoding),
    }
}

async fn accept(
    receiver: &Receiver,
    encoding: Encoding,
    headers: &HeaderMap,
    body: Body,
) -> Result<ExportTraceServiceResponse, Refusal> {
    let gzip = is_gzip(headers)?;
    let limit = receiver.max_request_bytes;
    let mut bytes = read_body(body, headers, limit).await?;
    if gzip {
        bytes = gunzip(&bytes, limit)?;
    }
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes.as_slice())
            .map_err(|error| Refusal::Undecodable(format!("invalid protobuf body: {error}")))?,
        Encoding::Json => serde_json::from_slice(&bytes)
            .map_err(|error| Refusal::Undecodable(format!("invalid OTLP/JSON body: {error}")))?,
    };
    drop(bytes);
    let decoded = convert_request(request);
    let partial_success = decoded.partial_success();
    if !decoded.spans.is_empty() {
        receiver
            .sink
            .submit(decoded.spans)
            .map_err(Refusal::Overloaded)?;
    }
    Ok(ExportTraceServiceResponse { partial_success })
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, Refusal> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"))
        .unwrap_or("(none)");
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(PROTOBUF) {
        Ok(Encoding::Protobuf)
    } else if media_type.eq_ignore_ascii_case(JSON) {
        Ok(Encoding::Json)
    } else {
        Err(Refusal::UnsupportedMediaType(format!(
            "unsupported Content-Type {content_type:?}; expected {PROTOBUF} or {JSON}"
        )))
    }
}

fn is_gzip(headers: &HeaderMap) -> Result<bool, Refusal> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(false);
    };
    let coding = value.to_str().unwrap_or("(not text)").trim();
    if coding.eq_ignore_ascii_case("gzip") {
        Ok(true)
    } else if coding.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else {
        Err(Refusal::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {coding:?}; expected gzip or identity"
        )))
    }
}

/// Reads the body, stopping as soon as it passes `limit` rather than buffering all of it.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Vec<u8>, Refusal> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if let Some(declared) = declared.filter(|&declared| declared > limit) {
        return Err(Refusal::TooLarge(format!(
            "request body of {declared} bytes exceeds the limit of {limit} bytes"
        )));
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|error| Refusal::Undecodable(format!("failed to read the body: {error}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(Refusal::TooLarge(format!(
                "request body exceeds the limit of {limit} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Inflates at most one byte past `limit`, so a small body that inflates enormously costs no more than the
/// limit.
fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, Refusal> {
    let mut inflated = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    MultiGzDecoder::new(compressed)
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut inflated)
        .map_err(|error| Refusal::Undecodable(format!("invalid gzip body: {error}")))?;
    if inflated.len() > limit {
        return Err(Refusal::TooLarge(format!(
            "request body inflates past the limit of {limit} bytes"
        )));
    }
    Ok(inflated)
}

fn answer(encoding: Encoding, response: &ExportTraceServiceResponse) -> Response {
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => response_json(response),
    };
    with_body(StatusCode::OK, encoding, body)
}

/// `ExportTraceServiceResponse` in the protobuf JSON mapping: an unset `partial_success` is omitted and the
/// int64 `rejectedSpans` is a string.
fn response_json(response: &ExportTraceServiceResponse) -> Vec<u8> {
    let json = match &response.partial_success {
        None => serde_json::json!({}),
        Some(partial) => serde_json::json!({
            "partialSuccess": {
                "rejectedSpans": partial.rejected_spans.to_string(),
                "errorMessage": partial.error_message,
            }
        }),
    };
    json.to_string().into_bytes()
}

/// The one place refusals become HTTP responses.
fn refuse(refusal: Refusal, encoding: Encoding) -> Response {
    let (status, code, message, retry_after) = match refusal {
        Refusal::UnsupportedMediaType(message) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            message,
            None,
        ),
        Refusal::TooLarge(message) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            message,
            None,
        ),
        Refusal::Undecodable(message) => (
            StatusCode::BAD_REQUEST,
            Code::InvalidArgument,
            message,
            None,
        ),
        Refusal::Overloaded(overloaded) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            overloaded.to_string(),
            Some(overloaded.retry_after),
        ),
    };
    let body = match encoding {
        Encoding::Protobuf => rpc::status_protobuf(code, &message, retry_after),
        Encoding::Json => rpc::status_json(code, &message, retry_after),
    };
    let mut response = with_body(status, encoding, body);
    if let Some(delay) = retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds(delay)));
    }
    response
}

/// `Retry-After` counts whole seconds: round up so the client never comes back early.
fn retry_after_seconds(delay: Duration) -> u64 {
    delay.as_secs() + u64::from(delay.subsec_nanos() > 0)
}

fn with_body(status: StatusCode, encoding: Encoding, body: Vec<u8>) -> Response {
    let content_type = match encoding {
        Encoding::Protobuf => PROTOBUF,
        Encoding::Json => JSON,
    };
    (status, [(CONTENT_TYPE, content_type)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 0);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_seconds(Duration::from_nanos(1)), 1);
    }

    #[test]
    fn media_types_ignore_case_and_parameters() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            encoding(&headers).ok()
        };
        assert_eq!(
            with("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(with("Application/X-Protobuf"), Some(Encoding::Protobuf));
        assert_eq!(with("application/protobuf"), None);
        assert_eq!(encoding(&HeaderMap::new()).ok(), None);
    }
}
