//! The init span: the session files to replay, their session ids, and the sessions the faults act on.

use std::path::{Path, PathBuf};

use ironforge_proto::semconv::{SpanKind, attr};
use tracing::{info, warn};

use super::state::{Planned, Targets};
use crate::options::{ReplayError, ReplayOptions};
use crate::otel::int;
use crate::session;
use crate::session_id::{self, IdDerivation};

#[tracing::instrument(name = "init", skip_all, err(Display), fields({ attr::SPAN_KIND } = SpanKind::Init.as_str()))]
pub(super) fn init(options: &ReplayOptions) -> Result<(Vec<Planned>, Targets), ReplayError> {
    let dir = &options.sessions_dir;
    let mut paths = list_session_files(dir)?;
    if paths.is_empty() {
        return Err(ReplayError::NoSessions { dir: dir.clone() });
    }
    if let Some(limit) = options.sessions_limit {
        paths.truncate(limit);
    }
    let planned: Vec<Planned> = paths
        .into_iter()
        .map(|path| {
            let file = session::display_name(&path);
            let id = if options.reference {
                session_id::derive_distinct_session_id(&file)
            } else {
                session_id::derive_session_id(&file)
            };
            if let IdDerivation::AsIs { reason } = &id.derivation {
                warn!(file = %file, session_id = %id.id, reason = %reason, "IRONFORGE cannot derive a session id; using the file name as-is");
            }
            Planned { path, file, id }
        })
        .collect();

    for (id, count) in session_id::duplicate_ids(planned.iter().map(|p| p.id.id.as_str())) {
        warn!(session_id = %id, count = int(count), "session id occurs more than once in this run");
    }

    let ids = || planned.iter().map(|p| p.id.id.as_str());
    let faults = &options.faults;
    let targets = Targets {
        slow_session: faults.slow_session.as_ref().and_then(|s| s.resolve(ids())),
        target: faults.target.resolve(ids()),
    };
    if let Some(selector) = &faults.slow_session
        && targets.slow_session.is_none()
    {
        warn!(selector = %selector, "slow-session fault names no session of this run");
    }
    if faults.any() {
        if targets.target.is_none() {
            warn!(selector = %faults.target, "fault target names no session of this run");
        }
        info!(faults = ?faults.names(), target = ?targets.target, "faults to inject");
    }
    info!(sessions = int(planned.len()), dir = %dir.display(), reference = options.reference, "sessions planned");
    ironforge_instrument::record_memory();
    Ok((planned, targets))
}

/// The `enhanced_*.json` files of a directory, sorted by name.
fn list_session_files(dir: &Path) -> Result<Vec<PathBuf>, ReplayError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReplayError::SessionsDir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = session::display_name(p);
            name.starts_with(session_id::ENHANCED_PREFIX) && name.ends_with(".json") && p.is_file()
        })
        .collect();
    paths.sort();
    Ok(paths)
}
