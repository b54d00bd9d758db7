//! The `ironforge-replay` binary against collectors that lose its trace: what it prints and how it exits.

use std::process::{Command, Output};

/// Runs the replay binary over two sessions against `endpoint`.
fn replay(endpoint: &str, export_timeout_seconds: &str) -> Output {
    replay_with(endpoint, export_timeout_seconds, &[])
}

/// [`replay`] with more arguments.
fn replay_with(endpoint: &str, export_timeout_seconds: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ironforge-replay"))
        .args(["--endpoint", endpoint, "--protocol", "grpc"])
        .args(["--export-timeout", export_timeout_seconds])
        .args(["--sessions-limit", "2"])
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .output()
        .unwrap()
}

/// The number of spans the run printed it opened.
fn spans_opened(stdout: &str) -> u64 {
    figure(stdout, "spans:")
}

/// The number after `label` in the replay's report.
fn figure(stdout: &str, label: &str) -> u64 {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

// The SDK's flush gives up after 5 s; a 7 s export timeout keeps the spans in flight past it. The receiver takes
// metrics, so only the lost trace can tell. Before, the replay printed "export failures:  0" and exited 0.
#[test]
fn a_final_flush_that_times_out_is_reported_and_fails_the_run() {
    let receiver = crate::support::Receiver::start_hanging_traces();
    let output = replay(&receiver.endpoint(), "7");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        figure(&stdout, "export failures:") > 0,
        "{stdout}\n{stderr}"
    );
    assert_eq!(figure(&stdout, "spans delivered:"), 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("not fully delivered"), "{stderr}");
}

#[test]
fn a_collector_that_never_answers_at_all_is_reported() {
    let (_silent, endpoint) = crate::support::silent_endpoint();
    let output = replay(&endpoint, "7");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(figure(&stdout, "export failures:") > 0, "{stdout}");
    assert_eq!(figure(&stdout, "spans delivered:"), 0, "{stdout}");
}

#[test]
fn a_refused_export_is_reported_and_fails_the_run() {
    let output = replay(&crate::support::dead_endpoint(), "2");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(figure(&stdout, "export failures:") > 0, "{stdout}");
}

#[test]
fn a_delivered_trace_exits_zero_with_no_failures() {
    let receiver = crate::support::Receiver::start();
    let output = replay(&receiver.endpoint(), "10");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(figure(&stdout, "export failures:"), 0, "{stdout}");
    assert!(!receiver.spans().is_empty());
}

// A receiver with the trace service only, as Jaeger's and Tempo's OTLP endpoints are: every span arrives and every
// metric export is refused. Before, the replay called that "not fully delivered" and exited 1.
#[test]
fn a_trace_only_receiver_gets_the_whole_trace_and_the_run_passes_with_a_warning() {
    let receiver = crate::support::Receiver::start_traces_only();
    let output = replay(&receiver.endpoint(), "10");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}
{stderr}"
    );
    let opened = spans_opened(&stdout);
    assert_eq!(opened, 2 + 4 + 4 * 2);
    assert_eq!(figure(&stdout, "spans delivered:"), opened, "{stdout}");
    assert_eq!(receiver.spans().len() as u64, opened, "every span arrived");
    assert_eq!(
        receiver.metric_exports(),
        0,
        "the receiver has no metrics service"
    );
    assert!(figure(&stdout, "export failures:") > 0, "{stdout}");
    assert!(
        stderr.contains("warning: the trace arrived whole but the metrics were not delivered"),
        "{stderr}"
    );
    assert!(!stderr.contains("error:"), "{stderr}");
}

#[test]
fn require_metrics_makes_refused_metrics_an_error_of_its_own() {
    let receiver = crate::support::Receiver::start_traces_only();
    let output = replay_with(&receiver.endpoint(), "10", &["--require-metrics"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout}
{stderr}"
    );
    assert_eq!(
        figure(&stdout, "spans delivered:"),
        spans_opened(&stdout),
        "{stdout}"
    );
    assert!(
        stderr.contains("error: the trace arrived whole but the metrics were not delivered"),
        "{stderr}"
    );

    // A receiver that takes both passes the same flag.
    let both = crate::support::Receiver::start();
    let output = replay_with(&both.endpoint(), "10", &["--require-metrics"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(both.metric_exports() > 0);
}
