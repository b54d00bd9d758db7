//! Init, export and shutdown against real sockets on 127.0.0.1: a collector that is down, one that
//! is up, and exporters that fail or hang.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::{GrpcSink, closed_port, metric, sum_u64};
use ironforge_instrument::semconv::{attr, metric};
use ironforge_instrument::{
    Config, ExportReport, Instrumentation, Sampling, ShutdownCause, ShutdownError, init,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, Temporality};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;

const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// Added to a bound the guard promises, so that a loaded machine does not fail the test; the bound is the
/// contract, the slack is not.
const SLACK: Duration = Duration::from_secs(3);
/// The guard promises to return from shutdown (and drop) within the export timeout plus one second.
const fn shutdown_bound(export_timeout: Duration) -> Duration {
    Duration::from_secs(export_timeout.as_secs() + 1 + SLACK.as_secs())
}
const SHUTDOWN_BOUND: Duration = shutdown_bound(EXPORT_TIMEOUT);
/// Not a promise of the guard, only a deadline against a flush that never returns: the SDK's flush waits up to
/// 5 s per signal, and this is far beyond that.
const HANG_DEADLINE: Duration = Duration::from_secs(60);

fn config(endpoint: String) -> Config {
    Config::builder()
        .service_name("lifecycle-test")
        .endpoint(endpoint)
        .header("x-tenant", "ironforge")
        .timeout(EXPORT_TIMEOUT)
        .metrics_interval(Duration::from_secs(3600))
        .build()
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "session", ironforge.stage = "discovery", ironforge.session.id = %id))]
fn session(id: usize) {
    ironforge_instrument::record_authenticity(0.9);
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "run"))]
fn run(sessions: usize) {
    for i in 0..sessions {
        session(i);
    }
}

fn traced<R>(instrumentation: &Instrumentation, f: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    tracing::subscriber::with_default(subscriber, f)
}

fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

#[test]
fn a_collector_that_is_down_costs_the_pipeline_nothing_and_is_counted() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    // Init succeeds without reaching the collector: had it tried, the refused connection would be counted.
    let instrumentation = init(config(endpoint)).unwrap();
    assert_eq!(
        instrumentation.export_failures(),
        0,
        "init exported nothing"
    );

    // Ending spans hands them to the batch and nothing more: all 51 ended, no export tried, none failed.
    traced(&instrumentation, || run(50));
    let report = instrumentation.export_report();
    assert_eq!((report.spans_ended, report.spans_exported), (51, 0));
    assert_eq!(instrumentation.export_failures(), 0, "nothing exported yet");

    let (flushed, took) = timed(|| instrumentation.force_flush());
    assert!(
        flushed.is_err(),
        "nothing listens, so the flush cannot succeed"
    );
    assert!(took < HANG_DEADLINE, "flush took {took:?}");
    let failures = instrumentation.export_failures();
    assert!(failures >= 2, "spans and metrics both failed: {failures}");

    let ((), took) = timed(|| drop(instrumentation));
    assert!(took < SHUTDOWN_BOUND, "drop took {took:?}");
}

// The SDK's flush gives up after 5 s; an export timeout beyond that leaves the spans in flight when
// it returns. Before, the flush counted nothing and the shutdown said nothing of the spans.
#[test]
fn spans_lost_to_a_collector_that_never_answers_are_counted_at_flush_and_shutdown() {
    // Never accepted, never answered: the kernel completes the handshake for the listen backlog.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config::builder()
        .service_name("lifecycle-test")
        .endpoint(format!("http://{}", silent.local_addr().unwrap()))
        .sampling(Sampling::Always)
        .timeout(Duration::from_secs(7))
        .metrics_interval(Duration::from_secs(3600))
        .build();
    let instrumentation = init(config).unwrap();
    traced(&instrumentation, || run(3));
    assert!(instrumentation.force_flush().is_err());
    assert!(
        instrumentation.export_failures() >= 1,
        "the flush that gave up is an export failure"
    );
    assert_eq!(instrumentation.export_report().spans_lost, 4);
    let err = instrumentation.shutdown().unwrap_err();
    assert_eq!(err.report.spans_ended, 4, "{err}");
    assert_eq!(err.report.spans_exported, 0, "{err}");
    assert_eq!(err.report.spans_lost, 4, "{err}");
    assert!(err.report.export_failures >= 2, "{err}");
    assert!(
        err.to_string().contains("4 of 4 spans not delivered"),
        "{err}"
    );
}

#[test]
fn a_clean_shutdown_reports_every_span_delivered() {
    let sink = GrpcSink::start();
    let instrumentation = init(config(sink.endpoint())).unwrap();
    traced(&instrumentation, || run(2));
    let report = instrumentation.shutdown().unwrap();
    assert_eq!(
        report,
        ExportReport {
            spans_ended: 3,
            spans_exported: 3,
            spans_lost: 0,
            export_failures: 0,
            metric_export_failures: 0,
        }
    );
}

#[test]
fn shutdown_reports_what_could_not_be_delivered() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let instrumentation = init(config(endpoint)).unwrap();
    traced(&instrumentation, || run(3));
    let (result, took) = timed(|| instrumentation.shutdown());
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");
    match result {
        Err(ShutdownError {
            cause: ShutdownCause::Both { .. },
            report,
        }) => {
            assert_eq!((report.spans_ended, report.spans_lost), (4, 4), "{report}");
            assert!(report.export_failures >= 2, "{report}");
        }
        other => panic!("expected both signals to fail, got {other:?}"),
    }
}

/// Spans, their facts and the metrics reach a real gRPC collector, with the resource and headers.
fn assert_delivered(sink: &GrpcSink, sessions: usize) {
    sink.with_received(|r| {
        let spans: Vec<_> = r
            .traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .collect();
        assert_eq!(spans.len(), sessions + 1);
        let with_score = spans
            .iter()
            .filter(|s| {
                s.attributes.iter().any(|kv| {
                    kv.key == attr::PATTERN_AUTHENTICITY
                        && kv.value.as_ref().and_then(|v| v.value.as_ref())
                            == Some(&any_value::Value::DoubleValue(0.9))
                })
            })
            .count();
        assert_eq!(with_score, sessions);

        let service_names: Vec<_> = r
            .traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .filter_map(|rs| rs.resource.as_ref())
            .flat_map(|res| &res.attributes)
            .filter(|kv| kv.key == attr::SERVICE_NAME)
            .filter_map(|kv| kv.value.as_ref()?.value.clone())
            .collect();
        assert!(!service_names.is_empty());
        assert!(
            service_names
                .iter()
                .all(|v| *v == any_value::Value::StringValue("lifecycle-test".into()))
        );
        assert!(
            r.metadata
                .iter()
                .all(|m| m.get("x-tenant").is_some_and(|v| v == "ironforge"))
        );

        let metric_names: Vec<_> = r
            .metrics
            .iter()
            .flat_map(|m| &m.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| m.name.as_str())
            .collect();
        for name in [
            metric::SESSION_DURATION,
            metric::SESSIONS_PROCESSED,
            metric::PATTERN_AUTHENTICITY,
        ] {
            assert!(metric_names.contains(&name), "{name} in {metric_names:?}");
        }
    });
}

#[test]
fn spans_and_metrics_reach_a_grpc_collector() {
    let sink = GrpcSink::start();
    let instrumentation = init(config(sink.endpoint())).unwrap();
    traced(&instrumentation, || run(4));
    instrumentation.force_flush().unwrap();
    assert_eq!(instrumentation.export_failures(), 0);
    instrumentation.shutdown().unwrap();
    assert_delivered(&sink, 4);
}

// The known deadlock: the SDK's blocking shutdown on the only thread of a current-thread runtime
// that the gRPC exporter needs. Here the runtime is the test's, and the guard is dropped on it.
#[tokio::test(flavor = "current_thread")]
async fn dropping_the_guard_on_a_current_thread_runtime_does_not_deadlock() {
    let sink = GrpcSink::start();
    let instrumentation = init(config(sink.endpoint())).unwrap();
    traced(&instrumentation, || run(3));
    tokio::task::yield_now().await;
    let ((), took) = timed(|| drop(instrumentation));
    assert!(took < SHUTDOWN_BOUND, "drop took {took:?}");
    assert_delivered(&sink, 3);
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_on_a_current_thread_runtime_with_the_collector_down_is_bounded() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let instrumentation = init(config(endpoint)).unwrap();
    traced(&instrumentation, || run(3));
    let (result, took) = timed(|| instrumentation.shutdown());
    assert!(result.is_err());
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_guard_on_a_multi_thread_runtime_delivers_and_returns() {
    let sink = GrpcSink::start();
    let instrumentation = init(config(sink.endpoint())).unwrap();
    let handle = tokio::spawn(async {});
    traced(&instrumentation, || run(5));
    handle.await.unwrap();
    let ((), took) = timed(|| drop(instrumentation));
    assert!(took < SHUTDOWN_BOUND, "drop took {took:?}");
    assert_delivered(&sink, 5);
}

/// What a hanging exporter blocks on: released by the test once the guard has given up on it, or after 30 s
/// at most, so that a test failing before the release leaves no thread blocked for good.
#[derive(Debug, Clone, Default)]
struct Release(Arc<(Mutex<bool>, Condvar)>);

impl Release {
    fn release(&self) {
        let (released, changed) = &*self.0;
        *released.lock().unwrap() = true;
        changed.notify_all();
    }

    fn wait(&self) {
        let (released, changed) = &*self.0;
        let guard = released.lock().unwrap();
        let _ = changed
            .wait_timeout_while(guard, Duration::from_secs(30), |released| !*released)
            .unwrap();
    }
}

/// An exporter that fails every export, or blocks in it until released.
#[derive(Debug, Clone)]
struct Faulty {
    hang: Option<Release>,
}

impl SpanExporter for Faulty {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        if let Some(release) = &self.hang {
            release.wait();
            return Ok(());
        }
        Err(OTelSdkError::InternalFailure("collector refused".into()))
    }
}

fn in_memory_config(timeout: Duration) -> Config {
    Config::builder()
        .sampling(Sampling::Always)
        .timeout(timeout)
        .metrics_interval(Duration::from_secs(3600))
        .build()
}

#[test]
fn failed_exports_are_counted_and_exported_as_a_metric() {
    let metrics = InMemoryMetricExporter::default();
    let instrumentation = Instrumentation::with_exporters(
        in_memory_config(EXPORT_TIMEOUT),
        Faulty { hang: None },
        metrics.clone(),
    )
    .unwrap();
    traced(&instrumentation, || run(2));
    assert!(instrumentation.force_flush().is_err());
    assert_eq!(instrumentation.export_failures(), 1);

    traced(&instrumentation, || run(1));
    assert!(instrumentation.force_flush().is_err());
    assert_eq!(instrumentation.export_failures(), 2);

    let snapshot = metrics.get_finished_metrics().unwrap().pop().unwrap();
    let points = sum_u64(metric(&snapshot, metric::EXPORT_FAILURES).unwrap());
    assert_eq!(points, vec![(vec![], 2)]);
}

#[test]
fn a_hanging_span_exporter_is_reported_within_the_bound() {
    let release = Release::default();
    let instrumentation = Instrumentation::with_exporters(
        in_memory_config(Duration::from_secs(1)),
        Faulty {
            hang: Some(release.clone()),
        },
        InMemoryMetricExporter::default(),
    )
    .unwrap();
    traced(&instrumentation, || run(1));
    let (result, took) = timed(|| instrumentation.shutdown());
    release.release();
    // The exporter never returns on its own: only the guard's bound ends the shutdown.
    assert!(
        matches!(
            result,
            Err(ShutdownError {
                cause: ShutdownCause::Traces(_),
                report: ExportReport { spans_lost: 2, .. },
            })
        ),
        "{result:?}"
    );
    let bound = shutdown_bound(Duration::from_secs(1));
    assert!(took < bound, "took {took:?}, more than {bound:?}");
}

/// A metric exporter that blocks every export until released. The meter provider's own shutdown
/// waits 5 s for it, longer than the guard's bound.
#[derive(Debug, Clone)]
struct HangingMetrics(Release);

impl PushMetricExporter for HangingMetrics {
    async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
        self.0.wait();
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

#[test]
fn shutdown_gives_up_at_its_bound_when_an_exporter_never_returns() {
    let release = Release::default();
    let instrumentation = Instrumentation::with_exporters(
        in_memory_config(Duration::from_secs(1)),
        opentelemetry_sdk::trace::InMemorySpanExporter::default(),
        HangingMetrics(release.clone()),
    )
    .unwrap();
    traced(&instrumentation, || run(1));
    let (result, took) = timed(|| instrumentation.shutdown());
    release.release();
    // The bound is the export timeout plus one second.
    assert!(
        matches!(&result, Err(ShutdownError { cause: ShutdownCause::TimedOut(bound), .. }) if *bound == Duration::from_secs(2)),
        "{result:?}"
    );
    // It waited out its bound before giving up, and no longer than the bound allows.
    let bound = shutdown_bound(Duration::from_secs(1));
    assert!(
        took >= Duration::from_secs(2) && took < bound,
        "took {took:?}, not within 2 s..{bound:?}"
    );
}

#[test]
fn init_refuses_unusable_settings() {
    let err = init(Config::builder().sampling(Sampling::Ratio(-0.1)).build()).unwrap_err();
    assert!(
        matches!(&err, ironforge_instrument::InitError::InvalidSetting { setting, .. } if setting == "sampling"),
        "{err:?}"
    );
    let err = init(
        Config::builder()
            .endpoint(format!("http://127.0.0.1:{}", closed_port()))
            .header("bad header", "x")
            .build(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ironforge_instrument::InitError::InvalidSetting { .. }),
        "{err:?}"
    );
    let err = init(Config::builder().endpoint("not a url").build()).unwrap_err();
    assert!(
        matches!(
            &err,
            ironforge_instrument::InitError::Exporter {
                signal: "traces",
                ..
            }
        ),
        "{err:?}"
    );
}
