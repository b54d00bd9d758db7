//! Reading an OTLP/HTTP request body into a message, whatever the signal: the content type and coding, the
//! size limit (before and after inflating), and decoding.

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use flate2::read::MultiGzDecoder;
use futures::StreamExt;
use prost::Message;
use serde::de::DeserializeOwned;

use super::{JSON, PROTOBUF};
use crate::ingest::Reservation;
use crate::otlp::refusal::Refusal;

/// How a request body, and so its answer, is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Protobuf,
    Json,
}

/// The encoding the `Content-Type` names.
pub(super) fn encoding(headers: &HeaderMap) -> Result<Encoding, Refusal> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"))
        .unwrap_or("(none)");
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(PROTOBUF) {
        Ok(Encoding::Protobuf)
    } else if media_type.eq_ignore_ascii_case(JSON) {
        Ok(Encoding::Json)
    } else {
        Err(Refusal::UnsupportedMediaType(format!(
            "unsupported Content-Type {content_type:?}; expected {PROTOBUF} or {JSON}"
        )))
    }
}

/// Reads and inflates the whole body, refusing it as soon as it is known to be too large.
/// Every byte held is counted in `reservation` as it is read or inflated; once the budget refuses more,
/// the rest of the body is read and dropped, so the client hears the 503 rather than a connection closed
/// under it.
pub(super) async fn body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, Refusal> {
    let gzip = is_gzip(headers)?;
    let bytes = read_body(body, headers, limit, reservation).await?;
    if !gzip {
        return Ok(bytes);
    }
    let inflated = gunzip(&bytes, limit)?;
    // The compressed body is dropped on return: what stays held is the inflated one.
    reservation
        .grow(inflated.len().saturating_sub(reservation.bytes()))
        .map_err(Refusal::Overloaded)?;
    Ok(inflated)
}

/// Decodes a body as `M`.
pub(super) fn message<M>(bytes: &[u8], encoding: Encoding) -> Result<M, Refusal>
where
    M: Message + Default + DeserializeOwned,
{
    match encoding {
        Encoding::Protobuf => M::decode(bytes)
            .map_err(|error| Refusal::Undecodable(format!("invalid protobuf body: {error}"))),
        Encoding::Json => serde_json::from_slice(bytes)
            .map_err(|error| Refusal::Undecodable(format!("invalid OTLP/JSON body: {error}"))),
    }
}

fn is_gzip(headers: &HeaderMap) -> Result<bool, Refusal> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(false);
    };
    let coding = value.to_str().unwrap_or("(not text)").trim();
    if coding.eq_ignore_ascii_case("gzip") {
        Ok(true)
    } else if coding.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else {
        Err(Refusal::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {coding:?}; expected gzip or identity"
        )))
    }
}

/// The body's length as its `Content-Length` declares it.
pub(super) fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
}

/// Reads the body, stopping as soon as it passes `limit` rather than buffering all of it.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, Refusal> {
    let declared = declared_length(headers);
    if let Some(declared) = declared.filter(|&declared| declared > limit) {
        return Err(Refusal::TooLarge(format!(
            "request body of {declared} bytes exceeds the limit of {limit} bytes"
        )));
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|error| Refusal::Undecodable(format!("failed to read the body: {error}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(Refusal::TooLarge(format!(
                "request body exceeds the limit of {limit} bytes"
            )));
        }
        if let Err(overloaded) = reservation.grow(chunk.len()) {
            discard_stream(chunks, limit.saturating_sub(bytes.len())).await;
            return Err(Refusal::Overloaded(overloaded));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Reads up to `limit` bytes of a body without keeping them.
pub(super) async fn discard(body: Body, limit: usize) {
    discard_stream(body.into_data_stream(), limit).await;
}

async fn discard_stream(mut chunks: axum::body::BodyDataStream, limit: usize) {
    let mut read = 0;
    while read <= limit {
        match chunks.next().await {
            Some(Ok(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
}

/// Inflates at most one byte past `limit`, so a small body that inflates enormously costs no more than the
/// limit.
fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, Refusal> {
    let mut inflated = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    MultiGzDecoder::new(compressed)
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut inflated)
        .map_err(|error| Refusal::Undecodable(format!("invalid gzip body: {error}")))?;
    if inflated.len() > limit {
        return Err(Refusal::TooLarge(format!(
            "request body inflates past the limit of {limit} bytes"
        )));
    }
    Ok(inflated)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn media_types_ignore_case_and_parameters() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            encoding(&headers).ok()
        };
        assert_eq!(
            with("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(with("Application/X-Protobuf"), Some(Encoding::Protobuf));
        assert_eq!(with("application/protobuf"), None);
        assert_eq!(encoding(&HeaderMap::new()).ok(), None);
    }
}
