//! The steps' context on the deployed stack: the landing bucket on S3 (`S3Store`) and the
//! catalog as the Lambdas open it, the Glue catalog (`open_glue_lake` on the stack's
//! warehouse) or, for a stack on S3 Tables, its table bucket (`open_s3tables_lake`), so that
//! `quarantine`, `files`, `table show` and `gc` run their local code unchanged with `--aws`.
//!
//! The configuration (`--config`) is still read from a file: it holds the tables, their
//! prefixes and contracts, and must be the one the stack was deployed with.

use std::path::Path;

use anyhow::Context as _;
use sluice_steps::Context;

use crate::target::Target;
use crate::workspace;
#[cfg(feature = "aws")]
use {sluice_store::ObjectStore, std::sync::Arc};

/// The steps' context: on the deployed stack with `--aws`, else on the local workspace.
pub async fn open(target: &Target, root: &Path, config_path: &Path) -> anyhow::Result<Context> {
    if target.aws {
        #[cfg(feature = "aws")]
        return open_aws(target, config_path).await;
    }
    workspace::open(root, config_path).await
}

/// The steps' context on S3 and Glue, or S3 and S3 Tables.
#[cfg(feature = "aws")]
pub async fn open_aws(target: &Target, config_path: &Path) -> anyhow::Result<Context> {
    let config = workspace::load_config(config_path).context(
        "--aws reads the tables and contracts from the configuration the stack was deployed with",
    )?;
    let deployed = target.resolve().await?;
    let bucket = deployed.bucket()?;
    let store: Arc<dyn ObjectStore> =
        Arc::new(sluice_aws::S3Store::from_conf(&deployed.sdk, bucket));
    let lake = match deployed.table_bucket_arn() {
        Some(arn) => {
            deployed.same_region(&arn)?;
            sluice_aws::s3tables::check_table_names(&config.tables)?;
            sluice_aws::s3tables::check_no_glue_optimizers(&config.tables)?;
            let lease = std::time::Duration::from_secs(config.ledger.lease_seconds);
            sluice_aws::open_s3tables_lake(&deployed.sdk, &arn, lease)
                .await
                .with_context(|| format!("opening the S3 Tables catalog (table bucket {arn})"))?
        }
        None => {
            let warehouse = deployed.warehouse()?;
            let lake = sluice_aws::open_glue_lake(&deployed.sdk, &warehouse)
                .await
                .with_context(|| format!("opening the Glue catalog (warehouse {warehouse})"))?;
            // The role Glue's table optimizers run as, when a table asks for them.
            match deployed.glue_optimizer_role() {
                Some(role) => lake.with_optimizers(Arc::new(sluice_aws::GlueOptimizers::new(
                    &deployed.sdk,
                    &role,
                )?)),
                None => lake,
            }
        }
    };
    Ok(Context::new(config, store, lake)?)
}

/// The tables a command works on: the one `--table` names, else every table of the
/// configuration. An unknown name is an error naming the configuration file.
pub fn selected_tables(
    config: &sluice_core::config::Config,
    name: Option<&str>,
    config_path: &Path,
) -> anyhow::Result<Vec<sluice_core::config::TableConfig>> {
    match name {
        Some(name) => Ok(vec![config
            .table(name)
            .with_context(|| format!("no table {name:?} in {}", config_path.display()))?
            .clone()]),
        None => Ok(config.tables.clone()),
    }
}
