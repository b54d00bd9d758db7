//! Fault injection: one switch per contract, each breaking exactly the fact its contract reads.
//!
//! | fault | contract it breaks | what changes |
//! |---|---|---|
//! | `slow_session` | single session < 3 s | the chosen session's discovery span sleeps [`SLOW_SESSION_SLEEP`] |
//! | `slow_run` | full discovery < 180 s | the run sleeps the given extra time between reporting and its end, outside every session and stage span. Exceeding 180 s for real takes three minutes; tests lower the processor's run threshold instead |
//! | `memory_growth_mb` | memory < 100 MB | discovery allocates and touches that many MiB, spread over its sessions and held until the run ends, so resident memory really grows |
//! | `low_authenticity` | authenticity > 0.87 | validation scores the target session with every timestamp replaced by the `12:00:00` placeholder, so the formula itself yields 0. Many real sessions already score below 0.87 (see [`crate::authenticity`]) |
//! | `unknown_event_type` | exactly 6 event types | one node of the target session is also labelled [`UNKNOWN_EVENT_TYPE`] |
//! | `wrong_feature_dim` | node features = 51 | the target session's HTF features are computed but left out of its graph: 45 |
//! | `cross_session_edge` | no edge joins two sessions | one `TEMPORAL_NEXT` edge joins the target session's first node to the previous session's last node |
//! | `open_candle_read` | HTF from closed candles only | the target session's HTF features read the candle in progress |
//!
//! The session-scoped faults other than `slow_session` act on [`Faults::target`] (the first session by default).
//! They are independent of one another, so switching all of them on at once breaks every contract they name.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How long the slow session sleeps: clearly over the 3 s contract.
pub const SLOW_SESSION_SLEEP: Duration = Duration::from_millis(3_500);

/// The label the `unknown_event_type` fault adds; deliberately outside the six golden types.
pub const UNKNOWN_EVENT_TYPE: &str = "Breakout";

/// A session named on the command line: by position in the run (0-based) or by session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSelector {
    /// Position in the run, 0-based.
    Index(usize),
    /// Session id; the first session with it is meant (ids can collide).
    Id(String),
}

impl Default for SessionSelector {
    fn default() -> Self {
        SessionSelector::Index(0)
    }
}

impl FromStr for SessionSelector {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(i) => SessionSelector::Index(i),
            Err(_) => SessionSelector::Id(s.to_owned()),
        })
    }
}

impl fmt::Display for SessionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionSelector::Index(i) => write!(f, "#{i}"),
            SessionSelector::Id(id) => f.write_str(id),
        }
    }
}

impl SessionSelector {
    /// The position it selects among the run's session ids, if any.
    pub fn resolve<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Option<usize> {
        let mut ids = ids.into_iter();
        match self {
            SessionSelector::Index(i) => ids.nth(*i).map(|_| *i),
            SessionSelector::Id(wanted) => ids.position(|id| id == wanted),
        }
    }
}

/// The faults to inject into one run. The default injects none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Session whose discovery sleeps past the session contract.
    pub slow_session: Option<SessionSelector>,
    /// Extra time the run sleeps.
    pub slow_run: Option<Duration>,
    /// MiB to allocate and hold during the run.
    pub memory_growth_mb: Option<u64>,
    /// Score the target session below the authenticity threshold.
    pub low_authenticity: bool,
    /// Label a node of the target session with an unknown event type.
    pub unknown_event_type: bool,
    /// Build the target session with 45 node features instead of 51.
    pub wrong_feature_dim: bool,
    /// Join the target session to the previous one with an edge.
    pub cross_session_edge: bool,
    /// Read HTF features of the target session from the candle in progress.
    pub open_candle_read: bool,
    /// Session the boolean faults act on.
    pub target: SessionSelector,
}

impl Faults {
    /// Whether any fault is switched on.
    pub fn any(&self) -> bool {
        *self
            != Faults {
                target: self.target.clone(),
                ..Faults::default()
            }
    }

    /// Names of the faults switched on, for logs and reports.
    pub fn names(&self) -> Vec<&'static str> {
        [
            ("slow_session", self.slow_session.is_some()),
            ("slow_run", self.slow_run.is_some()),
            ("memory_growth", self.memory_growth_mb.is_some()),
            ("low_authenticity", self.low_authenticity),
            ("unknown_event_type", self.unknown_event_type),
            ("wrong_feature_dim", self.wrong_feature_dim),
            ("cross_session_edge", self.cross_session_edge),
            ("open_candle_read", self.open_candle_read),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect()
    }
}

/// Memory the `memory_growth_mb` fault holds: allocated in slices, every page written so it is resident.
#[derive(Debug, Default)]
pub struct Ballast {
    chunks: Vec<Vec<u8>>,
}

impl Ballast {
    /// Allocates and touches `bytes` more.
    pub fn grow(&mut self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        // A non-zero fill makes the allocator hand out pages that are really written, not lazily zeroed ones.
        let chunk = vec![0xA5_u8; bytes];
        self.chunks.push(std::hint::black_box(chunk));
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }
}

/// Splits `total` bytes over `parts` slices as evenly as possible; slice `i` gets the returned amount.
pub fn share(total: usize, parts: usize, i: usize) -> usize {
    if parts == 0 {
        return 0;
    }
    total / parts + usize::from(i < total % parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_resolve() {
        let ids = ["A_1", "NY_2", "NY_2", "B_3"];
        assert_eq!(
            "2".parse::<SessionSelector>().unwrap(),
            SessionSelector::Index(2)
        );
        assert_eq!(
            "NY_2".parse::<SessionSelector>().unwrap().resolve(ids),
            Some(1)
        );
        assert_eq!(SessionSelector::Index(3).resolve(ids), Some(3));
        assert_eq!(SessionSelector::Index(4).resolve(ids), None);
        assert_eq!(SessionSelector::Id("none".into()).resolve(ids), None);
    }

    #[test]
    fn names_list_what_is_on() {
        assert!(!Faults::default().any());
        assert!(
            !Faults {
                target: SessionSelector::Index(5),
                ..Faults::default()
            }
            .any()
        );
        let f = Faults {
            wrong_feature_dim: true,
            slow_run: Some(Duration::ZERO),
            ..Faults::default()
        };
        assert!(f.any());
        assert_eq!(f.names(), ["slow_run", "wrong_feature_dim"]);
    }

    #[test]
    fn shares_add_up() {
        let total = 10 * 1024 * 1024 + 3;
        assert_eq!((0..57).map(|i| share(total, 57, i)).sum::<usize>(), total);
        assert_eq!(share(5, 0, 0), 0);
    }

    #[test]
    fn ballast_holds_what_it_grew() {
        let mut b = Ballast::default();
        b.grow(4096);
        b.grow(0);
        b.grow(10);
        assert_eq!(b.bytes(), 4106);
    }
}
