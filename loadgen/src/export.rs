//! The OTLP transports, one connection to a receiver over either, and how an export over it ended.
//!
//! gRPC requests go out through a codec that writes the pre-encoded request bytes as they are, so the sender
//! does not decode and re-encode what it built ahead.

use std::fmt;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use ironforge_proto::raw_export::EXPORT_PATH;
use prost::Message;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use tonic::Code;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_types::StatusExt;

use crate::error::SendError;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    Http,
}

impl Protocol {
    /// Where an OTLP receiver listens by default.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Self::Grpc => "http://127.0.0.1:4317",
            Self::Http => "http://127.0.0.1:4318/v1/traces",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Grpc => "grpc",
            Self::Http => "http",
        })
    }
}

/// The media type of OTLP/HTTP's binary protobuf encoding.
pub(crate) const PROTOBUF: &str = "application/x-protobuf";

/// How one export attempt ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Accepted {
        rejected_spans: u64,
    },
    /// Refused for now; the receiver's delay, when it named one.
    Retry(Option<Duration>),
    Failed(String),
}

/// One connection to the receiver.
#[derive(Debug)]
pub(crate) enum Connection {
    Grpc(tonic::client::Grpc<Channel>),
    Http {
        client: reqwest::Client,
        url: String,
        gzip: bool,
    },
}

impl Connection {
    pub(crate) async fn open(
        protocol: Protocol,
        endpoint: &str,
        gzip: bool,
    ) -> Result<Self, SendError> {
        match protocol {
            Protocol::Grpc => {
                let target = Endpoint::from_shared(endpoint.to_owned()).map_err(|source| {
                    SendError::Endpoint {
                        endpoint: endpoint.to_owned(),
                        source,
                    }
                })?;
                let channel = target
                    .connect()
                    .await
                    .map_err(|source| SendError::Connect {
                        endpoint: endpoint.to_owned(),
                        source,
                    })?;
                let mut grpc = tonic::client::Grpc::new(channel);
                if gzip {
                    grpc = grpc.send_compressed(CompressionEncoding::Gzip);
                }
                Ok(Self::Grpc(grpc))
            }
            Protocol::Http => {
                // One client per connection keeps the connections apart, as separate exporters would be.
                let client = reqwest::Client::builder()
                    .no_proxy()
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(SendError::HttpClient)?;
                Ok(Self::Http {
                    client,
                    url: endpoint.to_owned(),
                    gzip,
                })
            }
        }
    }

    pub(crate) async fn export(&mut self, body: Bytes) -> Outcome {
        match self {
            Self::Grpc(grpc) => export_grpc(grpc, body).await,
            Self::Http { client, url, gzip } => export_http(client, url, *gzip, body).await,
        }
    }
}

async fn export_grpc(grpc: &mut tonic::client::Grpc<Channel>, body: Bytes) -> Outcome {
    if let Err(err) = grpc.ready().await {
        return Outcome::Failed(format!("connection not ready: {err}"));
    }
    let path = PathAndQuery::from_static(EXPORT_PATH);
    match grpc
        .unary(tonic::Request::new(body), path, PreEncoded)
        .await
    {
        Ok(response) => Outcome::Accepted {
            rejected_spans: rejected(response.get_ref()),
        },
        Err(status) => {
            let delay = status
                .get_details_retry_info()
                .and_then(|info| info.retry_delay);
            match status.code() {
                Code::Unavailable => Outcome::Retry(delay),
                // Without RetryInfo, RESOURCE_EXHAUSTED means the request can never fit (OTLP spec).
                Code::ResourceExhausted if delay.is_some() => Outcome::Retry(delay),
                _ => Outcome::Failed(format!("{:?}: {}", status.code(), status.message())),
            }
        }
    }
}

async fn export_http(client: &reqwest::Client, url: &str, gzip: bool, body: Bytes) -> Outcome {
    let mut request = client.post(url).header(CONTENT_TYPE, PROTOBUF);
    if gzip {
        request = request.header(CONTENT_ENCODING, "gzip");
    }
    let response = match request.body(body).send().await {
        Ok(response) => response,
        Err(err) => return Outcome::Failed(format!("request failed: {err}")),
    };
    let status = response.status();
    let delay = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .map(Duration::from_secs);
    let answer = response.bytes().await.unwrap_or_default();
    match status.as_u16() {
        200..=299 => Outcome::Accepted {
            rejected_spans: ExportTraceServiceResponse::decode(answer)
                .map_or(0, |response| rejected(&response)),
        },
        429 | 502 | 503 | 504 => Outcome::Retry(delay),
        _ => Outcome::Failed(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        )),
    }
}

fn rejected(response: &ExportTraceServiceResponse) -> u64 {
    response
        .partial_success
        .as_ref()
        .map_or(0, |partial| partial.rejected_spans.max(0) as u64)
}

/// A gRPC codec whose requests are already-encoded `ExportTraceServiceRequest` bytes.
#[derive(Debug, Clone, Copy)]
struct PreEncoded;

impl Codec for PreEncoded {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = PreEncoded;
    type Decoder = PreEncoded;

    fn encoder(&mut self) -> Self::Encoder {
        PreEncoded
    }

    fn decoder(&mut self) -> Self::Decoder {
        PreEncoded
    }
}

impl Encoder for PreEncoded {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for PreEncoded {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|err| tonic::Status::internal(format!("undecodable answer: {err}")))
    }
}
