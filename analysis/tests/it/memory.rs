//! Memory trends with closed-form answers.

use ironforge_analysis::memory::{LeakOptions, MemorySample, MemoryTrend, memory_trend};

use crate::common::Noise;

const MIB: f64 = 1024.0 * 1024.0;
const START: u64 = 1_700_000_000_000_000_000;

/// One sample every `interval_seconds`, from `START`, with the given readings.
fn every(interval_seconds: u64, readings: impl IntoIterator<Item = f64>) -> Vec<MemorySample> {
    readings
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| MemorySample {
            unix_nano: START + i as u64 * interval_seconds * 1_000_000_000,
            bytes,
        })
        .collect()
}

/// Not a leak, with `reason` in the verdict.
fn assert_not_a_leak_because(trend: &MemoryTrend, reason: &str) {
    assert!(!trend.leak, "{trend:?}");
    assert!(
        trend.verdict.starts_with("not a leak: ") && trend.verdict.contains(reason),
        "{:?} does not say {reason:?}",
        trend.verdict
    );
}

fn trend(samples: &[MemorySample]) -> MemoryTrend {
    memory_trend(samples, &LeakOptions::default())
}

#[test]
fn a_linear_leak_reports_its_slope_and_time_to_the_limit() {
    // 50 MiB growing 1000 bytes/s, sampled every 10 s for 590 s, handed over newest first.
    let mut samples = every(
        10,
        (0..60).map(|i| 50.0 * MIB + 1000.0 * 10.0 * f64::from(i)),
    );
    samples.reverse();
    let trend = trend(&samples);

    assert!(
        (trend.growth_bytes_per_second - 1000.0).abs() < 10.0,
        "{trend:?}"
    );
    assert!(trend.leak, "{trend:?}");
    assert!(trend.verdict.starts_with("leak:"), "{trend:?}");
    assert!(trend.confidence > 0.999_999, "{trend:?}");
    assert_eq!(
        (trend.samples, trend.segments, trend.segment_samples),
        (60, 1, 60)
    );
    let peak = 50.0 * MIB + 590_000.0;
    assert_eq!(trend.peak_bytes, peak);
    assert!((trend.mean_bytes - (50.0 * MIB + 295_000.0)).abs() < 1e-6);
    let expected_seconds = (100.0 * MIB - peak) / 1000.0;
    let seconds = trend.seconds_to_limit.unwrap_or(f64::NAN);
    assert!(
        (seconds - expected_seconds).abs() < 1e-6 * expected_seconds,
        "{seconds} vs {expected_seconds}"
    );
    let expected_score = 100.0 * (1.0 - peak / (100.0 * MIB)) * 0.5;
    assert!(
        (trend.efficiency_score - expected_score).abs() < 1e-9,
        "{trend:?}"
    );
}

#[test]
fn a_sawtooth_of_short_runs_between_restarts_is_not_a_leak() {
    // Five runs, each growing from 10 MiB to 30 MiB in six samples, then restarted.
    let tooth = [10.0, 14.0, 18.0, 22.0, 26.0, 30.0];
    let samples = every(5, (0..5).flat_map(|_| tooth.map(|m| m * MIB)));
    let trend = trend(&samples);

    assert_eq!((trend.segments, trend.segment_samples), (5, 6), "{trend:?}");
    assert_not_a_leak_because(
        &trend,
        "only 6 samples since the last restart (the process restarted 4 times), fewer than the 8 a trend needs",
    );
    assert_eq!(trend.peak_bytes, 30.0 * MIB);
    assert_eq!(trend.efficiency_score, 70.0);
}

#[test]
fn growth_that_levels_off_before_the_end_is_not_a_leak() {
    // A restart, then a warm-up: 20 samples rising 1 MiB each, then 8 at the top.
    let mut readings = vec![60.0 * MIB; 4];
    readings.extend((0..20).map(|i| (10.0 + f64::from(i)) * MIB));
    readings.extend([29.0 * MIB; 8]);
    let trend = trend(&every(1, readings));

    assert_eq!(
        (trend.segments, trend.segment_samples),
        (2, 28),
        "{trend:?}"
    );
    assert!(trend.growth_bytes_per_second > 0.0, "{trend:?}");
    assert_not_a_leak_because(&trend, "levelled off: the last 7 samples do not grow");
    assert!(trend.seconds_to_limit.is_some(), "{trend:?}");
}

#[test]
fn a_flat_series_with_noise_is_not_a_leak() {
    let readings = Noise::new(5).series(200, 60.0 * MIB, 0.5 * MIB);
    let trend = trend(&every(15, readings));

    assert_not_a_leak_because(&trend, "memory does not grow since the first sample");
    // 0.5 MiB of noise over 50 minutes cannot make a slope of a few hundred bytes a second.
    assert!(trend.growth_bytes_per_second.abs() < 200.0, "{trend:?}");
    assert!(
        (trend.mean_bytes - 60.0 * MIB).abs() < 0.1 * MIB,
        "{trend:?}"
    );
}

#[test]
fn growth_that_is_mostly_swing_is_not_significant() {
    // 40 MiB swinging 10 MiB each second over a drift of 0.1 MiB/s: the fitted slope is positive, the last quarter
    // still rises, but the line explains little. scipy.stats.linregress gives slope 0.3098 MiB/s, p = 0.5098.
    let readings =
        (0..12).map(|i| (40.0 + if i % 2 == 1 { 10.0 } else { 0.0 } + 0.1 * f64::from(i)) * MIB);
    let trend = trend(&every(1, readings));

    assert_not_a_leak_because(&trend, "is not significant (confidence 0.490 < 0.950)");
    assert!(
        (trend.confidence - 0.490_221_445_384_215_2).abs() < 1e-9,
        "{trend:?}"
    );
    assert!(
        (trend.growth_bytes_per_second - 0.309_790_209_790_209_77 * MIB).abs() < 1e-6 * MIB,
        "{trend:?}"
    );
}

#[test]
fn too_few_points_are_not_a_leak_and_it_says_so() {
    let trend = trend(&every(1, (0..5).map(|i| f64::from(i) * MIB)));

    assert!(!trend.leak);
    assert_eq!(
        trend.verdict,
        "not a leak: only 5 samples since the first sample, fewer than the 8 a trend needs"
    );
    assert!(
        (trend.growth_bytes_per_second - MIB).abs() < 1e-6,
        "{trend:?}"
    );
}

#[test]
fn an_empty_series_has_no_trend() {
    let trend = trend(&[]);

    assert!(!trend.leak);
    assert_eq!(
        (trend.samples, trend.segments, trend.segment_samples),
        (0, 0, 0)
    );
    assert_eq!(trend.verdict, "no samples: nothing to judge");
    assert_eq!(trend.seconds_to_limit, None);
    assert_eq!(trend.efficiency_score, 0.0);
    assert_eq!(trend.growth_bytes_per_second, 0.0);
}

#[test]
fn bad_readings_and_degenerate_options_do_not_panic() {
    let samples = [
        MemorySample {
            unix_nano: 3,
            bytes: f64::NAN,
        },
        MemorySample {
            unix_nano: 2,
            bytes: f64::INFINITY,
        },
        MemorySample {
            unix_nano: 1,
            bytes: -5.0,
        },
        MemorySample {
            unix_nano: 1,
            bytes: 1e308,
        },
        MemorySample {
            unix_nano: 1,
            bytes: 1e308,
        },
    ];
    let trend = trend(&samples);
    assert_eq!((trend.samples, trend.ignored_samples), (2, 3));
    assert!(!trend.leak);
    assert!(trend.mean_bytes.is_finite());
    assert_eq!(trend.efficiency_score, 0.0);

    let one = every(1, [5.0]);
    for options in [
        LeakOptions {
            min_points: 0,
            limit_bytes: f64::NAN,
            restart_drop: f64::NAN,
            min_confidence: f64::NAN,
        },
        LeakOptions {
            min_points: 0,
            limit_bytes: -1.0,
            restart_drop: 2.0,
            min_confidence: -1.0,
        },
    ] {
        for samples in [
            &one[..],
            &every(0, [1.0, 2.0, 3.0])[..],
            &every(1, (0..9).map(f64::from))[..],
        ] {
            let trend = memory_trend(samples, &options);
            assert!(!trend.efficiency_score.is_nan(), "{trend:?}");
            assert!((0.0..=100.0).contains(&trend.efficiency_score), "{trend:?}");
            assert!((0.0..=1.0).contains(&trend.confidence), "{trend:?}");
        }
    }
}
