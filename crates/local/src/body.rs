//! Reading request bodies up to a size limit, telling an oversized body apart from a failed read,
//! and discarding the rest of an oversized body so the client reads the 413 that rejects it.

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;

/// Lambda's limit on a synchronous invocation's request and response payloads: 6 MB.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The maximum size of a result posted to the Runtime API, in bytes. Lambda's Runtime API
/// rejects a larger one with 413 and `Exceeded maximum allowed payload size (6291556 bytes).`,
/// 100 bytes more than 6 MiB.
pub const MAX_RESULT_BYTES: usize = 6_291_556;

/// The maximum number of bytes of an oversized gateway request body read and discarded before
/// the 413 is sent.
pub(crate) const MAX_DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// The maximum number of bytes of an oversized result posted to the Runtime API read and
/// discarded before the 413 is sent. The poster is a local instance, so reading costs only
/// loopback bandwidth, and a runtime that writes a result of up to this size before it reads
/// the response still gets the 413 instead of a reset connection.
pub(crate) const MAX_RUNTIME_DRAIN_BYTES: u64 = 1024 * 1024 * 1024;

/// How long discarding an oversized body may take.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Reads and discards up to `max_bytes` of `body`, for at most `DRAIN_TIMEOUT`. A client that
/// sends its whole body before it reads the response (many HTTP libraries do) otherwise gets a
/// reset connection instead of the response, because closing a socket with unread data resets
/// it. Returns whether the whole body was read.
pub(crate) async fn drain(body: &mut Body, max_bytes: u64) -> bool {
    let discard = async {
        let mut total: u64 = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                total += data.len() as u64;
            }
            if total > max_bytes {
                return false;
            }
        }
        true
    };
    // A slow client only loses the chance to read the 413.
    tokio::time::timeout(DRAIN_TIMEOUT, discard)
        .await
        .unwrap_or(false)
}
