//! Reference IRONFORGE pipeline.
