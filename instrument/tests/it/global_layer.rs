//! The layer in a global subscriber with no filter at all, so the exporter's own threads trace
//! into it too: the transport's spans must not become telemetry (each export would otherwise
//! produce more to export).
//!
//! The test sets the process's global subscriber, so it runs in a process of its own.

use std::time::Duration;

use crate::own_process::run_apart;
use crate::support::{GrpcSink, SINK_THREAD};
use ironforge_instrument::{Config, init};
use opentelemetry_proto::tonic::common::v1::any_value;
use tracing_subscriber::layer::SubscriberExt;

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "session"))]
fn session() {}

#[test]
fn the_exporter_never_exports_its_own_traffic() {
    if !run_apart(module_path!(), "the_exporter_never_exports_its_own_traffic") {
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
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(instrumentation.layer()),
    )
    .unwrap();

    for _ in 0..3 {
        session();
        instrumentation.force_flush().unwrap();
    }
    // A last round trip so that anything traced during the previous exports would be exported.
    instrumentation.force_flush().unwrap();
    instrumentation.shutdown().unwrap();

    let names: Vec<String> = sink.with_received(|r| {
        r.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            // The sink runs in this process too, and its server-side spans (on a thread the
            // instrumentation knows nothing of) are traced like any other code's.
            .filter(|s| {
                !s.attributes.iter().any(|kv| {
                    kv.key == "thread.name"
                        && kv.value.as_ref().and_then(|v| v.value.as_ref())
                            == Some(&any_value::Value::StringValue(SINK_THREAD.to_owned()))
                })
            })
            .map(|s| s.name.clone())
            .collect()
    });
    assert_eq!(names, vec!["session"; 3]);
}
