//! The processor's own APIs: gRPC `MonitorService` and the admin HTTP endpoints. Both only translate between
//! their wire formats and the [`Monitor`](crate::monitor::Monitor).

pub(crate) mod capped;
mod convert;
pub(crate) mod grpc;
pub(crate) mod html;
pub(crate) mod http;
pub(crate) mod pages;
