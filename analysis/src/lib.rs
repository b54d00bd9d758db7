//! Why an IRONFORGE run was slow, and what to do about it.
//!
//! Analysis reads decided traces (their spans and verdict) and nothing else of the engine, so the processor
//! and offline `check` run the same code.

pub mod memory;
pub mod regression;
mod stats;
