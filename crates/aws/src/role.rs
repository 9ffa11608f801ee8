//! The execution role: reused when portkey's role exists, otherwise created with Lambda's trust
//! policy and the basic execution policy (CloudWatch Logs) and nothing else. An existing role
//! without that policy (a run that stopped between the two writes) gets it attached.

use crate::config::Clients;
use crate::error::{AwsError, code_of};
use crate::names::{BASIC_EXECUTION_POLICY, ROLE_NAME};

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The role to run functions as, and whether it was created just now (then Lambda may not be able
/// to assume it for a few seconds).
#[derive(Debug, Clone)]
pub(crate) struct ExecutionRole {
    pub(crate) arn: String,
    pub(crate) created: bool,
}

/// Returns portkey's role, creating it when it does not exist.
pub(crate) async fn ensure_role(clients: &Clients) -> Result<ExecutionRole, AwsError> {
    let action = format!("reading the IAM role {ROLE_NAME}");
    match clients.iam.get_role().role_name(ROLE_NAME).send().await {
        Ok(output) => {
            let arn = output.role.map(|role| role.arn).ok_or_else(|| AwsError::missing(&action, "Role"))?;
            if !has_basic_policy(clients).await? {
                attach_basic_policy(clients).await?;
            }
            return Ok(ExecutionRole { arn, created: false });
        }
        Err(error) if code_of(&error) == Some("NoSuchEntity") => {}
        Err(error) => return Err(AwsError::call(action, error)),
    }

    let action = format!("creating the IAM role {ROLE_NAME}");
    let result = clients
        .iam
        .create_role()
        .role_name(ROLE_NAME)
        .assume_role_policy_document(TRUST_POLICY)
        .description("Execution role of functions deployed by portkey: CloudWatch Logs only.")
        .send()
        .await;
    let arn = match result {
        Ok(created) => created.role.map(|role| role.arn).ok_or_else(|| AwsError::missing(&action, "Role"))?,
        // A retry after a lost response: the first attempt created the role.
        Err(error) if code_of(&error) == Some("EntityAlreadyExists") => {
            let read = format!("reading the IAM role {ROLE_NAME}");
            let output = clients.iam.get_role().role_name(ROLE_NAME).send().await.map_err(|error| AwsError::call(&read, error))?;
            output.role.map(|role| role.arn).ok_or_else(|| AwsError::missing(&read, "Role"))?
        }
        Err(error) => return Err(AwsError::call(&action, error)),
    };
    attach_basic_policy(clients).await?;
    Ok(ExecutionRole { arn, created: true })
}

/// Tells whether the basic execution policy is attached to the role.
async fn has_basic_policy(clients: &Clients) -> Result<bool, AwsError> {
    let action = format!("listing the policies attached to the IAM role {ROLE_NAME}");
    let mut marker: Option<String> = None;
    loop {
        let page = clients
            .iam
            .list_attached_role_policies()
            .role_name(ROLE_NAME)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|error| AwsError::call(&action, error))?;
        if page.attached_policies().iter().any(|policy| policy.policy_arn() == Some(BASIC_EXECUTION_POLICY)) {
            return Ok(true);
        }
        match page.marker() {
            Some(next) if page.is_truncated() => marker = Some(next.to_string()),
            _ => return Ok(false),
        }
    }
}

/// Attaches the basic execution policy; attaching it twice is not an error in IAM.
async fn attach_basic_policy(clients: &Clients) -> Result<(), AwsError> {
    clients
        .iam
        .attach_role_policy()
        .role_name(ROLE_NAME)
        .policy_arn(BASIC_EXECUTION_POLICY)
        .send()
        .await
        .map_err(|error| AwsError::call(format!("attaching {BASIC_EXECUTION_POLICY} to {ROLE_NAME}"), error))?;
    Ok(())
}
