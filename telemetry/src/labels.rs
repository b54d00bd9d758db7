//! Closed label value sets of the receiver metrics, as enums so no caller can invent a new series, and the
//! bound on the one open set, the pipelines.

/// Pipelines tracked at once, by compliance and by the analysis alike: the bound on the values of the
/// [`PIPELINE`](super::names::label::PIPELINE) label.
pub(crate) use ironforge_report::health::MAX_PIPELINES;

/// The OTLP transport a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Grpc,
    Http,
}

impl Transport {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Http => "http",
        }
    }
}

/// What a memory trend is drawn over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryScope {
    /// The memory samples of the latest run's spans.
    Run,
    /// Each run's peak, across the run history.
    History,
}

impl MemoryScope {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::History => "history",
        }
    }
}

/// How the processor answered an OTLP export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestOutcome {
    /// Every span accepted.
    Ok,
    /// Answered with success, but some spans were rejected (OTLP partial success).
    PartialSuccess,
    /// The request could not be decoded.
    BadRequest,
    /// The content type or encoding is not one OTLP defines.
    UnsupportedMediaType,
    /// The request exceeded the size limit.
    TooLarge,
    /// The processor is shedding load; the client was told to retry.
    Overloaded,
    /// The request lacked valid credentials.
    Unauthenticated,
    /// The processor failed for a reason of its own.
    Internal,
}

impl RequestOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::Ok,
        Self::PartialSuccess,
        Self::BadRequest,
        Self::UnsupportedMediaType,
        Self::TooLarge,
        Self::Overloaded,
        Self::Unauthenticated,
        Self::Internal,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::PartialSuccess => "partial_success",
            Self::BadRequest => "bad_request",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "too_large",
            Self::Overloaded => "overloaded",
            Self::Unauthenticated => "unauthenticated",
            Self::Internal => "internal",
        }
    }
}
