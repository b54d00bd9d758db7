//! Stage timings over the runs checked, and how they compare with a baseline's.

use ironforge_analysis::baseline::Distribution;
use serde::{Deserialize, Serialize};

/// The stage name that stands for a run as a whole: from its first span's start to its last span's end.
pub const WHOLE_RUN: &str = "run";

/// One stage of one service, averaged over the traces checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageMean {
    pub service_name: Option<String>,
    pub stage: String,
    /// Traces that ran the stage.
    pub traces: u64,
    pub mean_seconds: f64,
}

/// One stage of one service (or the run as a whole, [`WHOLE_RUN`]) over every trace checked: what a later
/// check's `--baseline` compares with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageDistribution {
    pub service_name: Option<String>,
    pub stage: String,
    #[serde(flatten)]
    pub distribution: Distribution,
}

/// A stage slower than its baseline runs past every criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub service_name: Option<String>,
    pub stage: String,
    pub baseline_median_seconds: f64,
    pub new_median_seconds: f64,
    /// New median less the baseline's.
    pub difference_seconds: f64,
    pub difference_percent: f64,
    pub baseline_runs: usize,
    pub new_runs: usize,
    /// One-sided Mann–Whitney p-value, when several new runs were compared.
    pub p_value: Option<f64>,
    /// The rule that found the difference more than noise.
    pub rule: String,
    pub message: String,
}

/// A stage the baseline holds too few runs of (or the check too few) to tell a slowdown from noise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotJudged {
    pub service_name: Option<String>,
    pub stage: String,
    pub baseline_runs: usize,
    pub new_runs: usize,
    pub reason: String,
}

/// The comparison with `--baseline`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineReport {
    /// The baseline reports, as given.
    pub files: Vec<String>,
    pub max_regression_percent: f64,
    pub min_regression_seconds: f64,
    /// The p-value below which several new runs count as slower.
    pub significance: f64,
    /// Stages (and runs as a whole) compared, judged or not.
    pub stages_compared: usize,
    pub regressions: Vec<Regression>,
    pub not_judged: Vec<NotJudged>,
}

impl StageDistribution {
    /// `stage discovery of ironforge-replay`, or `the run as a whole of …`.
    pub fn describe(service_name: Option<&str>, stage: &str) -> String {
        let service = service_name.unwrap_or("(unknown)");
        if stage == WHOLE_RUN {
            format!("the whole run of {service}")
        } else {
            format!("stage {stage} of {service}")
        }
    }
}
