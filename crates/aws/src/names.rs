//! The names portkey gives to what it creates in AWS, and the description that lets a function be
//! recognised again from a plain `ListFunctions` response. Every name starts with `portkey-`, which
//! is also what the printed IAM policy's resources are scoped to.

use sha2::{Digest, Sha256};

/// The name of the execution role portkey creates and reuses.
pub const ROLE_NAME: &str = "portkey-lambda";

/// The AWS managed policy attached to the role: CloudWatch Logs only.
pub const BASIC_EXECUTION_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// The tag key carrying the project name on functions and APIs.
pub const PROJECT_TAG: &str = "portkey:project";

/// Lambda function names: at most 64 characters.
const FUNCTION_NAME_MAX: usize = 64;

/// Turns a project name into the form used in AWS resource names: lower-case ASCII letters, digits and `-`, at most 24
/// characters, never empty.
pub fn project_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut slug: String = slug.trim_end_matches('-').chars().take(24).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() { "project".to_string() } else { slug }
}

/// The Lambda function name of a mounted Rust function: `portkey-<project>-<path>`, with `::`
/// written as `-`. Names longer than Lambda allows are cut and end in a hash of the full name, so
/// two long paths never collide.
pub fn function_name(project: &str, rust_path: &str) -> String {
    let path: String = rust_path
        .split("::")
        .map(|part| part.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect::<String>())
        .collect::<Vec<_>>()
        .join("-");
    let full = format!("portkey-{project}-{path}");
    if full.len() <= FUNCTION_NAME_MAX {
        return full;
    }
    let hash = hex(&Sha256::digest(full.as_bytes()))[..8].to_string();
    let keep = FUNCTION_NAME_MAX - hash.len() - 1;
    format!("{}-{hash}", &full[..keep])
}

/// The prefix shared by the function names of one project.
pub fn function_prefix(project: &str) -> String {
    format!("portkey-{project}-")
}

/// The HTTP API holding every mounted function of a project in one region.
pub fn api_name(project: &str) -> String {
    format!("portkey-{project}")
}

/// Returns the code bucket of an account and region.
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("portkey-{account}-{region}")
}

/// The S3 key of a function's zip: one folder per function, one object per content hash, so the
/// same code is never uploaded twice and unmounting removes the folder.
pub fn object_key(function_name: &str, code_sha256_base64: &str) -> String {
    format!("{function_name}/{}.zip", key_safe(code_sha256_base64))
}

/// Returns the folder of a function's objects.
pub fn object_prefix(function_name: &str) -> String {
    format!("{function_name}/")
}

/// The statement id of the permission letting one HTTP API invoke a function.
pub fn api_statement_id(api_id: &str) -> String {
    format!("portkey-api-{api_id}")
}

/// The statement ids of the two permissions a public function URL needs.
pub const URL_STATEMENT_ID: &str = "portkey-url";
pub const URL_INVOKE_STATEMENT_ID: &str = "portkey-url-invoke";

/// The function description: a readable line that also records what was mounted, because tags
/// cannot hold the characters of a URL template.
pub fn describe_mount(rust_path: &str, method: &str, template: &str) -> String {
    format!("portkey mount {rust_path} {method} {template}")
}

/// Reads back what `describe_mount` wrote: the Rust path, the method and the template.
pub fn parse_description(description: &str) -> Option<(String, String, String)> {
    let rest = description.strip_prefix("portkey mount ")?;
    let mut parts = rest.splitn(3, ' ');
    let path = parts.next()?.to_string();
    let method = parts.next()?.to_string();
    let template = parts.next()?.to_string();
    if path.is_empty() || method.is_empty() || !template.starts_with('/') {
        return None;
    }
    Some((path, method, template))
}

/// Base64 with `/` and `+` swapped for characters that need no escaping in S3 keys.
fn key_safe(base64: &str) -> String {
    base64.trim_end_matches('=').replace('/', "_").replace('+', "-")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_keeps_letters_digits_and_single_dashes() {
        assert_eq!(project_slug("My_Cool  App!"), "my-cool-app");
        assert_eq!(project_slug("___"), "project");
        assert_eq!(project_slug("a-very-long-project-name-that-goes-on"), "a-very-long-project-name");
    }

    #[test]
    fn function_names_fit_lambda() {
        assert_eq!(function_name("hello", "hello::flatter"), "portkey-hello-hello-flatter");
        let long = function_name("project", "some_crate::deeply::nested::module::with::a_long_function_name");
        assert_eq!(long.len(), 64, "{long}");
        let other = function_name("project", "some_crate::deeply::nested::module::with::a_long_function_name2");
        assert_ne!(long, other);
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn description_round_trips() {
        let text = describe_mount("hello::flatter", "GET", "/hello?name={name}");
        assert_eq!(
            parse_description(&text),
            Some(("hello::flatter".into(), "GET".into(), "/hello?name={name}".into()))
        );
        assert_eq!(parse_description("something else"), None);
        assert_eq!(parse_description("portkey mount a::b GET nope"), None);
    }

    #[test]
    fn object_keys_have_no_slash_from_base64() {
        let key = object_key("portkey-a-b", "ab/+cd==");
        assert_eq!(key, "portkey-a-b/ab_-cd.zip");
    }
}
