//! `GET /api/v1/violations` in pages: an opaque cursor, a bounded page size, and a bounded body.
//!
//! The body stays what it always was, a JSON array of violations, so clients that read one answer keep
//! working; the way on is in the headers: `Link: <...>; rel="next"` (RFC 8288) and `Ironforge-Next-Cursor`.

use axum::http::header::{CONTENT_TYPE, LINK};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::verdict::Violation;
use ironforge_outputs::ViolationPage;

/// Violations per page when the request names no `limit`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 500;
/// The largest `limit` honoured; a larger one is cut to it.
pub(crate) const MAX_PAGE_SIZE: usize = 5_000;
/// Bytes of JSON one page may hold: a page ends early rather than pass it.
pub(crate) const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// A single violation larger than this (an attacker's multi-megabyte session id, say) is listed with its
/// text fields cut, so no one violation can push a page past [`MAX_PAGE_BYTES`].
const MAX_FIELD_BYTES: usize = 16 * 1024;

/// The header carrying the next page's cursor.
pub(crate) const NEXT_CURSOR: HeaderName = HeaderName::from_static("ironforge-next-cursor");

/// Where a walk stands: the next position to read and the `since` it was started with. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub from: u64,
    pub since_unix_nano: u64,
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.from.to_be_bytes());
        bytes[8..].copy_from_slice(&self.since_unix_nano.to_be_bytes());
        hex::encode(bytes)
    }

    /// `None` for anything [`Cursor::encode`] did not produce.
    pub(crate) fn decode(text: &str) -> Option<Self> {
        let bytes: [u8; 16] = hex::decode(text).ok()?.try_into().ok()?;
        let (from, since) = bytes.split_at(8);
        Some(Self {
            from: u64::from_be_bytes(from.try_into().ok()?),
            since_unix_nano: u64::from_be_bytes(since.try_into().ok()?),
        })
    }
}

/// The answer for one page: the JSON array, cut short at [`MAX_PAGE_BYTES`], and the next cursor.
pub(crate) fn answer(page: ViolationPage, since_unix_nano: u64, limit: usize) -> Response {
    let mut body = Vec::from(*b"[");
    let mut next = page.next;
    for (position, violation) in page.violations {
        let json = serde_json::to_vec(&violation)
            .ok()
            .filter(|json| json.len() <= MAX_FIELD_BYTES * 4)
            .or_else(|| serde_json::to_vec(&shortened(violation)).ok())
            .unwrap_or_default();
        if body.len() > 1 && body.len() + json.len() + 2 > MAX_PAGE_BYTES {
            next = Some(position);
            break;
        }
        if body.len() > 1 {
            body.push(b',');
        }
        body.extend_from_slice(&json);
    }
    body.push(b']');
    let mut response = ([(CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(from) = next {
        let cursor = Cursor {
            from,
            since_unix_nano,
        }
        .encode();
        let link = format!("</api/v1/violations?cursor={cursor}&limit={limit}>; rel=\"next\"");
        let headers = response.headers_mut();
        if let (Ok(cursor), Ok(link)) =
            (HeaderValue::from_str(&cursor), HeaderValue::from_str(&link))
        {
            headers.insert(NEXT_CURSOR, cursor);
            headers.insert(LINK, link);
        }
    }
    response
}

/// The violation with every text field cut to [`MAX_FIELD_BYTES`].
fn shortened(mut violation: Violation) -> Violation {
    for field in [
        &mut violation.contract_id,
        &mut violation.unit,
        &mut violation.message,
    ] {
        cut(field);
    }
    for field in [&mut violation.stage, &mut violation.session_id]
        .into_iter()
        .flatten()
    {
        cut(field);
    }
    violation
}

fn cut(text: &mut String) {
    if text.len() <= MAX_FIELD_BYTES {
        return;
    }
    let mut end = MAX_FIELD_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("... ({dropped} bytes cut)"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let cursor = Cursor {
            from: 42,
            since_unix_nano: 7,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode("00"), None);
    }

    fn violation(message: String) -> Violation {
        Violation {
            message,
            ..ironforge_outputs::test_support::violation(1)
        }
    }

    async fn body(response: Response) -> (Vec<u8>, Option<String>) {
        let cursor = response
            .headers()
            .get(NEXT_CURSOR)
            .map(|value| value.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (bytes.to_vec(), cursor)
    }

    #[tokio::test]
    async fn a_page_stops_before_the_byte_bound_and_resumes_at_the_first_left_out() {
        let page = ViolationPage {
            violations: (0..MAX_PAGE_SIZE as u64)
                .map(|position| (position, violation("x".repeat(2_000))))
                .collect(),
            next: None,
        };
        let (bytes, cursor) = body(answer(page, 0, MAX_PAGE_SIZE)).await;
        assert!(bytes.len() <= MAX_PAGE_BYTES, "{}", bytes.len());
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
        let next = Cursor::decode(&cursor.unwrap()).unwrap();
        assert_eq!(next.from, listed.len() as u64);

        // One violation larger than the page bound is listed, cut.
        let huge = ViolationPage {
            violations: vec![(0, violation("y".repeat(2 * MAX_PAGE_BYTES)))],
            next: None,
        };
        let (bytes, cursor) = body(answer(huge, 0, 1)).await;
        assert!(bytes.len() < MAX_FIELD_BYTES * 2, "{}", bytes.len());
        assert_eq!(cursor, None);
    }

    #[test]
    fn long_fields_are_cut_on_a_char_boundary() {
        let mut text = "é".repeat(MAX_FIELD_BYTES);
        cut(&mut text);
        assert!(text.len() < MAX_FIELD_BYTES + 40, "{}", text.len());
        assert!(text.ends_with("bytes cut)"));
    }
}
