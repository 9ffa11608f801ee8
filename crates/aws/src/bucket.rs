//! The code bucket: one per account and region, created when missing with public access blocked
//! and default encryption on. An existing bucket is checked for both settings, so a run that
//! stopped right after creating it is completed by the next. Objects are addressed by content
//! hash, so existing code is never uploaded again.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::config::Clients;
use crate::error::{AwsError, code_of};

/// Makes sure the bucket exists with public access blocked and encryption on, creating it and
/// applying each setting that is missing.
pub(crate) async fn ensure_bucket(clients: &Clients, bucket: &str) -> Result<(), AwsError> {
    match clients.s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return ensure_settings(clients, bucket).await,
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(error) => {
            let status = error.raw_response().map(|response| response.status().as_u16());
            if status == Some(403) {
                return Err(AwsError::Image(format!(
                    "the S3 bucket {bucket} exists but belongs to another account or denies access; \
                     delete it or grant access, then rerun"
                )));
            }
            return Err(AwsError::call(format!("checking the S3 bucket {bucket}"), error));
        }
    }

    let action = format!("creating the S3 bucket {bucket}");
    let mut create = clients.s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that rejects an explicit location constraint.
    if clients.region() != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(clients.region()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        // A retry after a lost response: the first attempt created the bucket.
        Err(error) if error.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
        Err(error) => return Err(AwsError::call(&action, error)),
    }
    block_public_access(clients, bucket).await?;
    encrypt_by_default(clients, bucket).await
}

/// Applies whichever of the two settings the existing bucket lacks.
async fn ensure_settings(clients: &Clients, bucket: &str) -> Result<(), AwsError> {
    let blocked = match clients.s3.get_public_access_block().bucket(bucket).send().await {
        Ok(output) => output.public_access_block_configuration().is_some_and(|block| {
            [block.block_public_acls(), block.ignore_public_acls(), block.block_public_policy(), block.restrict_public_buckets()]
                .iter()
                .all(|setting| *setting == Some(true))
        }),
        Err(error) if code_of(&error) == Some("NoSuchPublicAccessBlockConfiguration") => false,
        Err(error) => return Err(AwsError::call(format!("reading the public access block of the S3 bucket {bucket}"), error)),
    };
    if !blocked {
        block_public_access(clients, bucket).await?;
    }
    let encrypted = match clients.s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(output) => output.server_side_encryption_configuration().is_some_and(|configuration| !configuration.rules().is_empty()),
        Err(error) if code_of(&error) == Some("ServerSideEncryptionConfigurationNotFoundError") => false,
        Err(error) => return Err(AwsError::call(format!("reading the encryption settings of the S3 bucket {bucket}"), error)),
    };
    if !encrypted {
        encrypt_by_default(clients, bucket).await?;
    }
    Ok(())
}

async fn block_public_access(clients: &Clients, bucket: &str) -> Result<(), AwsError> {
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    clients
        .s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block)
        .send()
        .await
        .map_err(|error| AwsError::call(format!("blocking public access to the S3 bucket {bucket}"), error))?;
    Ok(())
}

async fn encrypt_by_default(clients: &Clients, bucket: &str) -> Result<(), AwsError> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|error| AwsError::Image(format!("building the encryption settings of {bucket}: {error}")))?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build())
        .build()
        .map_err(|error| AwsError::Image(format!("building the encryption settings of {bucket}: {error}")))?;
    clients
        .s3
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|error| AwsError::call(format!("turning on default encryption of the S3 bucket {bucket}"), error))?;
    Ok(())
}

/// Uploads `zip` to `key` unless an object is already there. Returns whether it uploaded.
pub(crate) async fn upload_once(clients: &Clients, bucket: &str, key: &str, zip: &Path) -> Result<bool, AwsError> {
    match clients.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => return Ok(false),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(error) => return Err(AwsError::call(format!("checking s3://{bucket}/{key}"), error)),
    }
    let body = ByteStream::from_path(zip).await.map_err(|error| AwsError::Read {
        path: zip.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    })?;
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/zip")
        .body(body)
        .send()
        .await
        .map_err(|error| AwsError::call(format!("uploading {} to s3://{bucket}/{key}", zip.display()), error))?;
    Ok(true)
}

/// Deletes every object under `prefix`. A bucket that does not exist has nothing to delete.
pub(crate) async fn delete_prefix(clients: &Clients, bucket: &str, prefix: &str) -> Result<usize, AwsError> {
    let action = format!("listing s3://{bucket}/{prefix}");
    let mut deleted = 0;
    let mut token: Option<String> = None;
    loop {
        let listed = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.clone())
            .send()
            .await;
        let listed = match listed {
            Ok(listed) => listed,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_bucket()) => return Ok(deleted),
            Err(error) => return Err(AwsError::call(&action, error)),
        };
        for object in listed.contents() {
            let Some(key) = object.key() else { continue };
            clients
                .s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|error| AwsError::call(format!("deleting s3://{bucket}/{key}"), error))?;
            deleted += 1;
        }
        match listed.next_continuation_token() {
            Some(next) if listed.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => return Ok(deleted),
        }
    }
}
