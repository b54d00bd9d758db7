#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod attribute;
mod config;
mod error;
mod export;
mod facts;
mod guard;
mod init;
#[cfg(feature = "grpc")]
mod io;
mod layer;
mod memory;
mod overhead;
mod processor;
mod sampler;
mod state;

pub use config::{Config, ConfigBuilder, Protocol, Sampling, UnknownProtocol};
pub use error::{FlushError, InitError, ShutdownCause, ShutdownError};
pub use export::{EXPORT_LOG_TARGET, ExportReport};
pub use facts::{GraphFacts, record_authenticity, record_graph, record_memory, record_overhead};
pub use guard::Instrumentation;
pub use init::init;
pub use ironforge_proto::semconv;
pub use memory::{ProcessMemory, process_memory};
pub use overhead::Overhead;
