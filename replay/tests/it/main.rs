//! The replay's integration tests, in one binary: each former test file is a module here (its tests are
//! named `module::test`), and the support modules are declared once. One binary links the replay once
//! instead of once a file.
//!
//! All tests share this process. Most run the pipeline without a subscriber; a test that records the
//! run's spans through one, or reads the peak of resident memory, runs itself apart through
//! [`own_process`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The instrumentation's tests' helper, one copy for both binaries.
#[path = "../../../instrument/tests/it/own_process.rs"]
mod own_process;
mod support;

mod endpoint_down;
mod export_lost;
mod faults;
#[cfg(target_os = "linux")]
mod memory_growth;
mod otlp_receiver;
mod output;
mod pipeline;
mod recordings;
