use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Limits the OTLP receivers enforce on every request, for gRPC and HTTP alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiverLimits {
    /// Largest request accepted, in bytes, measured after decompression (a small gzip body that inflates
    /// past it is refused too, without being inflated further). gRPC answers RESOURCE_EXHAUSTED, HTTP 413;
    /// neither is retried by OTLP exporters. Default 4 MiB: gRPC's customary receive limit, and well above
    /// a stock SDK batch of 512 spans.
    pub max_request_bytes: usize,
}

impl ReceiverLimits {
    /// 4 MiB.
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
}

impl Default for ReceiverLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults_and_unknown_fields_are_refused() {
        let empty: ReceiverLimits = serde_yaml::from_str("{}").unwrap();
        assert_eq!(empty.max_request_bytes, 4 * 1024 * 1024);

        let set: ReceiverLimits = serde_yaml::from_str("max_request_bytes: 1024").unwrap();
        assert_eq!(set.max_request_bytes, 1024);

        let typo = serde_yaml::from_str::<ReceiverLimits>("max_request_byte: 1024").unwrap_err();
        assert!(typo.to_string().contains("unknown field"), "{typo}");
    }
}
