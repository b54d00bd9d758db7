//! The IRONFORGE contract processor: OTLP in, verdicts and violation events out.

pub mod model;
