//! The page shell every view shares: document head, stylesheet, navigation and the small badges.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Links, run};
use crate::check::exit;
use crate::check::{Outcome, TraceReport};
use crate::health::Health;

/// Nothing may be fetched: styles are inline and images are inline SVG. A report that tried to load
/// anything would show it as a blocked request in the browser's console.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const CSS: &str = r#"
:root { --pass: #2b8a3e; --warn: #e67700; --fail: #c92a2a; --muted: #666; --line: #ddd;
  --critical: #d9480f; --bar: #4c6ef5; --bar2: #91a7ff; --limit: #c92a2a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0;
  background: #f6f7f9; }
main { max-width: 1200px; margin: 0 auto; padding: 12px 16px 40px; }
nav { background: #1f2937; padding: 8px 16px; }
nav a { color: #e5e7eb; margin-right: 18px; text-decoration: none; font-weight: 600; }
h1 { font-size: 22px; margin: 4px 0 8px; } h2 { font-size: 18px; margin: 18px 0 6px; }
h3 { font-size: 15px; margin: 14px 0 4px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f1f3f5; font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; overflow-wrap: anywhere; }
a code { word-break: normal; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; }
.pass, .GREEN { background: var(--pass); } .warn, .YELLOW { background: var(--warn); }
.fail, .RED, .incomplete { background: var(--fail); }
.muted { color: var(--muted); } .small { font-size: 12px; }
.critical-text { color: var(--fail); font-weight: 600; } .warning-text { color: var(--warn); font-weight: 600; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .axis { stroke: #999; stroke-width: 1; } svg .grid { stroke: #eee; stroke-width: 1; }
svg .stage { fill: #dee2e6; } svg .session { fill: var(--bar); stroke: #fff; stroke-width: 0.5; }
svg .session.alt { fill: var(--bar2); }
svg .session.on-path { stroke: var(--critical); stroke-width: 1.5; }
svg .critical-path { fill: var(--critical); }
svg .limit { stroke: var(--limit); stroke-width: 1.5; stroke-dasharray: 4 3; fill: none; }
svg .line { fill: none; stroke: var(--bar); stroke-width: 1.5; }
svg .meter { fill: var(--bar); } svg .meter.over { fill: var(--fail); } svg .track { fill: #f1f3f5; }
svg .flame { stroke: #fff; stroke-width: 0.5; }
.legend span { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
.figures { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 8px 12px; margin: 8px 0; }
.figure { border: 1px solid var(--line); border-left: 4px solid var(--pass); border-radius: 4px; padding: 6px 10px; }
.figure.over { border-left-color: var(--fail); background: #fff5f5; }
.figure .value { font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; }
.figure.over .value { color: var(--fail); }
.verdict-line { font-size: 16px; margin: 4px 0; }
details.violation-group { margin: 6px 0; } details.violation-group summary { cursor: pointer; padding: 4px 0; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 8px 16px; }
@media print {
  body { background: #fff; font-size: 11px; } nav { display: none; } main { max-width: none; padding: 0; }
  .card { border: none; padding: 0; margin: 8px 0; break-inside: avoid-page; }
  section.run { break-before: page; }
  a { color: inherit; text-decoration: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// A complete document around `body`.
pub(super) fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CONTENT_SECURITY_POLICY);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    }
    .into_string()
}

/// The live pages' navigation; the offline report has its table of contents instead.
pub(super) fn nav(links: Links) -> Markup {
    html! {
        @if links == Links::Pages {
            nav { a href="/" { "Overview" } a href=(links.flame()) { "Critical-path flame graph" } }
        }
    }
}

/// Links to every trace's section of the offline report.
pub(super) fn toc(traces: &[TraceReport]) -> Markup {
    html! {
        p.small {
            "Jump to: " a href="#overview" { "overview" } " · " a href="#flame" { "flame graph" }
            @for trace in traces {
                @let id = trace.verdict.trace_id.to_string();
                " · " a href={ "#" (run::anchor(&id)) } { code { (short(&id)) } }
            }
        }
    }
}

/// A trace id cut to its first and last eight hex digits.
pub(super) fn short(id: &str) -> String {
    match (id.get(..8), id.get(id.len().saturating_sub(8)..)) {
        (Some(head), Some(tail)) if id.len() > 16 => format!("{head}…{tail}"),
        _ => id.to_owned(),
    }
}

pub(super) fn outcome(outcome: Outcome) -> Markup {
    html! { span class={ "badge " (outcome.as_str()) } { (outcome.as_str().to_uppercase()) } }
}

pub(super) fn health(health: Health) -> Markup {
    let name = match health {
        Health::Green => "GREEN",
        Health::Yellow => "YELLOW",
        Health::Red => "RED",
    };
    html! { span class={ "badge " (name) } { (name) } }
}

/// The class the check's one-word result is shown with.
pub(super) fn result_class(exit_code: u8) -> &'static str {
    match exit_code {
        exit::PASS => "badge pass",
        exit::WARNINGS => "badge warn",
        _ => "badge fail",
    }
}

pub(super) fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
