//! OTLP/HTTP answers, whatever the signal: the export response on success and a `google.rpc.Status` on
//! refusal, each in the request's encoding.

use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prost::Message;
use tonic::Code;

use super::read::Encoding;
use super::{JSON, PROTOBUF, Signal};
use crate::otlp::refusal::Refusal;
use crate::otlp::rpc;

/// 200 with the export response.
pub(super) fn success<S: Signal>(encoding: Encoding, response: &S::Response) -> Response {
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => S::response_json(response).to_string().into_bytes(),
    };
    with_body(StatusCode::OK, encoding, body)
}

/// An export response in the protobuf JSON mapping, given its partial success as the count of refused items
/// and the message: an unset `partial_success` is omitted and the int64 count is a string.
pub(super) fn response_json(
    rejected_field: &str,
    partial_success: Option<(i64, &str)>,
) -> serde_json::Value {
    match partial_success {
        None => serde_json::json!({}),
        Some((rejected, message)) => serde_json::json!({
            "partialSuccess": {
                rejected_field: rejected.to_string(),
                "errorMessage": message,
            }
        }),
    }
}

/// The one place refusals become HTTP responses.
pub(super) fn refusal(refusal: Refusal, encoding: Encoding) -> Response {
    let (status, code) = match &refusal {
        Refusal::UnsupportedMediaType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::InvalidArgument)
        }
        Refusal::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted),
        Refusal::Undecodable(_) => (StatusCode::BAD_REQUEST, Code::InvalidArgument),
        Refusal::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable),
    };
    let (message, retry_after) = match refusal {
        Refusal::UnsupportedMediaType(message)
        | Refusal::TooLarge(message)
        | Refusal::Undecodable(message) => (message, None),
        Refusal::Overloaded(overloaded) => (overloaded.to_string(), Some(overloaded.retry_after)),
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
    fn a_partial_success_is_spelled_in_the_json_mapping() {
        assert_eq!(response_json("rejectedSpans", None), serde_json::json!({}));
        assert_eq!(
            response_json("rejectedDataPoints", Some((3, "bad"))),
            serde_json::json!({"partialSuccess": {"rejectedDataPoints": "3", "errorMessage": "bad"}})
        );
    }
}
