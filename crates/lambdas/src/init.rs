//! Start-up, once per cold start: what the environment says, the steps' context opened on
//! it, and an init failure reported to Lambda's init-error endpoint.
//!
//! The backend is `SLUICE_CATALOG`'s choice: `local` opens a workspace directory laid out as
//! the `sluice` command lays it out (`landing/` the bucket, `warehouse/`, `catalog.db` the
//! SQLite catalog), for tests and for running a Lambda binary on a laptop; `glue` is the AWS
//! deployment (S3 and the Glue catalog), which needs the `sluice-aws` adapters; `s3tables`
//! is the same with the tables in an S3 Tables table bucket. The local
//! backend is the cargo feature `local` (on by default, for the tests); `make lambdas`
//! builds without it, so no SQLite catalog is linked into what AWS runs. A function whose
//! step never touches a table opens no catalog ([`Catalog::None`]).

use std::path::PathBuf;
use std::sync::Arc;

use lambda_runtime::Diagnostic;
use sluice_core::config::Config;
use sluice_lake::Lake;
use sluice_steps::context::ContextError;
use sluice_steps::Context;
use sluice_store::ObjectStore;

/// Name of the local workspace's landing bucket (as the `sluice` command names it).
pub const LOCAL_BUCKET: &str = "landing";

/// What the environment configures. Read once, at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SLUICE_FUNCTION`: the function's name, for the logs; the binary's name when unset.
    pub function: String,
    /// `SLUICE_CONFIG`: the path of `sluice.toml` (on AWS, in the config layer under /opt).
    pub config: PathBuf,
    pub backend: Backend,
    /// `SLUICE_LOG_FORMAT`: `json` (the default, as Lambda's JSON log format wants) or `text`.
    pub json_logs: bool,
}

/// Where the bucket and the catalog are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `SLUICE_CATALOG=local`: a workspace directory (`SLUICE_LOCAL_ROOT`).
    Local { root: PathBuf },
    /// `SLUICE_CATALOG=glue`: the bucket `SLUICE_BUCKET`, the warehouse `SLUICE_WAREHOUSE`
    /// (`s3://bucket/prefix`) and the Glue catalog; with `SLUICE_GLUE_OPTIMIZER_ROLE_ARN` (set
    /// on the functions that create and maintain tables when a table asks for Glue's
    /// optimizers), the role Glue's table optimizers run as.
    Glue {
        bucket: String,
        warehouse: String,
        optimizer_role: Option<String>,
    },
    /// `SLUICE_CATALOG=s3tables`: the bucket `SLUICE_BUCKET` (landing and control) and the
    /// table bucket `SLUICE_TABLE_BUCKET_ARN`, whose Iceberg REST catalog holds the tables.
    S3Tables {
        bucket: String,
        table_bucket_arn: String,
    },
}

/// Why a function could not start. Reported to Lambda as an init error: every invocation of
/// the cold start fails, and the log says why.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{name} is not set; {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name}={value:?} is not one of {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{name}: {message}")]
    Unreadable { name: &'static str, message: String },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("the landing bucket {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error("the catalog: {0}")]
    Lake(#[from] sluice_lake::LakeError),
    #[error("the configuration's contracts: {0}")]
    Context(#[from] ContextError),
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env(binary: &str) -> Result<Settings, InitError> {
        Self::from_vars(binary, |name| std::env::var(name).ok())
    }

    /// Reads the variables `get` returns (the environment, or a test's map).
    pub fn from_vars(
        binary: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, InitError> {
        let required = |name: &'static str, hint: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or(InitError::Missing { name, hint })
        };
        let config = PathBuf::from(required(
            "SLUICE_CONFIG",
            "it names sluice.toml (the CDK app sets it to the config layer's copy)",
        )?);
        let catalog = required(
            "SLUICE_CATALOG",
            "it is `glue` or `s3tables` on AWS, `local` on a laptop",
        )?;
        let backend = match catalog.as_str() {
            "local" => Backend::Local {
                root: PathBuf::from(required(
                    "SLUICE_LOCAL_ROOT",
                    "with SLUICE_CATALOG=local it names the workspace directory",
                )?),
            },
            "glue" => Backend::Glue {
                bucket: required("SLUICE_BUCKET", "it names the landing bucket")?,
                warehouse: required("SLUICE_WAREHOUSE", "it is s3://bucket/prefix")?,
                optimizer_role: get("SLUICE_GLUE_OPTIMIZER_ROLE_ARN").filter(|v| !v.is_empty()),
            },
            "s3tables" => Backend::S3Tables {
                bucket: required("SLUICE_BUCKET", "it names the landing bucket")?,
                table_bucket_arn: required(
                    "SLUICE_TABLE_BUCKET_ARN",
                    "with SLUICE_CATALOG=s3tables it is the table bucket's ARN \
                     (arn:aws:s3tables:<region>:<account>:bucket/<name>)",
                )?,
            },
            _ => {
                return Err(InitError::Invalid {
                    name: "SLUICE_CATALOG",
                    value: catalog,
                    expected: "`glue`, `s3tables`, `local`",
                })
            }
        };
        let json_logs = match get("SLUICE_LOG_FORMAT").as_deref() {
            None | Some("") | Some("json") => true,
            Some("text") => false,
            Some(other) => {
                return Err(InitError::Invalid {
                    name: "SLUICE_LOG_FORMAT",
                    value: other.to_string(),
                    expected: "`json`, `text`",
                })
            }
        };
        Ok(Settings {
            function: get("SLUICE_FUNCTION")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| binary.to_string()),
            config,
            backend,
            json_logs,
        })
    }
}

/// Loads the configuration and opens the bucket, the ledger and the catalog.
pub async fn open_context(settings: &Settings) -> Result<Context, InitError> {
    open(settings, Catalog::Open).await
}

/// Whether a function opens the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    Open,
    /// Its step never touches a table (filter, quarantine): no catalog client, and none of
    /// the catalog's code in its binary.
    None,
}

/// Loads the configuration and opens the bucket, the ledger and, if `catalog` says so, the
/// catalog.
pub async fn open(settings: &Settings, catalog: Catalog) -> Result<Context, InitError> {
    let config = Config::load(&settings.config).map_err(|e| InitError::Config {
        path: settings.config.clone(),
        message: e.to_string(),
    })?;
    let (store, lake): (Arc<dyn ObjectStore>, Lake) = match &settings.backend {
        #[cfg(feature = "local")]
        Backend::Local { root } => {
            let landing = root.join(LOCAL_BUCKET);
            let store =
                sluice_store::LocalStore::new(landing.clone(), LOCAL_BUCKET).map_err(|e| {
                    InitError::Store {
                        path: landing,
                        message: e.to_string(),
                    }
                })?;
            let lake = match catalog {
                Catalog::Open => {
                    Lake::open_local(&root.join("catalog.db"), &root.join("warehouse")).await?
                }
                Catalog::None => Lake::without_catalog(),
            };
            (Arc::new(store), lake)
        }
        Backend::Glue {
            bucket,
            warehouse,
            optimizer_role,
        } => {
            let sdk = sluice_aws::sdk_config().await;
            let store = sluice_aws::S3Store::from_conf(&sdk, bucket.clone());
            let lake = match catalog {
                Catalog::Open => {
                    let lake = sluice_aws::open_glue_lake(&sdk, warehouse).await?;
                    match optimizer_role {
                        Some(role) => lake.with_optimizers(std::sync::Arc::new(
                            sluice_aws::GlueOptimizers::new(&sdk, role)?,
                        )),
                        None => lake,
                    }
                }
                Catalog::None => Lake::without_catalog(),
            };
            (Arc::new(store), lake)
        }
        Backend::S3Tables {
            bucket,
            table_bucket_arn,
        } => {
            // A name S3 Tables refuses fails every cold start, naming the table, not the
            // first file's commit.
            sluice_aws::s3tables::check_table_names(&config.tables)?;
            sluice_aws::s3tables::check_no_glue_optimizers(&config.tables)?;
            let sdk = sluice_aws::sdk_config().await;
            let store = sluice_aws::S3Store::from_conf(&sdk, bucket.clone());
            let lease = std::time::Duration::from_secs(config.ledger.lease_seconds);
            let lake = match catalog {
                Catalog::Open => {
                    sluice_aws::open_s3tables_lake(&sdk, table_bucket_arn, lease).await?
                }
                Catalog::None => Lake::without_catalog(),
            };
            (Arc::new(store), lake)
        }
        #[cfg(not(feature = "local"))]
        Backend::Local { .. } => {
            return Err(InitError::Invalid {
                name: "SLUICE_CATALOG",
                value: "local".into(),
                expected: "`glue`, `s3tables` (this build has no local backend: feature `local`)",
            })
        }
    };
    Ok(Context::new(config, store, lake)?)
}

/// The init error as Lambda's init-error endpoint takes it.
pub fn diagnostic(e: &InitError) -> Diagnostic {
    Diagnostic {
        error_type: "Runtime.InitError".into(),
        error_message: e.to_string(),
    }
}

/// Posts `e` to the Runtime API's `/runtime/init/error` (`AWS_LAMBDA_RUNTIME_API`), so the
/// invocation that caused the cold start fails with the reason instead of a timeout. A
/// failure to report is logged; the caller exits either way.
pub async fn report_init_error(e: &InitError) {
    tracing::error!(error = %e, "sluice could not start");
    if let Err(report) = post_init_error(e).await {
        tracing::error!(error = %report, "the init error could not be reported to the Runtime API");
    }
}

async fn post_init_error(e: &InitError) -> Result<(), lambda_runtime::Error> {
    use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
    let client = PooledClient::builder().build();
    let body = serde_json::to_vec(&diagnostic(e))?;
    let request = build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .body(Body::from(body))?;
    let response = client.call(request).await?;
    if !response.status().is_success() {
        return Err(format!("the Runtime API answered {}", response.status()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, InitError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars("filter", |k| map.get(k).cloned())
    }

    #[test]
    fn the_cdk_environment_selects_glue() {
        let s = settings(&[
            ("SLUICE_CONFIG", "/opt/sluice/sluice.toml"),
            ("SLUICE_CATALOG", "glue"),
            ("SLUICE_BUCKET", "landing-123"),
            ("SLUICE_WAREHOUSE", "s3://landing-123/warehouse/"),
            ("SLUICE_FUNCTION", "schema-drift-detect"),
            ("SLUICE_LOG_FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(
            s.backend,
            Backend::Glue {
                bucket: "landing-123".into(),
                warehouse: "s3://landing-123/warehouse/".into(),
                optimizer_role: None,
            }
        );
        assert_eq!(s.function, "schema-drift-detect");
        assert!(s.json_logs);
    }

    #[test]
    fn missing_and_unknown_settings_say_what_to_do() {
        let e = settings(&[("SLUICE_CATALOG", "local")]).unwrap_err();
        assert!(e.to_string().starts_with("SLUICE_CONFIG is not set"), "{e}");
        let e = settings(&[("SLUICE_CONFIG", "s.toml"), ("SLUICE_CATALOG", "local")]).unwrap_err();
        assert!(e.to_string().contains("SLUICE_LOCAL_ROOT"), "{e}");
        let e = settings(&[("SLUICE_CONFIG", "s.toml"), ("SLUICE_CATALOG", "hive")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SLUICE_CATALOG=\"hive\" is not one of `glue`, `s3tables`, `local`"
        );
    }

    #[test]
    fn s3tables_takes_the_landing_bucket_and_the_table_bucket_arn() {
        let arn = "arn:aws:s3tables:eu-west-1:111122223333:bucket/sluice-tables";
        let s = settings(&[
            ("SLUICE_CONFIG", "/opt/sluice/sluice.toml"),
            ("SLUICE_CATALOG", "s3tables"),
            ("SLUICE_BUCKET", "landing-123"),
            ("SLUICE_TABLE_BUCKET_ARN", arn),
        ])
        .unwrap();
        assert_eq!(
            s.backend,
            Backend::S3Tables {
                bucket: "landing-123".into(),
                table_bucket_arn: arn.into()
            }
        );
        let e = settings(&[
            ("SLUICE_CONFIG", "s.toml"),
            ("SLUICE_CATALOG", "s3tables"),
            ("SLUICE_BUCKET", "landing-123"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SLUICE_TABLE_BUCKET_ARN is not set; with SLUICE_CATALOG=s3tables"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_table_name_s3_tables_refuses_is_an_init_error_naming_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let example =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders");
        let text = std::fs::read_to_string(example.join("sluice.toml"))
            .unwrap()
            .replace("namespace = \"shop\"", "namespace = \"Shop_EU\"");
        for entry in std::fs::read_dir(&example).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        std::fs::write(dir.path().join("sluice.toml"), text).unwrap();
        let s = Settings {
            function: "commit".into(),
            config: dir.path().join("sluice.toml"),
            backend: Backend::S3Tables {
                bucket: "landing".into(),
                table_bucket_arn: "arn:aws:s3tables:eu-west-1:111122223333:bucket/t".into(),
            },
            json_logs: true,
        };
        let Err(e) = open_context(&s).await else {
            panic!("a context with a namespace S3 Tables refuses");
        };
        assert!(
            e.to_string()
                .contains("table Shop_EU.orders cannot be an S3 Tables table"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_missing_config_is_an_init_error_that_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("absent.toml");
        let s = Settings {
            function: "filter".into(),
            config,
            backend: Backend::Local {
                root: dir.path().to_path_buf(),
            },
            json_logs: true,
        };
        let Err(e) = open_context(&s).await else {
            panic!("a context without a config");
        };
        assert!(e.to_string().contains("absent.toml"), "{e}");
        assert_eq!(diagnostic(&e).error_type, "Runtime.InitError");
    }
}
