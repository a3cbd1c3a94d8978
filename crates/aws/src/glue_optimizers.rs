//! AWS Glue's managed table optimizers for the tables a `[table.glue_optimizers]` section
//! asks them for: compaction, snapshot retention and orphan file deletion, run by Glue with a
//! role the stack creates (`SLUICE_GLUE_OPTIMIZER_ROLE_ARN`, the stack's output
//! `GlueOptimizerRoleArn`).
//!
//! [`GlueOptimizers::ensure`] makes each asked-for optimizer exist with the table's settings:
//! `CreateTableOptimizer` when Glue has none of the type, `UpdateTableOptimizer` when its
//! role, state or retention differs, nothing otherwise; an optimizer the section does not ask
//! for is left as it is (one made by hand is not sluice's to remove). The lake calls it when
//! it creates a table, and `maintain` on every run, so a table created before the section was
//! written, or an optimizer changed by hand, is brought back to the configuration.
//!
//! Glue's retention and orphan deletion judge by age alone; the configuration refuses days
//! below the exactly-once horizon (`sluice_core::config::exactly_once_horizon_days`), and
//! retention always cleans the expired snapshots' files (`cleanExpiredFiles`).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{
    IcebergOrphanFileDeletionConfiguration, IcebergRetentionConfiguration,
    OrphanFileDeletionConfiguration, RetentionConfiguration, TableOptimizerConfiguration,
    TableOptimizerType,
};
use sluice_core::config::TableConfig;
use sluice_lake::{LakeError, LakeErrorKind, OptimizerChange, TableOptimizers};

/// How the optimizers' service is named in reports.
const SERVICE: &str = "AWS Glue";

/// The optimizer types, in the order they are set up.
const TYPES: [TableOptimizerType; 3] = [
    TableOptimizerType::Compaction,
    TableOptimizerType::Retention,
    TableOptimizerType::OrphanFileDeletion,
];

/// Glue's table optimizers in the account and region of an `SdkConfig`, run with one role.
#[derive(Debug, Clone)]
pub struct GlueOptimizers {
    client: aws_sdk_glue::Client,
    role_arn: String,
    /// The Data Catalog's id: the account, read from the role's ARN (the role is the
    /// stack's, in the catalog's account).
    catalog_id: String,
}

impl GlueOptimizers {
    /// The optimizers of `sdk`'s Glue catalog, run as `role_arn`
    /// (`arn:aws:iam::<account>:role/<name>`).
    pub fn new(sdk: &SdkConfig, role_arn: &str) -> Result<GlueOptimizers, LakeError> {
        let catalog_id = role_account(role_arn).ok_or_else(|| {
            LakeError::internal(format!(
                "the Glue optimizers' role {role_arn:?} is not an IAM role ARN \
                 (arn:aws:iam::<account>:role/<name>)"
            ))
        })?;
        Ok(GlueOptimizers {
            client: aws_sdk_glue::Client::new(sdk),
            role_arn: role_arn.to_string(),
            catalog_id: catalog_id.to_string(),
        })
    }
}

#[async_trait]
impl TableOptimizers for GlueOptimizers {
    fn service(&self) -> &'static str {
        SERVICE
    }

    async fn ensure(
        &self,
        table: &TableConfig,
    ) -> sluice_lake::error::Result<Vec<OptimizerChange>> {
        let wanted = wanted(table, &self.role_arn);
        let mut changes = vec![];
        for kind in TYPES {
            let existing = self.get(table, &kind).await?;
            let want = wanted.iter().find(|(k, _)| *k == kind).map(|(_, c)| c);
            let action = plan(existing.as_ref(), want);
            let doing = |verb: &str| {
                format!(
                    "{verb} the Glue {} optimizer of table {}.{}",
                    kind.as_str(),
                    table.namespace,
                    table.name
                )
            };
            match (action, want) {
                (Action::Create, Some(config)) => {
                    let created = self
                        .client
                        .create_table_optimizer()
                        .catalog_id(&self.catalog_id)
                        .database_name(&table.namespace)
                        .table_name(&table.name)
                        .r#type(kind.clone())
                        .table_optimizer_configuration(config.clone())
                        .send()
                        .await;
                    match created {
                        Ok(_) => {}
                        // A racing creator (the table's creator and a maintain run) made it
                        // first: make it ours.
                        Err(e) if e.code() == Some("AlreadyExistsException") => {
                            self.update(table, &kind, config)
                                .await
                                .map_err(|e| sdk_error(doing("updating"), e))?;
                        }
                        Err(e) => return Err(sdk_error(doing("creating"), e)),
                    }
                }
                (Action::Update, Some(config)) => {
                    self.update(table, &kind, config)
                        .await
                        .map_err(|e| sdk_error(doing("updating"), e))?;
                }
                _ => {}
            }
            if action != Action::Absent {
                changes.push(OptimizerChange {
                    optimizer: kind.as_str().to_string(),
                    action: action.as_str().to_string(),
                });
            }
        }
        Ok(changes)
    }
}

impl GlueOptimizers {
    /// Sets `table`'s optimizer of type `kind` to `config`.
    async fn update(
        &self,
        table: &TableConfig,
        kind: &TableOptimizerType,
        config: &TableOptimizerConfiguration,
    ) -> Result<
        aws_sdk_glue::operation::update_table_optimizer::UpdateTableOptimizerOutput,
        SdkError<aws_sdk_glue::operation::update_table_optimizer::UpdateTableOptimizerError>,
    > {
        self.client
            .update_table_optimizer()
            .catalog_id(&self.catalog_id)
            .database_name(&table.namespace)
            .table_name(&table.name)
            .r#type(kind.clone())
            .table_optimizer_configuration(config.clone())
            .send()
            .await
    }

    /// The configuration of `table`'s optimizer of type `kind`, `None` when it has none.
    async fn get(
        &self,
        table: &TableConfig,
        kind: &TableOptimizerType,
    ) -> Result<Option<TableOptimizerConfiguration>, LakeError> {
        let answer = self
            .client
            .get_table_optimizer()
            .catalog_id(&self.catalog_id)
            .database_name(&table.namespace)
            .table_name(&table.name)
            .r#type(kind.clone())
            .send()
            .await;
        match answer {
            Ok(out) => Ok(out
                .table_optimizer()
                .and_then(|o| o.configuration())
                .cloned()),
            Err(e) if e.code() == Some("EntityNotFoundException") => Ok(None),
            Err(e) => Err(sdk_error(
                format!(
                    "reading the Glue {} optimizer of table {}.{}",
                    kind.as_str(),
                    table.namespace,
                    table.name
                ),
                e,
            )),
        }
    }
}

/// What [`GlueOptimizers::ensure`] does to one optimizer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// Glue has one the configuration does not ask for: left alone.
    Left,
    /// Neither asked for nor there.
    Absent,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Unchanged => "unchanged",
            Action::Left => "left",
            Action::Absent => "absent",
        }
    }
}

/// What to do, given what Glue has and what the table asks for.
pub fn plan(
    existing: Option<&TableOptimizerConfiguration>,
    wanted: Option<&TableOptimizerConfiguration>,
) -> Action {
    match (existing, wanted) {
        (None, None) => Action::Absent,
        (Some(_), None) => Action::Left,
        (None, Some(_)) => Action::Create,
        (Some(have), Some(want)) if same(have, want) => Action::Unchanged,
        (Some(_), Some(_)) => Action::Update,
    }
}

/// Whether Glue's configuration holds what sluice asks for: the role, enabled, and the
/// retention settings sluice sets (Glue fills in others, such as the run rate, itself).
fn same(have: &TableOptimizerConfiguration, want: &TableOptimizerConfiguration) -> bool {
    let retention = |c: &TableOptimizerConfiguration| {
        c.retention_configuration()
            .and_then(|r| r.iceberg_configuration())
            .map(|i| {
                (
                    i.snapshot_retention_period_in_days(),
                    i.number_of_snapshots_to_retain(),
                    i.clean_expired_files(),
                )
            })
    };
    let orphans = |c: &TableOptimizerConfiguration| {
        c.orphan_file_deletion_configuration()
            .and_then(|o| o.iceberg_configuration())
            .map(|i| i.orphan_file_retention_period_in_days())
    };
    have.role_arn() == want.role_arn()
        && have.enabled() == want.enabled()
        && (want.retention_configuration().is_none() || retention(have) == retention(want))
        && (want.orphan_file_deletion_configuration().is_none() || orphans(have) == orphans(want))
}

/// The optimizers `table` asks for, each with the configuration Glue should hold.
pub fn wanted(
    table: &TableConfig,
    role_arn: &str,
) -> Vec<(TableOptimizerType, TableOptimizerConfiguration)> {
    let Some(glue) = &table.glue_optimizers else {
        return vec![];
    };
    let base = || {
        TableOptimizerConfiguration::builder()
            .role_arn(role_arn)
            .enabled(true)
    };
    let days = |d: u32| i32::try_from(d).unwrap_or(i32::MAX);
    let mut out = vec![];
    if glue.compaction {
        out.push((TableOptimizerType::Compaction, base().build()));
    }
    if let Some(retention) = glue.snapshot_retention_days {
        let iceberg = IcebergRetentionConfiguration::builder()
            .snapshot_retention_period_in_days(days(retention))
            .number_of_snapshots_to_retain(days(glue.snapshots_to_retain.unwrap_or(1)))
            .clean_expired_files(true)
            .build();
        let config = base()
            .retention_configuration(
                RetentionConfiguration::builder()
                    .iceberg_configuration(iceberg)
                    .build(),
            )
            .build();
        out.push((TableOptimizerType::Retention, config));
    }
    if let Some(orphans) = glue.orphan_file_retention_days {
        let iceberg = IcebergOrphanFileDeletionConfiguration::builder()
            .orphan_file_retention_period_in_days(days(orphans))
            .build();
        let config = base()
            .orphan_file_deletion_configuration(
                OrphanFileDeletionConfiguration::builder()
                    .iceberg_configuration(iceberg)
                    .build(),
            )
            .build();
        out.push((TableOptimizerType::OrphanFileDeletion, config));
    }
    out
}

/// The account of an IAM role ARN `arn:<partition>:iam::<account>:role/<name>`.
fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.starts_with("role/"))
    .then_some(account)
}

/// A Glue call's failure: throttling, a server fault or no answer is transient (the caller
/// retries); anything else (access denied, a bad request, an operation the endpoint lacks)
/// needs a person.
fn sdk_error<E, R>(doing: String, e: SdkError<E, R>) -> LakeError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().map(str::to_string);
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => matches!(
            code.as_deref(),
            Some(
                "ThrottlingException"
                    | "InternalServiceException"
                    | "ConcurrentModificationException"
            )
        ),
    };
    let detail = match (code, e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        (None, _) => aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
    };
    LakeError {
        kind: if transient {
            LakeErrorKind::Transient
        } else {
            LakeErrorKind::Internal
        },
        message: format!("{doing}: {detail}"),
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::config::{Config, GlueOptimizers as Section};

    const ROLE: &str = "arn:aws:iam::111122223333:role/sluice-glue-optimizers";

    fn table(section: &str) -> TableConfig {
        let text = format!(
            "[[table]]\nname = \"orders\"\nprefix = \"orders/\"\nformat = \"ndjson\"\n\
             contract = \"c.json\"\n{section}"
        );
        Config::parse(&text, std::path::Path::new("sluice.toml"), ".".into())
            .unwrap()
            .tables
            .remove(0)
    }

    #[test]
    fn a_table_asks_for_the_optimizers_its_section_names() {
        assert!(wanted(&table(""), ROLE).is_empty());
        let all = wanted(
            &table(
                "[table.glue_optimizers]\ncompaction = true\nsnapshot_retention_days = 20\n\
                 snapshots_to_retain = 4\norphan_file_retention_days = 16\n",
            ),
            ROLE,
        );
        let kinds: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["compaction", "retention", "orphan_file_deletion"]);
        for (_, c) in &all {
            assert_eq!(c.role_arn(), Some(ROLE));
            assert_eq!(c.enabled(), Some(true));
        }
        let retention = all[1].1.retention_configuration().unwrap();
        let iceberg = retention.iceberg_configuration().unwrap();
        assert_eq!(iceberg.snapshot_retention_period_in_days(), Some(20));
        assert_eq!(iceberg.number_of_snapshots_to_retain(), Some(4));
        // The expired snapshots' files go too: otherwise nothing removes them.
        assert_eq!(iceberg.clean_expired_files(), Some(true));
        let orphans = all[2].1.orphan_file_deletion_configuration().unwrap();
        assert_eq!(
            orphans
                .iceberg_configuration()
                .unwrap()
                .orphan_file_retention_period_in_days(),
            Some(16)
        );
        let only_retention = wanted(
            &table("[table.glue_optimizers]\nsnapshot_retention_days = 15\n"),
            ROLE,
        );
        assert_eq!(only_retention.len(), 1);
        let iceberg = only_retention[0].1.retention_configuration().unwrap();
        assert_eq!(
            iceberg
                .iceberg_configuration()
                .unwrap()
                .number_of_snapshots_to_retain(),
            Some(1)
        );
        assert!(!Section::default().any());
    }

    #[test]
    fn what_glue_has_is_created_updated_kept_or_left() {
        let want = wanted(
            &table("[table.glue_optimizers]\nsnapshot_retention_days = 15\n"),
            ROLE,
        )
        .remove(0)
        .1;
        assert_eq!(plan(None, None), Action::Absent);
        assert_eq!(plan(None, Some(&want)), Action::Create);
        assert_eq!(plan(Some(&want), None), Action::Left);
        assert_eq!(plan(Some(&want), Some(&want)), Action::Unchanged);
        // Glue answers with settings sluice does not set (the run rate): still unchanged.
        let mut answered = want.clone();
        answered.retention_configuration = Some(
            RetentionConfiguration::builder()
                .iceberg_configuration(
                    IcebergRetentionConfiguration::builder()
                        .snapshot_retention_period_in_days(15)
                        .number_of_snapshots_to_retain(1)
                        .clean_expired_files(true)
                        .run_rate_in_hours(24)
                        .build(),
                )
                .build(),
        );
        assert_eq!(plan(Some(&answered), Some(&want)), Action::Unchanged);
        // Someone shortened the retention by hand, disabled it, or gave it another role.
        let mut shortened = answered.clone();
        shortened.retention_configuration = Some(
            RetentionConfiguration::builder()
                .iceberg_configuration(
                    IcebergRetentionConfiguration::builder()
                        .snapshot_retention_period_in_days(5)
                        .number_of_snapshots_to_retain(1)
                        .clean_expired_files(true)
                        .build(),
                )
                .build(),
        );
        assert_eq!(plan(Some(&shortened), Some(&want)), Action::Update);
        let mut disabled = answered.clone();
        disabled.enabled = Some(false);
        assert_eq!(plan(Some(&disabled), Some(&want)), Action::Update);
        let mut other_role = answered;
        other_role.role_arn = Some("arn:aws:iam::111122223333:role/other".into());
        assert_eq!(plan(Some(&other_role), Some(&want)), Action::Update);
    }

    #[test]
    fn the_catalog_is_the_roles_account() {
        assert_eq!(role_account(ROLE), Some("111122223333"));
        assert_eq!(
            role_account("arn:aws-cn:iam::111122223333:role/path/x"),
            Some("111122223333")
        );
        for bad in [
            "",
            "sluice-glue-optimizers",
            "arn:aws:iam::1111:role/x",
            "arn:aws:iam::111122223333:user/x",
            "arn:aws:s3:::111122223333:role/x",
        ] {
            assert_eq!(role_account(bad), None, "{bad}");
        }
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let e = GlueOptimizers::new(&sdk, "glue-role").unwrap_err();
        assert!(e.to_string().contains("not an IAM role ARN"), "{e}");
    }
}
