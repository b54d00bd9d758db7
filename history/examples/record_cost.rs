//! What one `History::record` costs: a run with 10 measures, recorded into a fresh history in a temporary directory,
//! with `prune` every 100 records as the processor would call it.
//!
//! `cargo run --release -p ironforge-history --example record_cost [runs]`

use std::time::Instant;

use ironforge_history::{History, HistoryError, HistoryOptions, Measure, RunRecord};

fn main() -> Result<(), HistoryError> {
    let runs: u64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!(
        "ironforge-history-record-cost-{}",
        std::process::id()
    ));
    let result = measure(&dir, runs);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(dir: &std::path::Path, runs: u64) -> Result<(), HistoryError> {
    let mut history = History::open(HistoryOptions::in_dir(dir))?;
    let names: Vec<String> = (0..8)
        .map(|i| format!("stage.stage{i}.duration_seconds"))
        .chain(["run.duration_seconds".into(), "memory.peak_bytes".into()])
        .collect();
    let start_nano = 1_700_000_000_000_000_000u64;
    let mut record_time = std::time::Duration::ZERO;
    let mut prune_time = std::time::Duration::ZERO;
    for n in 0..runs {
        let run = RunRecord {
            trace_id: u128::from(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_be_bytes(),
            service: format!("pipeline-{}", n % 4),
            decided_unix_nano: start_nano + n * 1_000_000_000,
            status: "pass".into(),
            production_ready: true,
            verdict: None,
            analysis: None,
            measures: names
                .iter()
                .enumerate()
                .map(|(i, name)| Measure {
                    name: name.clone(),
                    value: (n + i as u64) as f64 * 1.5,
                })
                .collect(),
        };
        let started = Instant::now();
        history.record(&run)?;
        record_time += started.elapsed();
        if n % 100 == 99 {
            let started = Instant::now();
            history.prune(start_nano + n * 1_000_000_000)?;
            prune_time += started.elapsed();
        }
    }
    // The first call prepares the statement and reads its pages; the average of the next hundred is the steady cost.
    let mut series = history.series("pipeline-1", "stage.stage3.duration_seconds", 50)?;
    let started = Instant::now();
    for _ in 0..100 {
        series = history.series("pipeline-1", "stage.stage3.duration_seconds", 50)?;
    }
    let series_time = started.elapsed() / 100;
    println!(
        "{runs} runs of {} measures: record {:.1} µs a run, prune (nothing over the bounds) {:.1} µs a call, \
         series of {} points {:.1} µs, file {} KiB",
        names.len(),
        record_time.as_secs_f64() * 1e6 / runs as f64,
        prune_time.as_secs_f64() * 1e6 / (runs / 100).max(1) as f64,
        series.len(),
        series_time.as_secs_f64() * 1e6,
        history.size_bytes()? / 1024,
    );
    Ok(())
}
