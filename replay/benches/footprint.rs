//! Resident memory the instrumentation adds to the replay: the peak resident set (`VmHWM`) of the
//! full replay of the bundled sessions, without any subscriber and with `ironforge_instrument`
//! exporting over OTLP/gRPC, each in a fresh child process of this benchmark.
//!
//! Each run starts both children one after the other (alternating which goes first) and reads the
//! peak each reports for itself as it exits. The instrumented child sets up the instrumentation
//! as the `ironforge-replay` binary does (`init` and `install_default_subscriber`, with
//! `RUST_LOG=off` so the console layer prints nothing) and exports to an OTLP receiver on
//! 127.0.0.1 that runs in this parent process. A live receiver, because a dead endpoint would
//! leave out the connection, the encoded requests and the response handling that a real export
//! holds; in the parent, because in the child its own runtime and buffers would be counted as
//! instrumentation. The child shuts the instrumentation down (the final flush) before it reads its
//! peak, so the last export is included.
//!
//! Run with `cargo bench -p ironforge-replay --bench footprint`; `FOOTPRINT_RUNS` (default 11) sets
//! how many pairs of children run.

// A measurement that cannot set up has nothing to report: it stops loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use ironforge_instrument::Config;
use ironforge_replay::{ReplayOptions, run};

/// Set in a child's environment: `bare`, or the OTLP endpoint of an instrumented child.
const CHILD: &str = "IRONFORGE_FOOTPRINT_CHILD";
const BARE: &str = "bare";

fn main() {
    // `cargo bench` passes flags meant for a harness; this benchmark takes none.
    match std::env::var(CHILD) {
        Ok(mode) if mode == BARE => child(None),
        Ok(endpoint) => child(Some(endpoint)),
        Err(_) => parent(),
    }
}

/// Peak and current resident set of this process, in bytes, from `/proc/self/status`. Read from
/// the kernel's own accounting of this address space, so unlike `getrusage` it owes nothing to
/// the parent that started the process.
fn resident() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("the footprint benchmark reads /proc/self/status (Linux only)");
    let kib = |field: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (kib("VmHWM:") * 1024, kib("VmRSS:") * 1024)
}

fn child(endpoint: Option<String>) {
    let instrumentation = endpoint.map(|endpoint| {
        let instrumentation = ironforge_instrument::init(
            Config::builder()
                .service_name("footprint")
                .endpoint(endpoint)
                .build(),
        )
        .unwrap();
        instrumentation.install_default_subscriber().unwrap();
        instrumentation
    });
    let summary = run(&ReplayOptions::default()).unwrap();
    if let Some(instrumentation) = instrumentation {
        instrumentation.shutdown().unwrap();
    }
    let (peak, current) = resident();
    println!(
        "footprint-child peak={peak} current={current} spans={}",
        summary.span_count
    );
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    peak: u64,
    current: u64,
    spans: u64,
}

fn spawn(mode: &str) -> Reading {
    let output = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, mode)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child {mode} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("footprint-child "))
        .unwrap_or_else(|| panic!("child {mode} reported nothing: {stdout}"));
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap()
            .parse()
            .unwrap()
    };
    Reading {
        peak: field("peak"),
        current: field("current"),
        spans: field("spans"),
    }
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn parent() {
    let runs: usize = std::env::var("FOOTPRINT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);
    let receiver = support::Receiver::start();
    let endpoint = receiver.endpoint();
    let mut pairs = Vec::with_capacity(runs);
    for i in 0..runs {
        let received_before = receiver.spans().len();
        let (bare, instrumented) = if i % 2 == 0 {
            let bare = spawn(BARE);
            (bare, spawn(&endpoint))
        } else {
            let instrumented = spawn(&endpoint);
            (spawn(BARE), instrumented)
        };
        // The receiver may still be storing the last request when the child has exited.
        std::thread::sleep(Duration::from_millis(100));
        let received = (receiver.spans().len() - received_before) as u64;
        assert_eq!(
            received, instrumented.spans,
            "the instrumented child's spans must all arrive"
        );
        println!(
            "run {}: peak without a subscriber {:.1} MiB, instrumented {:.1} MiB (+{:.1} MiB); {} spans received",
            i + 1,
            mib(bare.peak as f64),
            mib(instrumented.peak as f64),
            mib(instrumented.peak as f64 - bare.peak as f64),
            received
        );
        pairs.push((bare, instrumented));
    }
    let med = |pick: fn(&(Reading, Reading)) -> f64| median(pairs.iter().map(pick).collect());
    let bare_peak = med(|(b, _)| b.peak as f64);
    let inst_peak = med(|(_, i)| i.peak as f64);
    let added = med(|(b, i)| i.peak as f64 - b.peak as f64);
    println!("replay footprint, medians of {runs} runs:");
    println!(
        "  peak RSS (VmHWM), no subscriber         {:>7.1} MiB",
        mib(bare_peak)
    );
    println!(
        "  peak RSS (VmHWM), instrumented          {:>7.1} MiB",
        mib(inst_peak)
    );
    println!(
        "  added by the instrumentation (per run)  {:>+7.1} MiB ({:+.1} MB)",
        mib(added),
        added / 1e6
    );
    println!(
        "  RSS at exit: no subscriber {:.1} MiB, instrumented {:.1} MiB",
        mib(med(|(b, _)| b.current as f64)),
        mib(med(|(_, i)| i.current as f64))
    );
}
