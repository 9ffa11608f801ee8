//! The Lambda Runtime API calls: fetching the next invocation and posting its response, its
//! error, or an initialisation error.

use std::fmt;

use crate::endpoint::Endpoint;
use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

const REQUEST_ID_HEADER: &str = "Lambda-Runtime-Aws-Request-Id";
const DEADLINE_HEADER: &str = "Lambda-Runtime-Deadline-Ms";
const FUNCTION_ARN_HEADER: &str = "Lambda-Runtime-Invoked-Function-Arn";
const TRACE_ID_HEADER: &str = "Lambda-Runtime-Trace-Id";
const CLIENT_CONTEXT_HEADER: &str = "Lambda-Runtime-Client-Context";
const COGNITO_IDENTITY_HEADER: &str = "Lambda-Runtime-Cognito-Identity";
const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// The metadata Lambda sends with each event, from the `Lambda-Runtime-*` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`: when the invocation times out, in Unix milliseconds.
    pub deadline_ms: Option<u64>,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: Option<String>,
    /// `Lambda-Runtime-Trace-Id`, the X-Ray tracing header.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context`, JSON sent by mobile SDK callers.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`, JSON sent by mobile SDK callers.
    pub cognito_identity: Option<String>,
}

/// An error report for `/error` endpoints: `{"errorMessage", "errorType", "stackTrace"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    pub error_type: String,
    pub message: String,
    /// Source locations, outermost last; Lambda shows them as the stack trace.
    pub stack_trace: Vec<String>,
}

impl ErrorReport {
    fn to_json(&self) -> Vec<u8> {
        let body = serde_json::json!({
            "errorMessage": self.message,
            "errorType": self.error_type,
            "stackTrace": self.stack_trace,
        });
        body.to_string().into_bytes()
    }
}

/// A failed Runtime API call.
#[derive(Debug)]
pub enum ApiError {
    /// The HTTP exchange itself failed.
    Http(HttpError),
    /// The Runtime API returned an unexpected status.
    Status {
        method: &'static str,
        path: String,
        status: u16,
        body: String,
    },
    /// `/runtime/invocation/next` returned no request id.
    MissingRequestId { path: String },
}

impl ApiError {
    /// Returns whether the Runtime API could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApiError::Http(error) if error.is_connect())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Http(error) => error.fmt(f),
            ApiError::Status {
                method,
                path,
                status,
                body,
            } => {
                write!(f, "{method} {path} returned status {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            ApiError::MissingRequestId { path } => {
                write!(f, "GET {path} returned no {REQUEST_ID_HEADER} header")
            }
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Http(error) => Some(error),
            _ => None,
        }
    }
}

impl From<HttpError> for ApiError {
    fn from(error: HttpError) -> ApiError {
        ApiError::Http(error)
    }
}

/// A Runtime API client over one keep-alive connection.
pub struct RuntimeClient {
    endpoint: Endpoint,
    http: HttpClient,
}

impl RuntimeClient {
    pub fn new(endpoint: Endpoint) -> RuntimeClient {
        let http = HttpClient::new(endpoint.authority.clone());
        RuntimeClient { endpoint, http }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Blocks until Lambda hands out the next event; returns its metadata and body.
    pub fn next_invocation(&mut self) -> Result<(Invocation, Vec<u8>), ApiError> {
        let path = self.endpoint.url_path("/runtime/invocation/next");
        let request = HttpRequest {
            method: "GET",
            path: &path,
            headers: &[],
            body: &[],
        };
        let response = self.http.send(&request)?;
        expect_success("GET", &path, &response)?;

        let text = |name: &str| response.header(name).map(str::to_owned);
        let request_id = match response.header(REQUEST_ID_HEADER) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => return Err(ApiError::MissingRequestId { path }),
        };
        let invocation = Invocation {
            request_id,
            deadline_ms: response
                .header(DEADLINE_HEADER)
                .and_then(|value| value.trim().parse().ok()),
            invoked_function_arn: text(FUNCTION_ARN_HEADER),
            trace_id: text(TRACE_ID_HEADER),
            client_context: text(CLIENT_CONTEXT_HEADER),
            cognito_identity: text(COGNITO_IDENTITY_HEADER),
        };
        Ok((invocation, response.body))
    }

    /// Posts the function's result for invocation `request_id`.
    pub fn post_response(&mut self, request_id: &str, body: &[u8]) -> Result<(), ApiError> {
        let path = self.invocation_path(request_id, "/response");
        let headers = [("Content-Type", "application/json")];
        let request = HttpRequest {
            method: "POST",
            path: &path,
            headers: &headers,
            body,
        };
        let response = self.http.send(&request)?;
        expect_success("POST", &path, &response)
    }

    /// Posts a failure of invocation `request_id`.
    pub fn post_invocation_error(
        &mut self,
        request_id: &str,
        report: &ErrorReport,
    ) -> Result<(), ApiError> {
        let path = self.invocation_path(request_id, "/error");
        self.post_error(path, report)
    }

    /// Posts a failure that happened before the runtime could serve any invocation.
    pub fn post_init_error(&mut self, report: &ErrorReport) -> Result<(), ApiError> {
        let path = self.endpoint.url_path("/runtime/init/error");
        self.post_error(path, report)
    }

    fn post_error(&mut self, path: String, report: &ErrorReport) -> Result<(), ApiError> {
        let body = report.to_json();
        let headers = [
            ("Content-Type", "application/json"),
            (ERROR_TYPE_HEADER, report.error_type.as_str()),
        ];
        let request = HttpRequest {
            method: "POST",
            path: &path,
            headers: &headers,
            body: &body,
        };
        let response = self.http.send(&request)?;
        expect_success("POST", &path, &response)
    }

    fn invocation_path(&self, request_id: &str, action: &str) -> String {
        let mut resource = String::from("/runtime/invocation/");
        // The id comes from the network; escaping keeps it one path segment.
        push_path_segment(&mut resource, request_id);
        resource.push_str(action);
        self.endpoint.url_path(&resource)
    }
}

fn expect_success(
    method: &'static str,
    path: &str,
    response: &HttpResponse,
) -> Result<(), ApiError> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    let excerpt = &response.body[..response.body.len().min(512)];
    Err(ApiError::Status {
        method,
        path: path.to_owned(),
        status: response.status,
        body: String::from_utf8_lossy(excerpt).trim().to_owned(),
    })
}

/// Appends `segment`, percent-encoding every byte outside RFC 3986's unreserved set.
fn push_path_segment(path: &mut String, segment: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in segment.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            path.push(byte as char);
        } else {
            path.push('%');
            path.push(HEX[usize::from(byte >> 4)] as char);
            path.push(HEX[usize::from(byte & 0x0f)] as char);
        }
    }
}
