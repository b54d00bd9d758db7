//! The analysis options of `serve`, as the command line spells them.

use std::time::Duration;

use clap::Args;
use ironforge_analysis::regression::RegressionOptions;

use super::{AnalysisConfig, HistoryRetention};

const DAY: u64 = 24 * 60 * 60;

#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    /// Do not analyse decided traces (no critical paths, bottlenecks, plans, regressions or history).
    #[arg(long, env = "IRONFORGE_NO_ANALYSIS")]
    pub no_analysis: bool,
    /// Keep no run history (DATA_DIR/history.sqlite): no regressions and no memory trend across runs.
    #[arg(long, env = "IRONFORGE_NO_HISTORY")]
    pub no_history: bool,
    /// Days of run history kept.
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=36_500))]
    pub history_max_age_days: u64,
    /// Bytes the run history may take on disk; the oldest runs go first.
    #[arg(long, value_name = "BYTES", default_value_t = HistoryRetention::default().max_bytes,
        value_parser = clap::value_parser!(u64).range(65_536..))]
    pub history_max_bytes: u64,
    /// Runs the run history keeps, with their verdicts and analyses; the oldest go first.
    #[arg(long, value_name = "RUNS", default_value_t = HistoryRetention::default().max_runs,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub history_max_runs: u64,
    /// Recent runs per pipeline the bottlenecks are ranked over.
    #[arg(long, value_name = "RUNS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub bottleneck_runs: u64,
    /// Runs of each measure's history searched for change points.
    #[arg(long, value_name = "RUNS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    pub regression_runs: u64,
    /// Points searched at once for change points (Apache Otava's window).
    #[arg(long, value_name = "POINTS", default_value_t = RegressionOptions::default().window)]
    pub regression_window: usize,
    /// Largest p-value of a change point (Student's t-test).
    #[arg(long, value_name = "P", default_value_t = RegressionOptions::default().max_p_value, value_parser = probability)]
    pub regression_max_p_value: f64,
    /// Smallest relative change of a change point (0.1 = 10 %).
    #[arg(long, value_name = "FRACTION", default_value_t = RegressionOptions::default().min_magnitude, value_parser = crate::cli::non_negative)]
    pub regression_min_magnitude: f64,
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err("expected a number above 0 and below 1".to_owned()),
    }
}

impl AnalysisArgs {
    /// The analysis the flags ask for; `None` with `--no-analysis`.
    pub fn config(&self) -> Option<AnalysisConfig> {
        if self.no_analysis {
            return None;
        }
        let defaults = AnalysisConfig::default();
        Some(AnalysisConfig {
            history: (!self.no_history).then(|| HistoryRetention {
                max_age: Duration::from_secs(self.history_max_age_days.saturating_mul(DAY)),
                max_bytes: self.history_max_bytes,
                max_runs: self.history_max_runs,
            }),
            bottleneck_runs: usize::try_from(self.bottleneck_runs).unwrap_or(usize::MAX),
            regression_runs: usize::try_from(self.regression_runs).unwrap_or(usize::MAX),
            regression: RegressionOptions {
                window: self.regression_window.max(2),
                max_p_value: self.regression_max_p_value,
                min_magnitude: self.regression_min_magnitude,
            },
            ..defaults
        })
    }
}
