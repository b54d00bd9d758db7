//! Why a whole request was refused, in terms both transports turn into their own answers.

use crate::ingest::Overloaded;
use ironforge_telemetry::RequestOutcome;

/// Why a whole request was refused. Each transport turns it into its status in one place; the outcome it
/// reports is decided here, so gRPC and HTTP count the same refusal the same way.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The content type or content coding is not one OTLP defines.
    UnsupportedMediaType(String),
    TooLarge(String),
    Undecodable(String),
    Overloaded(Overloaded),
}

impl Refusal {
    pub(crate) fn outcome(&self) -> RequestOutcome {
        match self {
            Self::UnsupportedMediaType(_) => RequestOutcome::UnsupportedMediaType,
            Self::TooLarge(_) => RequestOutcome::TooLarge,
            Self::Undecodable(_) => RequestOutcome::BadRequest,
            Self::Overloaded(_) => RequestOutcome::Overloaded,
        }
    }
}
