//! Relative criteria: a stage slower than in an earlier `--format json` report by more than the allowed
//! percentage fails the check.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::report::{Regression, SCHEMA_VERSION, StageMean};
use crate::verdict::{StageDuration, TraceVerdict};

/// What a baseline report must hold; the rest of it is not read.
#[derive(Debug, Deserialize)]
struct BaselineFile {
    schema_version: u32,
    #[serde(default)]
    traces: Vec<BaselineTrace>,
    /// Over every trace of the baseline's check, listed or not; reports written before it was added have
    /// only their traces.
    #[serde(default)]
    stage_means: Option<Vec<StageMean>>,
}

#[derive(Debug, Deserialize)]
struct BaselineTrace {
    service_name: Option<String>,
    #[serde(default)]
    stage_durations: Vec<StageDuration>,
}

/// Each stage's mean duration per service over the baseline's traces.
#[derive(Debug)]
pub struct Baseline {
    stages: BTreeMap<(Option<String>, String), f64>,
}

impl Baseline {
    /// Reads a baseline report; errors name the file, and the line and column when the JSON is at fault.
    pub fn load(path: &Path) -> Result<Self, String> {
        let name = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|err| format!("{name}: cannot read: {err}"))?;
        let file: BaselineFile = serde_json::from_str(&text).map_err(|err| {
            format!(
                "{name}:{}:{}: not a check report in JSON: {err}",
                err.line(),
                err.column()
            )
        })?;
        if file.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "{name}: schema_version {} is not {SCHEMA_VERSION}, the version this check writes",
                file.schema_version
            ));
        }
        if let Some(means) = file.stage_means {
            let stages = means
                .into_iter()
                .map(|mean| ((mean.service_name, mean.stage), mean.mean_seconds))
                .collect();
            return Ok(Self { stages });
        }
        let mut sums: BTreeMap<(Option<String>, String), (f64, u32)> = BTreeMap::new();
        for trace in file.traces {
            for stage in trace.stage_durations {
                let entry = sums
                    .entry((trace.service_name.clone(), stage.stage))
                    .or_default();
                entry.0 += stage.seconds;
                entry.1 += 1;
            }
        }
        let stages = sums
            .into_iter()
            .map(|(key, (sum, count))| (key, sum / f64::from(count.max(1))))
            .collect();
        Ok(Self { stages })
    }

    /// The stages of `verdict` slower than this baseline's for the same service and stage allow.
    pub fn regressions(&self, verdict: &TraceVerdict, max_percent: f64) -> Vec<Regression> {
        verdict
            .stage_durations
            .iter()
            .filter_map(|stage| {
                let key = (verdict.service_name.clone(), stage.stage.clone());
                let baseline = *self.stages.get(&key)?;
                let threshold = baseline * (1.0 + max_percent / 100.0);
                (stage.seconds > threshold).then(|| Regression {
                    stage: stage.stage.clone(),
                    baseline_seconds: baseline,
                    observed_seconds: stage.seconds,
                    threshold_seconds: threshold,
                    max_regression_percent: max_percent,
                    message: format!(
                        "stage {} took {:.3} s, {:.1}% over the baseline's {:.3} s; at most {max_percent}% is allowed",
                        stage.stage,
                        stage.seconds,
                        percent_over(stage.seconds, baseline),
                        baseline
                    ),
                })
            })
            .collect()
    }
}

fn percent_over(observed: f64, baseline: f64) -> f64 {
    if baseline > 0.0 {
        (observed / baseline - 1.0) * 100.0
    } else {
        f64::INFINITY
    }
}
