//! The engine's integration tests, in one binary: each former test file is a module here (its tests are
//! named `module::test`), and the support module is declared once. One binary links the engine once
//! instead of once a file.
//!
//! The property tests keep their failures next to their module's source, as
//! `<module>.proptest-regressions` (see `support::properties`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod admission;
mod attribute_limits;
mod decided;
mod engine;
mod json_differential;
mod partial;
mod retries;
mod wire_differential;
