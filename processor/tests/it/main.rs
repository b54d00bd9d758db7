//! The processor's integration tests, in one binary: each former test file is a module here (its tests
//! are named `module::test`), and the support modules are declared once. One binary links the processor
//! once instead of once a file.
//!
//! All tests share this process. A test that changes what belongs to the whole process (the peak of
//! resident memory, which each replay run reads into its verdict) runs itself apart through
//! [`own_process`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerting_support;
mod check_support;
mod e2e_support;
mod otlp_support;
mod own_process;
mod process_support;
mod violation_support;
mod wait_support;

mod analysis_history;
mod check;
mod cli;
mod compliance;
mod config;
mod console;
mod contracts;
mod crash_safety;
mod e2e_admission;
mod e2e_alerting;
mod e2e_analysis;
mod e2e_analysis_grpc;
mod e2e_api;
mod e2e_bad_input;
mod e2e_downstream;
mod e2e_memory;
mod e2e_memory_budget;
mod e2e_python;
mod e2e_reload;
mod e2e_replay;
mod html_report;
mod metrics;
mod otlp_grpc;
mod otlp_http;
mod otlp_logs;
mod otlp_metrics;
mod scale_out;
mod served_history;
mod transport_security;
