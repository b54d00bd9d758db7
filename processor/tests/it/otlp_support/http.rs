//! The OTLP/HTTP router on a loopback port, and a client that sends any body with any headers.

use std::io::Write;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use ironforge_processor::ingest::SpanSink;
use ironforge_processor::otlp::{ReceiverLimits, router};
use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use ironforge_telemetry::{RequestOutcome, Transport};
use prost::Message;
use tonic::Code;
use tonic_types::pb::Status as RpcStatus;

use super::{TestSink, assert_one_session, loopback_listener, request, session_span};

pub(crate) const PROTOBUF: &str = "application/x-protobuf";
pub(crate) const JSON: &str = "application/json";

/// Serves the OTLP/HTTP router, as the processor does; returns the base URL, without a path.
pub(crate) async fn serve_http(sink: Arc<dyn SpanSink>, limits: &ReceiverLimits) -> String {
    let listener = loopback_listener().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(sink, limits);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// Asserts the HTTP status, showing the body when it is another.
    pub(crate) fn assert_status(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
    }

    /// Asserts an error answer: its HTTP status, and the code and message of the `google.rpc.Status` it
    /// carries in whichever encoding it came.
    pub(crate) fn assert_error(&self, status: u16, code: Code, message_part: &str) {
        self.assert_status(status);
        let (received_code, message) = if self.content_type == JSON {
            let status = self.json();
            let message = status["message"].as_str().unwrap_or_default().to_owned();
            (status["code"].as_i64(), message)
        } else {
            let status = self.protobuf_status();
            (Some(i64::from(status.code)), status.message)
        };
        assert_eq!(received_code, Some(code as i64), "{message}");
        assert!(message.contains(message_part), "{message}");
    }

    pub(crate) fn protobuf_status(&self) -> RpcStatus {
        assert_eq!(self.content_type, PROTOBUF);
        RpcStatus::decode(self.body.as_slice()).unwrap()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        assert_eq!(self.content_type, JSON);
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// The router on a loopback port, with the URL of one of its paths.
pub(crate) struct HttpReceiver {
    pub url: String,
    pub sink: Arc<TestSink>,
    pub client: reqwest::Client,
}

impl HttpReceiver {
    pub(crate) async fn start(path: &str, limits: ReceiverLimits) -> Self {
        let sink = Arc::new(TestSink::default());
        let url = format!("{}{path}", serve_http(sink.clone(), &limits).await);
        Self {
            url,
            sink,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs `body` with the given `Content-Type` and `Content-Encoding`, each left out when `None`.
    pub(crate) async fn post(
        &self,
        content_type: Option<&str>,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut post = self.client.post(&self.url).body(body);
        if let Some(content_type) = content_type {
            post = post.header("content-type", content_type);
        }
        if let Some(encoding) = encoding {
            post = post.header("content-encoding", encoding);
        }
        let response = post.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        Answer {
            status: response.status().as_u16(),
            content_type: header("content-type").unwrap_or_default(),
            retry_after: header("retry-after"),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    pub(crate) async fn post_protobuf(&self, message: &impl Message) -> Answer {
        self.post(Some(PROTOBUF), None, message.encode_to_vec())
            .await
    }

    pub(crate) async fn post_json(&self, json: &str) -> Answer {
        self.post(Some(JSON), None, json.as_bytes().to_vec()).await
    }

    /// Asserts that exactly one request was reported since the last call, as given.
    pub(crate) fn assert_report(&self, outcome: RequestOutcome, accepted: u64, rejected: u64) {
        self.sink
            .assert_report(Transport::Http, outcome, accepted, rejected);
    }

    /// Asserts that no span arrived and that exactly one request was reported, refused whole as `outcome`.
    pub(crate) fn assert_refused(&self, outcome: RequestOutcome) {
        self.sink.assert_refused(Transport::Http, outcome);
    }

    /// After a refused trace request: a good one is still accepted and decoded.
    pub(crate) async fn assert_still_serves(&self) {
        let answer = self.post_protobuf(&request(vec![session_span(42)])).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type, PROTOBUF);
        let response = ExportTraceServiceResponse::decode(answer.body.as_slice()).unwrap();
        assert_eq!(response.partial_success, None);
        assert_one_session(&self.sink, 42);
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
