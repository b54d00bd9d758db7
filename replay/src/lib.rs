//! Reference IRONFORGE pipeline.
//!
//! Replays the real IRONFORGE session files (`fixtures/ironforge/sessions/`) through init, discovery, confluence,
//! validation and reporting, with every span and fact the monitor reads, so the monitor is exercised by real data
//! and real defects rather than synthetic traces. Faults can be injected one contract at a time
//! ([`faults::Faults`]).
//!
//! The library installs no subscriber: [`run`] records into whatever subscriber the caller has set, which is how
//! tests compose `ironforge_instrument`'s layer with a registry of their own.
//!
//! ```no_run
//! use ironforge_replay::{ReplayOptions, run};
//!
//! let summary = run(&ReplayOptions::default())?;
//! println!("{} sessions, trace {:?}", summary.sessions_given(), summary.trace_id);
//! # Ok::<(), ironforge_replay::ReplayError>(())
//! ```

pub mod authenticity;
pub mod classify;
pub mod confluence;
pub mod events;
pub mod faults;
pub mod features;
pub mod graph;
pub mod htf;
mod options;
mod otel;
mod outcome;
mod pipeline;
pub mod record;
pub mod repair;
pub mod report;
pub mod session;
pub mod session_id;

pub use faults::{Faults, SessionSelector};
pub use options::{DEFAULT_SESSIONS_DIR, ReplayError, ReplayOptions};
pub use outcome::{GraphSummary, RunSummary, SessionOutcome};
pub use pipeline::run;
