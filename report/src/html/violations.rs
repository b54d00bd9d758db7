//! A run's violations, most serious first: blocking before critical before warning, then by contract, each
//! contract's violations in one group with its count. Blocking groups are open; the rest are collapsed, so a
//! run with dozens of warnings still shows what stops production first.

use maud::{Markup, html};

use super::format;
use crate::check::{TraceReport, place};
use crate::verdict::{Severity, Violation};

/// Violations listed per run; the rest are counted.
pub(super) const MAX_VIOLATIONS_LISTED: usize = 300;

/// How serious a violation is, smaller first: blocking, then critical, then warning.
pub(super) fn rank(violation: &Violation) -> u8 {
    match (violation.blocks_production, violation.severity) {
        (true, _) => 0,
        (false, Severity::Critical) => 1,
        (false, Severity::Warning) => 2,
    }
}

/// One contract's violations on a run.
pub(super) struct Group<'a> {
    pub contract_id: &'a str,
    pub rank: u8,
    pub violations: Vec<&'a Violation>,
}

/// The violations grouped per contract, most serious group first, then by contract id; within a group,
/// the order they were decided in. A contract's group ranks by its most serious violation.
pub(super) fn groups(violations: &[Violation]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for violation in violations {
        match groups
            .iter_mut()
            .find(|group| group.contract_id == violation.contract_id)
        {
            Some(group) => {
                group.rank = group.rank.min(rank(violation));
                group.violations.push(violation);
            }
            None => groups.push(Group {
                contract_id: &violation.contract_id,
                rank: rank(violation),
                violations: vec![violation],
            }),
        }
    }
    groups.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.contract_id.cmp(b.contract_id)));
    for group in &mut groups {
        group.violations.sort_by_key(|violation| rank(violation));
    }
    groups
}

fn severity(violation: &Violation) -> Markup {
    html! {
        @match violation.severity {
            Severity::Critical => span.critical-text { "critical" },
            Severity::Warning => span.warning-text { "warning" },
        }
        @if violation.blocks_production { br; span.small { "blocks production" } }
    }
}

fn group_label(rank: u8) -> &'static str {
    match rank {
        0 => "blocks production",
        1 => "critical",
        _ => "warning",
    }
}

pub(super) fn section(trace: &TraceReport) -> Markup {
    let verdict = &trace.verdict;
    let groups = groups(&verdict.violations);
    // The bound on rows goes to the most serious groups first.
    let mut budget = MAX_VIOLATIONS_LISTED;
    let listed: Vec<usize> = groups
        .iter()
        .map(|group| {
            let listed = group.violations.len().min(budget);
            budget -= listed;
            listed
        })
        .collect();
    html! {
        div.card.violations {
            h2 { "Violations (" (trace.violation_count()) ")" }
            @if groups.is_empty() && trace.regressions.is_empty() {
                p { "No contract was broken." }
            }
            @for regression in &trace.regressions {
                p { span.critical-text { "baseline regression, blocking" } " stage " (regression.stage) ": " (regression.message) }
            }
            @for (group, &listed) in groups.iter().zip(&listed) {
                details.violation-group open[group.rank == 0] data-contract=(group.contract_id) {
                    summary {
                        code { (group.contract_id) } " · "
                        span class=(if group.rank < 2 { "critical-text" } else { "warning-text" }) { (group_label(group.rank)) }
                        " · " strong { (group.violations.len()) } " violation(s)"
                    }
                    @if listed > 0 { (table(&group.violations[..listed])) }
                    @if listed < group.violations.len() {
                        p.muted { "… and " (group.violations.len() - listed) " more of this contract not listed." }
                    }
                }
            }
            @if verdict.violations_over_limit > 0 {
                p.muted {
                    "… and " (verdict.violations_over_limit)
                    " more violation(s) past the per-trace limit: counted, not kept, so not listed."
                }
            }
        }
    }
}

fn table(violations: &[&Violation]) -> Markup {
    html! {
        table {
            tr {
                th { "severity" } th { "what happened" } th.num { "observed" } th.num { "threshold" } th { "where" }
            }
            @for violation in violations {
                tr.violation data-rank=(rank(violation)) {
                    td { (severity(violation)) }
                    td { (violation.message) }
                    td.num { (format::measured(violation.observed, &violation.unit)) }
                    td.num { (format::measured(violation.threshold, &violation.unit)) }
                    td.small { (place(violation)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(contract: &str, severity: Severity, blocks: bool) -> Violation {
        Violation {
            contract_id: contract.to_owned(),
            severity,
            blocks_production: blocks,
            ..crate::html::tests::violation(1)
        }
    }

    #[test]
    fn blocking_groups_come_first_then_critical_then_warnings_each_by_contract() {
        let violations = [
            violation("sessions_complete", Severity::Warning, false),
            violation("pattern_authenticity", Severity::Critical, true),
            violation("edge_intents_complete", Severity::Warning, false),
            violation("run_memory_peak", Severity::Critical, true),
            violation("pattern_authenticity", Severity::Critical, true),
            violation("odd_one", Severity::Critical, false),
        ];
        let groups = groups(&violations);
        let order: Vec<(&str, u8, usize)> = groups
            .iter()
            .map(|g| (g.contract_id, g.rank, g.violations.len()))
            .collect();
        assert_eq!(
            order,
            [
                ("pattern_authenticity", 0, 2),
                ("run_memory_peak", 0, 1),
                ("odd_one", 1, 1),
                ("edge_intents_complete", 2, 1),
                ("sessions_complete", 2, 1),
            ]
        );
    }
}
