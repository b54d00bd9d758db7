//! The processor's own APIs: gRPC `MonitorService` and the admin HTTP endpoints. Both only translate between
//! their wire formats and the [`Monitor`](crate::monitor::Monitor).

pub mod capped;
mod convert;
pub mod grpc;
pub mod html;
pub mod http;
pub mod pages;
