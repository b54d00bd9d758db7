//! One trace sent through the OpenTelemetry SDK's own OTLP exporters, as a stock pipeline sends it: a root
//! `run` span and its child `process_session` span.

use ironforge_processor::model::SpanRecord;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::TestSink;

/// The `service.name` every SDK export carries in its resource.
pub(crate) const SDK_SERVICE: &str = "ironforge-pipeline";

pub(crate) fn sdk_resource() -> Resource {
    Resource::builder().with_service_name(SDK_SERVICE).build()
}

/// Exports a `run` span and its child `process_session` span, each with its attributes, through the exporter
/// `build_exporter` makes, and returns once the exporter has sent them.
///
/// Everything runs on a blocking thread: the SDK's batch processor exports from its own thread, flushing
/// blocks until it has, and a blocking HTTP client must stay off the async workers.
pub(crate) async fn export_run_and_session(
    build_exporter: impl FnOnce() -> SpanExporter + Send + 'static,
    run_attributes: Vec<KeyValue>,
    session_attributes: Vec<KeyValue>,
) {
    tokio::task::spawn_blocking(move || {
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(build_exporter())
            .with_resource(sdk_resource())
            .build();
        let tracer = provider.tracer("ironforge");
        let run = tracer
            .span_builder("run")
            .with_attributes(run_attributes)
            .start(&tracer);
        let cx = Context::current_with_span(run);
        let mut session = tracer
            .span_builder("process_session")
            .with_attributes(session_attributes)
            .start_with_context(&tracer, &cx);
        session.end();
        cx.span().end();
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();
    })
    .await
    .unwrap();
}

/// Takes the spans [`export_run_and_session`] sent from `sink`, asserts they are exactly its two, one trace
/// with the session the child of the root run, and returns them as `(run, session)`.
pub(crate) fn take_run_and_session(sink: &TestSink) -> (SpanRecord, SpanRecord) {
    let spans = sink.take();
    assert_eq!(spans.len(), 2, "{spans:?}");
    let run = spans.iter().find(|span| &*span.name == "run").unwrap();
    let session = spans
        .iter()
        .find(|span| &*span.name == "process_session")
        .unwrap();
    assert_eq!(session.trace_id, run.trace_id);
    assert_eq!(session.parent_span_id, Some(run.span_id));
    assert_eq!(run.parent_span_id, None);
    (run.clone(), session.clone())
}
