//! What the stages of one run share: the sessions planned, the fault targets, and each session's file, graph and
//! outcome as the stages fill them in.

use std::path::PathBuf;
use std::time::Duration;

use ironforge_proto::semconv::Stage;

use crate::faults::Ballast;
use crate::graph::{NodeIds, SessionGraph};
use crate::options::ReplayOptions;
use crate::outcome::SessionOutcome;
use crate::session::SessionFile;
use crate::session_id::{IdDerivation, SessionId};

/// One session file scheduled for the run.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    pub(super) path: PathBuf,
    pub(super) file: String,
    pub(super) id: SessionId,
}

/// Fault targets resolved to positions.
#[derive(Debug, Clone, Default)]
pub(super) struct Targets {
    pub(super) slow_session: Option<usize>,
    pub(super) target: Option<usize>,
}

/// Everything the stages share.
#[derive(Debug)]
pub(super) struct RunState<'o> {
    pub(super) options: &'o ReplayOptions,
    pub(super) planned: Vec<Planned>,
    pub(super) targets: Targets,
    pub(super) files: Vec<Option<SessionFile>>,
    pub(super) graphs: Vec<Option<SessionGraph>>,
    pub(super) outcomes: Vec<SessionOutcome>,
    pub(super) node_ids: NodeIds,
    pub(super) pending_cross_edge: bool,
    pub(super) ballast: Ballast,
    pub(super) spans: u64,
    pub(super) stage_times: Vec<(Stage, Duration)>,
    pub(super) report: String,
}

impl<'o> RunState<'o> {
    /// The state before discovery: every planned session has an outcome with nothing filled in yet.
    pub(super) fn new(options: &'o ReplayOptions, planned: Vec<Planned>, targets: Targets) -> Self {
        let n = planned.len();
        RunState {
            options,
            outcomes: planned
                .iter()
                .enumerate()
                .map(|(position, p)| SessionOutcome {
                    position,
                    file: p.file.clone(),
                    id: p.id.id.clone(),
                    id_as_is: matches!(p.id.derivation, IdDerivation::AsIs { .. }),
                    variant: None,
                    parse_error: None,
                    graph: None,
                    confluence: None,
                    authenticity: None,
                    discovery_time: Duration::ZERO,
                })
                .collect(),
            planned,
            targets,
            files: vec![None; n],
            graphs: vec![None; n],
            node_ids: NodeIds::default(),
            pending_cross_edge: false,
            ballast: Ballast::default(),
            // The run and init spans, open before any stage.
            spans: 2,
            stage_times: Vec::new(),
            report: String::new(),
        }
    }
}

impl RunState<'_> {
    pub(super) fn parsed(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.planned.len()).filter(|&i| self.files[i].is_some())
    }

    pub(super) fn is_target(&self, position: usize) -> bool {
        self.targets.target == Some(position)
    }
}
