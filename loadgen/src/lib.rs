//! Load for the IRONFORGE monitor, and what it costs the receiver.
//!
//! - [`shape`]: IRONFORGE runs as OTLP traces (run, init, four stages, 57 sessions each), pre-encoded, and the
//!   export requests built from them.
//! - [`send`]: sends those requests over OTLP/gRPC or OTLP/HTTP, retrying while the receiver sheds load, and
//!   reports what the receiver's process spent when given its pid.
//! - [`baseline`]: a receiver that only decodes each request and drops it, the floor to compare against.
//! - [`sink`]: a receiver that takes each request's bytes unread and, with a log, syncs them to a file before
//!   answering: the transport's and the log's floor.
//! - [`copies`]: a recorded OTLP/JSON-lines file written many times with fresh ids, a large input for
//!   `ironforge-processor check`.
//! - [`measure`]: another process's CPU time and resident memory, from `/proc`.

pub mod baseline;
pub mod copies;
mod error;
mod export;
pub mod measure;
mod receiver;
pub mod send;
pub mod shape;
pub mod sink;
