//! The analysis crate's integration tests, in one binary: each former test file is a module here (its
//! tests are named `module::test`), and the support modules are declared once. One binary links the
//! crate once instead of once a file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod support;

mod bottlenecks;
mod critical_path;
mod memory;
mod plan;
mod regression;
mod untraced;
mod whatif;
