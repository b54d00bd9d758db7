//! The bundled recordings judged by the contract engine with the processor's default contract file, as
//! `ironforge-processor check` judges them: the reference run passes every contract, the ordinary run fails on
//! the real data's defects.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::GzDecoder;
use ironforge_engine::config::ContractFile;
use ironforge_engine::decode::decode_json_request;
use ironforge_engine::verdict::{TraceVerdict, VerdictStatus};
use ironforge_engine::{ContractSet, Now, evaluate_batch};

/// Contracts on the process that recorded a run (its memory, the instrumentation's cost per operation on a
/// loaded machine) rather than on what the run did; a run recorded by a test build is not judged on them.
const PROCESS_CONTRACTS: [&str; 3] = ["instrument_overhead", "run_memory_peak", "span_memory_peak"];

fn recording(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../fixtures/traces/{name}.jsonl.gz"))
}

/// The verdicts of the default contracts on a file of OTLP/JSON lines, gzipped or not.
fn judge(file: &Path) -> Vec<TraceVerdict> {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(bytes).unwrap()
    };
    let contracts = Arc::new(ContractSet::new(
        ContractFile::embedded_default().unwrap(),
        None,
    ));
    let mut spans = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let decoded = decode_json_request(line, contracts.plan()).unwrap();
        assert_eq!(decoded.rejected, 0, "line {}: {:?}", n + 1, decoded.errors);
        spans.extend(decoded.spans);
    }
    evaluate_batch(contracts, spans, Now::system())
}

fn violated(verdict: &TraceVerdict) -> BTreeSet<&str> {
    verdict
        .violations
        .iter()
        .map(|v| v.contract_id.as_str())
        .collect()
}

#[test]
fn the_reference_recording_passes_every_default_contract() {
    let verdicts = judge(&recording("reference"));
    assert_eq!(verdicts.len(), 1, "one run, one trace");
    let verdict = &verdicts[0];
    assert_eq!(verdict.span_count, 2 + 4 + 4 * 57);
    assert_eq!(verdict.violations, [], "{verdict:?}");
    assert_eq!(verdict.status, VerdictStatus::Pass);
    assert!(verdict.production_ready);
}

#[test]
fn the_clean_recording_still_fails_on_the_real_defects() {
    let verdicts = judge(&recording("clean"));
    assert_eq!(verdicts.len(), 1);
    let verdict = &verdicts[0];
    assert_eq!(verdict.status, VerdictStatus::Fail);
    assert!(!verdict.production_ready);
    assert_eq!(
        violated(verdict),
        BTreeSet::from([
            "edge_intents_complete",
            "pattern_authenticity",
            "run_mean_authenticity",
            "sessions_complete",
            "unique_session_ids",
        ])
    );
    assert_eq!(verdict.violations.len(), 39);
    assert_eq!(
        verdict
            .violations
            .iter()
            .filter(|v| v.blocks_production)
            .count(),
        37
    );
}

/// The mode, not only the file: a reference run recorded now passes, and the same run without `reference`
/// breaks exactly the contracts the repairs are for.
#[test]
fn a_reference_run_recorded_now_passes_and_an_ordinary_one_does_not() {
    let judged = |reference: bool| {
        let file = std::env::temp_dir().join(format!(
            "ironforge-replay-reference-{reference}-{}.jsonl",
            std::process::id()
        ));
        // The replay binary, in a process of its own: tracing caches each callsite's interest per process,
        // and a test of this binary running the pipeline without a subscriber at the same moment could leave
        // spans of this run unrecorded.
        let mut replay = std::process::Command::new(env!("CARGO_BIN_EXE_ironforge-replay"));
        replay.arg("--output").arg(&file).env("NO_COLOR", "1");
        if reference {
            replay.arg("--reference");
        }
        let output = replay.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let verdicts = judge(&file);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(verdicts.len(), 1);
        let mut ids: Vec<String> = violated(&verdicts[0])
            .into_iter()
            .map(str::to_owned)
            .collect();
        ids.retain(|id| !PROCESS_CONTRACTS.contains(&id.as_str()));
        ids
    };
    assert_eq!(judged(true), Vec::<String>::new());
    assert_eq!(
        judged(false),
        [
            "edge_intents_complete",
            "pattern_authenticity",
            "run_mean_authenticity",
            "sessions_complete",
            "unique_session_ids",
        ]
    );
}
