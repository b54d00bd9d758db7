//! The latest violations, for `/api/v1/violations?since=`: bounded, oldest forgotten first.

use std::collections::VecDeque;

use crate::verdict::Violation;

#[derive(Debug)]
pub struct RecentViolations {
    capacity: usize,
    violations: VecDeque<Violation>,
}

impl RecentViolations {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            violations: VecDeque::new(),
        }
    }

    pub fn push(&mut self, violation: Violation) {
        if self.violations.len() == self.capacity {
            self.violations.pop_front();
        }
        self.violations.push_back(violation);
    }

    /// Violations decided at or after `since_unix_nano`, oldest first, at most `limit`.
    pub fn since(&self, since_unix_nano: u64, limit: usize) -> Vec<Violation> {
        self.violations
            .iter()
            .filter(|violation| violation.time_unix_nano >= since_unix_nano)
            .take(limit)
            .cloned()
            .collect()
    }
}
