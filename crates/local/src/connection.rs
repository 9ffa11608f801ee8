//! The gateway's HTTP/1.1 server: accepting connections and serving each with hyper and the
//! gateway's router. It bounds how long a request's line and headers may take to arrive, and
//! responds with 408 when a client sent part of them and then stalled. A connection that sent
//! nothing within that time, or stayed idle between requests, is closed without a response.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower_service::Service;
use tracing::{debug, error, warn};

use crate::automatic_response::{
    JsonAutomaticResponses, MAX_REQUEST_HEAD_BYTES, raw_json_response,
};
use crate::shared::Shared;

/// How long writing a response of the connection layer and closing the socket may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait after `accept` failed, for example because the process ran out of file
/// descriptors, so the failure is not retried and logged in a tight loop.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Serves gateway connections from `listener` until shutdown begins, then waits for the open
/// connections to finish their current requests.
pub(crate) async fn serve(listener: TcpListener, router: Router, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shared.shutdown_requested() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, router.clone(), shared.clone()));
                }
                Err(source) => {
                    error!("failed to accept a gateway connection: {source}; retrying in {ACCEPT_RETRY_DELAY:?}");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            },
            // Reaps finished connections, so the set holds only open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// The router as a hyper service for one connection: each request carries the peer's address
/// as `ConnectInfo`, as `into_make_service_with_connect_info` would give it.
#[derive(Clone)]
struct GatewayService {
    router: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for GatewayService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let mut router = self.router.clone();
        Box::pin(async move { router.call(request.map(Body::new)).await })
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    shared: Arc<Shared>,
) {
    // Small responses go out at once instead of waiting for the client's delayed ACK.
    if let Err(source) = stream.set_nodelay(true) {
        debug!(%peer, "failed to set TCP_NODELAY: {source}");
    }
    let header_read_timeout = shared.config.header_read_timeout;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_header_size(MAX_REQUEST_HEAD_BYTES);
    let io = TokioIo::new(JsonAutomaticResponses::new(stream));
    let mut connection = builder.serve_connection(io, GatewayService { router, peer });

    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => break result,
            () = shared.shutdown_requested(), if !stopping => {}
        }
        // An idle connection closes now; a busy one after its current response.
        stopping = true;
        Pin::new(&mut connection).graceful_shutdown();
    };

    let parts = connection.into_parts();
    let mut io = parts.io.into_inner();
    let closing_response = match result {
        Ok(()) => None,
        Err(error) => response_to_error(
            &error,
            &parts.read_buf,
            io.replaced(),
            peer,
            header_read_timeout,
        ),
    };

    let close = async {
        if let Some(response) = closing_response {
            io.write_all(&response).await?;
        }
        // Flushing also writes what remains of a replaced automatic response.
        io.flush().await?;
        io.shutdown().await
    };
    match tokio::time::timeout(CLOSE_TIMEOUT, close).await {
        Ok(Ok(())) => {}
        Ok(Err(source)) => debug!(%peer, "failed to close the connection cleanly: {source}"),
        Err(_) => {
            debug!(%peer, "the client did not take the last response within {CLOSE_TIMEOUT:?}")
        }
    }
}

/// Logs why hyper ended a connection with `error`, and returns the response still to send, if
/// any. `read_buf` contains the bytes received but not parsed, and `replaced` is the status of an
/// automatic response that was already replaced with a JSON one.
fn response_to_error(
    error: &hyper::Error,
    read_buf: &[u8],
    replaced: Option<StatusCode>,
    peer: SocketAddr,
    header_read_timeout: Duration,
) -> Option<Vec<u8>> {
    if !error.is_timeout() {
        match replaced {
            Some(status) => {
                warn!(%peer, %status, "rejected a request that could not be parsed: {error}")
            }
            None => debug!(%peer, "the connection ended with an error: {error}"),
        }
        return None;
    }
    if read_buf.is_empty() {
        debug!(%peer, "closing a connection that sent no request within {header_read_timeout:?}");
        return None;
    }
    warn!(
        %peer,
        received_bytes = read_buf.len(),
        "the request line and headers did not arrive within {header_read_timeout:?}; responding with 408"
    );
    let detail =
        format!("the request line and headers did not arrive within {header_read_timeout:?}");
    Some(raw_json_response(StatusCode::REQUEST_TIMEOUT, &detail))
}
