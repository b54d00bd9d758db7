//! What the `check` tests share: runs of the real replay recorded to files through the exporter behind
//! `ironforge-replay --output`, and the `ironforge-processor check` binary.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use flate2::read::GzDecoder;
use ironforge_instrument::{Config, Instrumentation, Sampling};
use ironforge_replay::record::{DiscardMetrics, JsonLinesExporter};
use ironforge_replay::{Faults, ReplayOptions, SessionSelector};
use tracing_subscriber::layer::SubscriberExt;

pub(crate) mod runs;

/// The `service.name` the recorded runs carry.
pub(crate) const SERVICE: &str = "ironforge-replay";

/// A directory of this test process's own, created once.
pub(crate) fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Under the target directory, which `cargo clean` empties: nothing removes it after the run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("ironforge-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A path in the scratch directory.
pub(crate) fn path(name: &str) -> PathBuf {
    scratch().join(name)
}

/// Runs the real replay with `faults`, recording its trace to `name` in the OTLP/JSON line format.
pub(crate) fn record(name: &str, faults: Faults) -> PathBuf {
    let file = path(name);
    let config = Config::builder()
        .service_name(SERVICE)
        .sampling(Sampling::Always)
        .build();
    let exporter = JsonLinesExporter::create(&file).unwrap();
    let instrumentation =
        Instrumentation::with_exporters(config, exporter, DiscardMetrics).unwrap();
    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    let options = ReplayOptions {
        faults,
        ..ReplayOptions::default()
    };
    tracing::subscriber::with_default(subscriber, || ironforge_replay::run(&options)).unwrap();
    let report = instrumentation.shutdown().unwrap();
    assert_eq!(report.spans_exported, report.spans_ended, "{report:?}");
    file
}

/// The directory of the reference replay's recorded traces (`scripts/record-traces`).
pub(crate) fn recordings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/traces")
}

/// The recording `name` (`clean`, or a fault's name) as the plain OTLP/JSON lines `ironforge-replay --output`
/// writes, inflated from `fixtures/traces/NAME.jsonl.gz` into the scratch directory.
pub(crate) fn recorded(name: &str) -> PathBuf {
    let file = path(&format!("{name}.jsonl"));
    if !file.exists() {
        let gz = recordings().join(format!("{name}.jsonl.gz"));
        let mut text = Vec::new();
        GzDecoder::new(File::open(&gz).unwrap_or_else(|e| panic!("{}: {e}", gz.display())))
            .read_to_end(&mut text)
            .unwrap();
        // Tests run in parallel: each writes its own copy and renames it into place whole.
        let partial = path(&format!("{name}.jsonl.{:?}", std::thread::current().id()));
        std::fs::write(&partial, text).unwrap();
        std::fs::rename(&partial, &file).unwrap();
    }
    file
}

/// The clean run's recording.
pub(crate) fn clean_run() -> &'static Path {
    static CLEAN: OnceLock<PathBuf> = OnceLock::new();
    CLEAN.get_or_init(|| recorded("clean"))
}

/// `ironforge-processor check ARGS`, with `stdin` on its standard input.
pub(crate) fn check(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ironforge-processor"))
        .arg("check")
        .args(args)
        .env_remove("IRONFORGE_CONTRACTS")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The exit code, with the output shown when it is not the one expected.
pub(crate) fn expect_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The JSON report `check --format json` printed.
pub(crate) fn json_report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not a JSON report ({err}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The contract ids violated in the report's traces.
pub(crate) fn violated(report: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = report["traces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|trace| trace["violations"].as_array().unwrap())
        .map(|violation| violation["contract_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The default contracts with `from` replaced by `to`, written to `name`.
pub(crate) fn contracts_with(name: &str, from: &str, to: &str) -> PathBuf {
    let text = ironforge_processor::config::DEFAULT_CONTRACTS_YAML;
    assert!(
        text.contains(from),
        "{from:?} is not in the default contracts"
    );
    let file = path(name);
    std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    file
}

/// A contract file holding only the timing contracts, which the clean run keeps.
pub(crate) fn timing_contracts() -> PathBuf {
    let text = ironforge_processor::config::DEFAULT_CONTRACTS_YAML;
    let memory = text.find("  # --- memory").unwrap();
    let file = path("timing.yaml");
    std::fs::write(&file, &text[..memory]).unwrap();
    file
}

/// One fault of the replay and the contract it breaks.
pub(crate) struct Fault {
    /// The replay's flag for it, without the dashes; also the recording's file stem.
    pub name: &'static str,
    pub faults: Faults,
    pub contract: &'static str,
}

/// Every fault of the replay with the contract it breaks. `run_duration` is only broken under
/// [`quick_run_contracts`]: the slowed run stays well inside the default 180 s.
pub(crate) fn faults() -> Vec<Fault> {
    let with = |set: fn(&mut Faults)| {
        let mut faults = Faults::default();
        set(&mut faults);
        faults
    };
    vec![
        Fault {
            name: "slow-session",
            faults: with(|f| f.slow_session = Some(SessionSelector::Index(1))),
            contract: "session_duration",
        },
        Fault {
            name: "slow-run",
            faults: with(|f| f.slow_run = Some(Duration::from_millis(1500))),
            contract: "run_duration",
        },
        Fault {
            name: "memory-growth",
            faults: with(|f| f.memory_growth_mb = Some(128)),
            contract: "span_memory_peak",
        },
        Fault {
            name: "unknown-event-type",
            faults: with(|f| f.unknown_event_type = true),
            contract: "event_types_known",
        },
        Fault {
            name: "wrong-feature-dim",
            faults: with(|f| f.wrong_feature_dim = true),
            contract: "node_feature_dim",
        },
        Fault {
            name: "cross-session-edge",
            faults: with(|f| f.cross_session_edge = true),
            contract: "no_cross_session_edges",
        },
        Fault {
            name: "open-candle-read",
            faults: with(|f| f.open_candle_read = true),
            contract: "htf_closed_candles",
        },
    ]
}

/// The default contracts with a run limit of 1 s, which the run slowed by 1.5 s breaks.
pub(crate) fn quick_run_contracts() -> PathBuf {
    contracts_with("quick-run.yaml", "threshold: 180", "threshold: 1")
}
