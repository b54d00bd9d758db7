//! Chart pieces in inline SVG: a linear scale, a time axis, a horizontal meter and a sparkline.
//!
//! Every coordinate goes through [`coord`], so a NaN or infinite figure from a malformed trace draws at the
//! origin instead of producing an invalid document.

use maud::{Markup, html};

/// Width of the charts' coordinate system; the browser scales them to the page.
pub(super) const WIDTH: f64 = 960.0;
/// Left margin of charts with row labels.
pub(super) const LABEL_WIDTH: f64 = 110.0;

/// A finite coordinate, one decimal.
pub(super) fn coord(value: f64) -> String {
    let value = if value.is_finite() { value } else { 0.0 };
    format!("{value:.1}")
}

/// Maps `0..=max` onto `left..=left + width`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scale {
    pub max: f64,
    pub left: f64,
    pub width: f64,
}

impl Scale {
    pub(super) fn new(max: f64, left: f64, width: f64) -> Self {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        Self { max, left, width }
    }

    pub(super) fn x(&self, value: f64) -> f64 {
        self.left + value.clamp(0.0, self.max) / self.max * self.width
    }

    /// A length on the scale, at least `min` so the shortest bar stays visible.
    pub(super) fn length(&self, value: f64, min: f64) -> f64 {
        (value.clamp(0.0, self.max) / self.max * self.width).max(min)
    }
}

/// A round step that cuts `max` into about `ticks` pieces: 1, 2 or 5 times a power of ten.
pub(super) fn nice_step(max: f64, ticks: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / ticks.max(1.0);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

/// Vertical grid lines with their labels below, from 0 to the scale's max, each label written by `label`.
pub(super) fn axis(scale: &Scale, top: f64, bottom: f64, label: fn(f64) -> String) -> Markup {
    let step = nice_step(scale.max, 8.0);
    let count = (scale.max / step).floor() as usize;
    html! {
        line.axis x1=(coord(scale.left)) y1=(coord(bottom)) x2=(coord(scale.left + scale.width)) y2=(coord(bottom)) {}
        @for i in 0..=count.min(50) {
            @let value = step * i as f64;
            @let x = scale.x(value);
            line.grid x1=(coord(x)) y1=(coord(top)) x2=(coord(x)) y2=(coord(bottom)) {}
            text x=(coord(x)) y=(coord(bottom + 14.0)) text-anchor="middle" { (label(value)) }
        }
    }
}

/// A horizontal bar of `value` with a dashed mark at `limit`, red when `bad`: past a ceiling, or short of
/// a floor, as the caller judges.
pub(super) fn meter(value: f64, limit: Option<f64>, bad: bool, label: &str) -> Markup {
    const W: f64 = 240.0;
    const H: f64 = 16.0;
    let max = limit.map_or(value, |limit| limit.max(value)) * 1.1;
    let scale = Scale::new(max, 0.0, W);
    html! {
        svg viewBox={ "0 0 " (coord(W)) " " (coord(H)) } width=(coord(W)) height=(coord(H)) role="img" aria-label=(label) {
            title { (label) }
            rect.track x="0" y="2" width=(coord(W)) height=(coord(H - 4.0)) {}
            rect class=(if bad { "meter over" } else { "meter" }) x="0" y="2"
                width=(coord(scale.length(value, 1.0))) height=(coord(H - 4.0)) {}
            @if let Some(limit) = limit {
                line.limit x1=(coord(scale.x(limit))) y1="0" x2=(coord(scale.x(limit))) y2=(coord(H)) {}
            }
        }
    }
}

/// A small line chart of `values` in order, with a dashed line at `limit` when there is one.
pub(super) fn sparkline(values: &[f64], limit: Option<f64>, label: &str) -> Markup {
    const W: f64 = 240.0;
    const H: f64 = 40.0;
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let max = finite.fold(limit.unwrap_or(0.0), f64::max) * 1.1;
    let max = if max > 0.0 { max } else { 1.0 };
    let y = |value: f64| H - 2.0 - value.clamp(0.0, max) / max * (H - 4.0);
    let step = if values.len() > 1 {
        W / (values.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{},{}", coord(i as f64 * step), coord(y(*v))))
        .collect();
    html! {
        svg viewBox={ "0 0 " (coord(W)) " " (coord(H)) } width=(coord(W)) height=(coord(H)) role="img" aria-label=(label) {
            title { (label) }
            rect.track x="0" y="0" width=(coord(W)) height=(coord(H)) {}
            @if let Some(limit) = limit {
                line.limit x1="0" y1=(coord(y(limit))) x2=(coord(W)) y2=(coord(y(limit))) {}
            }
            @if let [only] = values {
                circle cx=(coord(W / 2.0)) cy=(coord(y(*only))) r="3" fill="#4c6ef5" {}
            } @else {
                polyline.line points=(points.join(" ")) {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_and_cover_the_range() {
        assert_eq!(nice_step(10.0, 8.0), 2.0);
        assert_eq!(nice_step(0.9, 8.0), 0.2);
        assert_eq!(nice_step(f64::NAN, 8.0), 1.0);
        assert_eq!(nice_step(0.0, 8.0), 1.0);
    }

    #[test]
    fn coordinates_are_finite_whatever_the_input() {
        assert_eq!(coord(f64::INFINITY), "0.0");
        let scale = Scale::new(f64::NAN, 10.0, 100.0);
        assert_eq!(scale.x(0.5), 60.0);
        assert_eq!(scale.x(7.0), 110.0);
    }
}
