//! Slowloris: connections that send part of their headers or body and stall, or connect and say nothing,
//! are closed within the timeouts, while the processor keeps serving everyone else.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ironforge_processor::security::{ConnectionLimits, SecurityOptions};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::e2e_support::run_with_session;
use crate::transport_security::support::Secured;

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
    let response = reqwest::Client::new()
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(run_with_session(9, 1).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

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
