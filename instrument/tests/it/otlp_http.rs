//! OTLP over HTTP/protobuf (crate feature `http`) against a minimal HTTP/1.1 collector on
//! 127.0.0.1, and against a port where nothing listens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::closed_port;
use ironforge_instrument::semconv::attr;
use ironforge_instrument::{Config, Protocol, init};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tracing_subscriber::layer::SubscriberExt;

fn config(endpoint: String) -> Config {
    Config::builder()
        .service_name("http-test")
        .protocol(Protocol::HttpProtobuf)
        .endpoint(endpoint)
        .timeout(Duration::from_secs(2))
        .metrics_interval(Duration::from_secs(3600))
        .build()
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "session"))]
fn session() {
    ironforge_instrument::record_authenticity(0.9);
}

#[test]
fn spans_and_metrics_reach_an_http_collector_on_their_paths() {
    let (endpoint, requests) = http_sink();
    let instrumentation = init(config(endpoint)).unwrap();
    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    tracing::subscriber::with_default(subscriber, || {
        session();
        session();
    });
    instrumentation.force_flush().unwrap();
    assert_eq!(instrumentation.export_failures(), 0);
    instrumentation.shutdown().unwrap();

    let requests = requests.lock().unwrap();
    let traces: Vec<_> = requests.iter().filter(|r| r.0 == "/v1/traces").collect();
    assert!(
        !traces.is_empty(),
        "paths: {:?}",
        requests.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    assert!(requests.iter().any(|r| r.0 == "/v1/metrics"));
    assert!(requests.iter().all(|r| r.1 == "application/x-protobuf"));
    let spans: Vec<_> = traces
        .iter()
        .map(|r| ExportTraceServiceRequest::decode(r.2.as_slice()).unwrap())
        .flat_map(|t| t.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| {
        s.attributes
            .iter()
            .any(|kv| kv.key == attr::PATTERN_AUTHENTICITY)
    }));
}

#[test]
fn an_http_collector_that_is_down_is_counted_not_waited_for() {
    let instrumentation = init(config(format!("http://127.0.0.1:{}", closed_port()))).unwrap();
    // Init did not wait for the collector: had it tried to reach it, the refusal would be counted.
    assert_eq!(instrumentation.export_failures(), 0);
    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    tracing::subscriber::with_default(subscriber, session);
    assert!(instrumentation.force_flush().is_err());
    assert!(instrumentation.export_failures() >= 2);
    // The guard's promise: dropping it returns within the export timeout plus one second. The rest of the
    // bound is slack for a loaded machine.
    let bound = Duration::from_secs(2 + 1 + 3);
    let start = Instant::now();
    drop(instrumentation);
    assert!(start.elapsed() < bound, "drop took {:?}", start.elapsed());
}

/// (path, content type, body) of each request.
pub(crate) type Requests = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// An OTLP/HTTP collector on 127.0.0.1, as small as HTTP/1.1 allows: answers every request with an empty protobuf 200, keeping what it received.
pub(crate) fn http_sink() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests: Requests = Arc::default();
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                    let (mut length, mut content_type) = (0usize, String::new());
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        let (name, value) = line.split_once(':').unwrap();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap(),
                            "content-type" => content_type = value.trim().to_owned(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    seen.lock().unwrap().push((path, content_type, body));
                    stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                        )
                        .unwrap();
                }
            });
        }
    });
    (format!("http://{addr}"), requests)
}
