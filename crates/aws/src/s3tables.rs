//! Amazon S3 Tables as the [`Lake`]'s Iceberg catalog: a table bucket's Iceberg REST endpoint,
//! signed with SigV4, with the tables' files in the storage S3 Tables gives each table.
//!
//! The catalog is iceberg-rust's REST catalog on `https://s3tables.<region>.amazonaws.com/
//! iceberg` (or `<endpoint>/iceberg` when the SDK's endpoint is overridden, as for the
//! emulator), its warehouse and path prefix the table bucket's ARN, every request signed by
//! [`SigV4Signer`] for the service `s3tables`. A commit carries its requirements (the base
//! snapshot of `main`); S3 Tables refuses one whose base moved with HTTP 409, iceberg's
//! `CatalogCommitConflicts`, so a lost race is a `CommitConflict` as on Glue.
//!
//! S3 Tables manages its tables: it chooses each table's location (sluice creates tables
//! without one), compacts them, expires their snapshots and removes unreferenced files, and
//! its storage does not let a client list or delete table files. So the lake is opened with
//! [`Lake::with_managed_tables`]: `sluice expire` and `sluice gc` refuse, naming why, instead
//! of failing on a denied listing. Snapshot expiry by S3 Tables only looks at age, while the
//! commit step may need a snapshot's batch ids until a crashed execution is redriven; so when
//! sluice creates a table it sets the table's snapshot management to keep snapshots for
//! [`snapshot_retention_hours`] (14 days of Step Functions redrive, plus the ledger lease),
//! instead of the 120 hours S3 Tables keeps by default.
//!
//! Namespaces and table names must follow S3 Tables' naming rules ([`check_table_names`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use iceberg::io::{S3_ENDPOINT, S3_PATH_STYLE_ACCESS, S3_REGION};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{
    Catalog, CatalogBuilder, Error, ErrorKind, Namespace, NamespaceIdent, TableCommit,
    TableCreation, TableIdent,
};
use iceberg_catalog_rest::{
    RestCatalog, RestCatalogBuilder, REST_CATALOG_PROP_URI, REST_CATALOG_PROP_WAREHOUSE,
};
use iceberg_storage_opendal::{CustomAwsCredentialLoader, OpenDalStorageFactory};
use reqwest_rest_catalog::{Client, Method, StatusCode};
use sluice_core::config::TableConfig;
use sluice_lake::{Lake, LakeError, LakeErrorKind};

use crate::glue::SdkCredentials;
use crate::sigv4::SigV4Signer;

/// The catalog's name inside iceberg-rust (it appears in no table or path).
pub const S3TABLES_CATALOG_NAME: &str = "sluice";

/// The service's name in SigV4 signatures and IAM actions.
pub const S3TABLES_SERVICE: &str = "s3tables";

/// How the lake names the service that manages its tables, in refusals.
const SERVICE_NAME: &str = "S3 Tables";

/// Opens the Iceberg catalog of the table bucket `table_bucket_arn`
/// (`arn:aws:s3tables:<region>:<account>:bucket/<name>`), in `sdk`'s region. Tables sluice
/// creates there keep their snapshots for [`snapshot_retention_hours`] of `ledger_lease`.
pub async fn open_s3tables_lake(
    sdk: &SdkConfig,
    table_bucket_arn: &str,
    ledger_lease: Duration,
) -> Result<Lake, LakeError> {
    let bucket = TableBucketArn::parse(table_bucket_arn)?;
    let Service {
        region,
        credentials,
        endpoint,
    } = Service::of(sdk)?;
    if bucket.region != region {
        return Err(LakeError::internal(format!(
            "the table bucket {table_bucket_arn} is in {}, and the AWS region is {region}",
            bucket.region
        )));
    }
    let signer = SigV4Signer::new(credentials.clone(), region.clone(), S3TABLES_SERVICE);
    let mut props = HashMap::from([
        (
            REST_CATALOG_PROP_URI.to_string(),
            format!("{endpoint}/iceberg"),
        ),
        (
            REST_CATALOG_PROP_WAREHOUSE.to_string(),
            table_bucket_arn.to_string(),
        ),
        // S3 Tables' path prefix is the URL-encoded table bucket ARN; set here too, as the
        // catalog's own config answer may leave it out.
        ("prefix".to_string(), url_encode(table_bucket_arn)),
        (S3_REGION.to_string(), region.clone()),
    ]);
    if let Some(endpoint) = sdk.endpoint_url() {
        props.insert(S3_ENDPOINT.to_string(), endpoint.to_string());
        props.insert(S3_PATH_STYLE_ACCESS.to_string(), "true".to_string());
    }
    let storage = OpenDalStorageFactory::S3 {
        customized_credential_load: Some(CustomAwsCredentialLoader::new(SdkCredentials(
            credentials,
        ))),
    };
    let http = http_client();
    let rest = RestCatalogBuilder::default()
        .with_client(http.clone())
        .with_request_signer(Arc::new(signer.clone()))
        .with_storage_factory(Arc::new(storage))
        .load(S3TABLES_CATALOG_NAME, props)
        .await
        .map_err(|e| LakeError::iceberg("opening the S3 Tables catalog", e))?;
    let control = TableBuckets::new(endpoint, signer, http);
    let catalog = S3TablesCatalog {
        rest,
        control,
        table_bucket_arn: table_bucket_arn.to_string(),
        retention_hours: snapshot_retention_hours(ledger_lease),
    };
    tracing::debug!(table_bucket = table_bucket_arn, "S3 Tables catalog opened");
    Ok(
        Lake::from_catalog(Arc::new(catalog), table_bucket_arn.to_string())
            .with_managed_tables(SERVICE_NAME),
    )
}

/// The hours S3 Tables keeps a snapshot of a table sluice created: Step Functions' 14-day
/// redrive window plus the ledger lease, rounded up. A commit that landed and crashed before
/// its ledger record is recognised by its snapshot's batch ids when it is redriven; expiring
/// that snapshot sooner could append the batch twice.
pub fn snapshot_retention_hours(ledger_lease: Duration) -> u32 {
    let seconds = sluice_core::config::exactly_once_horizon(ledger_lease.as_secs()).as_secs();
    u32::try_from(seconds.div_ceil(3600)).unwrap_or(u32::MAX)
}

/// Refuses a table whose configuration asks for Glue's table optimizers
/// (`[table.glue_optimizers]`): S3 Tables compacts, expires and removes unreferenced files
/// itself, and its tables are not in Glue's catalog for Glue to optimize.
pub fn check_no_glue_optimizers(tables: &[TableConfig]) -> Result<(), LakeError> {
    match tables
        .iter()
        .position(|t| t.glue_optimizers.as_ref().is_some_and(|g| g.any()))
    {
        Some(i) => Err(LakeError::internal(format!(
            "table[{i}].glue_optimizers (table {}): the tables are in S3 Tables, which \
             compacts and expires them itself; remove the section",
            tables[i].name
        ))),
        None => Ok(()),
    }
}

/// Checks each table's namespace and name against S3 Tables' naming rules (1 to 255
/// lowercase letters, digits and underscores, beginning and ending with a letter or digit; a
/// namespace not starting with `aws`): an error naming the first table that breaks one.
pub fn check_table_names(tables: &[TableConfig]) -> Result<(), LakeError> {
    tables
        .iter()
        .try_for_each(|t| check_table_name(&t.namespace, &t.name))
}

/// [`check_table_names`] for one table.
fn check_table_name(namespace: &str, name: &str) -> Result<(), LakeError> {
    let problem = name_problem(namespace)
        .map(|p| format!("its namespace {namespace:?} {p}"))
        .or_else(|| {
            namespace.starts_with("aws").then(|| {
                format!("its namespace {namespace:?} starts with `aws`, which S3 Tables reserves")
            })
        })
        .or_else(|| name_problem(name).map(|p| format!("its name {name:?} {p}")));
    match problem {
        Some(problem) => Err(LakeError::internal(format!(
            "table {namespace}.{name} cannot be an S3 Tables table: {problem} (S3 Tables names \
             are 1 to 255 lowercase letters, digits and underscores, beginning and ending with \
             a letter or digit)"
        ))),
        None => Ok(()),
    }
}

/// What is wrong with `name` as an S3 Tables namespace or table name, if anything.
fn name_problem(name: &str) -> Option<&'static str> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.len() > 255 {
        Some("is not 1 to 255 characters long")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Some("has a character other than a lowercase letter, a digit or `_`")
    } else if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        Some("does not begin and end with a letter or digit")
    } else {
        None
    }
}

/// A table bucket's ARN, read: `arn:<partition>:s3tables:<region>:<account>:bucket/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableBucketArn {
    region: String,
}

impl TableBucketArn {
    fn parse(arn: &str) -> Result<TableBucketArn, LakeError> {
        let invalid = || {
            LakeError::internal(format!(
                "{arn:?} is not a table bucket ARN (arn:aws:s3tables:<region>:<account>:bucket/<name>)"
            ))
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(invalid());
        };
        let name = resource.strip_prefix("bucket/").ok_or_else(invalid)?;
        let well_formed = prefix == "arn"
            && partition.starts_with("aws")
            && service == S3TABLES_SERVICE
            && !region.is_empty()
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && (3..=63).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !well_formed {
            return Err(invalid());
        }
        Ok(TableBucketArn {
            region: region.to_string(),
        })
    }
}

/// What S3 Tables requests need from the SDK configuration.
struct Service {
    region: String,
    credentials: SharedCredentialsProvider,
    /// `https://s3tables.<region>.amazonaws.com`, or the SDK's endpoint override.
    endpoint: String,
}

impl Service {
    fn of(sdk: &SdkConfig) -> Result<Service, LakeError> {
        let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
            LakeError::internal(
                "S3 Tables needs an AWS region (AWS_REGION), and none is configured",
            )
        })?;
        let credentials = sdk.credentials_provider().ok_or_else(|| {
            LakeError::internal(
                "S3 Tables requests are signed, and no AWS credentials are configured",
            )
        })?;
        let endpoint = match sdk.endpoint_url() {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("https://s3tables.{region}.amazonaws.com"),
        };
        Ok(Service {
            region,
            credentials,
            endpoint,
        })
    }
}

/// The HTTP client of the catalog and the control plane: reqwest over rustls with the
/// aws-lc-rs provider (the AWS SDK's), installed as the process's default unless one already
/// is, since reqwest is built without a provider of its own. A request gives up at the SDK's
/// attempt deadline ([`crate::sdk::ATTEMPT_TIMEOUT`]) instead of waiting for an answer that
/// never comes; the catalog reports it as transient, so the step is retried.
pub fn http_client() -> Client {
    // An error means a provider is installed already, which serves as well.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Client::builder()
        .connect_timeout(crate::sdk::CONNECT_TIMEOUT)
        .timeout(crate::sdk::ATTEMPT_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// Percent-encodes everything but unreserved characters, as S3 Tables' paths want an ARN.
fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The S3 Tables control plane (`https://s3tables.<region>.amazonaws.com`), for the calls
/// the Iceberg REST endpoint has no equivalent of: creating a table bucket (tests; the CDK
/// stack creates the deployment's) and a table's maintenance configuration.
#[derive(Debug, Clone)]
pub struct TableBuckets {
    endpoint: String,
    signer: SigV4Signer,
    http: Client,
}

impl TableBuckets {
    fn new(endpoint: String, signer: SigV4Signer, http: Client) -> Self {
        TableBuckets {
            endpoint,
            signer,
            http,
        }
    }

    /// The control plane of `sdk`'s region (or its endpoint override).
    pub fn from_conf(sdk: &SdkConfig) -> Result<Self, LakeError> {
        let Service {
            region,
            credentials,
            endpoint,
        } = Service::of(sdk)?;
        Ok(Self::new(
            endpoint,
            SigV4Signer::new(credentials, region, S3TABLES_SERVICE),
            http_client(),
        ))
    }

    /// Creates the table bucket `name` (CreateTableBucket) and returns its ARN.
    pub async fn create_table_bucket(&self, name: &str) -> Result<String, LakeError> {
        let body = serde_json::json!({ "name": name });
        let answer = self
            .call(
                Method::PUT,
                "/buckets".to_string(),
                Some(body),
                &format!("creating table bucket {name}"),
            )
            .await?;
        answer["arn"].as_str().map(str::to_string).ok_or_else(|| {
            LakeError::internal(format!(
                "CreateTableBucket answered without an ARN: {answer}"
            ))
        })
    }

    /// Sets a table's snapshot management (PutTableMaintenanceConfiguration, type
    /// `icebergSnapshotManagement`): snapshots expire only once older than `max_age_hours`,
    /// and at least one is kept.
    pub async fn put_snapshot_management(
        &self,
        table_bucket_arn: &str,
        table: &TableIdent,
        max_age_hours: u32,
    ) -> Result<(), LakeError> {
        let body = serde_json::json!({ "value": {
            "status": "enabled",
            "settings": { "icebergSnapshotManagement": {
                "minSnapshotsToKeep": 1,
                "maxSnapshotAgeHours": max_age_hours,
            }},
        }});
        let path = format!(
            "{}/maintenance/icebergSnapshotManagement",
            table_path(table_bucket_arn, table)
        );
        self.call(
            Method::PUT,
            path,
            Some(body),
            &format!("setting the snapshot management of table {table}"),
        )
        .await
        .map(drop)
    }

    /// A table's maintenance configuration (GetTableMaintenanceConfiguration), as S3 Tables
    /// answers it.
    pub async fn table_maintenance(
        &self,
        table_bucket_arn: &str,
        table: &TableIdent,
    ) -> Result<serde_json::Value, LakeError> {
        let path = format!("{}/maintenance", table_path(table_bucket_arn, table));
        self.call(
            Method::GET,
            path,
            None,
            &format!("reading the maintenance configuration of table {table}"),
        )
        .await
    }

    /// Sends a signed request, returning the body of a successful answer.
    async fn call(
        &self,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
        doing: &str,
    ) -> Result<serde_json::Value, LakeError> {
        let transient =
            |message: String, e: Option<Box<dyn std::error::Error + Send + Sync>>| LakeError {
                kind: LakeErrorKind::Transient,
                message,
                source: e,
            };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.endpoint));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let mut request = request
            .build()
            .map_err(|e| LakeError::internal(format!("{doing}: {e}")))?;
        self.signer
            .sign_at(&mut request, std::time::SystemTime::now())
            .await
            .map_err(|e| LakeError::iceberg(doing, e))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| transient(format!("{doing}: {e}"), Some(Box::new(e))))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| transient(format!("{doing}: {e}"), Some(Box::new(e))))?;
        match status {
            s if s.is_success() && text.trim().is_empty() => Ok(serde_json::Value::Null),
            s if s.is_success() => serde_json::from_str(&text).map_err(|e| {
                LakeError::internal(format!(
                    "{doing}: S3 Tables answered {s} with {text:?}: {e}"
                ))
            }),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => Err(transient(
                format!("{doing}: S3 Tables answered {s}: {text}"),
                None,
            )),
            s => Err(LakeError::internal(format!(
                "{doing}: S3 Tables answered {s}: {text}"
            ))),
        }
    }
}

/// The control plane's path of a table: `/tables/<bucket ARN>/<namespace>/<name>`.
fn table_path(table_bucket_arn: &str, table: &TableIdent) -> String {
    format!(
        "/tables/{}/{}/{}",
        url_encode(table_bucket_arn),
        url_encode(&table.namespace().join(".")),
        url_encode(table.name())
    )
}

/// The REST catalog with what S3 Tables needs around it: a namespace looked up by reading it
/// (not every endpoint answers HEAD on a namespace), and a new table's snapshot management
/// set before the table is handed out.
#[derive(Debug)]
struct S3TablesCatalog {
    rest: RestCatalog,
    control: TableBuckets,
    table_bucket_arn: String,
    /// The snapshot retention set on tables this catalog creates, in hours.
    retention_hours: u32,
}

impl S3TablesCatalog {
    /// The table with `properties` set: a catalog that left some out at creation (the
    /// emulator keeps none) gets them in a commit of its own. sluice's tables depend on them
    /// (`commit.retry.num-retries = 0` keeps iceberg from re-applying a commit that lost a
    /// race, which must go back through sluice's batch-id check).
    async fn keep_properties(
        &self,
        table: Table,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Table> {
        let held = table.metadata().properties();
        let missing: Vec<(String, String)> = properties
            .into_iter()
            .filter(|(k, v)| held.get(k) != Some(v))
            .collect();
        if missing.is_empty() {
            return Ok(table);
        }
        tracing::debug!(table = %table.identifier(), missing = missing.len(), "setting the table properties the catalog left out");
        let tx = Transaction::new(&table);
        let action = missing
            .into_iter()
            .fold(tx.update_table_properties(), |a, (k, v)| a.set(k, v));
        action.apply(tx)?.commit(self).await
    }
}

#[async_trait]
impl Catalog for S3TablesCatalog {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> iceberg::Result<Vec<NamespaceIdent>> {
        self.rest.list_namespaces(parent).await
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        self.rest.create_namespace(namespace, properties).await
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        self.rest.get_namespace(namespace).await
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        match self.rest.get_namespace(namespace).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NamespaceNotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        self.rest.update_namespace(namespace, properties).await
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<()> {
        self.rest.drop_namespace(namespace).await
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        self.rest.list_tables(namespace).await
    }

    /// Creates the table, then sets its snapshot management; if that fails, the new table
    /// (nothing committed to it yet) is dropped again, so a retry creates and sets it anew
    /// rather than finding a table that S3 Tables would expire too early.
    async fn create_table(
        &self,
        namespace: &NamespaceIdent,
        mut creation: TableCreation,
    ) -> iceberg::Result<Table> {
        if let Some(location) = &creation.location {
            return Err(Error::new(
                ErrorKind::DataInvalid,
                format!("S3 Tables chooses a table's location; {location} cannot be given"),
            ));
        }
        // The partition spec bound to the schema (spec id 0, partition field ids from 1000),
        // as the table will hold it: a catalog that echoes the request's spec into the table
        // metadata then answers a spec with ids, which metadata must have.
        if let Some(spec) = creation.partition_spec.take() {
            let bound = spec.with_spec_id(0).bind(creation.schema.clone())?;
            creation.partition_spec = Some(bound.into());
        }
        let properties = creation.properties.clone();
        let table = self.rest.create_table(namespace, creation).await?;
        let ident = table.identifier().clone();
        let table = self.keep_properties(table, properties).await?;
        if let Err(e) = self
            .control
            .put_snapshot_management(&self.table_bucket_arn, &ident, self.retention_hours)
            .await
        {
            if let Err(dropped) = self.rest.drop_table(&ident).await {
                tracing::error!(table = %ident, error = %dropped, "a table whose snapshot management could not be set could not be dropped either; set it by hand (see README)");
            }
            return Err(Error::new(ErrorKind::Unexpected, e.to_string()).with_retryable(true));
        }
        tracing::info!(table = %ident, max_snapshot_age_hours = self.retention_hours, "S3 Tables snapshot management set");
        Ok(table)
    }

    async fn load_table(&self, table: &TableIdent) -> iceberg::Result<Table> {
        self.rest.load_table(table).await
    }

    async fn drop_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        self.rest.drop_table(table).await
    }

    async fn purge_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        self.rest.purge_table(table).await
    }

    async fn table_exists(&self, table: &TableIdent) -> iceberg::Result<bool> {
        self.rest.table_exists(table).await
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> iceberg::Result<()> {
        self.rest.rename_table(src, dest).await
    }

    async fn register_table(
        &self,
        table: &TableIdent,
        metadata_location: String,
    ) -> iceberg::Result<Table> {
        self.rest.register_table(table, metadata_location).await
    }

    async fn update_table(&self, commit: TableCommit) -> iceberg::Result<Table> {
        self.rest.update_table(commit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_optimizers_are_refused_on_s3_tables() {
        let parse = |section: &str| {
            sluice_core::config::Config::parse(
                &format!(
                    "[[table]]\nname = \"a\"\nprefix = \"a/\"\nformat = \"ndjson\"\n\
                     contract = \"c.json\"\n[[table]]\nname = \"b\"\nprefix = \"b/\"\n\
                     format = \"ndjson\"\ncontract = \"c.json\"\n{section}"
                ),
                std::path::Path::new("sluice.toml"),
                ".".into(),
            )
            .unwrap()
            .tables
        };
        assert!(check_no_glue_optimizers(&parse("")).is_ok());
        // A section that asks for nothing is harmless.
        assert!(check_no_glue_optimizers(&parse("[table.glue_optimizers]\n")).is_ok());
        let e = check_no_glue_optimizers(&parse(
            "[table.glue_optimizers]\nsnapshot_retention_days = 15\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("table[1].glue_optimizers (table b)"), "{e}");
    }

    #[test]
    fn names_that_break_s3_tables_rules_are_refused_naming_the_table() {
        assert!(check_table_name("shop", "orders").is_ok());
        assert!(check_table_name("s3", "a_1").is_ok());
        for (ns, name, why) in [
            ("Shop", "orders", "namespace \"Shop\" has a character"),
            (
                "shop",
                "order-lines",
                "name \"order-lines\" has a character",
            ),
            ("shop", "_orders", "name \"_orders\" does not begin and end"),
            (
                "shop_",
                "orders",
                "namespace \"shop_\" does not begin and end",
            ),
            ("aws_data", "orders", "starts with `aws`"),
            ("", "orders", "is not 1 to 255"),
        ] {
            let e = check_table_name(ns, name).unwrap_err();
            assert!(
                e.message.contains(&format!("table {ns}.{name} cannot be")),
                "{e}"
            );
            assert!(e.message.contains(why), "{e}");
        }
    }

    #[test]
    fn a_table_bucket_arn_is_read_and_anything_else_refused() {
        let arn =
            TableBucketArn::parse("arn:aws:s3tables:eu-west-1:111122223333:bucket/sluice-lake")
                .unwrap();
        assert_eq!(arn.region, "eu-west-1");
        for bad in [
            "s3://sluice-lake",
            "arn:aws:s3:::sluice-lake",
            "arn:aws:s3tables:eu-west-1:111122223333:bucket/",
            "arn:aws:s3tables:eu-west-1:1111:bucket/sluice-lake",
            "arn:aws:s3tables:eu-west-1:111122223333:bucket/Sluice_Lake",
        ] {
            let e = TableBucketArn::parse(bad).unwrap_err();
            assert!(
                e.message.contains("is not a table bucket ARN"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn snapshots_are_kept_through_the_redrive_window_and_the_lease() {
        assert_eq!(
            snapshot_retention_hours(Duration::from_secs(900)),
            14 * 24 + 1
        );
        assert_eq!(
            snapshot_retention_hours(Duration::from_secs(7200)),
            14 * 24 + 2
        );
        assert_eq!(snapshot_retention_hours(Duration::ZERO), 14 * 24);
    }

    #[test]
    fn an_arn_in_a_path_is_encoded_whole() {
        assert_eq!(
            url_encode("arn:aws:s3tables:us-east-1:000000000000:bucket/lake-1"),
            "arn%3Aaws%3As3tables%3Aus-east-1%3A000000000000%3Abucket%2Flake-1"
        );
    }
}
