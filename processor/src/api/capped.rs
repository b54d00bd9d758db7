//! Caps on the answers whose size grows with the data: a list past [`MAX_ANSWER_ITEMS`] is cut to it, and
//! the answer says how many it left out, under `truncated`.
//!
//! The other answers are bounded already: violations come in pages ([`pages`](super::pages)), a verdict keeps
//! `max_violations_per_trace` and counts the rest, per-pipeline answers hold at most `MAX_PIPELINES`
//! pipelines, bottlenecks are ranked and cut, and a run's memory timeline is downsampled.

use std::collections::BTreeMap;

use ironforge_analysis::TraceAnalysis;
use serde::Serialize;

/// Items one list in an answer holds at most.
pub(crate) const MAX_ANSWER_ITEMS: usize = 1_000;

/// An answer with the lists it cut: each list's name and how many items it left out.
#[derive(Debug, Serialize)]
pub(crate) struct Capped<T> {
    #[serde(flatten)]
    pub answer: T,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub truncated: BTreeMap<&'static str, usize>,
}

impl<T> Capped<T> {
    /// What the cap left out, in words: `truncated: NAME N` for each list cut.
    pub(crate) fn notes(&self) -> impl Iterator<Item = String> + '_ {
        self.truncated.iter().map(|(name, left_out)| {
            format!("truncated: {name} {left_out} (at most {MAX_ANSWER_ITEMS} listed)")
        })
    }
}

/// Cuts `list` to [`MAX_ANSWER_ITEMS`], noting under `name` how many it left out.
fn cap<T>(list: &mut Vec<T>, name: &'static str, truncated: &mut BTreeMap<&'static str, usize>) {
    if list.len() > MAX_ANSWER_ITEMS {
        truncated.insert(name, list.len() - MAX_ANSWER_ITEMS);
        list.truncate(MAX_ANSWER_ITEMS);
    }
}

/// A run's analysis with its critical path and its sessions (slowest first) cut to the cap.
pub(crate) fn trace_analysis(analysis: &TraceAnalysis) -> Capped<TraceAnalysis> {
    let mut truncated = BTreeMap::new();
    if analysis.critical_path.len() <= MAX_ANSWER_ITEMS
        && analysis.sessions.len() <= MAX_ANSWER_ITEMS
    {
        return Capped {
            answer: analysis.clone(),
            truncated,
        };
    }
    let mut answer = analysis.clone();
    cap(&mut answer.critical_path, "critical_path", &mut truncated);
    cap(&mut answer.sessions, "sessions", &mut truncated);
    Capped { answer, truncated }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_past_the_cap_is_cut_and_counted() {
        let mut truncated = BTreeMap::new();
        let mut list: Vec<usize> = (0..MAX_ANSWER_ITEMS + 7).collect();
        cap(&mut list, "sessions", &mut truncated);
        assert_eq!(list.len(), MAX_ANSWER_ITEMS);
        assert_eq!(truncated.get("sessions"), Some(&7));
        let mut short = vec![1, 2];
        cap(&mut short, "critical_path", &mut truncated);
        assert_eq!(short.len(), 2);
        assert!(!truncated.contains_key("critical_path"));
    }
}
