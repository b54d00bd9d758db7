//! The two `google.rpc` messages OTLP error answers carry: `Status` (the body of an OTLP/HTTP error, and the
//! `grpc-status-details-bin` of a gRPC one) and `RetryInfo` (the delay an exporter must wait before retrying).
//! They are declared here rather than generated because only these two are needed.

use std::time::Duration;

use prost::Message;
use prost_types::Any;
use tonic::Code;

const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<prost_types::Duration>,
}

fn proto_duration(delay: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
        // Below 1e9, so it always fits.
        nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
    }
}

/// A `google.rpc.Status` in protobuf, with a `RetryInfo` detail when a retry delay is given.
pub(crate) fn status_protobuf(code: Code, message: &str, retry_after: Option<Duration>) -> Vec<u8> {
    let details = retry_after
        .map(|delay| Any {
            type_url: RETRY_INFO_TYPE_URL.to_owned(),
            value: RetryInfo {
                retry_delay: Some(proto_duration(delay)),
            }
            .encode_to_vec(),
        })
        .into_iter()
        .collect();
    RpcStatus {
        code: code as i32,
        message: message.to_owned(),
        details,
    }
    .encode_to_vec()
}

/// The same `google.rpc.Status` in the protobuf JSON mapping (`Any` carries `@type`, `Duration` is `"1.5s"`).
pub(crate) fn status_json(code: Code, message: &str, retry_after: Option<Duration>) -> Vec<u8> {
    let mut status = serde_json::json!({ "code": code as i32, "message": message });
    if let Some(delay) = retry_after {
        status["details"] = serde_json::json!([{
            "@type": RETRY_INFO_TYPE_URL,
            "retryDelay": format!("{}.{:09}s", delay.as_secs(), delay.subsec_nanos()),
        }]);
    }
    status.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_round_trips_through_the_status_detail() {
        let bytes = status_protobuf(Code::Unavailable, "busy", Some(Duration::from_millis(1500)));
        let status = RpcStatus::decode(bytes.as_slice()).unwrap();
        assert_eq!(status.code, Code::Unavailable as i32);
        assert_eq!(status.message, "busy");
        assert_eq!(status.details.len(), 1);
        assert_eq!(status.details[0].type_url, RETRY_INFO_TYPE_URL);
        let info = RetryInfo::decode(status.details[0].value.as_slice()).unwrap();
        let delay = info.retry_delay.unwrap();
        assert_eq!((delay.seconds, delay.nanos), (1, 500_000_000));
    }

    #[test]
    fn json_status_uses_the_protobuf_json_mapping() {
        let json = status_json(Code::Unavailable, "busy", Some(Duration::from_millis(1500)));
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["code"], 14);
        assert_eq!(value["details"][0]["@type"], RETRY_INFO_TYPE_URL);
        assert_eq!(value["details"][0]["retryDelay"], "1.500000000s");

        let plain: serde_json::Value =
            serde_json::from_slice(&status_json(Code::InvalidArgument, "bad", None)).unwrap();
        assert_eq!(plain, serde_json::json!({ "code": 3, "message": "bad" }));
    }
}
