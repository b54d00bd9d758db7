//! A receiver that sheds load: the sender waits the delay it names, retries, and counts the retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::IntoResponse;
use ironforge_loadgen::send::{self, Protocol, SendOptions};
use ironforge_proto::otlp::trace_service::trace_service_server::{
    TraceService, TraceServiceServer,
};
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic_types::{ErrorDetails, StatusExt};

/// Refusals before the first request is accepted.
const REFUSALS: u64 = 2;

fn options(protocol: Protocol, endpoint: String) -> SendOptions {
    SendOptions {
        endpoint,
        traces: Some(1),
        batch_size: 234,
        ..SendOptions::new(protocol)
    }
}

/// Answers UNAVAILABLE with RetryInfo to the first [`REFUSALS`] requests.
#[derive(Debug, Default)]
struct Busy(AtomicU64);

#[tonic::async_trait]
impl TraceService for Busy {
    async fn export(
        &self,
        _request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if self.0.fetch_add(1, Ordering::Relaxed) < REFUSALS {
            let details = ErrorDetails::with_retry_info(Some(Duration::from_millis(20)));
            return Err(tonic::Status::with_error_details(
                tonic::Code::Unavailable,
                "too many traces in flight",
                details,
            ));
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test]
async fn grpc_refusals_with_retry_info_are_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(Busy::default()))
        .serve_with_incoming(TcpIncoming::from(listener));
    let server = tokio::spawn(server);

    let report = send::run(options(Protocol::Grpc, endpoint)).await.unwrap();
    assert_eq!(
        (report.requests, report.retries, report.failures),
        (1, REFUSALS, 0)
    );
    assert_eq!(report.spans_sent, 234);
    server.abort();
}

#[tokio::test]
async fn http_503_is_retried_and_other_errors_fail() {
    let calls = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&calls);
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move || {
            let call = seen.fetch_add(1, Ordering::Relaxed);
            async move {
                match call {
                    0 => (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "0")]).into_response(),
                    1 => StatusCode::TOO_MANY_REQUESTS.into_response(),
                    2 => StatusCode::OK.into_response(),
                    _ => (StatusCode::BAD_REQUEST, "bad request").into_response(),
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let report = send::run(options(Protocol::Http, endpoint.clone()))
        .await
        .unwrap();
    assert_eq!(
        (report.requests, report.retries, report.failures),
        (1, 2, 0)
    );

    let report = send::run(options(Protocol::Http, endpoint)).await.unwrap();
    assert_eq!(
        (report.requests, report.retries, report.failures),
        (0, 0, 1)
    );
    assert_eq!(report.failed_spans, 234);
    assert!(report.last_failure.unwrap().contains("400"));
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    server.abort();
}
