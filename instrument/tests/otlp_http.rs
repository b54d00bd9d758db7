//! OTLP over HTTP/protobuf (crate feature `http`) against a minimal HTTP/1.1 collector on
//! 127.0.0.1, and against a port where nothing listens.
#![cfg(feature = "http")]

mod support;

use std::time::{Duration, Instant};

use ironforge_instrument::semconv::attr;
use ironforge_instrument::{Config, Protocol, init};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use support::{closed_port, http_sink};
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
    let start = Instant::now();
    let instrumentation = init(config(format!("http://127.0.0.1:{}", closed_port()))).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "init took {:?}",
        start.elapsed()
    );
    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    tracing::subscriber::with_default(subscriber, session);
    assert!(instrumentation.force_flush().is_err());
    assert!(instrumentation.export_failures() >= 2);
    let start = Instant::now();
    drop(instrumentation);
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "drop took {:?}",
        start.elapsed()
    );
}
