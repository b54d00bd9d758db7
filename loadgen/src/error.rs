//! Why a load run stops. Requests the receiver refuses or fails are counted in the report instead.

use crate::measure::MeasureError;
use crate::shape::ShapeError;

/// Error that stops a load run (refused or failed requests are counted instead).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("invalid options: {0}")]
    Options(&'static str),
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error("invalid endpoint {endpoint}: {source}")]
    Endpoint {
        endpoint: String,
        source: tonic::transport::Error,
    },
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: tonic::transport::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("cannot compress a request: {0}")]
    Compress(#[source] std::io::Error),
    #[error(transparent)]
    Measure(#[from] MeasureError),
    #[error("a sending task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}
