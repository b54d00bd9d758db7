//! `install_default_subscriber`: the explicit opt-in to a global subscriber.
//!
//! The test sets the process's global subscriber, once only, so it runs in a process of its own.

use std::time::Duration;

use crate::own_process::run_apart;
use crate::support::GrpcSink;
use ironforge_instrument::{Config, InitError, init};

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "session"))]
fn session() {
    tracing::debug!("below the telemetry filter");
}

#[tracing::instrument(level = "debug", skip_all)]
fn debug_helper() {}

#[test]
fn installs_once_and_exports_info_spans() {
    if !run_apart(module_path!(), "installs_once_and_exports_info_spans") {
        return;
    }
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
