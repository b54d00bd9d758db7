//! The runtime form of the contract file: which contract reads which span, and what it observes.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ironforge_proto::semconv::{SpanKind, Stage, attr};

use crate::config::{ContractConfig, ContractFile, MeasureConfig, Profile};
use crate::model::{FactValue, Facts, SpanRecord};
use crate::plan::ReadPlan;
use crate::verdict::{Category, Severity};

/// Contracts ready to evaluate, built from a validated [`ContractFile`].
#[derive(Debug, Clone)]
pub struct ContractSet {
    pub(crate) contracts: Vec<Contract>,
    pub(crate) file: ContractFile,
    plan: Arc<ReadPlan>,
    routes: Routes,
}

/// Which contracts each span kind reaches, worked out once per contract set: a span meets only the
/// contracts whose scope admits its kind, instead of every contract's scope check.
#[derive(Debug, Clone, Default)]
struct Routes {
    /// Per kind (no kind first, then [`SpanKind::ALL`] in order), the contracts judging a span as it
    /// arrives.
    judging: Vec<Vec<usize>>,
    /// The same, for the contracts folding spans into a trace-scoped measure.
    accumulating: Vec<Vec<usize>>,
}

impl Routes {
    fn new(contracts: &[Contract]) -> Self {
        let kinds = std::iter::once(None).chain(SpanKind::ALL.iter().copied().map(Some));
        let route = |role: Role, kind: Option<SpanKind>| -> Vec<usize> {
            (contracts.iter().enumerate())
                .filter(|(_, contract)| contract.role() == role && contract.admits_kind(kind))
                .map(|(index, _)| index)
                .collect()
        };
        Self {
            judging: kinds.clone().map(|kind| route(Role::Judge, kind)).collect(),
            accumulating: kinds.map(|kind| route(Role::Accumulate, kind)).collect(),
        }
    }

    /// A kind's place in the routes: `SpanKind` declares its members in `ALL`'s order.
    fn slot(kind: Option<SpanKind>) -> usize {
        kind.map_or(0, |kind| kind as usize + 1)
    }
}

/// What a contract does with each span its scope admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Judges the span alone ([`Contract::observe_span`]).
    Judge,
    /// Folds the span into a trace-scoped measure.
    Accumulate,
    /// Reads the trace as a whole once it is decided.
    Trace,
}

/// One contract with its profile applied.
#[derive(Debug, Clone)]
pub struct Contract {
    pub id: Arc<str>,
    pub config: ContractConfig,
    /// Severity after the profile: `development` turns every violation into a warning.
    pub severity: Severity,
    /// `blocks_production` after the profile: `development` blocks nothing.
    pub blocks_production: bool,
    /// The attribute the measure reads, as the read plan spells it: facts are keyed with the same
    /// [`fact_key`](crate::model::fact_key)s, so a lookup through this one matches by address.
    key: Option<&'static str>,
    /// Unique in the process, so what [`Contract::in_members`] remembers is never taken for another
    /// contract's.
    serial: u64,
}

/// Serial numbers of contracts.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(0);

/// String arrays a thread remembers a contract's finding for, at most (the oldest gives way).
const REMEMBERED_FINDINGS: usize = 16;

/// A finding, with the contract and the array it is of.
type Finding = (u64, Arc<[Arc<str>]>, Arc<[bool]>);

thread_local! {
    static FINDINGS: RefCell<Vec<Finding>> = const { RefCell::new(Vec::new()) };
}

impl ContractSet {
    /// Builds the runtime contracts. `profile` overrides the file's own profile when given.
    pub fn new(file: ContractFile, profile: Option<Profile>) -> Self {
        let profile = profile.unwrap_or(file.profile);
        let plan = Arc::new(ReadPlan::new(&file));
        let contracts = file
            .contracts
            .iter()
            .map(|config| {
                let (severity, blocks_production) = match profile {
                    Profile::Production => (config.severity, config.blocks_production),
                    Profile::Development => (Severity::Warning, false),
                };
                let key = config
                    .measure
                    .attribute()
                    .and_then(|key| plan.slot(key))
                    .and_then(|slot| plan.get(slot))
                    .map(|(key, _)| key);
                Contract {
                    id: config.id.as_str().into(),
                    config: config.clone(),
                    severity,
                    blocks_production,
                    key,
                    serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
                }
            })
            .collect::<Vec<_>>();
        Self {
            routes: Routes::new(&contracts),
            contracts,
            file,
            plan,
        }
    }

    /// The span-scoped contracts whose scope admits spans of `kind`, in file order.
    pub(crate) fn judging(&self, kind: Option<SpanKind>) -> impl Iterator<Item = &Contract> {
        self.routed(&self.routes.judging, kind)
            .map(|(_, contract)| contract)
    }

    /// The contracts folding spans of `kind` into a trace-scoped measure, with their index.
    pub(crate) fn accumulating(
        &self,
        kind: Option<SpanKind>,
    ) -> impl Iterator<Item = (usize, &Contract)> {
        self.routed(&self.routes.accumulating, kind)
    }

    fn routed<'s>(
        &'s self,
        routes: &'s [Vec<usize>],
        kind: Option<SpanKind>,
    ) -> impl Iterator<Item = (usize, &'s Contract)> {
        (routes.get(Routes::slot(kind)).into_iter().flatten())
            .filter_map(|&index| Some((index, self.contracts.get(index)?)))
    }

    /// The contract file this set was built from.
    pub fn file(&self) -> &ContractFile {
        &self.file
    }

    /// Every contract, in file order.
    pub fn contracts(&self) -> &[Contract] {
        &self.contracts
    }

    /// The attributes these contracts read; decoders keep these and skip the rest.
    pub fn plan(&self) -> &Arc<ReadPlan> {
        &self.plan
    }
}

/// What scope matching reads of a span, whether it just arrived or is kept in a trace.
#[derive(Debug, Clone, Copy)]
pub struct SpanView<'a> {
    pub kind: Option<SpanKind>,
    pub stage: Option<Stage>,
    pub name: &'a str,
    pub service: Option<&'a str>,
}

impl<'a> From<&'a SpanRecord> for SpanView<'a> {
    fn from(span: &'a SpanRecord) -> Self {
        Self {
            kind: span.kind,
            stage: span.stage,
            name: &span.name,
            service: span.service_name.as_deref(),
        }
    }
}

impl Contract {
    pub fn category(&self) -> Category {
        self.config.category
    }

    /// The attribute the measure reads, if it reads one.
    pub(crate) fn key(&self) -> &str {
        self.key.unwrap_or_default()
    }

    /// Whether the contract reads this span.
    pub fn applies_to(&self, span: SpanView<'_>) -> bool {
        self.admits_kind(span.kind) && self.admits_beyond_kind(span)
    }

    fn admits_kind(&self, kind: Option<SpanKind>) -> bool {
        let scope = &self.config.scope;
        match (scope.kind, scope.kinds.as_slice()) {
            (Some(wanted), _) => kind == Some(wanted),
            (None, []) => kind.is_some(),
            (None, kinds) => kind.is_some_and(|kind| kinds.contains(&kind)),
        }
    }

    /// [`Contract::applies_to`] for a span whose kind the contract's route already admitted.
    pub(crate) fn admits_beyond_kind(&self, span: SpanView<'_>) -> bool {
        let scope = &self.config.scope;
        scope.stage.is_none_or(|stage| span.stage == Some(stage))
            && scope.name.as_deref().is_none_or(|name| span.name == name)
            && scope
                .service
                .as_deref()
                .is_none_or(|service| span.service == Some(service))
    }

    /// What the contract does with the spans it reads; [`Contract::observe_span`] answers only for
    /// [`Role::Judge`].
    pub(crate) fn role(&self) -> Role {
        match &self.config.measure {
            MeasureConfig::Duration
            | MeasureConfig::Attribute(_)
            | MeasureConfig::ValuesOutside(_)
            | MeasureConfig::OverheadPerOperation
            | MeasureConfig::AttributeErrors => Role::Judge,
            MeasureConfig::AttributeMax(_)
            | MeasureConfig::AttributeMean(_)
            | MeasureConfig::ValuesMissing(_) => Role::Accumulate,
            MeasureConfig::DuplicateSessionIds | MeasureConfig::MissingSessions => Role::Trace,
        }
    }

    pub fn holds(&self, observed: f64) -> bool {
        self.config
            .comparison
            .holds(observed, self.config.threshold)
    }

    /// `"< 3 s"`: the requirement, for messages.
    pub fn requirement(&self) -> String {
        let unit = match self.config.unit.as_str() {
            "1" => String::new(),
            unit => format!(" {unit}"),
        };
        format!(
            "{} {}{unit}",
            self.config.comparison.symbol(),
            format_number(self.config.threshold)
        )
    }

    /// What a span-scoped contract observes on `span`; `None` when the contract is trace-scoped or the span
    /// does not carry what it measures. Allocates nothing, so a contract that holds costs a comparison.
    pub fn observe_span(&self, span: &SpanRecord) -> Option<f64> {
        let facts = &span.facts;
        match &self.config.measure {
            MeasureConfig::Duration => Some(span.duration_seconds()),
            MeasureConfig::Attribute(_) => facts.number(self.key()),
            MeasureConfig::ValuesOutside(rule) => {
                let allowed = |values: &[Arc<str>]| {
                    let allowed = |value: &Arc<str>| rule.allowed.iter().any(|a| **a == **value);
                    values.iter().map(allowed).collect::<Vec<bool>>()
                };
                let allowed = self.in_members(facts, allowed)?;
                Some(allowed.iter().filter(|allowed| !**allowed).count() as f64)
            }
            MeasureConfig::OverheadPerOperation => {
                let (overhead, operations) = overhead(span)?;
                Some(overhead / operations as f64)
            }
            MeasureConfig::AttributeErrors => Some(facts.attribute_errors.len() as f64),
            MeasureConfig::AttributeMax(_)
            | MeasureConfig::AttributeMean(_)
            | MeasureConfig::ValuesMissing(_)
            | MeasureConfig::DuplicateSessionIds
            | MeasureConfig::MissingSessions => None,
        }
    }

    /// `find` over the members of the string array the contract reads (a string counts as an array of one),
    /// one flag for each of something. Decoders hand the spans that carry the same array one allocation
    /// of it (IRONFORGE's event types and edge intents on every session span), so each thread remembers
    /// the last findings by contract and allocation: a contract compares an array's members with its set
    /// once, not on every span. Holding the array keeps its allocation from being reused for another.
    pub(crate) fn in_members(
        &self,
        facts: &Facts,
        find: impl FnOnce(&[Arc<str>]) -> Vec<bool>,
    ) -> Option<Arc<[bool]>> {
        let values = match facts.get(self.key())? {
            FactValue::Strings(values) => values,
            FactValue::String(value) => return Some(find(std::slice::from_ref(value)).into()),
            FactValue::Int(_) | FactValue::Double(_) => return None,
        };
        let remembered = FINDINGS.with_borrow(|findings| {
            findings
                .iter()
                .find(|(serial, array, _)| *serial == self.serial && Arc::ptr_eq(array, values))
                .map(|(_, _, finding)| Arc::clone(finding))
        });
        if let Some(finding) = remembered {
            return Some(finding);
        }
        let finding: Arc<[bool]> = find(values).into();
        FINDINGS.with_borrow_mut(|findings| {
            if findings.len() == REMEMBERED_FINDINGS {
                findings.remove(0);
            }
            findings.push((self.serial, Arc::clone(values), Arc::clone(&finding)));
        });
        Some(finding)
    }

    /// What the span showed, in words: built only for a violation.
    pub fn describe_span(&self, span: &SpanRecord, observed: f64) -> String {
        let facts = &span.facts;
        match &self.config.measure {
            MeasureConfig::Attribute(key) => format!("has {key} = {}", format_number(observed)),
            MeasureConfig::ValuesOutside(rule) => {
                let outside: Vec<&str> = facts
                    .strings(&rule.attribute)
                    .unwrap_or_default()
                    .iter()
                    .map(|value| &**value)
                    .filter(|value| !rule.allowed.iter().any(|a| a == value))
                    .collect();
                format!(
                    "has {} outside the allowed set: [{}]",
                    rule.attribute,
                    quote_list(&outside)
                )
            }
            MeasureConfig::OverheadPerOperation => {
                let (overhead, operations) = overhead(span).unwrap_or_default();
                format!(
                    "spent {} s in instrumentation over {operations} operations ({} s each)",
                    format_number(overhead),
                    format_number(observed)
                )
            }
            MeasureConfig::AttributeErrors => {
                // Each error quotes its value cut already; a span repeating a key can still carry many.
                let errors = &facts.attribute_errors;
                let mut text = errors[..errors.len().min(MAX_LISTED)].join("; ");
                if errors.len() > MAX_LISTED {
                    text.push_str(&format!("; … and {} more", errors.len() - MAX_LISTED));
                }
                format!("has unusable attributes: {text}")
            }
            MeasureConfig::Duration
            | MeasureConfig::AttributeMax(_)
            | MeasureConfig::AttributeMean(_)
            | MeasureConfig::ValuesMissing(_)
            | MeasureConfig::DuplicateSessionIds
            | MeasureConfig::MissingSessions => format!("took {} s", format_number(observed)),
        }
    }
}

/// The run span's instrumentation overhead in seconds and its operation count, when both are usable.
fn overhead(span: &SpanRecord) -> Option<(f64, i64)> {
    let overhead = span.facts.number(attr::INSTRUMENT_OVERHEAD)?;
    let operations = span
        .facts
        .int(attr::INSTRUMENT_OPERATIONS)
        .filter(|&n| n > 0)?;
    Some((overhead, operations))
}

/// Items listed in a message at most, and the longest item quoted, so that a span carrying a million
/// members or one huge value yields a message of bounded size.
const MAX_LISTED: usize = 20;
const MAX_ITEM_BYTES: usize = 64;

/// `a, b, c` of at most [`MAX_LISTED`] items, each cut at [`MAX_ITEM_BYTES`], saying how many were left out.
pub(crate) fn quote_list(items: &[&str]) -> String {
    let mut text = items
        .iter()
        .take(MAX_LISTED)
        .map(|item| truncate(item, MAX_ITEM_BYTES))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_LISTED {
        text.push_str(&format!(", … and {} more", items.len() - MAX_LISTED));
    }
    text
}

/// `text` cut at `max` bytes on a character boundary, marked when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match prefix(text, max) {
        Some(cut) => {
            let mut cut = format!("{cut}… ({} bytes)", text.len());
            cut.shrink_to_fit();
            cut
        }
        None => text.to_owned(),
    }
}

/// The longest prefix of `text` of at most `max` bytes ending on a character boundary; `None` when `text`
/// already fits.
pub(crate) fn prefix(text: &str, max: usize) -> Option<&str> {
    if text.len() <= max {
        return None;
    }
    let end = (0..=max)
        .rev()
        .find(|&end| text.is_char_boundary(end))
        .unwrap_or(0);
    text.get(..end)
}

/// Numbers in messages: integers without a fraction, others with up to 6 significant decimals.
pub(crate) fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.6}").trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::config::Comparison;

    #[test]
    fn comparisons_hold_at_their_boundaries() {
        assert!(!Comparison::Lt.holds(3.0, 3.0));
        assert!(Comparison::Le.holds(3.0, 3.0));
        assert!(!Comparison::Gt.holds(0.87, 0.87));
        assert!(Comparison::Ge.holds(0.87, 0.87));
        assert!(Comparison::Eq.holds(51.0, 51.0));
        assert!(!Comparison::Eq.holds(45.0, 51.0));
        assert!(Comparison::Ne.holds(45.0, 51.0));
    }

    #[test]
    fn each_kind_meets_the_contracts_its_scope_admits_and_no_others() {
        let file = ContractFile::embedded_default().unwrap_or_else(|err| panic!("{err}"));
        let set = ContractSet::new(file, None);
        let ids = |contracts: Vec<&Contract>| -> Vec<String> {
            contracts.iter().map(|c| c.id.to_string()).collect()
        };
        for kind in std::iter::once(None).chain(SpanKind::ALL.iter().copied().map(Some)) {
            let view = SpanView {
                kind,
                stage: None,
                name: "",
                service: None,
            };
            let wanted = |role: Role| -> Vec<&Contract> {
                set.contracts()
                    .iter()
                    .filter(|c| c.role() == role && c.applies_to(view))
                    .collect()
            };
            assert_eq!(
                ids(set.judging(kind).collect()),
                ids(wanted(Role::Judge)),
                "{kind:?}"
            );
            assert_eq!(
                ids(set.accumulating(kind).map(|(_, c)| c).collect()),
                ids(wanted(Role::Accumulate)),
                "{kind:?}"
            );
            for (index, contract) in set.accumulating(kind) {
                assert!(std::ptr::eq(&set.contracts()[index], contract));
            }
        }
        assert!(
            set.judging(None).next().is_none(),
            "a span without kind is not judged"
        );
        let session = ids(set.judging(Some(SpanKind::Session)).collect());
        assert!(session.contains(&"pattern_authenticity".to_owned()));
        assert!(
            session.contains(&"span_memory_peak".to_owned()),
            "an empty scope admits every kind"
        );
        assert!(!session.contains(&"run_duration".to_owned()));
        assert!(
            !session.contains(&"sessions_complete".to_owned()),
            "trace-scoped"
        );
    }

    #[test]
    fn set_contracts_sharing_one_array_each_keep_their_own_finding() {
        let file = ContractFile::embedded_default().unwrap_or_else(|err| panic!("{err}"));
        let set = ContractSet::new(file, None);
        let contract = |id: &str| {
            (set.contracts().iter())
                .find(|c| &*c.id == id)
                .unwrap_or_else(|| panic!("{id}"))
        };
        let shared: Arc<[Arc<str>]> = vec![
            Arc::from("Expansion"),
            Arc::from("Reversal"),
            Arc::from("LIQ_LINK"),
        ]
        .into();
        let mut span = SpanRecord::new(
            crate::model::TraceId([1; 16]),
            crate::model::SpanId([2; 8]),
            "session",
        );
        for key in [attr::GRAPH_EVENT_TYPES, attr::GRAPH_EDGE_INTENTS] {
            span.facts.set(key, FactValue::Strings(Arc::clone(&shared)));
        }
        for _ in 0..2 {
            assert_eq!(contract("event_types_known").observe_span(&span), Some(1.0));
            assert_eq!(
                contract("edge_intents_known").observe_span(&span),
                Some(2.0)
            );
        }
        span.facts.set(
            attr::GRAPH_EVENT_TYPES,
            FactValue::Strings(vec![Arc::from("Reversal")].into()),
        );
        assert_eq!(contract("event_types_known").observe_span(&span), Some(0.0));
        let other = ContractSet::new(
            ContractFile::parse(
                &crate::config::DEFAULT_CONTRACTS_YAML.replace("Expansion, ", ""),
                "test",
            )
            .unwrap_or_else(|err| panic!("{err}")),
            None,
        );
        let narrower = (other.contracts().iter())
            .find(|c| &*c.id == "event_types_known")
            .unwrap_or_else(|| panic!("event_types_known"));
        span.facts.set(
            attr::GRAPH_EVENT_TYPES,
            FactValue::Strings(Arc::clone(&shared)),
        );
        assert_eq!(
            narrower.observe_span(&span),
            Some(2.0),
            "a reloaded contract does not take the finding of the one it replaced"
        );
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(3.4217), "3.422");
        assert_eq!(format_number(0.87), "0.87");
        assert_eq!(format_number(0.0000331), "0.000033");
    }

    #[test]
    fn long_lists_and_values_are_cut() {
        let items: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = items.iter().map(String::as_str).collect();
        let text = quote_list(&refs);
        assert!(text.ends_with("m19, … and 5 more"), "{text}");
        let long = "x".repeat(1000);
        assert_eq!(truncate(&long, 4), "xxxx… (1000 bytes)");
    }
}
