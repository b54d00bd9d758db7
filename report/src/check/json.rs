//! The JSON report: verdicts and totals with a `schema_version`, readable back as a `--baseline`.

use super::CheckReport;

pub(crate) fn render(report: &CheckReport) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Only a serializer bug gets here; the report says so in the format asked for.
        Err(err) => format!("{{\"error\": {:?}}}\n", err.to_string()),
    }
}
