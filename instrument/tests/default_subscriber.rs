//! `install_default_subscriber`: the explicit opt-in to a global subscriber.

mod support;

use std::time::Duration;

use ironforge_instrument::{Config, InitError, init};
use support::GrpcSink;

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "session"))]
fn session() {
    tracing::debug!("below the telemetry filter");
}

#[tracing::instrument(level = "debug", skip_all)]
fn debug_helper() {}

#[test]
fn installs_once_and_exports_info_spans() {
    let sink = GrpcSink::start();
    let instrumentation = init(
        Config::builder()
            .endpoint(sink.endpoint())
            .timeout(Duration::from_secs(2))
            .metrics_interval(Duration::from_secs(3600))
            .build(),
    )
    .unwrap();
    instrumentation.install_default_subscriber().unwrap();
    assert!(matches!(
        instrumentation.install_default_subscriber(),
        Err(InitError::SubscriberAlreadySet(_))
    ));

    session();
    debug_helper();
    instrumentation.force_flush().unwrap();
    instrumentation.force_flush().unwrap();
    instrumentation.shutdown().unwrap();

    let names: Vec<String> = sink.with_received(|r| {
        r.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.clone())
            .collect()
    });
    assert_eq!(names, vec!["session"]);
}
