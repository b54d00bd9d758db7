//! Relative criteria: each stage's runs compared with the runs of earlier `--format json` reports, a
//! regression only when slower past the percentage, the absolute floor and the runs' noise
//! ([`ironforge_analysis::baseline`]).

use std::collections::BTreeMap;
use std::path::Path;

use super::error::CheckError;

use ironforge_analysis::baseline::{Criteria, Judgement, SIGNIFICANCE, compare};
use serde::Deserialize;

use crate::verdict::StageDuration;
use ironforge_report::check::{
    BaselineReport, NotJudged, Regression, SCHEMA_VERSION, StageDistribution, StageMean,
};

/// What a baseline report must hold; the rest of it is not read.
#[derive(Debug, Deserialize)]
struct BaselineFile {
    schema_version: u32,
    /// Every trace's stage seconds; reports written before it was added have only the fields below.
    #[serde(default)]
    stage_distributions: Option<Vec<StageDistribution>>,
    #[serde(default)]
    traces: Vec<BaselineTrace>,
    /// One mean per stage over every trace of the baseline's check.
    #[serde(default)]
    stage_means: Option<Vec<StageMean>>,
}

#[derive(Debug, Deserialize)]
struct BaselineTrace {
    service_name: Option<String>,
    #[serde(default)]
    stage_durations: Vec<StageDuration>,
}

type StageKey = (Option<String>, String);

/// Each stage's runs per service over the baseline reports, pooled.
#[derive(Debug, Default)]
pub(super) struct Baseline {
    files: Vec<String>,
    stages: BTreeMap<StageKey, Vec<f64>>,
}

impl Baseline {
    /// Reads and pools baseline reports; errors name the file, and the line and column when the JSON is at
    /// fault.
    pub(super) fn load(paths: &[impl AsRef<Path>]) -> Result<Self, CheckError> {
        let mut baseline = Self::default();
        for path in paths {
            let path = path.as_ref();
            baseline.files.push(path.display().to_string());
            for (key, samples) in read(path)? {
                baseline.stages.entry(key).or_default().extend(samples);
            }
        }
        Ok(baseline)
    }

    /// Compares the check's stages with the baseline's: the regressions, and what could not be judged.
    pub(super) fn judge(
        &self,
        checked: &[StageDistribution],
        criteria: &Criteria,
    ) -> BaselineReport {
        let mut report = BaselineReport {
            files: self.files.clone(),
            max_regression_percent: criteria.max_regression_percent,
            min_regression_seconds: criteria.min_regression_seconds,
            significance: SIGNIFICANCE,
            stages_compared: 0,
            regressions: Vec::new(),
            not_judged: Vec::new(),
        };
        for stage in checked {
            let key = (stage.service_name.clone(), stage.stage.clone());
            let Some(base) = self.stages.get(&key) else {
                continue;
            };
            report.stages_compared += 1;
            let comparison = compare(base, &stage.distribution.samples, criteria);
            let what = StageDistribution::describe(stage.service_name.as_deref(), &stage.stage);
            match comparison.verdict {
                Judgement::Within => {}
                Judgement::TooSmall(reason) => report.not_judged.push(NotJudged {
                    service_name: stage.service_name.clone(),
                    stage: stage.stage.clone(),
                    baseline_runs: comparison.baseline_runs,
                    new_runs: comparison.new_runs,
                    reason: format!("{what}: {reason}"),
                }),
                Judgement::Regressed => report.regressions.push(Regression {
                    service_name: stage.service_name.clone(),
                    stage: stage.stage.clone(),
                    message: format!(
                        "{what} took {:.3} s (median of {} run(s)), {:.3} s or {:.1}% over the baseline's {:.3} s (median of {} run(s)); at most {}% and {} s are allowed; {}",
                        comparison.new_median_seconds,
                        comparison.new_runs,
                        comparison.difference_seconds,
                        comparison.difference_percent,
                        comparison.baseline_median_seconds,
                        comparison.baseline_runs,
                        criteria.max_regression_percent,
                        criteria.min_regression_seconds,
                        comparison.rule
                    ),
                    baseline_median_seconds: comparison.baseline_median_seconds,
                    new_median_seconds: comparison.new_median_seconds,
                    difference_seconds: comparison.difference_seconds,
                    difference_percent: comparison.difference_percent,
                    baseline_runs: comparison.baseline_runs,
                    new_runs: comparison.new_runs,
                    p_value: comparison.p_value,
                    rule: comparison.rule,
                }),
            }
        }
        report
    }
}

/// One baseline report's samples per stage: its distributions, else (older reports) its listed traces'
/// stage durations, else its stage means, each one sample.
fn read(path: &Path) -> Result<BTreeMap<StageKey, Vec<f64>>, CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::BaselineRead {
        path: path.to_owned(),
        source,
    })?;
    let file: BaselineFile =
        serde_json::from_str(&text).map_err(|source| CheckError::BaselineJson {
            path: path.to_owned(),
            source,
        })?;
    if file.schema_version != SCHEMA_VERSION {
        return Err(CheckError::BaselineVersion {
            path: path.to_owned(),
            found: file.schema_version,
            expected: SCHEMA_VERSION,
        });
    }
    if let Some(distributions) = file.stage_distributions {
        return Ok(distributions
            .into_iter()
            .map(|d| ((d.service_name, d.stage), d.distribution.samples))
            .collect());
    }
    let mut stages: BTreeMap<StageKey, Vec<f64>> = BTreeMap::new();
    for trace in file.traces {
        for stage in trace.stage_durations {
            stages
                .entry((trace.service_name.clone(), stage.stage))
                .or_default()
                .push(stage.seconds);
        }
    }
    if stages.is_empty()
        && let Some(means) = file.stage_means
    {
        for mean in means {
            stages.insert((mean.service_name, mean.stage), vec![mean.mean_seconds]);
        }
    }
    Ok(stages)
}
