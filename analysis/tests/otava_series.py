"""Series with Apache Otava's change points, as JSON on stdout, for analysis/tests/it/regression.rs.

Runs Otava's own `compute_change_points` with its defaults on each series, twice: as released, and with its
merge step re-testing both neighbours of a dropped change point (the one difference documented in
analysis/src/regression.rs). Needs `pip install apache-otava`.

Values are rounded to four decimals so that they parse back to the same doubles in Rust.
"""

import json
import sys
from importlib import metadata

import numpy as np
from otava import analysis


def merge_retesting_both_neighbours(change_points, series, max_pvalue, min_magnitude):
    """otava.analysis.merge, re-testing the change points before and after the dropped one."""
    tester = analysis.TTestSignificanceTester(max_pvalue)
    while change_points:
        weakest = max(change_points, key=lambda c: c.stats.pvalue)
        if weakest.stats.pvalue < max_pvalue:
            weakest = min(change_points, key=lambda c: c.stats.change_magnitude())
            if weakest.stats.change_magnitude() > min_magnitude:
                return change_points
        position = change_points.index(weakest)
        del change_points[position]
        intervals = tester.get_intervals(change_points)
        for neighbour in (position - 1, position):
            if 0 <= neighbour < len(change_points):
                candidate = change_points[neighbour].to_candidate()
                change_points[neighbour] = tester.change_point(candidate, series, intervals)
    return change_points


def describe(change_points):
    return [
        {
            "index": int(c.index),
            "mean_before": float(c.stats.mean_before()),
            "mean_after": float(c.stats.mean_after()),
            "p_value": float(c.stats.pvalue),
        }
        for c in change_points
    ]


def generated_series():
    rng = np.random.default_rng(20240611)

    def noise(n, sd=1.0):
        return rng.normal(0.0, sd, n)

    yield "step_up", np.concatenate([100 + noise(60), 110 + noise(60)])
    yield "step_down", np.concatenate([250 + noise(45, 3), 200 + noise(75, 3)])
    yield "two_steps", np.concatenate([50 + noise(40), 56 + noise(40), 48 + noise(40)])
    yield "noise", 1000 + noise(200, 20)
    yield "ramp", np.linspace(100.0, 160.0, 100) + noise(100, 2)
    yield "exact_step", np.array([10.0] * 30 + [12.0] * 30)
    yield "late_small_step", np.concatenate([20 + noise(150, 0.5), 21 + noise(30, 0.5)])
    yield "short", np.array([1.0, 5.0, 1.0, 5.0, 1.0])
    yield "constant", np.full(40, 7.0)
    # Two series on which released Otava's stale neighbour statistics change the result: a false change point in
    # pure noise, and a missed step among three.
    yield "noise_stale_neighbour", 100 + np.random.default_rng(42).normal(0.0, 5.0, 125)
    steps = np.random.default_rng(18)
    values = 100 + steps.normal(0.0, 5.0, 120)
    for at in (30, 60, 90):
        values[at:] += steps.normal(0.0, 6.0)
    yield "steps_stale_neighbour", values
    for seed in range(6):
        n = int(rng.integers(40, 260))
        values = 100 + noise(n, 5)
        for at in rng.integers(1, n, 3):
            values[at:] += rng.normal(0.0, 10.0)
        yield f"random_steps_{seed}", values
    for seed in range(4):
        n = int(rng.integers(60, 240))
        yield f"wave_{seed}", 100 + noise(n) + 5 * np.sin(np.arange(n) / 7)


def main():
    cases = []
    for name, values in generated_series():
        # Otava's Series passes lists; its window search slices only non-array input.
        series = [round(float(v), 4) for v in values]
        released, _ = analysis.compute_change_points(series)
        # compute_change_points merges its weak change points in place, so the variant splits afresh, with
        # the same first-pass p-value (10 × 0.001).
        weak = analysis.split(series, window_len=50, max_pvalue=0.01)
        both = merge_retesting_both_neighbours(weak, series, max_pvalue=0.001, min_magnitude=0.0)
        cases.append(
            {
                "name": name,
                "values": series,
                "otava": describe(released),
                "otava_retesting_both_neighbours": describe(both),
            }
        )
    json.dump({"otava_version": metadata.version("apache-otava"), "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
