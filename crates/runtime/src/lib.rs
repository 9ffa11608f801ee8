//! The in-image Lambda runtime that portkey compiles into every generated `bootstrap`. It
//! contains a blocking Runtime API client over `std::net::TcpStream` and recognises API Gateway
//! (REST and HTTP API), Function URL, load balancer and direct invocation events. It binds
//! parameters by name and shapes each reply for the event kind.
//!
//! It depends only on `serde` and `serde_json` and has no async runtime, because its size is
//! part of every image. Its manifest stands alone: portkey copies `Cargo.toml` and `src/` next
//! to each generated shim crate.
//!
//! ```no_run
//! use portkey_runtime::{Request, Response};
//!
//! fn handle(request: &Request) -> Response {
//!     let name: String = match request.scalar("name", "String") {
//!         Ok(name) => name,
//!         Err(response) => return response,
//!     };
//!     Response::display(&format!("{name} is brilliant"))
//! }
//!
//! fn main() {
//!     portkey_runtime::start(handle)
//! }
//! ```

mod api;
pub mod base64;
mod bind;
mod endpoint;
mod event;
mod executor;
mod http;
mod panic_capture;
pub mod percent;
mod reply;
mod request;
pub mod respond;
mod response;
mod runtime;

pub use api::{ErrorReport, Invocation};
pub use endpoint::{Endpoint, EndpointError, RUNTIME_API_VARIABLE};
pub use executor::block_on;
pub use reply::Reply;
pub use request::{EventKind, Request};
pub use response::{Content, Response};
pub use runtime::{
    MAX_RESPONSE_BYTES, RESPONSE_TOO_LARGE_ERROR_TYPE, TRACE_ID_VARIABLE, handle_invocation, start,
};
