//! portkey's AWS backend. A mount becomes a Lambda function on `provided.al2023`. Its code comes
//! from a content-addressed object in the account's portkey bucket, and it runs as portkey's
//! execution role or the user's. It is reached through a route on the project's API Gateway HTTP
//! API, or through its own function URL. Every step reads before it writes, so unchanged mounts cost no write call, and
//! what is deployed is always read back from AWS (`list`) rather than trusted from local state.
//!
//! The clients follow the standard AWS configuration chain and honour `AWS_ENDPOINT_URL`; tests
//! point them at moto's server on 127.0.0.1.

mod api;
mod backoff;
mod bucket;
mod calls;
mod config;
mod deploy;
mod error;
mod function;
mod image;
pub mod names;
mod once;
mod policy;
mod role;

pub use calls::{CALL_LOG_ENV, Call, CallLog};
pub use config::{AwsOptions, Clients};
pub use deploy::{Access, Auth, DeployedMount, Deployment, Invocation, MountSpec, Removal, deploy, invoke, list, undeploy, update_code};
pub use error::AwsError;
pub use policy::{granted_actions, policy_document, required_actions};
