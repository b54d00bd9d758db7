//! Whether a stage got slower than a baseline of earlier runs, told apart from run-to-run noise.
//!
//! A baseline is many runs of a stage: its distribution (median, spread, the samples). A stage regresses
//! only when it is slower by more than a relative threshold, by more than an absolute floor, and by more
//! than the runs' noise explains: with several new runs a one-sided Mann–Whitney U test (normal
//! approximation with tie and continuity correction, as `scipy.stats.mannwhitneyu(..., method="asymptotic")`
//! computes it), with one new run a place outside the baseline's spread. One baseline run shows no spread,
//! so it is too small to judge.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// The p-value below which the new runs count as slower than the baseline's.
pub const SIGNIFICANCE: f64 = 0.01;

/// How many scaled MADs above the baseline's median a single new run must lie to count as slower.
pub const MAD_MULTIPLIER: f64 = 3.0;

/// MAD times this estimates the standard deviation of normally distributed samples.
const MAD_TO_SIGMA: f64 = 1.4826;

/// The runs of one stage: where they lie and how far they spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub runs: usize,
    pub median_seconds: f64,
    /// Median absolute deviation from the median, unscaled.
    pub mad_seconds: f64,
    /// Interquartile range (linear interpolation, numpy's default).
    pub iqr_seconds: f64,
    pub min_seconds: f64,
    pub max_seconds: f64,
    /// Every run's seconds, in the order checked: what a later check compares with.
    pub samples: Vec<f64>,
}

impl Distribution {
    /// The distribution of `samples`; non-finite values are left out.
    pub fn of(samples: Vec<f64>) -> Self {
        let samples: Vec<f64> = samples.into_iter().filter(|v| v.is_finite()).collect();
        let sorted = sorted(&samples);
        Self {
            runs: samples.len(),
            median_seconds: quantile(&sorted, 0.5),
            mad_seconds: mad(&sorted),
            iqr_seconds: quantile(&sorted, 0.75) - quantile(&sorted, 0.25),
            min_seconds: sorted.first().copied().unwrap_or(0.0),
            max_seconds: sorted.last().copied().unwrap_or(0.0),
            samples,
        }
    }
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    sorted
}

/// The `q` quantile of sorted values by linear interpolation; 0 for none.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let position = q.clamp(0.0, 1.0) * last as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

/// The median of any values.
pub fn median(values: &[f64]) -> f64 {
    quantile(&sorted(values), 0.5)
}

fn mad(sorted_values: &[f64]) -> f64 {
    let centre = quantile(sorted_values, 0.5);
    let deviations: Vec<f64> = sorted_values.iter().map(|v| (v - centre).abs()).collect();
    median(&deviations)
}

/// A one-sided Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: how many (first, second) pairs the first wins, ties counting half.
    pub u: f64,
    pub z: f64,
    /// P(U >= u) when both samples come from one distribution.
    pub p: f64,
}

/// Tests whether `first` tends to be larger than `second`. With no variance (every value tied, or an empty
/// sample) there is no evidence: p is 1.
pub fn mann_whitney_greater(first: &[f64], second: &[f64]) -> MannWhitney {
    let (n1, n2) = (first.len() as f64, second.len() as f64);
    let mut pooled: Vec<(f64, bool)> = first
        .iter()
        .map(|v| (*v, true))
        .chain(second.iter().map(|v| (*v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
    let (mut rank_sum, mut tie_term) = (0.0, 0.0);
    let mut start = 0;
    while start < pooled.len() {
        let end = (start..pooled.len())
            .find(|at| pooled[*at].0 != pooled[start].0)
            .unwrap_or(pooled.len());
        let tied = (end - start) as f64;
        // Ranks are 1-based; tied values share the mean of the ranks they span.
        let rank = (start + end + 1) as f64 / 2.0;
        let firsts = pooled[start..end].iter().filter(|v| v.1).count() as f64;
        rank_sum += rank * firsts;
        tie_term += tied * tied * tied - tied;
        start = end;
    }
    let u = rank_sum - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let variance = if n > 1.0 {
        n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))
    } else {
        0.0
    };
    if variance <= 0.0 {
        return MannWhitney { u, z: 0.0, p: 1.0 };
    }
    let z = (u - n1 * n2 / 2.0 - 0.5) / variance.sqrt();
    MannWhitney {
        u,
        z,
        p: normal_sf(z),
    }
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, to a relative error below 1.2e-7 (Numerical Recipes' `erfcc`,
/// a Chebyshev fit): ample for comparing p-values with thresholds.
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let coefficients = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ];
    let polynomial = coefficients.iter().rev().fold(0.0, |acc, c| c + t * acc);
    let value = t * (-x * x + polynomial).exp();
    if x >= 0.0 { value } else { 2.0 - value }
}

/// When a slower stage counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criteria {
    /// The new median must exceed the baseline's by more than this percentage.
    pub max_regression_percent: f64,
    /// ... and by more than these seconds.
    pub min_regression_seconds: f64,
}

/// How a stage's new runs compare with the baseline's.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub baseline_runs: usize,
    pub new_runs: usize,
    pub baseline_median_seconds: f64,
    pub new_median_seconds: f64,
    /// New median less the baseline's.
    pub difference_seconds: f64,
    /// The difference in percent of the baseline's median; infinite over a zero median.
    pub difference_percent: f64,
    /// The Mann–Whitney p-value, with several new runs.
    pub p_value: Option<f64>,
    /// The rule that judged the difference, in words.
    pub rule: String,
    pub verdict: Judgement,
}

/// The outcome of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Slower past every criterion.
    Regressed,
    /// Within the thresholds, or not significant.
    Within,
    /// The runs cannot show a significant difference; why, in words.
    TooSmall(String),
}

/// Compares the new runs of a stage with its baseline runs under `criteria`.
pub fn compare(baseline: &[f64], new: &[f64], criteria: &Criteria) -> Comparison {
    let base = sorted(baseline);
    let (base_median, new_median) = (quantile(&base, 0.5), median(new));
    let difference = new_median - base_median;
    let percent = if base_median > 0.0 {
        difference / base_median * 100.0
    } else if difference > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let mut comparison = Comparison {
        baseline_runs: base.len(),
        new_runs: new.len(),
        baseline_median_seconds: base_median,
        new_median_seconds: new_median,
        difference_seconds: difference,
        difference_percent: percent,
        p_value: None,
        rule: String::new(),
        verdict: Judgement::Within,
    };
    let (significant, rule) = match (base.len(), new.len()) {
        (0, _) | (_, 0) => (false, too_small(&mut comparison, "no runs to compare")),
        (1, _) => (
            false,
            too_small(
                &mut comparison,
                "the baseline holds 1 run: it shows no spread, too small to judge; record a baseline of several runs",
            ),
        ),
        (_, 1) => outside_spread(&base, new_median),
        (m, n) => {
            let test = mann_whitney_greater(new, &base);
            comparison.p_value = Some(test.p);
            let best = mann_whitney_greater(&vec![1.0; n], &vec![0.0; m]).p;
            if best >= SIGNIFICANCE {
                let reason = format!(
                    "{n} new run(s) against {m} cannot reach p < {SIGNIFICANCE} (at best p = {best:.3}); compare more runs"
                );
                (false, too_small(&mut comparison, &reason))
            } else {
                let rule = format!(
                    "Mann-Whitney U = {}, one-sided p = {} {} {SIGNIFICANCE}",
                    test.u,
                    format_p(test.p),
                    if test.p < SIGNIFICANCE { "<" } else { ">=" }
                );
                (test.p < SIGNIFICANCE, rule)
            }
        }
    };
    comparison.rule = rule;
    if comparison.verdict == Judgement::Within
        && significant
        && percent > criteria.max_regression_percent
        && difference > criteria.min_regression_seconds
    {
        comparison.verdict = Judgement::Regressed;
    }
    comparison
}

fn too_small(comparison: &mut Comparison, reason: &str) -> String {
    comparison.verdict = Judgement::TooSmall(reason.to_owned());
    reason.to_owned()
}

/// One new run is slower past noise when it lies above the baseline's slowest run and more than
/// [`MAD_MULTIPLIER`] scaled MADs above its median.
fn outside_spread(base: &[f64], new: f64) -> (bool, String) {
    let max = base.last().copied().unwrap_or(0.0);
    let limit = quantile(base, 0.5) + MAD_MULTIPLIER * MAD_TO_SIGMA * mad(base);
    let bound = max.max(limit);
    let outside = new > bound;
    let rule = format!(
        "1 new run: {} the baseline's slowest run ({max:.6} s) and median + {MAD_MULTIPLIER}·1.4826·MAD ({limit:.6} s)",
        if outside { "above" } else { "not above both" }
    );
    (outside, rule)
}

/// A p-value in few digits, small ones in scientific notation.
fn format_p(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stats::assert_close;

    const CRITERIA: Criteria = Criteria {
        max_regression_percent: 10.0,
        min_regression_seconds: 0.050,
    };

    #[test]
    fn the_normal_tail_matches_scipy() {
        // scipy.stats.norm.sf
        for (z, expected) in [
            (0.0, 0.5),
            (1.0, 0.15865525393145707),
            (1.96, 0.024997895148220435),
            (2.5758, 0.00500042373777868),
            (5.0, 2.866515718791933e-07),
            (-1.5, 0.9331927987311419),
        ] {
            assert_close(normal_sf(z), expected, 2e-7);
        }
    }

    #[test]
    // 3.14 below is a sample, not π.
    #[allow(clippy::approx_constant)]
    fn mann_whitney_matches_scipy_without_and_with_ties() {
        // scipy.stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")
        let x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        let y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
        let test = mann_whitney_greater(&x, &y);
        assert_eq!(test.u, 58.0);
        assert_close(test.p, 0.06645972909265946, 1e-6);

        let a = [3.0, 4.0, 4.0, 5.0, 6.0, 6.0, 6.0, 7.0];
        let b = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 5.0];
        let test = mann_whitney_greater(&a, &b);
        assert_eq!(test.u, 46.0);
        assert_close(test.p, 0.019949237750221338, 1e-6);
        let reverse = mann_whitney_greater(&b, &a);
        assert_eq!(reverse.u, 10.0);
        assert_close(reverse.p, 0.9850802943185356, 1e-6);
    }

    #[test]
    fn all_tied_samples_show_no_difference() {
        let test = mann_whitney_greater(&[2.0, 2.0], &[2.0, 2.0, 2.0]);
        assert_eq!(test.p, 1.0);
    }

    #[test]
    fn distribution_matches_numpy_and_scipy() {
        // numpy.percentile(..., [25, 75]) = [2, 4]; scipy.stats.median_abs_deviation = 1
        let distribution = Distribution::of(vec![4.0, 1.0, 100.0, 3.0, 2.0, f64::NAN]);
        assert_eq!(distribution.runs, 5);
        assert_eq!(distribution.median_seconds, 3.0);
        assert_eq!(distribution.mad_seconds, 1.0);
        assert_eq!(distribution.iqr_seconds, 2.0);
        assert_eq!(
            (distribution.min_seconds, distribution.max_seconds),
            (1.0, 100.0)
        );
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), 2.5);
    }

    /// `count` runs of `centre` seconds spread evenly over ±`spread` (a fraction), the grid shifted by
    /// `seed` so two samples of the same noise differ. Order is irrelevant to the statistics compared.
    fn jittered(centre: f64, spread: f64, count: usize, seed: u64) -> Vec<f64> {
        let phase = (seed % 7) as f64 / 7.0;
        (0..count)
            .map(|index| (index as f64 + phase) / count as f64)
            .map(|unit| centre * (1.0 + spread * (2.0 * unit - 1.0)))
            .collect()
    }

    #[test]
    fn noise_is_not_a_regression_and_a_real_slowdown_is() {
        let baseline = jittered(1.0, 0.2, 20, 1);
        let noise = compare(&baseline, &jittered(1.0, 0.2, 20, 2), &CRITERIA);
        assert_eq!(noise.verdict, Judgement::Within, "{noise:?}");
        let slow = compare(&baseline, &jittered(1.3, 0.2, 20, 3), &CRITERIA);
        assert_eq!(slow.verdict, Judgement::Regressed, "{slow:?}");
        assert!(slow.p_value.unwrap() < SIGNIFICANCE);
        assert!(slow.difference_percent > 20.0, "{slow:?}");
    }

    #[test]
    fn a_significant_slowdown_below_the_floor_or_the_percentage_passes() {
        let baseline = jittered(0.009, 0.05, 20, 4);
        let slower = compare(&baseline, &jittered(0.0105, 0.05, 20, 5), &CRITERIA);
        assert!(slower.p_value.unwrap() < SIGNIFICANCE, "{slower:?}");
        assert_eq!(slower.verdict, Judgement::Within, "under 50 ms: {slower:?}");
        let loose = Criteria {
            max_regression_percent: 50.0,
            ..CRITERIA
        };
        let big = compare(
            &jittered(1.0, 0.05, 20, 6),
            &jittered(1.3, 0.05, 20, 7),
            &loose,
        );
        assert_eq!(big.verdict, Judgement::Within, "under 50 %: {big:?}");
    }

    #[test]
    fn one_new_run_must_leave_the_baseline_spread() {
        let baseline = jittered(1.0, 0.2, 10, 8);
        let inside = compare(&baseline, &[1.15], &CRITERIA);
        assert_eq!(inside.verdict, Judgement::Within, "{inside:?}");
        let outside = compare(&baseline, &[2.0], &CRITERIA);
        assert_eq!(outside.verdict, Judgement::Regressed, "{outside:?}");
        assert!(outside.rule.contains("above"), "{}", outside.rule);
        assert_eq!(outside.p_value, None);
    }

    #[test]
    fn too_few_runs_are_said_to_be_too_few() {
        let one = compare(&[1.0], &[5.0, 5.0, 5.0], &CRITERIA);
        assert!(
            matches!(&one.verdict, Judgement::TooSmall(why) if why.contains("1 run")),
            "{one:?}"
        );
        let few = compare(&[1.0, 1.1], &[5.0, 5.1], &CRITERIA);
        assert!(matches!(few.verdict, Judgement::TooSmall(_)), "{few:?}");
    }
}
