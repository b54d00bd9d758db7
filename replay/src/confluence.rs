//! Confluence between sessions: how many of a session's price levels other sessions of the same trading day
//! also reached.
//!
//! ```text
//! confluence = levels matched by another session of the same date / distinct levels of the session
//! ```
//!
//! A session's levels are the distinct prices of its price movements (liquidity-event prices are often estimated,
//! so they are left out). Two levels match when they differ by at most [`TOLERANCE`] of the price. Sessions are
//! told apart by their position in the run, not by id, so the NY AM and NY PM sessions that share an id still
//! count as two sessions.

use std::collections::BTreeMap;

/// Relative distance within which two price levels count as the same level (about 2.3 points on NQ at 23,000).
pub const TOLERANCE: f64 = 1e-4;

/// The price levels of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLevels {
    /// Position of the session in the run.
    pub session: usize,
    /// Trading date, `YYYY-MM-DD`; sessions without one are compared with no other.
    pub date: Option<String>,
    /// Price levels.
    pub levels: Vec<f64>,
}

/// Confluence of one session.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Confluence {
    /// Score in `0..=1`.
    pub score: f64,
    /// Distinct levels of the session.
    pub levels: usize,
    /// Levels matched by another session of the same date.
    pub matched: usize,
    /// Other sessions of the same date.
    pub peers: usize,
}

/// Precomputed levels of every session, grouped by date.
#[derive(Debug, Clone, Default)]
pub struct ConfluenceIndex {
    by_date: BTreeMap<String, Vec<(usize, Vec<f64>)>>,
    own: BTreeMap<usize, (Option<String>, Vec<f64>)>,
}

impl ConfluenceIndex {
    /// Indexes the sessions' levels.
    pub fn new(sessions: &[SessionLevels]) -> ConfluenceIndex {
        let mut index = ConfluenceIndex::default();
        for s in sessions {
            let mut levels: Vec<f64> = s
                .levels
                .iter()
                .copied()
                .filter(|p| p.is_finite() && *p > 0.0)
                .collect();
            levels.sort_by(f64::total_cmp);
            levels.dedup();
            if let Some(date) = &s.date {
                index
                    .by_date
                    .entry(date.clone())
                    .or_default()
                    .push((s.session, levels.clone()));
            }
            index.own.insert(s.session, (s.date.clone(), levels));
        }
        index
    }

    /// Confluence of the session at position `session`; zero for one the index does not hold.
    pub fn score(&self, session: usize) -> Confluence {
        let Some((date, levels)) = self.own.get(&session) else {
            return Confluence::default();
        };
        let peers: Vec<&Vec<f64>> = date
            .as_ref()
            .and_then(|d| self.by_date.get(d))
            .map(|all| {
                all.iter()
                    .filter(|(s, _)| *s != session)
                    .map(|(_, l)| l)
                    .collect()
            })
            .unwrap_or_default();
        let matched = levels
            .iter()
            .filter(|&&level| peers.iter().any(|p| has_level_near(p, level)))
            .count();
        Confluence {
            score: if levels.is_empty() {
                0.0
            } else {
                matched as f64 / levels.len() as f64
            },
            levels: levels.len(),
            matched,
            peers: peers.len(),
        }
    }
}

/// Whether the sorted `levels` hold one within tolerance of `level`.
fn has_level_near(levels: &[f64], level: f64) -> bool {
    let tolerance = level.abs() * TOLERANCE;
    let first = levels.partition_point(|p| *p < level - tolerance);
    levels.get(first).is_some_and(|p| *p <= level + tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(session: usize, date: &str, levels: &[f64]) -> SessionLevels {
        SessionLevels {
            session,
            date: Some(date.into()),
            levels: levels.to_vec(),
        }
    }

    #[test]
    fn levels_match_within_tolerance_on_the_same_date_only() {
        let index = ConfluenceIndex::new(&[
            levels(0, "2025-08-05", &[23_000.0, 23_100.0, 23_100.0, 23_200.0]),
            levels(1, "2025-08-05", &[23_001.0, 23_150.0]),
            levels(2, "2025-08-06", &[23_100.0, 23_200.0]),
            SessionLevels {
                session: 3,
                date: None,
                levels: vec![23_000.0],
            },
        ]);
        let c = index.score(0);
        assert_eq!((c.levels, c.matched, c.peers), (3, 1, 1));
        assert!((c.score - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(index.score(2).matched, 0, "no peer on 08-06");
        assert_eq!(
            index.score(3),
            Confluence {
                score: 0.0,
                levels: 1,
                matched: 0,
                peers: 0
            }
        );
        assert_eq!(index.score(9), Confluence::default());
    }

    #[test]
    fn sessions_sharing_an_id_still_confluence_with_each_other() {
        // Positions, not ids, tell sessions apart: NY AM and NY PM of one day are two peers.
        let index =
            ConfluenceIndex::new(&[levels(0, "d", &[10_000.0]), levels(1, "d", &[10_000.5])]);
        assert_eq!(index.score(0).matched, 1);
        assert_eq!(index.score(1).matched, 1);
    }
}
