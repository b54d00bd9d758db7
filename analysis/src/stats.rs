//! Student's t distribution and the small sample statistics both analyses share.
//!
//! The p-values come from the regularized incomplete beta function, evaluated with the continued fraction of
//! Numerical Recipes (§6.4) and a Lanczos log-gamma, so the crate needs no statistics dependency.

/// Arithmetic mean; 0 for an empty slice so callers never divide by zero.
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Population variance (divisor n, numpy's default `ddof=0`); 0 for fewer than two values.
pub(crate) fn population_variance(values: &[f64], mean: f64) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64
}

/// Two-sided p-value of Student's t statistic: P(|T| >= |t|) for T with `degrees_of_freedom`.
///
/// NaN when `t` is NaN or the degrees of freedom are not positive: there is no distribution to ask, and callers
/// decide what an unknown p-value means for them. An infinite `t` (a difference with no variance) gives 0.
pub(crate) fn student_t_two_sided_p(t: f64, degrees_of_freedom: f64) -> f64 {
    if t.is_nan() || degrees_of_freedom.is_nan() || degrees_of_freedom <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    let x = degrees_of_freedom / (degrees_of_freedom + t * t);
    regularized_incomplete_beta(degrees_of_freedom / 2.0, 0.5, x)
}

/// I_x(a, b), the regularized incomplete beta function, for a, b > 0.
pub(crate) fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x.is_nan() || a.is_nan() || b.is_nan() || a <= 0.0 || b <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let log_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    let front = log_front.exp();
    // The continued fraction converges fast only left of its mean; the symmetry I_x(a,b) = 1 - I_{1-x}(b,a)
    // covers the other side.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function, by the modified Lentz method.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const MAX_ITERATIONS: u32 = 500;
    const EPSILON: f64 = 1e-16;
    // Keeps the Lentz denominators away from an exact zero.
    const TINY: f64 = 1e-300;

    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_ITERATIONS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPSILON {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 by the Lanczos approximation (g = 7, nine terms), relative error near 1e-15.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    // The published coefficients, kept digit for digit so they can be checked against the source.
    #[allow(clippy::excessive_precision)]
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_93,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_13,
        -176.615_029_162_140_59,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_571_6e-6,
        1.505_632_735_149_311_6e-7,
    ];
    const G: f64 = 7.0;
    if x < 0.5 {
        // The series is accurate from 0.5 up; Γ(x) = Γ(x + 1) / x reaches below.
        return ln_gamma(x + 1.0) - x.ln();
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += coefficient / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Asserts `actual` lies within `relative` (a fraction) of `expected`: statistics are compared with reference
/// values printed to a limited precision.
#[cfg(test)]
pub(crate) fn assert_close(actual: f64, expected: f64, relative: f64) {
    let scale = expected.abs().max(f64::MIN_POSITIVE);
    assert!(
        ((actual - expected) / scale).abs() <= relative,
        "{actual} is not within {relative} of {expected}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials_and_half_integers() {
        assert!(ln_gamma(1.0).abs() < 1e-15);
        assert!(ln_gamma(2.0).abs() < 1e-15);
        assert_close(ln_gamma(5.0), 24.0_f64.ln(), 1e-14);
        assert_close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-14);
        assert_close(ln_gamma(100.0), 359.134_205_369_575_4, 1e-14);
        assert_close(ln_gamma(0.1), 2.252_712_651_734_205_5, 1e-14);
    }

    #[test]
    fn incomplete_beta_matches_scipy() {
        // scipy.special.betainc(a, b, x)
        assert_close(regularized_incomplete_beta(2.0, 3.0, 0.4), 0.5248, 1e-13);
        assert_close(
            regularized_incomplete_beta(0.5, 0.5, 0.2),
            0.295_167_235_300_866_6,
            1e-13,
        );
        assert_close(
            regularized_incomplete_beta(10.0, 0.5, 0.9),
            0.151_640_909_634_709_94,
            1e-12,
        );
        assert_eq!(regularized_incomplete_beta(2.0, 3.0, 0.0), 0.0);
        assert_eq!(regularized_incomplete_beta(2.0, 3.0, 1.0), 1.0);
        assert!(regularized_incomplete_beta(2.0, 3.0, f64::NAN).is_nan());
    }

    #[test]
    fn student_t_p_values_match_scipy() {
        // 2 * scipy.stats.t.sf(|t|, df)
        assert_close(
            student_t_two_sided_p(2.0, 10.0),
            0.073_388_034_770_740_03,
            1e-12,
        );
        assert_close(
            student_t_two_sided_p(-3.5, 4.0),
            0.024_896_163_460_222_75,
            1e-12,
        );
        assert_close(
            student_t_two_sided_p(12.0, 98.0),
            6.000_153_201_837_787e-21,
            1e-9,
        );
        assert_close(
            student_t_two_sided_p(0.1, 1.0),
            0.936_548_965_138_892_9,
            1e-12,
        );
        assert_close(student_t_two_sided_p(0.0, 7.0), 1.0, 1e-15);
        assert_eq!(student_t_two_sided_p(f64::INFINITY, 3.0), 0.0);
        assert!(student_t_two_sided_p(f64::NAN, 3.0).is_nan());
        assert!(student_t_two_sided_p(1.0, 0.0).is_nan());
    }
}
