//! IRONFORGE reports, apart from the server: recorded traces read and judged offline, what a check found and
//! its renderings, the HTML pages, and the health rule.
//!
//! - [`read`]: recordings (files or standard input; OTLP/JSON lines or documents, or one OTLP protobuf
//!   request; gzipped or not) read request by request and judged by one engine on the spans' own time.
//! - [`check`]: what a check found ([`CheckReport`]), its exit code ([`exit`]), and its summary, JSON, JUnit
//!   and Markdown renderings.
//! - [`html`]: the pages: the check's one-document report and the admin port's overview, run and flame pages.
//! - [`health`]: recent verdicts turned into a score and a [`Health`](health::Health), with compliance counts;
//!   pure, so the live monitor publishes its gauges from it and a check scores its input the same way.
//!
//! The processor's `check` command and its admin pages call this crate; it knows nothing of transports.

pub mod check;
pub mod health;
pub mod html;
mod input_error;
pub mod read;

pub use check::{CheckReport, FailOn, ReportFormat, exit};

use ironforge_engine::{model, verdict};

impl CheckReport {
    /// The report in `format`; `colour` applies to the summary only.
    pub fn render(&self, format: ReportFormat, colour: bool) -> String {
        match format {
            ReportFormat::Summary => check::summary::render(self, colour),
            ReportFormat::Json => check::json::render(self),
            ReportFormat::Junit => check::junit::render(self),
            ReportFormat::Markdown => check::markdown::render(self),
            ReportFormat::Html => html::check_report(self),
        }
    }
}
