//! The load generator's integration tests, in one binary: each former test file is a module here (its
//! tests are named `module::test`). One binary links the crate once instead of once a file.

#![allow(clippy::unwrap_used)]

mod retry;
mod sink;
mod smoke;
