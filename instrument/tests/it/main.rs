//! The instrumentation's integration tests, in one binary: each former test file is a module here (its
//! tests are named `module::test`), and the support module is declared once. One binary links the crate
//! once instead of once a file.
//!
//! All tests share this process, and each records through a subscriber of its own thread
//! (`with_default`). A test that sets the global subscriber runs itself apart through [`own_process`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod own_process;
mod support;

mod default_subscriber;
mod facts;
mod global_layer;
mod lifecycle;
#[cfg(feature = "http")]
mod otlp_http;
mod sampling;
