//! The AWS Glue Data Catalog as the [`Lake`]'s Iceberg catalog, with tables in S3.
//!
//! iceberg-rust's Glue catalog keeps each table's current metadata location in the Glue
//! table's parameters and commits with `UpdateTable` conditioned on the `VersionId` it read,
//! so of two writers committing from one base exactly one wins; the other gets Glue's
//! `ConcurrentModificationException` (or, when it reads the winner's metadata first, a failed
//! commit requirement), both iceberg's `CatalogCommitConflicts`, which `LakeError::iceberg`
//! makes `CommitConflict`: the state machine retries it, and the retry checks the batch ids
//! again.
//!
//! The Glue catalog builds its own SDK configuration from properties, so the endpoint, the
//! region and static credentials are handed over as properties. Credentials that expire
//! (a role's session) are not: the catalog's own default chain loads and refreshes them,
//! the same chain [`crate::sdk_config`] uses. Table data and metadata are read and written
//! by iceberg's OpenDAL S3 storage, which asks the `SdkConfig`'s credentials provider for
//! every signature, so rotated credentials are picked up there too.
//!
//! The catalog's own SDK configuration gets the same request deadlines as every client of
//! [`crate::sdk_config`] (see [`crate::sdk`]): without them a Glue request whose answer never
//! comes holds the commit step until the function's own timeout, where a retried attempt
//! succeeds. A retried `UpdateTable` whose first attempt did land fails Glue's `VersionId`
//! condition, which is `CommitConflict`, whose retry finds the batch committed.
//!
//! The lake also gets an [`S3Store`] of the warehouse's bucket as its data store: FileIO
//! cannot list a location nor tell a file's modification time, and garbage collection
//! (`sluice gc --aws`) needs both; it still deletes through FileIO.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use iceberg::io::{S3_ENDPOINT, S3_PATH_STYLE_ACCESS, S3_REGION};
use iceberg::CatalogBuilder;
use iceberg_catalog_glue::{
    GlueCatalogBuilder, AWS_ACCESS_KEY_ID, AWS_ATTEMPT_TIMEOUT_MS, AWS_CONNECT_TIMEOUT_MS,
    AWS_REGION_NAME, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, GLUE_CATALOG_PROP_URI,
    GLUE_CATALOG_PROP_WAREHOUSE,
};
use iceberg_storage_opendal::{AwsCredential, CustomAwsCredentialLoader, OpenDalStorageFactory};
use reqsign_core::time::Timestamp;
use sluice_lake::{Lake, LakeError, LakeErrorKind};

use crate::S3Store;

/// The catalog's name inside iceberg-rust (it appears in no table or path).
pub const GLUE_CATALOG_NAME: &str = "sluice";

/// Opens the Glue catalog of `sdk`'s account and region, with new tables under `warehouse`
/// (`s3://bucket/prefix`), at `<warehouse>/<namespace>/<table>`.
pub async fn open_glue_lake(sdk: &SdkConfig, warehouse: &str) -> Result<Lake, LakeError> {
    if !warehouse.starts_with("s3://") || warehouse.len() <= "s3://".len() {
        return Err(LakeError::internal(format!(
            "the Glue warehouse must be an s3://bucket/prefix URI, not {warehouse:?}"
        )));
    }
    let warehouse = warehouse.trim_end_matches('/').to_string();
    let mut props = HashMap::from([(GLUE_CATALOG_PROP_WAREHOUSE.to_string(), warehouse.clone())]);
    if let Some(region) = sdk.region() {
        props.insert(AWS_REGION_NAME.to_string(), region.to_string());
        props.insert(S3_REGION.to_string(), region.to_string());
    }
    if let Some(endpoint) = sdk.endpoint_url() {
        props.insert(GLUE_CATALOG_PROP_URI.to_string(), endpoint.to_string());
        props.insert(S3_ENDPOINT.to_string(), endpoint.to_string());
        props.insert(S3_PATH_STYLE_ACCESS.to_string(), "true".to_string());
    }
    if let Some(timeouts) = sdk.timeout_config() {
        for (key, limit) in [
            (AWS_ATTEMPT_TIMEOUT_MS, timeouts.operation_attempt_timeout()),
            (AWS_CONNECT_TIMEOUT_MS, timeouts.connect_timeout()),
        ] {
            if let Some(limit) = limit {
                props.insert(key.to_string(), limit.as_millis().to_string());
            }
        }
    }
    let provider = sdk.credentials_provider();
    if let Some(provider) = &provider {
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| LakeError {
                kind: LakeErrorKind::Transient,
                message: "loading AWS credentials for the Glue catalog".into(),
                source: Some(Box::new(e)),
            })?;
        if credentials.expiry().is_none() {
            props.insert(
                AWS_ACCESS_KEY_ID.to_string(),
                credentials.access_key_id().to_string(),
            );
            props.insert(
                AWS_SECRET_ACCESS_KEY.to_string(),
                credentials.secret_access_key().to_string(),
            );
            if let Some(token) = credentials.session_token() {
                props.insert(AWS_SESSION_TOKEN.to_string(), token.to_string());
            }
        }
    }
    let storage = OpenDalStorageFactory::S3 {
        customized_credential_load: provider
            .map(|p| CustomAwsCredentialLoader::new(SdkCredentials(p))),
    };
    let catalog = GlueCatalogBuilder::default()
        .with_storage_factory(Arc::new(storage))
        .load(GLUE_CATALOG_NAME, props)
        .await
        .map_err(|e| LakeError::iceberg("opening the Glue catalog", e))?;
    // The warehouse's bucket, where gc lists the tables' data files: FileIO cannot list.
    let bucket = warehouse_bucket(&warehouse);
    let data_store = Arc::new(S3Store::from_conf(sdk, bucket));
    tracing::debug!(warehouse, "Glue catalog opened");
    Ok(Lake::from_catalog(Arc::new(catalog), warehouse).with_data_store(data_store))
}

/// The bucket of a warehouse `s3://bucket/prefix` (checked to start with `s3://`).
fn warehouse_bucket(warehouse: &str) -> &str {
    let rest = warehouse.strip_prefix("s3://").unwrap_or(warehouse);
    rest.split('/').next().unwrap_or(rest)
}

/// The SDK's credentials provider as a credential source for OpenDAL's request signer.
#[derive(Debug)]
pub(crate) struct SdkCredentials(pub(crate) SharedCredentialsProvider);

impl reqsign_core::ProvideCredential for SdkCredentials {
    type Credential = AwsCredential;

    async fn provide_credential(
        &self,
        _: &reqsign_core::Context,
    ) -> reqsign_core::Result<Option<AwsCredential>> {
        let credentials = self.0.provide_credentials().await.map_err(|e| {
            reqsign_core::Error::credential_invalid("the AWS SDK could not load credentials")
                .with_source(e)
                .set_retryable(true)
        })?;
        let expires_in = credentials
            .expiry()
            .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
            .and_then(|since| Timestamp::from_second(since.as_secs() as i64).ok());
        Ok(Some(AwsCredential {
            access_key_id: credentials.access_key_id().to_string(),
            secret_access_key: credentials.secret_access_key().to_string(),
            session_token: credentials.session_token().map(str::to_string),
            expires_in,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Glue endpoint that takes the connection and never answers: the catalog's requests
    /// give up at the SDK configuration's attempt deadline and retries, and the lake says
    /// the trouble may pass, instead of waiting for as long as the process lives.
    #[tokio::test]
    async fn a_glue_request_never_answered_gives_up_at_the_attempt_deadline() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKID", "secret", None, None, "test"),
            ))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(std::time::Duration::from_millis(300))
                    .build(),
            )
            .build();
        let lake = open_glue_lake(&sdk, "s3://warehouse/tables").await.unwrap();
        let config = sluice_core::config::Config::parse(
            "[[table]]\nname = \"orders\"\nprefix = \"orders/\"\nformat = \"ndjson\"\n\
             contract = \"c.json\"\n",
            std::path::Path::new("sluice.toml"),
            ".".into(),
        )
        .unwrap();
        let asked = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            lake.describe(&config.tables[0]),
        )
        .await
        .expect("the request gave up at its attempt deadline");
        let err = asked.expect_err("nothing answered");
        assert_eq!(err.kind, LakeErrorKind::Transient, "{err}");
        silent.abort();
    }

    #[test]
    fn the_warehouse_bucket_is_the_first_segment() {
        assert_eq!(warehouse_bucket("s3://landing/warehouse"), "landing");
        assert_eq!(warehouse_bucket("s3://landing/a/b"), "landing");
        assert_eq!(warehouse_bucket("s3://landing"), "landing");
    }
}
