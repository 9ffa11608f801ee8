//! Reading request bodies up to a size limit, telling an oversized body apart from a failed read,
//! and discarding the rest of an oversized body so the client reads the 413 that rejects it.

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;

/// Lambda's limit on a synchronous invocation's request and response payloads: 6 MB.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The maximum number of bytes of an oversized body read and discarded before the 413 is sent.
pub(crate) const MAX_DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// How long discarding an oversized body may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) enum BodyError {
    TooLarge,
    Failed(String),
}

/// Reads the whole body, failing with `TooLarge` as soon as it exceeds `limit` bytes; the
/// unread rest stays in `body`.
pub(crate) async fn read_limited(body: &mut Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| BodyError::Failed(error.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if collected.len() + data.len() > limit {
            return Err(BodyError::TooLarge);
        }
        collected.extend_from_slice(&data);
    }
    Ok(Bytes::from(collected))
}

/// Reads and discards up to `MAX_DRAIN_BYTES` of `body`. A client that sends its whole body
/// before it reads the response (many HTTP libraries do) otherwise gets a reset connection
/// instead of the response, because closing a socket with unread data resets it.
pub(crate) async fn drain(body: &mut Body) {
    let discard = async {
        let mut total: u64 = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                total += data.len() as u64;
            }
            if total > MAX_DRAIN_BYTES {
                return;
            }
        }
    };
    // A slow client only loses the chance to read the 413.
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, discard).await;
}
