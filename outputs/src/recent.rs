//! The latest violations, for `/api/v1/violations?since=`: bounded, oldest forgotten first.

use std::collections::VecDeque;

use ironforge_engine::verdict::Violation;

/// One page of violations, each with its position in the sequence of every violation ever kept.
#[derive(Debug, Default)]
pub struct ViolationPage {
    pub violations: Vec<(u64, Violation)>,
    /// Where the next page starts, when more violations match after this page.
    pub next: Option<u64>,
}

/// The kept violations, each at a position that never repeats: its decision time in nanoseconds, or one
/// past the position before it when that is later. Positions so follow the clock, not a counter, and the
/// violations listed again after a restart (those of the restored verdicts, in time order) come back at
/// about the positions they had: a cursor taken before the restart goes on from about where it was.
#[derive(Debug)]
pub struct RecentViolations {
    capacity: usize,
    violations: VecDeque<(u64, Violation)>,
    /// The lowest position the next violation may take.
    next: u64,
}

impl RecentViolations {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            violations: VecDeque::new(),
            next: 0,
        }
    }

    pub fn push(&mut self, violation: Violation) {
        if self.violations.len() == self.capacity {
            self.violations.pop_front();
        }
        let position = self.next.max(violation.time_unix_nano);
        self.next = position.saturating_add(1);
        self.violations.push_back((position, violation));
    }

    /// At most `limit` violations decided at or after `since_unix_nano`, from position `from` on (or from the
    /// oldest kept, if that one was forgotten), oldest first. Positions never repeat, so pages walked with
    /// [`ViolationPage::next`] list each kept violation once, even while new ones arrive.
    pub fn page(&self, from: u64, since_unix_nano: u64, limit: usize) -> ViolationPage {
        let skip = self
            .violations
            .partition_point(|(position, _)| *position < from);
        let mut matching = self
            .violations
            .iter()
            .skip(skip)
            .filter(|(_, violation)| violation.time_unix_nano >= since_unix_nano);
        let violations: Vec<(u64, Violation)> = matching.by_ref().take(limit).cloned().collect();
        let next = matching.next().map(|(position, _)| *position);
        ViolationPage { violations, next }
    }

    /// The newest `limit` violations decided at or after `since_unix_nano`, newest first, and how many more
    /// match beyond them.
    pub fn latest(&self, since_unix_nano: u64, limit: usize) -> (Vec<Violation>, u64) {
        let mut matching = self
            .violations
            .iter()
            .rev()
            .map(|(_, violation)| violation)
            .filter(|violation| violation.time_unix_nano >= since_unix_nano);
        let latest = matching.by_ref().take(limit).cloned().collect();
        (latest, matching.count() as u64)
    }

    /// Violations decided at or after `since_unix_nano`, oldest first, at most `limit`.
    pub fn since(&self, since_unix_nano: u64, limit: usize) -> Vec<Violation> {
        self.violations
            .iter()
            .map(|(_, violation)| violation)
            .filter(|violation| violation.time_unix_nano >= since_unix_nano)
            .take(limit)
            .cloned()
            .collect()
    }
}

/// Violations for the tests of this crate and, with the `test-support` feature, of the processor.
#[cfg(any(test, feature = "test-support"))]
pub mod test_support {
    use ironforge_engine::model::{SpanId, TraceId};
    use ironforge_engine::verdict::{Category, Severity, Violation};

    /// The critical timing violation of one slow session: NY_AM_2025-08-04 took 3.4 s in discovery, against
    /// a 3.0 s limit, which blocks production.
    pub fn slow_session(trace_id: TraceId, span_id: SpanId, time_unix_nano: u64) -> Violation {
        Violation {
            trace_id,
            span_id: Some(span_id),
            contract_id: "single_session_processing".to_owned(),
            pipeline: Some("ironforge".into()),
            observed: 3.4,
            threshold: 3.0,
            unit: "s".to_owned(),
            stage: Some("discovery".to_owned()),
            session_id: Some("NY_AM_2025-08-04".to_owned()),
            message: "session NY_AM_2025-08-04 (discovery) took 3.4 s".to_owned(),
            ..violation(time_unix_nano)
        }
    }

    /// A critical timing violation decided at `time_unix_nano`, for tests.
    pub fn violation(time_unix_nano: u64) -> Violation {
        Violation {
            trace_id: TraceId([1; 16]),
            span_id: None,
            contract_id: "c".to_owned(),
            pipeline: None,
            category: Category::Timing,
            severity: Severity::Critical,
            blocks_production: true,
            observed: 1.0,
            threshold: 0.0,
            unit: String::new(),
            stage: None,
            session_id: None,
            message: String::new(),
            time_unix_nano,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::violation;
    use super::*;

    #[test]
    fn pages_resume_where_the_last_ended_even_after_the_oldest_are_forgotten() {
        let mut recent = RecentViolations::new(4);
        for time in 0..6 {
            recent.push(violation(time));
        }
        // 0 and 1 were forgotten; a cursor before them starts at the oldest kept.
        let first = recent.page(0, 0, 3);
        let times: Vec<u64> = first
            .violations
            .iter()
            .map(|(_, v)| v.time_unix_nano)
            .collect();
        assert_eq!(times, [2, 3, 4]);
        assert_eq!(first.next, Some(5));
        let last = recent.page(5, 0, 3);
        assert_eq!(last.violations.len(), 1);
        assert_eq!(last.next, None);
        // `since` filters within the walk, and the page is only as long as there are matches.
        let late = recent.page(0, 4, 1);
        assert_eq!(late.violations[0].0, 4);
        assert_eq!(late.next, Some(5));
    }

    #[test]
    fn positions_follow_the_clock_so_violations_listed_again_keep_their_places() {
        let mut before = RecentViolations::new(8);
        for time in [100, 100, 250, 400] {
            before.push(violation(time));
        }
        let walked = before.page(0, 0, 2);
        let cursor = walked.next.unwrap();
        assert_eq!(cursor, 250);
        // After a restart the same violations are listed again, in time order: the cursor still leads on
        // to what it led to, and later violations come after them.
        let mut after = RecentViolations::new(8);
        for time in [100, 100, 250, 400] {
            after.push(violation(time));
        }
        after.push(violation(300));
        let rest: Vec<(u64, u64)> = after
            .page(cursor, 0, 10)
            .violations
            .iter()
            .map(|(position, v)| (*position, v.time_unix_nano))
            .collect();
        assert_eq!(rest, [(250, 250), (400, 400), (401, 300)]);
    }

    #[test]
    fn the_latest_come_newest_first_with_the_rest_counted() {
        let mut recent = RecentViolations::new(8);
        for time in 0..6 {
            recent.push(violation(time));
        }
        let (latest, more) = recent.latest(1, 3);
        let times: Vec<u64> = latest.iter().map(|v| v.time_unix_nano).collect();
        assert_eq!(times, [5, 4, 3]);
        assert_eq!(more, 2);
        assert_eq!(recent.latest(9, 3), (Vec::new(), 0));
    }
}
