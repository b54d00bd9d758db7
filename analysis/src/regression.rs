//! Change points in a series of runs: E-divisive means with a Student t-test for significance.
//!
//! The algorithm is the one of Apache Otava (formerly DataStax Hunter, `otava.analysis.compute_change_points`,
//! Fleming et al., "Hunter: Using Change Point Detection to Hunt for Performance Regressions", ICPE 2023):
//!
//! 1. **Split.** Windows of `window` points, each starting `window / 2` points after the previous one (or at the
//!    last change point the previous window found, if that is later), are searched by E-divisive means
//!    (Matteson and James): the candidate is the split (τ, κ) of an interval that maximises
//!    `Q = 2/(m+n)·Σ|Xᵢ−Yⱼ| − 2m/((m+n)(n−1))·Σ_{i<k}|Xᵢ−Xₖ| − 2n/((m+n)(m−1))·Σ_{j<k}|Yⱼ−Yₖ|`
//!    for X = the interval up to τ (n points) and Y = τ up to κ (m points), and it is kept while a two-sided
//!    Student t-test of the two sides of τ within its interval gives `p <= first-pass p`. The first pass is
//!    relaxed: 10 × `max_p_value` below 0.05, 2 × below 0.5, else `max_p_value` itself. The union over all
//!    windows is the set of weak change points; each is then re-tested against its neighbours.
//! 2. **Merge.** While some change point has `p >= max_p_value`, the one with the largest p is dropped; once all
//!    are significant, the one with the smallest magnitude is dropped while it is `<= min_magnitude`. After each
//!    drop the two change points beside the gap are re-tested, their intervals having grown.
//!
//! The t-test is Otava's: the pooled-variance (Student, equal variances) test of `scipy.stats.ttest_ind_from_stats`,
//! fed with population standard deviations (numpy's `np.std`, divisor n), and p = 1 when both sides together hold
//! two points or fewer. Otava's magnitude for filtering is `max(|after/before − 1|, |before/after − 1|)`, with
//! a term counted as 0 when its divisor is 0.
//!
//! Where this differs from Otava 0.8, and why:
//! - After dropping a change point, Otava re-tests the change point that followed it and the one after that,
//!   not the one before it, so the earlier neighbour keeps the statistics of its old, shorter right interval.
//!   Those stale statistics change which points survive (in either direction, including false change points in
//!   pure noise). Here both neighbours of the gap are re-tested, as the algorithm intends (the Otava maintainers
//!   flagged the same suspicion in apache/otava pull request 96).
//! - Non-finite values (NaN, ±∞) are treated as missing and filled as Otava fills missing values: forward with
//!   the previous value, and leading gaps backward with the first finite one. Indexes still refer to the input.
//! - A window shorter than 2 (Otava rejects it) is taken as 2.
//! - A p-value that cannot be computed (no variance on either side and equal means; NaN in Otava) is never
//!   significant, as in Otava, and is reported as 1.

use serde::{Deserialize, Serialize};

use crate::stats::{mean, population_variance, student_t_two_sided_p};

/// How change points are searched and which are kept. The defaults are Otava's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionOptions {
    /// Points searched at once; successive windows overlap by half. Otava: 50.
    pub window: usize,
    /// Largest p-value a change point may have. Otava: 0.001.
    pub max_p_value: f64,
    /// Change points whose magnitude (see [`ChangePoint::symmetric_magnitude`]) is not above this are dropped
    /// once all remaining ones are significant. Otava: 0.0.
    pub min_magnitude: f64,
}

impl Default for RegressionOptions {
    fn default() -> Self {
        RegressionOptions {
            window: 50,
            max_p_value: 0.001,
            min_magnitude: 0.0,
        }
    }
}

/// A point where the series' mean shifts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePoint {
    /// Index of the first point after the change.
    pub index: usize,
    /// Mean from the previous change point (or the start) up to `index`.
    pub mean_before: f64,
    /// Mean from `index` up to the next change point (or the end).
    pub mean_after: f64,
    /// Relative change of the means, `(mean_after − mean_before) / mean_before`, signed; 0 when `mean_before` is
    /// 0, as Otava reports its `forward_change_percent` / 100.
    pub magnitude: f64,
    /// Otava's `magnitude`: `max(|mean_after/mean_before − 1|, |mean_before/mean_after − 1|)`, a term counted as
    /// 0 when its divisor is 0. This is what [`RegressionOptions::min_magnitude`] is compared with.
    pub symmetric_magnitude: f64,
    /// Two-sided p-value of the Student t-test between the two sides.
    pub p_value: f64,
    /// Points from `index` up to the next change point (or the end): how long the new level has held.
    pub points_after: usize,
    /// How much the change costs or saves, in whole runs: `symmetric_magnitude × points_after`. A 10 % shift
    /// held for 20 runs scores 2.0, the extra (or saved) work of two runs at the old level. Ranks change points
    /// by size and persistence together; 0 when not finite.
    pub impact: f64,
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Durations, memory: a higher value is worse.
    HigherIsWorse,
    /// Authenticity, throughput: a lower value is worse.
    LowerIsWorse,
}

impl ChangePoint {
    /// Whether the change makes the metric worse, judged on the means (the magnitude is 0 when the mean before
    /// is 0, so it cannot tell).
    pub fn is_regression(&self, direction: Direction) -> bool {
        match direction {
            Direction::HigherIsWorse => self.mean_after > self.mean_before,
            Direction::LowerIsWorse => self.mean_after < self.mean_before,
        }
    }
}

/// Change points of `series`, in index order. See the module documentation for the algorithm.
pub fn change_points(series: &[f64], options: &RegressionOptions) -> Vec<ChangePoint> {
    let Some(series) = fill_missing(series) else {
        return Vec::new();
    };
    let window = options.window.max(2);
    let weak = split(&series, window, first_pass_p_value(options.max_p_value));
    let kept = merge(weak, &series, options.max_p_value, options.min_magnitude);
    kept.iter()
        .enumerate()
        .map(|(position, tested)| {
            let next = kept.get(position + 1).map_or(series.len(), |n| n.index);
            report(tested, next - tested.index)
        })
        .collect()
}

/// Otava's relaxed threshold for the split step: weak change points are candidates the merge step confirms.
fn first_pass_p_value(max_p_value: f64) -> f64 {
    if max_p_value < 0.05 {
        max_p_value * 10.0
    } else if max_p_value < 0.5 {
        max_p_value * 2.0
    } else {
        max_p_value
    }
}

/// The series with non-finite values replaced as Otava fills missing ones; `None` when no value is finite.
fn fill_missing(series: &[f64]) -> Option<Vec<f64>> {
    let first = series.iter().copied().find(|v| v.is_finite())?;
    let mut previous = first;
    Some(
        series
            .iter()
            .map(|&v| {
                if v.is_finite() {
                    previous = v;
                }
                previous
            })
            .collect(),
    )
}

/// The two sides of a split compared: their means and Otava's t-test.
#[derive(Debug, Clone, Copy)]
struct Comparison {
    mean_before: f64,
    mean_after: f64,
    /// NaN when the test has no answer; such a point is never significant.
    p_value: f64,
}

impl Comparison {
    fn of(before: &[f64], after: &[f64]) -> Comparison {
        let mean_before = mean(before);
        let mean_after = mean(after);
        let (n1, n2) = (before.len() as f64, after.len() as f64);
        let p_value = if before.len() + after.len() > 2 {
            // scipy's pooled variance, with (n − 1)·s² where Otava's s is the population deviation.
            let pooled = ((n1 - 1.0) * population_variance(before, mean_before)
                + (n2 - 1.0) * population_variance(after, mean_after))
                / (n1 + n2 - 2.0);
            let t = (mean_before - mean_after) / (pooled * (1.0 / n1 + 1.0 / n2)).sqrt();
            student_t_two_sided_p(t, n1 + n2 - 2.0)
        } else {
            1.0
        };
        Comparison {
            mean_before,
            mean_after,
            p_value,
        }
    }

    /// Otava's `forward_rel_change`.
    fn forward_change(&self) -> f64 {
        if self.mean_before == 0.0 {
            0.0
        } else {
            self.mean_after / self.mean_before - 1.0
        }
    }

    /// Otava's `change_magnitude`.
    fn symmetric_magnitude(&self) -> f64 {
        let backward = if self.mean_after == 0.0 {
            0.0
        } else {
            self.mean_before / self.mean_after - 1.0
        };
        self.forward_change().abs().max(backward.abs())
    }
}

/// A change point with the comparison of the intervals on either side.
#[derive(Debug, Clone, Copy)]
struct Tested {
    index: usize,
    comparison: Comparison,
}

fn report(tested: &Tested, points_after: usize) -> ChangePoint {
    let comparison = &tested.comparison;
    let symmetric_magnitude = comparison.symmetric_magnitude();
    let impact = symmetric_magnitude * points_after as f64;
    ChangePoint {
        index: tested.index,
        mean_before: comparison.mean_before,
        mean_after: comparison.mean_after,
        magnitude: comparison.forward_change(),
        symmetric_magnitude,
        p_value: if comparison.p_value.is_nan() {
            1.0
        } else {
            comparison.p_value
        },
        points_after,
        impact: if impact.is_finite() { impact } else { 0.0 },
    }
}

/// The half-open intervals between sorted change points, covering `0..len`.
fn intervals(change_points: &[Tested], len: usize) -> Vec<(usize, usize)> {
    let mut bounds = Vec::with_capacity(change_points.len() + 2);
    bounds.push(0);
    bounds.extend(change_points.iter().map(|c| c.index));
    bounds.push(len);
    bounds
        .windows(2)
        .filter_map(|pair| match pair {
            [start, end] if start < end => Some((*start, *end)),
            _ => None,
        })
        .collect()
}

/// Re-tests the change point at `position` against its neighbours (or the ends of the series).
fn retest(change_points: &mut [Tested], position: usize, series: &[f64]) {
    let start = position
        .checked_sub(1)
        .and_then(|p| change_points.get(p))
        .map_or(0, |c| c.index);
    let end = change_points
        .get(position + 1)
        .map_or(series.len(), |c| c.index);
    if let Some(point) = change_points.get_mut(position) {
        let (before, after) = (&series[start..point.index], &series[point.index..end]);
        point.comparison = Comparison::of(before, after);
    }
}

/// Otava's split step: weak change points from overlapping windows, re-tested over the whole series.
fn split(series: &[f64], window: usize, p_value: f64) -> Vec<Tested> {
    let step = (window / 2).max(1);
    let mut found: Vec<Tested> = Vec::new();
    let mut start = 0;
    while start < series.len() {
        let end = (start + window).min(series.len());
        let in_window = divisive(&series[start..end], p_value);
        let last = in_window.last().map_or(0, |c| c.index + start);
        for point in in_window {
            let index = point.index + start;
            if !found.iter().any(|f| f.index == index) {
                found.push(Tested { index, ..point });
            }
        }
        start = last.max(start + step);
    }
    found.sort_by_key(|c| c.index);
    for position in 0..found.len() {
        retest(&mut found, position, series);
    }
    found
}

/// E-divisive means over one window: split the interval with the best candidate while the split is significant.
fn divisive(window: &[f64], p_value: f64) -> Vec<Tested> {
    let mut found: Vec<Tested> = Vec::new();
    loop {
        let mut best: Option<(Candidate, (usize, usize))> = None;
        for interval in intervals(&found, window.len()) {
            let Some(candidate) = best_split(window, interval) else {
                continue;
            };
            // The first of equal candidates wins, as Python's `max` keeps it.
            if best.is_none_or(|(b, _)| candidate.q > b.q) {
                best = Some((candidate, interval));
            }
        }
        let Some((candidate, (start, end))) = best else {
            break;
        };
        let comparison = Comparison::of(
            &window[start..candidate.index],
            &window[candidate.index..end],
        );
        if comparison.p_value <= p_value {
            found.push(Tested {
                index: candidate.index,
                comparison,
            });
            found.sort_by_key(|c| c.index);
        } else {
            break;
        }
    }
    found
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: usize,
    q: f64,
}

/// The split of `values[start..end]` that maximises Q over τ and κ, searched in the order of Otava's
/// `argmax` over its Q matrix (rows τ, columns κ) so that ties resolve alike. `None` for fewer than two points.
fn best_split(values: &[f64], (start, end): (usize, usize)) -> Option<Candidate> {
    if end <= start + 1 {
        return None;
    }
    let segment = &values[start..end];
    let len = segment.len();
    let distance = |i: usize, k: usize| (segment[i] - segment[k]).abs();
    // to_earlier[k] = Σ_{u<k} |x_u − x_k|, the distances from k to all points before it.
    let to_earlier: Vec<f64> = (0..len)
        .map(|k| (0..k).map(|u| distance(u, k)).sum())
        .collect();
    // to_left[k] = Σ_{i<τ} |x_i − x_k| for the current τ.
    let mut to_left: Vec<f64> = (0..len).map(|k| distance(0, k)).collect();
    let mut within_left = 0.0;
    let mut best = Candidate {
        index: start + 1,
        q: f64::NEG_INFINITY,
    };
    for tau in 1..len {
        if tau > 1 {
            within_left += to_earlier[tau - 1];
            for (k, sum) in to_left.iter_mut().enumerate().skip(tau) {
                *sum += distance(tau - 1, k);
            }
            // Otava's Q matrix holds zeros below its diagonal; the first of them, reached in row-major order right
            // after the first row, wins when no split scores above zero.
            if tau == 2 && 0.0 > best.q {
                best = Candidate {
                    index: start + 2,
                    q: 0.0,
                };
            }
        }
        let n = tau as f64;
        let mut cross = 0.0;
        let mut within_right = 0.0;
        for kappa in tau + 1..=len {
            cross += to_left[kappa - 1];
            within_right += to_earlier[kappa - 1] - to_left[kappa - 1];
            let m = (kappa - tau) as f64;
            let mut q = 2.0 / (m + n) * cross;
            if tau > 1 {
                q -= 2.0 * m / ((m + n) * (n - 1.0)) * within_left;
            }
            if kappa - tau > 1 {
                q -= 2.0 * n / ((m + n) * (m - 1.0)) * within_right;
            }
            if q > best.q {
                best = Candidate {
                    index: start + tau,
                    q,
                };
            }
        }
    }
    Some(best)
}

/// Otava's merge step, re-testing both neighbours of each dropped point.
fn merge(
    mut change_points: Vec<Tested>,
    series: &[f64],
    max_p_value: f64,
    min_magnitude: f64,
) -> Vec<Tested> {
    while let Some(mut weakest) = position_of_first_max(&change_points, |c| c.comparison.p_value) {
        if change_points[weakest].comparison.p_value < max_p_value {
            weakest =
                position_of_first_max(&change_points, |c| -c.comparison.symmetric_magnitude())
                    .unwrap_or(weakest);
            if change_points[weakest].comparison.symmetric_magnitude() > min_magnitude {
                break;
            }
        }
        change_points.remove(weakest);
        if let Some(before) = weakest.checked_sub(1) {
            retest(&mut change_points, before, series);
        }
        retest(&mut change_points, weakest, series);
    }
    change_points
}

/// Position of the first element with the largest key, replacing only on a strictly larger key, as Python's
/// `max` does (so a NaN key neither wins against nor loses to the current best).
fn position_of_first_max(points: &[Tested], key: impl Fn(&Tested) -> f64) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (position, point) in points.iter().enumerate() {
        let value = key(point);
        if best.is_none_or(|(_, best_value)| value > best_value) {
            best = Some((position, value));
        }
    }
    best.map(|(position, _)| position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_test_matches_scipy_with_population_deviations() {
        // scipy.stats.ttest_ind_from_stats(2.5, np.std([1,2,3,4]), 4, 5.1, np.std([3,5,4.5,6,7]), 5)
        let comparison = Comparison::of(&[1.0, 2.0, 3.0, 4.0], &[3.0, 5.0, 4.5, 6.0, 7.0]);
        assert!((comparison.p_value - P_POPULATION_STD).abs() < 1e-12 * P_POPULATION_STD);
        assert_eq!(Comparison::of(&[1.0], &[2.0]).p_value, 1.0);
        assert_eq!(Comparison::of(&[1.0, 1.0], &[2.0, 2.0]).p_value, 0.0);
        assert!(Comparison::of(&[1.0, 1.0], &[1.0, 1.0]).p_value.is_nan());
    }

    const P_POPULATION_STD: f64 = 0.017_902_811_619_440_86;

    #[test]
    fn first_max_keeps_the_first_of_equals_and_skips_nan() {
        let at = |p: f64, index: usize| Tested {
            index,
            comparison: Comparison {
                mean_before: 1.0,
                mean_after: 2.0,
                p_value: p,
            },
        };
        let points = [at(0.1, 1), at(0.3, 2), at(f64::NAN, 3), at(0.3, 4)];
        assert_eq!(
            position_of_first_max(&points, |c| c.comparison.p_value),
            Some(1)
        );
        let nan_first = [at(f64::NAN, 1), at(0.3, 2)];
        assert_eq!(
            position_of_first_max(&nan_first, |c| c.comparison.p_value),
            Some(0)
        );
        assert_eq!(position_of_first_max(&[], |c| c.comparison.p_value), None);
    }

    #[test]
    fn fills_non_finite_values_forward_then_backward() {
        let filled = fill_missing(&[f64::NAN, 2.0, f64::INFINITY, 4.0, f64::NEG_INFINITY]);
        assert_eq!(filled, Some(vec![2.0, 2.0, 2.0, 4.0, 4.0]));
        assert_eq!(fill_missing(&[f64::NAN]), None);
        assert_eq!(fill_missing(&[]), None);
    }
}
