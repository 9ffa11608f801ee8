//! The Runtime API address: parses `AWS_LAMBDA_RUNTIME_API` into the socket address to connect
//! to, the `Host` header and the path prefix that every Runtime API path is appended to.
//!
//! Lambda sets a bare `host:port`. Emulators may add a scheme and a path prefix
//! (`http://127.0.0.1:9000/.rt/fn`); the API version path `/2018-06-01` follows the prefix.
//!
//! The host must be an IP address or `localhost`. Resolving other names would link the C
//! library's DNS resolver into every image (about 24 KB of executable, measured on a min-size
//! image), and Lambda always gives `127.0.0.1:9001`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

/// Name of the environment variable that contains the Runtime API address.
pub const RUNTIME_API_VARIABLE: &str = "AWS_LAMBDA_RUNTIME_API";

const API_VERSION_PATH: &str = "/2018-06-01";

/// A parsed Runtime API address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` to connect to and to send as the `Host` header.
    pub authority: String,
    /// Path prefix with the API version, such as `/.rt/fn/2018-06-01`; never ends with `/`.
    pub base_path: String,
}

/// An unusable `AWS_LAMBDA_RUNTIME_API` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// The variable is not set (or not valid Unicode).
    Missing,
    /// The variable is set but cannot be used, for the given `reason`.
    Invalid { value: String, reason: &'static str },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::Missing => write!(
                f,
                "{RUNTIME_API_VARIABLE} is not set: this program is a Lambda bootstrap and must run \
                 under the Lambda Runtime API (deploy it, or run it locally with `portkey mount`)"
            ),
            EndpointError::Invalid { value, reason } => write!(
                f,
                "invalid {RUNTIME_API_VARIABLE} value {value:?}: {reason}; expected host:port, \
                 http://host:port or http://host:port/path-prefix"
            ),
        }
    }
}

impl std::error::Error for EndpointError {}

impl Endpoint {
    /// Reads and parses `AWS_LAMBDA_RUNTIME_API`.
    pub fn from_env() -> Result<Endpoint, EndpointError> {
        match std::env::var(RUNTIME_API_VARIABLE) {
            Ok(value) => Endpoint::parse(&value),
            Err(_) => Err(EndpointError::Missing),
        }
    }

    /// Parses `host:port`, `http://host:port` or `http://host:port/prefix`. A missing port means
    /// 80. IPv6 hosts are written in brackets (`[::1]:9001`).
    pub fn parse(value: &str) -> Result<Endpoint, EndpointError> {
        let invalid = |reason| EndpointError::Invalid {
            value: value.to_owned(),
            reason,
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(invalid("the value is empty"));
        }

        let without_scheme = match trimmed.split_once("://") {
            None => trimmed,
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err(invalid("only the http scheme is supported")),
        };
        let (authority, prefix) = match without_scheme.find('/') {
            Some(slash) => without_scheme.split_at(slash),
            None => (without_scheme, ""),
        };
        if authority.is_empty() {
            return Err(invalid("the host is missing"));
        }
        if authority.contains('@') || authority.contains('?') || authority.contains('#') {
            return Err(invalid(
                "user info, queries and fragments are not supported",
            ));
        }
        if prefix.contains('?') || prefix.contains('#') {
            return Err(invalid("queries and fragments are not supported"));
        }

        let authority = with_port(authority).ok_or_else(|| invalid("the port is not a number"))?;
        if socket_address(&authority).is_none() {
            return Err(invalid(
                "the host must be an IP address or localhost, because the runtime resolves no \
                 host names",
            ));
        }
        let mut base_path = prefix.trim_end_matches('/').to_owned();
        base_path.push_str(API_VERSION_PATH);
        Ok(Endpoint {
            authority,
            base_path,
        })
    }

    /// The full path of a Runtime API resource, e.g. `url_path("/runtime/invocation/next")`.
    pub fn url_path(&self, resource: &str) -> String {
        let mut path = String::with_capacity(self.base_path.len() + resource.len());
        path.push_str(&self.base_path);
        path.push_str(resource);
        path
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

/// Returns the socket address of `host:port` when the host is an IP address (IPv6 in brackets)
/// or `localhost`, which means 127.0.0.1.
pub(crate) fn socket_address(authority: &str) -> Option<SocketAddr> {
    if let Ok(address) = authority.parse::<SocketAddr>() {
        return Some(address);
    }
    let (host, port) = authority.rsplit_once(':')?;
    if !host.eq_ignore_ascii_case("localhost") {
        return None;
    }
    let port = port.parse::<u16>().ok()?;
    Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

/// Returns `authority` with `:80` added when it names no port, or `None` when the port is not a
/// number.
fn with_port(authority: &str) -> Option<String> {
    let port_start = match authority.rfind(':') {
        // A colon inside an IPv6 literal is not a port separator.
        Some(colon) if !authority[colon..].contains(']') => Some(colon + 1),
        _ => None,
    };
    match port_start {
        Some(start) => {
            let port = &authority[start..];
            port.parse::<u16>().ok()?;
            Some(authority.to_owned())
        }
        None => {
            let mut owned = authority.to_owned();
            owned.push_str(":80");
            Some(owned)
        }
    }
}
