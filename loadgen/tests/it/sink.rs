//! The sink against the sender on loopback: every request is answered only once its bytes are in the log,
//! whole and in order of the frames, over both transports, plain and gzipped.

use std::path::PathBuf;

use ironforge_loadgen::send::{self, Protocol, SendOptions};
use ironforge_loadgen::sink::{self, Taken};
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use prost::Message;
use tokio::net::TcpListener;

use crate::smoke::options;

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "ironforge-loadgen-sink-{name}-{}.log",
        std::process::id()
    ))
}

/// The spans in each framed request of the log, in order.
fn spans_per_frame(mut log: &[u8]) -> Vec<usize> {
    let mut frames = Vec::new();
    while let Some((length, rest)) = log.split_first_chunk::<4>() {
        let length = u32::from_le_bytes(*length) as usize;
        let (message, rest) = rest.split_at(length);
        let request = ExportTraceServiceRequest::decode(message).unwrap();
        let spans = request
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        frames.push(spans);
        log = rest;
    }
    assert!(log.is_empty(), "{} bytes after the last frame", log.len());
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_logs_every_request_before_answering_it() {
    let path = log_path("every");
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = sink::serve(grpc, http, Some(&path)).unwrap();
    let grpc = format!("http://{}", sink.grpc_addr());
    let http = format!("http://{}/v1/traces", sink.http_addr());

    let mut sent = Taken::default();
    let mut spans = 0;
    for (protocol, endpoint) in [(Protocol::Grpc, grpc), (Protocol::Http, http)] {
        for gzip in [false, true] {
            let report = send::run(SendOptions {
                gzip,
                ..options(protocol, endpoint.clone())
            })
            .await
            .unwrap();
            assert_eq!((report.failures, report.retries), (0, 0));
            sent.requests += report.requests;
            spans += report.spans_sent;
            // Answered means written: the log holds this run's requests already.
            let log = std::fs::read(&path).unwrap();
            sent.bytes = log.len() as u64 - 4 * sent.requests;
            assert_eq!(spans_per_frame(&log).len() as u64, sent.requests);
            assert_eq!(sink.taken(), sent);
        }
    }

    let frames = spans_per_frame(&std::fs::read(&path).unwrap());
    assert_eq!(frames.iter().sum::<usize>() as u64, spans);
    assert!(frames.iter().all(|&spans| spans <= 100));
    assert_eq!(sink.shutdown().await.unwrap(), sent);
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn the_sink_refuses_what_is_not_protobuf_and_keeps_nothing_of_it() {
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = sink::serve(grpc, http, None).unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/traces", sink.http_addr());
    let json = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    let corrupt = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body("not gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(corrupt.status(), 400);
    assert_eq!(sink.shutdown().await.unwrap(), Taken::default());
}

#[tokio::test]
async fn a_log_that_cannot_be_opened_is_named() {
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let path = log_path("missing").join("under-a-missing-directory.log");
    let err = sink::serve(grpc, http, Some(&path)).unwrap_err();
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}
