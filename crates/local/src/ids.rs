//! Identifiers the gateway and the Runtime API hand out: request ids, X-Ray trace headers and
//! function names and ARNs derived from a function path.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::event::LOCAL_ACCOUNT_ID;

/// The region in the instances' environment and in ARNs. Nothing is sent to it.
pub(crate) const LOCAL_REGION: &str = "us-east-1";

/// Returns a new random request id in Lambda's UUID form.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Returns a new X-Ray trace header, `Root=1-<epoch seconds hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub(crate) fn trace_id() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{seconds:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &parent[..16]
    )
}

/// Converts a function path such as `hello::flatter` into a valid Lambda function name
/// (letters, digits, `-` and `_`): each `::` becomes `-` and any other character outside that
/// set becomes `_`.
pub fn lambda_function_name(function: &str) -> String {
    function
        .replace("::", "-")
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' || character == '_' {
                character
            } else {
                '_'
            }
        })
        .collect()
}

/// Returns the ARN the local server reports for a function.
pub(crate) fn function_arn(function: &str) -> String {
    format!(
        "arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{}",
        lambda_function_name(function)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_lambda_safe() {
        assert_eq!(lambda_function_name("hello::flatter"), "hello-flatter");
        assert_eq!(lambda_function_name("a::b::c_d"), "a-b-c_d");
        assert_eq!(lambda_function_name("weird<T>"), "weird_T_");
    }

    #[test]
    fn trace_ids_have_xray_form() {
        let trace = trace_id();
        let parts: Vec<&str> = trace.split(';').collect();

        assert_eq!(parts.len(), 3, "{trace}");
        assert!(parts[0].starts_with("Root=1-"), "{trace}");
        assert_eq!(parts[0].len(), "Root=1-".len() + 8 + 1 + 24, "{trace}");
        assert_eq!(parts[1].len(), "Parent=".len() + 16, "{trace}");
        assert_eq!(parts[2], "Sampled=0");
    }
}
