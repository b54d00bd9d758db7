//! The waterfall: the run's stages and sessions on one time axis, overlapping sessions in lanes, and the
//! critical path marked under each stage.

use ironforge_analysis::TraceAnalysis;
use ironforge_analysis::breakdown::{SessionBreakdown, StageBreakdown};
use maud::{Markup, html};

use super::format;
use super::svg::{self, LABEL_WIDTH, Scale, WIDTH, coord};

/// Session bars drawn per run; a larger run's waterfall says how many it left out.
const MAX_SESSIONS_DRAWN: usize = 2_000;
/// Lanes per stage for sessions that overlap; more overlap shares the last lane.
const MAX_LANES: usize = 12;
const LANE_HEIGHT: f64 = 10.0;
const STAGE_BAR_HEIGHT: f64 = 6.0;
const PATH_BAR_HEIGHT: f64 = 6.0;
const ROW_GAP: f64 = 8.0;

/// Sessions of one stage packed into lanes, each session in the first lane free at its start.
fn lanes<'a>(sessions: &[&'a SessionBreakdown]) -> Vec<Vec<&'a SessionBreakdown>> {
    let mut sorted = sessions.to_vec();
    sorted.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));
    let mut lanes: Vec<(f64, Vec<&SessionBreakdown>)> = Vec::new();
    for session in sorted {
        // A little slack so sessions that touch end to end share a lane.
        let free = lanes
            .iter()
            .position(|(end, _)| *end <= session.start_seconds + 1e-6);
        let index = match free {
            Some(index) => index,
            None if lanes.len() < MAX_LANES => {
                lanes.push((0.0, Vec::new()));
                lanes.len() - 1
            }
            None => lanes.len() - 1,
        };
        if let Some((end, lane)) = lanes.get_mut(index) {
            *end = end.max(session.start_seconds + session.seconds);
            lane.push(session);
        }
    }
    lanes.into_iter().map(|(_, lane)| lane).collect()
}

pub(super) fn waterfall(analysis: &TraceAnalysis) -> Markup {
    let scale = Scale::new(
        analysis.run_seconds,
        LABEL_WIDTH,
        WIDTH - LABEL_WIDTH - 10.0,
    );
    let drawn: Vec<&SessionBreakdown> = analysis.sessions.iter().take(MAX_SESSIONS_DRAWN).collect();
    let left_out = analysis.sessions.len() - drawn.len();
    let outside: Vec<_> = analysis
        .critical_path
        .iter()
        .filter(|s| s.stage.is_none())
        .collect();
    let mut y = 4.0;
    let mut rows = Vec::new();
    // The run's own critical time, outside every stage.
    rows.push(html! {
        text x="4" y=(coord(y + PATH_BAR_HEIGHT)) { "run" }
        @for step in &outside {
            rect.critical-path x=(coord(scale.x(step.start_seconds))) y=(coord(y))
                width=(coord(scale.length(step.seconds, 0.5))) height=(coord(PATH_BAR_HEIGHT)) {
                title { "critical path: " (step.name) ", " (format::duration(step.seconds)) " from " (format::duration(step.start_seconds)) }
            }
        }
    });
    y += PATH_BAR_HEIGHT + ROW_GAP;
    for stage in &analysis.stages {
        let sessions: Vec<&SessionBreakdown> = drawn
            .iter()
            .copied()
            .filter(|s| s.stage == Some(stage.stage))
            .collect();
        let lanes = lanes(&sessions);
        let top = y;
        rows.push(stage_rows(analysis, stage, &lanes, &scale, top));
        y += STAGE_BAR_HEIGHT
            + 2.0
            + lanes.len() as f64 * LANE_HEIGHT
            + 2.0
            + PATH_BAR_HEIGHT
            + ROW_GAP;
    }
    let height = y + 20.0;
    html! {
        div.card.waterfall-card {
            h2 { "Waterfall" }
            p.legend.small {
                span { i.swatch style="background:#dee2e6" {} "stage" }
                span { i.swatch style="background:#4c6ef5" {} "session (alternating shades)" }
                span { i.swatch style="background:#fff;outline:2px solid #d9480f" {} "session on the critical path" }
                span { i.swatch style="background:#d9480f" {} "critical-path segment" }
            }
            svg.waterfall viewBox={ "0 0 " (coord(WIDTH)) " " (coord(height)) } role="img"
                aria-label="waterfall of stages and sessions with the critical path" {
                (svg::axis(&scale, 0.0, y, format::duration))
                @for row in rows { (row) }
            }
            @if left_out > 0 { p.muted { (left_out) " shorter session(s) not drawn." } }
        }
    }
}

fn stage_rows(
    analysis: &TraceAnalysis,
    stage: &StageBreakdown,
    lanes: &[Vec<&SessionBreakdown>],
    scale: &Scale,
    top: f64,
) -> Markup {
    let lanes_top = top + STAGE_BAR_HEIGHT + 2.0;
    let path_top = lanes_top + lanes.len() as f64 * LANE_HEIGHT + 2.0;
    html! {
        g.stage-row data-stage=(stage.stage.as_str()) {
            text x="4" y=(coord(lanes_top + 8.0)) { (stage.stage.as_str()) }
            rect.stage x=(coord(scale.x(stage.start_seconds))) y=(coord(top))
                width=(coord(scale.length(stage.end_seconds - stage.start_seconds, 0.5))) height=(coord(STAGE_BAR_HEIGHT)) {
                title { (stage.stage.as_str()) ": " (format::duration(stage.seconds)) ", " (stage.sessions) " sessions" }
            }
            @for (row, lane) in lanes.iter().enumerate() {
                @for (i, session) in lane.iter().enumerate() {
                    @let class = match (i % 2 == 1, session.critical_seconds > 0.0) {
                        (false, false) => "session",
                        (true, false) => "session alt",
                        (false, true) => "session on-path",
                        (true, true) => "session alt on-path",
                    };
                    rect class=(class) x=(coord(scale.x(session.start_seconds)))
                        y=(coord(lanes_top + row as f64 * LANE_HEIGHT)) width=(coord(scale.length(session.seconds, 0.5)))
                        height=(coord(LANE_HEIGHT - 1.0)) {
                        title {
                            "session " (session.session_id) " (" (stage.stage.as_str()) "): "
                            (format::duration(session.seconds)) " from " (format::duration(session.start_seconds))
                            @if session.critical_seconds > 0.0 { ", " (format::duration(session.critical_seconds)) " on the critical path" }
                        }
                    }
                }
            }
            @for step in analysis.critical_path.iter().filter(|s| s.stage == Some(stage.stage)) {
                rect.critical-path x=(coord(scale.x(step.start_seconds))) y=(coord(path_top))
                    width=(coord(scale.length(step.seconds, 0.5))) height=(coord(PATH_BAR_HEIGHT)) {
                    title {
                        "critical path: " (step.name)
                        @if let Some(session) = &step.session_id { " in session " (session) }
                        ", " (format::duration(step.seconds))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, start: f64, seconds: f64) -> SessionBreakdown {
        SessionBreakdown {
            session_id: id.into(),
            stage: None,
            start_seconds: start,
            seconds,
            critical_seconds: 0.0,
            self_seconds: 0.0,
        }
    }

    #[test]
    fn sessions_one_after_another_share_a_lane_and_overlapping_ones_do_not() {
        let (a, b, c) = (
            session("a", 0.0, 1.0),
            session("b", 1.0, 1.0),
            session("c", 0.5, 2.0),
        );
        let lanes = lanes(&[&a, &b, &c]);
        let ids: Vec<Vec<&str>> = lanes
            .iter()
            .map(|lane| lane.iter().map(|s| &*s.session_id).collect())
            .collect();
        assert_eq!(ids, [vec!["a", "b"], vec!["c"]]);
    }
}
