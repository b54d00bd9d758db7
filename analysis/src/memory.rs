//! Memory trends: growth within a run and across runs, leak guards, and an efficiency score.
//!
//! A leak is growth that is real, still going on and not undone by restarts. [`memory_trend`] sorts the samples by
//! time, splits them where the process restarted, fits a least-squares line to the last segment, and calls the
//! growth a leak only when every guard holds:
//!
//! 1. the last segment has at least [`LeakOptions::min_points`] samples;
//! 2. its slope is positive;
//! 3. the last quarter of the segment (at least two samples) still grows: its own slope is positive, so memory
//!    that rose and levelled off (a warmed cache, a filled pool) is not a leak;
//! 4. the slope is significant: `confidence >= min_confidence` (see [`MemoryTrend::confidence`]).
//!
//! The growth is then projected against [`LeakOptions::limit_bytes`].

use serde::{Deserialize, Serialize};

use crate::stats::student_t_two_sided_p;
use crate::units::{bytes, duration, rate};

/// One reading of a process's memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemorySample {
    /// When the reading was taken, in nanoseconds since the Unix epoch.
    pub unix_nano: u64,
    /// Resident bytes. Negative and non-finite readings are ignored.
    pub bytes: f64,
}

/// When growth counts as a leak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeakOptions {
    /// Fewest samples since the last restart that a trend is judged on. Default 8.
    pub min_points: usize,
    /// The memory budget growth is projected against. Default 104 857 600 (100 MiB), the `100 MB` of the
    /// default contract.
    pub limit_bytes: f64,
    /// A sample below this fraction of the previous one marks a restart. Default 0.5.
    pub restart_drop: f64,
    /// Smallest [`MemoryTrend::confidence`] of a leak. Default 0.95: the slope's two-sided t-test at 5 %.
    pub min_confidence: f64,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            min_points: 8,
            limit_bytes: 104_857_600.0,
            restart_drop: 0.5,
            min_confidence: 0.95,
        }
    }
}

/// What a series of memory samples shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryTrend {
    /// Samples analysed: all with a finite, non-negative reading.
    pub samples: usize,
    /// Samples ignored for a negative or non-finite reading.
    pub ignored_samples: usize,
    /// Segments after splitting at restarts; 0 without samples.
    pub segments: usize,
    /// Samples in the last segment, the one the trend is fitted to.
    pub segment_samples: usize,
    /// Largest reading over all segments.
    pub peak_bytes: f64,
    /// Mean reading over all segments.
    pub mean_bytes: f64,
    /// Least-squares slope of bytes over seconds in the last segment; 0 when it cannot be fitted (fewer than two
    /// distinct times).
    pub growth_bytes_per_second: f64,
    /// `1 − p`, with p the two-sided p-value of the t-test of that slope against zero
    /// (`t = slope / SE(slope)`, n − 2 degrees of freedom). 1 for a perfect line that grows, 0 when the slope
    /// cannot be tested (fewer than three samples, or no variation in time).
    pub confidence: f64,
    /// Whether every leak guard holds.
    pub leak: bool,
    /// Why the series is or is not a leak, in words.
    pub verdict: String,
    /// Seconds until the fitted line reaches `limit_bytes` from its value at the last sample, whenever the last
    /// segment grows (leak or not): `(limit − fitted_last) / growth`, 0 when already at or above the limit. `None`
    /// when memory does not grow or the limit is not a positive number.
    pub seconds_to_limit: Option<f64>,
    /// 0 to 100: `100 × clamp(1 − peak_bytes / limit_bytes, 0, 1)`, the share of the budget left at the peak,
    /// halved for a leak, whose headroom is only temporary. 0 without samples or without a positive limit.
    pub efficiency_score: f64,
}

/// The trend of `samples` (in any order), judged by `options`. See the module documentation for the guards.
pub fn memory_trend(samples: &[MemorySample], options: &LeakOptions) -> MemoryTrend {
    let series = Series::of(samples, options.restart_drop);
    let last_segment = series.last_segment();
    let peak_bytes = series.valid.iter().map(|s| s.bytes).fold(0.0, f64::max);
    // A running mean, which no sum of large readings can overflow.
    let mean_bytes = series
        .valid
        .iter()
        .enumerate()
        .fold(0.0, |m, (i, s)| m + (s.bytes - m) / (i + 1) as f64);

    let fit = LineFit::of(last_segment);
    let quarter = last_segment
        .len()
        .div_ceil(4)
        .max(2)
        .min(last_segment.len());
    let tail_fit = LineFit::of(&last_segment[last_segment.len() - quarter..]);
    let (leak, verdict) = judge(&series, &fit, &tail_fit, quarter, options);

    let limit = options.limit_bytes;
    let limit_is_usable = limit.is_finite() && limit > 0.0;
    let seconds_to_limit = (limit_is_usable && fit.slope > 0.0)
        .then(|| ((limit - fit.fitted_last) / fit.slope).max(0.0))
        .filter(|s| s.is_finite());
    let efficiency_score = if series.valid.is_empty() || !limit_is_usable {
        0.0
    } else {
        let headroom = (1.0 - peak_bytes / limit).clamp(0.0, 1.0);
        let score = 100.0 * headroom * if leak { 0.5 } else { 1.0 };
        if score.is_finite() { score } else { 0.0 }
    };
    let verdict = match seconds_to_limit {
        Some(seconds) if leak => format!(
            "{verdict}; reaches the {} limit in {}",
            bytes(limit),
            duration(seconds)
        ),
        _ => verdict,
    };

    MemoryTrend {
        samples: series.valid.len(),
        ignored_samples: series.ignored,
        segments: series.segments(),
        segment_samples: last_segment.len(),
        peak_bytes,
        mean_bytes,
        growth_bytes_per_second: fit.slope,
        confidence: fit.confidence,
        leak,
        verdict,
        seconds_to_limit,
        efficiency_score,
    }
}

/// The usable samples in time order, and where the process restarted among them.
struct Series {
    valid: Vec<MemorySample>,
    /// Samples left out for a negative or non-finite reading.
    ignored: usize,
    /// Indexes in `valid` of the first sample after each restart.
    restarts: Vec<usize>,
}

impl Series {
    fn of(samples: &[MemorySample], restart_drop: f64) -> Series {
        let mut valid: Vec<MemorySample> = samples
            .iter()
            .copied()
            .filter(|s| s.bytes.is_finite() && s.bytes >= 0.0)
            .collect();
        valid.sort_by_key(|s| s.unix_nano);
        let ignored = samples.len() - valid.len();
        let restarts: Vec<usize> = (1..valid.len())
            .filter(|&i| valid[i].bytes < restart_drop * valid[i - 1].bytes)
            .collect();
        Series {
            valid,
            ignored,
            restarts,
        }
    }

    fn segments(&self) -> usize {
        if self.valid.is_empty() {
            0
        } else {
            self.restarts.len() + 1
        }
    }

    /// The samples since the last restart: the only ones a leak in the running process shows in.
    fn last_segment(&self) -> &[MemorySample] {
        &self.valid[self.restarts.last().copied().unwrap_or(0)..]
    }
}

/// Whether the last segment leaks, the first guard that fails saying why not.
fn judge(
    series: &Series,
    fit: &LineFit,
    tail_fit: &LineFit,
    quarter: usize,
    options: &LeakOptions,
) -> (bool, String) {
    let last_segment = series.last_segment();
    let since = if series.restarts.is_empty() {
        "since the first sample"
    } else {
        "since the last restart"
    };
    if series.valid.is_empty() {
        (false, "no samples: nothing to judge".to_owned())
    } else if last_segment.len() < options.min_points {
        let restarted = if series.restarts.is_empty() {
            String::new()
        } else {
            format!(" (the process restarted {} times)", series.restarts.len())
        };
        (
            false,
            format!(
                "not a leak: only {} samples {since}{restarted}, fewer than the {} a trend needs",
                last_segment.len(),
                options.min_points
            ),
        )
    } else if fit.slope <= 0.0 {
        (
            false,
            format!(
                "not a leak: memory does not grow {since} ({})",
                rate(fit.slope)
            ),
        )
    } else if tail_fit.slope <= 0.0 {
        (
            false,
            format!(
                "not a leak: memory grew {since} ({}) but levelled off: the last {quarter} samples do not grow",
                rate(fit.slope)
            ),
        )
    } else if fit.confidence < options.min_confidence {
        (
            false,
            format!(
                "not a leak: growth of {} {since} is not significant (confidence {:.3} < {:.3})",
                rate(fit.slope),
                fit.confidence,
                options.min_confidence
            ),
        )
    } else {
        (
            true,
            format!(
                "leak: memory grows {} {since} (confidence {:.3}), still growing in the last {quarter} samples",
                rate(fit.slope),
                fit.confidence
            ),
        )
    }
}

/// Least-squares line of bytes over seconds, and the t-test of its slope.
#[derive(Debug, Clone, Copy)]
struct LineFit {
    /// Bytes per second; 0 when there is no line to fit.
    slope: f64,
    /// `1 − p` of the slope's t-test; 0 when it cannot be tested.
    confidence: f64,
    /// The line's value at the last sample.
    fitted_last: f64,
}

impl LineFit {
    fn of(samples: &[MemorySample]) -> LineFit {
        let none = LineFit {
            slope: 0.0,
            confidence: 0.0,
            fitted_last: samples.last().map_or(0.0, |s| s.bytes),
        };
        let Some(first) = samples.first() else {
            return none;
        };
        let n = samples.len() as f64;
        // Seconds from the first sample: nanoseconds since 1970 squared would lose all precision.
        let seconds = |s: &MemorySample| s.unix_nano.saturating_sub(first.unix_nano) as f64 / 1e9;
        let mean_x = samples.iter().map(seconds).sum::<f64>() / n;
        let mean_y = samples.iter().map(|s| s.bytes).sum::<f64>() / n;
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for sample in samples {
            let (dx, dy) = (seconds(sample) - mean_x, sample.bytes - mean_y);
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        let slope = sxy / sxx;
        if sxx <= 0.0 || !slope.is_finite() {
            return none;
        }
        let last_x = samples.last().map_or(0.0, seconds);
        let fitted_last = mean_y + slope * (last_x - mean_x);
        let degrees_of_freedom = n - 2.0;
        let confidence = if degrees_of_freedom < 1.0 {
            0.0
        } else {
            let residual = (syy - slope * sxy).max(0.0);
            let standard_error = (residual / degrees_of_freedom / sxx).sqrt();
            if standard_error == 0.0 {
                // A perfect line: certain, unless it is flat.
                if slope == 0.0 { 0.0 } else { 1.0 }
            } else {
                let p = student_t_two_sided_p(slope / standard_error, degrees_of_freedom);
                if p.is_nan() { 0.0 } else { 1.0 - p }
            }
        };
        LineFit {
            slope,
            confidence,
            fitted_last,
        }
    }
}
