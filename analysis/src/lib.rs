//! Why an IRONFORGE run was slow, and what to do about it.
//!
//! Analysis reads decided traces (their spans and verdict, [`ironforge_engine::DecidedTrace`]) and nothing
//! else of the engine, so the processor and offline `check` run the same code.

pub mod baseline;
pub mod bottleneck;
pub mod breakdown;
pub mod budget;
pub mod critical_path;
pub mod memory;
pub mod recommend;
pub mod regression;
mod stats;
pub mod trace;
pub mod tree;
pub mod units;
pub mod untraced;
pub mod whatif;

pub use bottleneck::{Bottleneck, BottleneckWindow};
pub use budget::Budgets;
pub use trace::{
    AnalysisOptions, ContractReading, MemoryPoint, TraceAnalysis, add_plan, analyse,
    analyse_unplanned,
};
