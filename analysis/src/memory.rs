//! Memory trends: growth within a run and across runs, leak guards, and an efficiency score.
