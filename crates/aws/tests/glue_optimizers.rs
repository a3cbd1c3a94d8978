//! Glue's table optimizers as the SDK sends them, over real HTTP: the emulator has no table
//! optimizer API (it answers `InvalidAction`), so this serves the four calls sluice makes
//! (`GetTableOptimizer`, `CreateTableOptimizer`, `UpdateTableOptimizer`) from a small Glue of
//! its own that keeps what it is sent, and checks the requests against the shapes AWS
//! documents: the target header, the catalog, database and table, the optimizer type, and
//! the configuration's member names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use serde_json::{json, Value};
use sluice_aws::GlueOptimizers;
use sluice_core::config::{Config, TableConfig};
use sluice_lake::{LakeErrorKind, TableOptimizers};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const ROLE: &str = "arn:aws:iam::111122223333:role/sluice-glue-optimizers";

/// What the Glue of this test holds and was asked.
#[derive(Default)]
struct Glue {
    /// Optimizer configurations by type.
    optimizers: HashMap<String, Value>,
    /// Each request: the operation (from `X-Amz-Target`) and its body.
    requests: Vec<(String, Value)>,
    /// Operations answered with this error code instead.
    refuse: HashMap<String, String>,
}

impl Glue {
    fn answer(&mut self, operation: &str, body: &Value) -> (u16, Value) {
        self.requests.push((operation.to_string(), body.clone()));
        if let Some(code) = self.refuse.get(operation) {
            return (
                400,
                json!({"__type": code, "Message": "refused by the test"}),
            );
        }
        let kind = body["Type"].as_str().unwrap_or_default().to_string();
        match operation {
            "GetTableOptimizer" => match self.optimizers.get(&kind) {
                Some(configuration) => (
                    200,
                    json!({
                        "CatalogId": body["CatalogId"],
                        "DatabaseName": body["DatabaseName"],
                        "TableName": body["TableName"],
                        "TableOptimizer": {"type": kind, "configuration": configuration},
                    }),
                ),
                None => (
                    400,
                    json!({"__type": "EntityNotFoundException", "Message": "no optimizer"}),
                ),
            },
            "CreateTableOptimizer" | "UpdateTableOptimizer" => {
                self.optimizers
                    .insert(kind, body["TableOptimizerConfiguration"].clone());
                (200, json!({}))
            }
            other => (400, json!({"__type": "InvalidAction", "Message": other})),
        }
    }
}

/// Serves `glue` on a local port; the endpoint's URL.
async fn serve(glue: Arc<Mutex<Glue>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let glue = glue.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket);
                let (mut target, mut length) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        match name.to_ascii_lowercase().as_str() {
                            "x-amz-target" => target = value.trim().to_string(),
                            "content-length" => length = value.trim().parse().unwrap(),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.unwrap();
                let body: Value = serde_json::from_slice(&body).unwrap();
                let operation = target
                    .strip_prefix("AWSGlue.")
                    .unwrap_or(&target)
                    .to_string();
                let (status, answer) = glue.lock().unwrap().answer(&operation, &body);
                let answer = answer.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = reader.get_mut().write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

async fn optimizers(url: &str) -> GlueOptimizers {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .load()
        .await;
    GlueOptimizers::new(&sdk, ROLE).unwrap()
}

fn table(section: &str) -> TableConfig {
    let text = format!(
        "[[table]]\nname = \"orders\"\nnamespace = \"shop\"\nprefix = \"orders/\"\n\
         format = \"ndjson\"\ncontract = \"c.json\"\n[table.glue_optimizers]\n{section}"
    );
    Config::parse(&text, std::path::Path::new("sluice.toml"), ".".into())
        .unwrap()
        .tables
        .remove(0)
}

fn actions(changes: &[sluice_lake::OptimizerChange]) -> Vec<(String, String)> {
    changes
        .iter()
        .map(|c| (c.optimizer.clone(), c.action.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn optimizers_are_created_as_documented_then_kept_and_restored() {
    let glue = Arc::new(Mutex::new(Glue::default()));
    let optimizers = optimizers(&serve(glue.clone()).await).await;
    let table = table(
        "compaction = true\nsnapshot_retention_days = 15\nsnapshots_to_retain = 2\n\
         orphan_file_retention_days = 20\n",
    );

    let changes = optimizers.ensure(&table).await.unwrap();
    assert_eq!(
        actions(&changes),
        pairs(&[
            ("compaction", "created"),
            ("retention", "created"),
            ("orphan_file_deletion", "created"),
        ])
    );
    {
        let glue = glue.lock().unwrap();
        let creates: Vec<&Value> = glue
            .requests
            .iter()
            .filter(|(op, _)| op == "CreateTableOptimizer")
            .map(|(_, body)| body)
            .collect();
        assert_eq!(creates.len(), 3);
        for body in &creates {
            // The catalog is the role's account; the database the table's namespace.
            assert_eq!(body["CatalogId"], "111122223333");
            assert_eq!(body["DatabaseName"], "shop");
            assert_eq!(body["TableName"], "orders");
            assert_eq!(body["TableOptimizerConfiguration"]["roleArn"], ROLE);
            assert_eq!(body["TableOptimizerConfiguration"]["enabled"], true);
        }
        assert_eq!(creates[0]["Type"], "compaction");
        assert_eq!(
            creates[1]["TableOptimizerConfiguration"]["retentionConfiguration"]
                ["icebergConfiguration"],
            json!({
                "snapshotRetentionPeriodInDays": 15,
                "numberOfSnapshotsToRetain": 2,
                "cleanExpiredFiles": true,
            })
        );
        assert_eq!(creates[2]["Type"], "orphan_file_deletion");
        assert_eq!(
            creates[2]["TableOptimizerConfiguration"]["orphanFileDeletionConfiguration"]
                ["icebergConfiguration"]["orphanFileRetentionPeriodInDays"],
            20
        );
    }

    // Run again: nothing to do.
    let changes = optimizers.ensure(&table).await.unwrap();
    assert!(
        changes.iter().all(|c| c.action == "unchanged"),
        "{changes:?}"
    );

    // Someone shortened the retention by hand to Glue's default of 5 days: restored.
    glue.lock()
        .unwrap()
        .optimizers
        .get_mut("retention")
        .unwrap()["retentionConfiguration"]["icebergConfiguration"]
        ["snapshotRetentionPeriodInDays"] = json!(5);
    let changes = optimizers.ensure(&table).await.unwrap();
    assert_eq!(
        actions(&changes),
        pairs(&[
            ("compaction", "unchanged"),
            ("retention", "updated"),
            ("orphan_file_deletion", "unchanged"),
        ])
    );
    assert_eq!(
        glue.lock().unwrap().optimizers["retention"]["retentionConfiguration"]
            ["icebergConfiguration"]["snapshotRetentionPeriodInDays"],
        15
    );

    // A table that now asks for retention only leaves the others where they are.
    let changes = optimizers
        .ensure(&self::table(
            "snapshot_retention_days = 15\nsnapshots_to_retain = 2\n",
        ))
        .await
        .unwrap();
    assert_eq!(
        actions(&changes),
        pairs(&[
            ("compaction", "left"),
            ("retention", "unchanged"),
            ("orphan_file_deletion", "left"),
        ])
    );
}

#[tokio::test]
async fn a_refusal_names_the_optimizer_the_table_and_the_code() {
    let glue = Arc::new(Mutex::new(Glue::default()));
    glue.lock().unwrap().refuse.insert(
        "CreateTableOptimizer".into(),
        "AccessDeniedException".into(),
    );
    let optimizers = optimizers(&serve(glue.clone()).await).await;
    let e = optimizers
        .ensure(&table("snapshot_retention_days = 15\n"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, LakeErrorKind::Internal, "{e}");
    let message = e.to_string();
    for part in ["retention", "shop.orders", "AccessDeniedException"] {
        assert!(message.contains(part), "{part}: {message}");
    }
}

#[tokio::test]
async fn an_optimizer_a_racer_created_first_is_updated_to_the_tables_settings() {
    let glue = Arc::new(Mutex::new(Glue::default()));
    glue.lock().unwrap().refuse.insert(
        "CreateTableOptimizer".into(),
        "AlreadyExistsException".into(),
    );
    let optimizers = optimizers(&serve(glue.clone()).await).await;
    let changes = optimizers
        .ensure(&table("snapshot_retention_days = 20\n"))
        .await
        .unwrap();
    assert_eq!(actions(&changes), pairs(&[("retention", "created")]));
    let glue = glue.lock().unwrap();
    assert_eq!(
        glue.optimizers["retention"]["retentionConfiguration"]["icebergConfiguration"]
            ["snapshotRetentionPeriodInDays"],
        20
    );
    assert!(glue
        .requests
        .iter()
        .any(|(op, _)| op == "UpdateTableOptimizer"));
}
