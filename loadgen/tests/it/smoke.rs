//! The sender against the baseline receiver on loopback, over both transports: every span sent is decoded.

use ironforge_loadgen::baseline::{self, Baseline, Tally};
use ironforge_loadgen::send::{self, Protocol, SendOptions};
use ironforge_loadgen::shape::ShapeOptions;
use tokio::net::TcpListener;

async fn start_baseline() -> Baseline {
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    baseline::serve(grpc, http).unwrap()
}

pub(crate) fn options(protocol: Protocol, endpoint: String) -> SendOptions {
    SendOptions {
        endpoint,
        connections: 2,
        // Not a divisor of 234: requests straddle traces, and the last one is short.
        batch_size: 100,
        traces: Some(3),
        shape: ShapeOptions {
            patterns_per_session: 1,
            ..ShapeOptions::default()
        },
        ..SendOptions::new(protocol)
    }
}

async fn send_and_count(options: SendOptions, baseline: &Baseline, before: Tally) -> Tally {
    let report = send::run(options).await.unwrap();
    let per_trace = 2 + 4 * (1 + 57 * 2);
    assert_eq!(report.spans_per_trace, per_trace);
    assert_eq!(report.traces, 3);
    assert_eq!(report.spans_sent, 3 * per_trace);
    assert_eq!(report.requests, (3 * per_trace).div_ceil(100));
    assert_eq!(
        (report.failures, report.retries, report.spans_rejected),
        (0, 0, 0)
    );
    let after = baseline.tally();
    assert_eq!(after.spans - before.spans, report.spans_sent);
    assert_eq!(after.requests - before.requests, report.requests);
    after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_decodes_every_span_sent_over_grpc_and_http() {
    let baseline = start_baseline().await;
    let grpc = format!("http://{}", baseline.grpc_addr());
    let http = format!("http://{}/v1/traces", baseline.http_addr());

    let tally = send_and_count(
        options(Protocol::Grpc, grpc.clone()),
        &baseline,
        Tally::default(),
    )
    .await;
    let tally = send_and_count(options(Protocol::Http, http.clone()), &baseline, tally).await;
    let gzip = |options: SendOptions| SendOptions {
        gzip: true,
        ..options
    };
    let tally = send_and_count(gzip(options(Protocol::Grpc, grpc)), &baseline, tally).await;
    let tally = send_and_count(gzip(options(Protocol::Http, http)), &baseline, tally).await;

    assert_eq!(baseline.shutdown().await.unwrap(), tally);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_measures_the_receiving_process() {
    // The receiver runs in this process, so this process is the one measured.
    let baseline = start_baseline().await;
    let options = SendOptions {
        measure_pid: Some(std::process::id()),
        ..options(Protocol::Grpc, format!("http://{}", baseline.grpc_addr()))
    };
    let report = send::run(options).await.unwrap();
    let receiver = report.receiver.as_ref().unwrap();
    assert_eq!(receiver.pid, std::process::id());
    assert!(receiver.rss_peak_bytes >= receiver.rss_end_bytes);
    assert!(receiver.rss_end_bytes > 0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["protocol"], "grpc");
    assert_eq!(json["receiver"]["pid"], std::process::id());
    assert_eq!(baseline.shutdown().await.unwrap().spans, report.spans_sent);
}

#[tokio::test]
async fn options_that_cannot_send_are_refused() {
    let mut options = SendOptions::new(Protocol::Grpc);
    options.connections = 0;
    assert!(send::run(options).await.is_err());
    let mut options = SendOptions::new(Protocol::Http);
    options.traces = None;
    assert!(send::run(options).await.is_err());
}
