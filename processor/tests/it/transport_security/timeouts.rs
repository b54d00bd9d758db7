//! Slowloris: connections that send part of their headers or body and stall, or connect and say nothing,
//! are closed within the timeouts, while the processor keeps serving everyone else; a stalled gRPC upload is
//! answered DEADLINE_EXCEEDED.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ironforge_security::{ConnectionLimits, SecurityOptions};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use ironforge_processor::otlp::ReceiverLimits;

use ironforge_proto::otlp::common::any_value::Value::StringValue;

use crate::e2e_support::{TestProcessor, kv, run_with_session, test_contracts};
use crate::transport_security::support::Secured;
use crate::wait_support::wait_until_async;

/// Far above every timeout below, so a slow machine cannot fail the test; a connection left open forever
/// (as before the timeouts) does.
const PATIENCE: Duration = Duration::from_secs(60);

fn short_limits() -> SecurityOptions {
    SecurityOptions {
        limits: ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(3),
            tls_handshake_timeout: Duration::from_secs(2),
            ..ConnectionLimits::default()
        },
        ..SecurityOptions::default()
    }
}

/// A connection that sent `bytes` and stalls, with when it connected.
async fn stall(addr: SocketAddr, bytes: &[u8]) -> (TcpStream, Instant) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    (stream, started)
}

/// The answer to an OTLP/HTTP protobuf request of `body`.
async fn post_traces(http: SocketAddr, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The status of a whole OTLP/HTTP request of one run.
async fn export_one_run(http: SocketAddr) -> u16 {
    post_traces(http, run_with_session(9, 1).encode_to_vec())
        .await
        .status()
        .as_u16()
}

/// Reads until the server closes the connection; returns what it said and how long after connecting.
async fn closed((mut stream, started): (TcpStream, Instant), what: &str) -> (String, Duration) {
    let mut said = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = tokio::time::timeout_at((started + PATIENCE).into(), stream.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("{what}: still open after {PATIENCE:?}"));
        match read {
            Ok(0) | Err(_) => {
                return (
                    String::from_utf8_lossy(&said).into_owned(),
                    started.elapsed(),
                );
            }
            Ok(n) => said.extend_from_slice(&buffer[..n]),
        }
    }
}

fn upload_head(declared: usize) -> Vec<u8> {
    format!(
        "POST /v1/traces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {declared}\r\n\r\nabcd"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_and_others_still_served() {
    let processor = Secured::start(short_limits()).await;
    let http = processor.addrs.otlp_http;
    let grpc = processor.addrs.otlp_grpc;

    // Twenty uploads that send 4 bytes of a declared 4 MB body, and twenty that declare more than the limit.
    let mut uploads = Vec::new();
    for declared in [4_000_000, 4_200_000] {
        for _ in 0..20 {
            uploads.push((declared, stall(http, &upload_head(declared)).await));
        }
    }
    let partial_headers = stall(http, b"POST /v1/traces HTTP/1.1\r\nhost: local").await;
    let silent_http = stall(http, b"").await;
    let silent_grpc = stall(grpc, b"").await;
    let partial_preface = stall(grpc, b"PRI * HTTP/2.0\r\n").await;

    // Meanwhile a whole request is answered.
    assert_eq!(export_one_run(http).await, 200);

    let mut slowest = Duration::ZERO;
    for (declared, stream) in uploads {
        let (said, took) = closed(stream, &format!("upload of {declared}")).await;
        let expected = if declared == 4_000_000 { "408" } else { "413" };
        assert!(
            said.starts_with(&format!("HTTP/1.1 {expected}")),
            "{declared}: {said}"
        );
        slowest = slowest.max(took);
    }
    eprintln!("stalled uploads closed, the last after {slowest:?}");
    for (stream, what) in [
        (partial_headers, "partial headers"),
        (silent_http, "silent HTTP connection"),
        (silent_grpc, "silent gRPC connection"),
        (partial_preface, "partial HTTP/2 preface"),
    ] {
        let (_, took) = closed(stream, what).await;
        eprintln!("{what} closed after {took:?}");
    }

    // And the processor still serves.
    let response = reqwest::get(format!("http://{}/healthz", processor.addrs.admin))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    processor.stop().await;
}

/// A gRPC request body that sends the first bytes of a message and then nothing, ever.
struct StalledBody(bool);

impl hyper::body::Body for StalledBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Pending;
        }
        // A gRPC frame declaring a 4,000,000-byte message, and 4 bytes of it.
        let mut head = vec![0u8];
        head.extend_from_slice(&4_000_000u32.to_be_bytes());
        head.extend_from_slice(b"abcd");
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(head.into()))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_grpc_upload_ends_with_deadline_exceeded() {
    let processor = Secured::start(short_limits()).await;
    let tcp = TcpStream::connect(processor.addrs.otlp_grpc).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::post(format!(
        "http://{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        processor.addrs.otlp_grpc
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(StalledBody(false))
    .unwrap();
    let started = Instant::now();
    let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
        .await
        .expect("an answer before the patience runs out")
        .unwrap();
    eprintln!("stalled gRPC upload answered after {:?}", started.elapsed());
    // The timeout is answered as a trailers-only gRPC status: DEADLINE_EXCEEDED.
    assert_eq!(response.headers()["grpc-status"], "4");
    processor.stop().await;
}

/// An upload holds against the memory budget what it sent, not what it declared: one that declares most of a
/// small budget and stalls leaves room for everyone else until its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_holds_only_what_it_sent_against_the_budget() {
    // Requests may reserve a quarter of the budget: 1 MB here.
    let contracts =
        test_contracts().replace("max_memory_bytes: 268435456", "max_memory_bytes: 4000000");
    assert_ne!(
        contracts,
        test_contracts(),
        "the default max_memory_bytes changed"
    );
    let processor = TestProcessor::start_with(&contracts, ReceiverLimits::default()).await;
    let stalled = stall(processor.http, &upload_head(3_000_000)).await;

    assert_eq!(export_one_run(processor.http).await, 200);
    drop(stalled);
    processor.stop().await;
}

/// A body that outgrows the room left in the budget while it arrives is refused with a retry delay, and the
/// same request is taken once the room is there again: nothing is lost, nothing half-taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_the_budget_cannot_hold_as_it_arrives_is_refused_with_a_retry_and_taken_later() {
    let contracts =
        test_contracts().replace("max_memory_bytes: 268435456", "max_memory_bytes: 4000000");
    let processor = TestProcessor::start_with(&contracts, ReceiverLimits::default()).await;
    // 900 KB of a declared 3 MB body: most of the 1 MB requests may reserve here.
    let mut head = upload_head(3_000_000);
    head.resize(900_000, b'x');
    let stalled = stall(processor.http, &head).await;
    wait_until_async("the stalled upload's bytes reserved", || async {
        let (_, metrics) = processor.get("/metrics").await;
        let reserved = metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix("ironforge_processor_memory_bytes{part=\"requests\"} ")
            })
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0);
        if reserved >= 800_000.0 {
            Ok(())
        } else {
            Err(reserved)
        }
    })
    .await;

    // A valid request of about 300 KB (a long attribute the limits cut once it is read).
    let mut request = run_with_session(9, 1);
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.attributes
        .push(kv("padding", StringValue("x".repeat(300_000))));
    let body = request.encode_to_vec();
    let refused = post_traces(processor.http, body.clone()).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));

    // The stalled upload gone, the exporter's retry is taken and the run judged.
    drop(stalled);
    wait_until_async("the retried request taken", || async {
        match post_traces(processor.http, body.clone())
            .await
            .status()
            .as_u16()
        {
            200 => Ok(()),
            status => Err(status),
        }
    })
    .await;
    let verdict = processor.verdict(&"09".repeat(16)).await;
    assert_eq!(verdict.span_count, 2);
    processor.stop().await;
}
