//! The least-privilege IAM policy a deploying user needs: which IAM actions each AWS operation
//! portkey calls requires, and the policy document `portkey policy` prints, scoped to the names
//! portkey gives its resources (`portkey-*`).

use serde_json::{Value, json};

/// The IAM actions each operation needs, by SDK service name and operation name. An operation
/// missing here is a bug: the tests fail when the suite calls one.
const OPERATIONS: &[(&str, &str, &[&str])] = &[
    ("STS", "GetCallerIdentity", &[]),
    ("IAM", "GetRole", &["iam:GetRole"]),
    ("IAM", "CreateRole", &["iam:CreateRole"]),
    ("IAM", "AttachRolePolicy", &["iam:AttachRolePolicy"]),
    ("IAM", "ListAttachedRolePolicies", &["iam:ListAttachedRolePolicies"]),
    ("S3", "HeadBucket", &["s3:ListBucket"]),
    ("S3", "CreateBucket", &["s3:CreateBucket"]),
    ("S3", "PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
    ("S3", "PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
    ("S3", "GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"]),
    ("S3", "GetBucketEncryption", &["s3:GetEncryptionConfiguration"]),
    ("S3", "HeadObject", &["s3:GetObject"]),
    ("S3", "PutObject", &["s3:PutObject"]),
    ("S3", "ListObjectsV2", &["s3:ListBucket"]),
    ("S3", "DeleteObject", &["s3:DeleteObject"]),
    ("Lambda", "GetFunction", &["lambda:GetFunction"]),
    ("Lambda", "GetFunctionConfiguration", &["lambda:GetFunctionConfiguration"]),
    ("Lambda", "ListFunctions", &["lambda:ListFunctions"]),
    // Creating with tags also needs TagResource; passing the execution role needs PassRole.
    ("Lambda", "CreateFunction", &["lambda:CreateFunction", "lambda:TagResource", "iam:PassRole"]),
    ("Lambda", "UpdateFunctionCode", &["lambda:UpdateFunctionCode"]),
    ("Lambda", "UpdateFunctionConfiguration", &["lambda:UpdateFunctionConfiguration", "iam:PassRole"]),
    ("Lambda", "DeleteFunction", &["lambda:DeleteFunction"]),
    ("Lambda", "GetPolicy", &["lambda:GetPolicy"]),
    ("Lambda", "AddPermission", &["lambda:AddPermission"]),
    ("Lambda", "RemovePermission", &["lambda:RemovePermission"]),
    ("Lambda", "GetFunctionUrlConfig", &["lambda:GetFunctionUrlConfig"]),
    ("Lambda", "CreateFunctionUrlConfig", &["lambda:CreateFunctionUrlConfig"]),
    ("Lambda", "UpdateFunctionUrlConfig", &["lambda:UpdateFunctionUrlConfig"]),
    ("Lambda", "DeleteFunctionUrlConfig", &["lambda:DeleteFunctionUrlConfig"]),
    ("Lambda", "Invoke", &["lambda:InvokeFunction"]),
    ("ApiGatewayV2", "GetApis", &["apigateway:GET"]),
    ("ApiGatewayV2", "CreateApi", &["apigateway:POST"]),
    ("ApiGatewayV2", "DeleteApi", &["apigateway:DELETE"]),
    ("ApiGatewayV2", "GetStages", &["apigateway:GET"]),
    ("ApiGatewayV2", "CreateStage", &["apigateway:POST"]),
    ("ApiGatewayV2", "GetRoutes", &["apigateway:GET"]),
    ("ApiGatewayV2", "CreateRoute", &["apigateway:POST"]),
    ("ApiGatewayV2", "UpdateRoute", &["apigateway:PATCH"]),
    ("ApiGatewayV2", "DeleteRoute", &["apigateway:DELETE"]),
    ("ApiGatewayV2", "GetIntegrations", &["apigateway:GET"]),
    ("ApiGatewayV2", "CreateIntegration", &["apigateway:POST"]),
    ("ApiGatewayV2", "DeleteIntegration", &["apigateway:DELETE"]),
];

/// Returns the IAM actions `operation` of `service` needs, or `None` for an operation portkey does not
/// know it calls.
pub fn required_actions(service: &str, operation: &str) -> Option<&'static [&'static str]> {
    OPERATIONS
        .iter()
        .find(|(s, o, _)| s.eq_ignore_ascii_case(service) && *o == operation)
        .map(|(_, _, actions)| *actions)
}

fn actions_with_prefix(prefix: &str, exclude: &[&str]) -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = OPERATIONS
        .iter()
        .flat_map(|(_, _, actions)| actions.iter().copied())
        .filter(|action| action.starts_with(prefix) && !exclude.contains(action))
        .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

/// Builds the policy document a deploying identity needs, as JSON.
pub fn policy_document() -> Value {
    let role_actions = actions_with_prefix("iam:", &["iam:PassRole", "iam:AttachRolePolicy"]);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PortkeyFunctions",
                "Effect": "Allow",
                "Action": actions_with_prefix("lambda:", &["lambda:ListFunctions"]),
                "Resource": "arn:aws:lambda:*:*:function:portkey-*"
            },
            {
                "Sid": "PortkeyListFunctions",
                "Effect": "Allow",
                "Action": ["lambda:ListFunctions"],
                "Resource": "*"
            },
            {
                "Sid": "PortkeyCode",
                "Effect": "Allow",
                "Action": actions_with_prefix("s3:", &[]),
                "Resource": ["arn:aws:s3:::portkey-*", "arn:aws:s3:::portkey-*/*"]
            },
            {
                "Sid": "PortkeyRole",
                "Effect": "Allow",
                "Action": role_actions,
                "Resource": "arn:aws:iam::*:role/portkey-*"
            },
            {
                "Sid": "PortkeyRoleLogsPolicy",
                "Effect": "Allow",
                "Action": ["iam:AttachRolePolicy"],
                "Resource": "arn:aws:iam::*:role/portkey-*",
                "Condition": {"ArnEquals": {"iam:PolicyARN": crate::names::BASIC_EXECUTION_POLICY}}
            },
            {
                "Sid": "PortkeyPassRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": "arn:aws:iam::*:role/portkey-*",
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
            },
            {
                "Sid": "PortkeyHttpApi",
                "Effect": "Allow",
                "Action": actions_with_prefix("apigateway:", &[]),
                "Resource": ["arn:aws:apigateway:*::/apis", "arn:aws:apigateway:*::/apis/*", "arn:aws:apigateway:*::/tags/*"]
            }
        ]
    })
}

/// Lists every action the document grants, for checks.
pub fn granted_actions(document: &Value) -> Vec<String> {
    let mut granted = Vec::new();
    for statement in document["Statement"].as_array().into_iter().flatten() {
        match &statement["Action"] {
            Value::String(action) => granted.push(action.clone()),
            Value::Array(actions) => granted.extend(actions.iter().filter_map(|a| a.as_str().map(str::to_string))),
            _ => {}
        }
    }
    granted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_grants_every_action_of_every_known_operation() {
        let granted = granted_actions(&policy_document());
        for (service, operation, actions) in OPERATIONS {
            for action in *actions {
                assert!(granted.iter().any(|g| g == action), "{service}:{operation} needs {action}");
            }
        }
    }

    #[test]
    fn unknown_operations_are_none() {
        assert_eq!(required_actions("Lambda", "PublishVersion"), None);
        assert_eq!(required_actions("lambda", "Invoke"), Some(&["lambda:InvokeFunction"][..]));
    }

    #[test]
    fn no_statement_grants_everything() {
        for action in granted_actions(&policy_document()) {
            assert!(!action.ends_with(":*"), "{action}");
            assert_ne!(action, "*");
        }
    }
}
