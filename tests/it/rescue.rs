//! `incompatible = "rescue"`: a value of another type than its field's does not cost its row:
//! it moves, by field name, into the `_rescued` JSON column, the field is null in that row,
//! and the rest of the row lands. A row that is still invalid without it is rejected whole. A
//! file whose column changed type throughout lands the same way instead of being blocked.
//! pyiceberg reads the column back.

use serde_json::{json, Value};
use sluice_core::config::Config;
use sluice_core::QuarantineReason;
use sluice_local::Outcome;
use sluice_tests::Harness;

const CONTRACT: &str = r#"{
  "type": "object",
  "required": ["id"],
  "properties": {
    "id": {"type": "integer"},
    "amount": {"type": "number"},
    "note": {"type": "string"},
    "shipping": {"type": "object", "properties": {
      "city": {"type": "string"}, "zip": {"type": "string"}}}
  }
}"#;

/// A workspace whose table has the contract above and `incompatible = …`; the directory of
/// its configuration, which must outlive it, with it.
async fn harness(incompatible: &str) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.schema.json"), CONTRACT).unwrap();
    let text = format!(
        "[[table]]\nname = \"events\"\nnamespace = \"shop\"\nprefix = \"events/\"\n\
         format = \"ndjson\"\ncontract = \"events.schema.json\"\nmax_invalid_ratio = 0.5\n\
         [table.drift]\nincompatible = \"{incompatible}\"\n"
    );
    let config = Config::parse(
        &text,
        std::path::Path::new("sluice.toml"),
        dir.path().to_path_buf(),
    )
    .unwrap();
    (Harness::with_config(config).await, dir)
}

fn lines(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

fn by_id(rows: &[Value], id: i64) -> &Value {
    rows.iter().find(|r| r["id"] == id).unwrap()
}

#[tokio::test]
async fn values_that_do_not_fit_go_to_the_rescued_column_and_their_rows_land() {
    let (h, _config) = harness("rescue").await;
    let done = h
        .ingest_bytes(
            "a.ndjson",
            lines(&[
                json!({"id": 1, "amount": 2.5, "note": "fine"}),
                json!({"id": 2, "amount": "12,50", "shipping": {"city": 75001, "zip": "75001"}}),
                json!({"id": "three", "note": "the id is required: no rescue"}),
                json!({"id": 4, "note": ["a", "list"]}),
            ]),
        )
        .await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    let counts = done.rows.clone().unwrap();
    assert_eq!((counts.valid, counts.rejected), (3, 1));
    let rows = h.rows().await;
    assert_eq!(rows.len(), 3);
    assert_eq!(by_id(&rows, 1)["_rescued"], Value::Null);
    assert_eq!(by_id(&rows, 1)["amount"], 2.5);
    let two = by_id(&rows, 2);
    assert_eq!(two["amount"], Value::Null);
    assert_eq!(two["shipping"]["city"], Value::Null);
    assert_eq!(two["shipping"]["zip"], "75001");
    let rescued: Value = serde_json::from_str(two["_rescued"].as_str().unwrap()).unwrap();
    assert_eq!(rescued, json!({"amount": "12,50", "shipping.city": 75001}));
    let four: Value = serde_json::from_str(by_id(&rows, 4)["_rescued"].as_str().unwrap()).unwrap();
    assert_eq!(four, json!({"note": ["a", "list"]}));
    let rejects = h.rejects(done.rejects_key.as_deref().unwrap()).await;
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["line"], 3);

    let read = crate::interop::pyiceberg(
        r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
rows = catalog.load_table("shop.events").scan().to_arrow().to_pylist()
print(json.dumps(sorted([r["id"], r["_rescued"] and json.loads(r["_rescued"])] for r in rows)))
"#,
        h.dir.path(),
    );
    assert_eq!(
        read,
        json!([[1, null], [2, {"amount": "12,50", "shipping.city": 75001}], [4, {"note": ["a", "list"]}]])
    );
}

#[tokio::test]
async fn a_column_that_changed_type_throughout_lands_rescued_instead_of_blocked() {
    let rows: Vec<Value> = (1..=20)
        .map(|i| json!({"id": i, "amount": format!("{i},00"), "note": "n"}))
        .collect();
    // The default policy blocks the file, naming the change.
    let (strict, _strict_config) = harness("quarantine").await;
    strict
        .ingest_bytes("seed.ndjson", lines(&[json!({"id": 0, "amount": 1.0})]))
        .await;
    let blocked = strict
        .ingest_bytes("text-amounts.ndjson", lines(&rows))
        .await;
    assert_eq!(
        blocked.outcome,
        Outcome::Quarantined {
            reason: QuarantineReason::DriftBlocked
        },
        "{blocked:?}"
    );
    // Rescue lands every row, the amounts kept in `_rescued`.
    let (h, _config) = harness("rescue").await;
    h.ingest_bytes("seed.ndjson", lines(&[json!({"id": 0, "amount": 1.0})]))
        .await;
    let done = h.ingest_bytes("text-amounts.ndjson", lines(&rows)).await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    let landed = h.rows().await;
    assert_eq!(landed.len(), 21);
    let seven: Value =
        serde_json::from_str(by_id(&landed, 7)["_rescued"].as_str().unwrap()).unwrap();
    assert_eq!(seven, json!({"amount": "7,00"}));
    // The table kept its column's type.
    let table = h
        .ctx
        .lake
        .load(&h.ctx.config.tables[0])
        .await
        .unwrap()
        .unwrap();
    let amount = table
        .metadata()
        .current_schema()
        .field_by_name("amount")
        .unwrap();
    assert_eq!(amount.field_type.to_string(), "double");
}

#[test]
fn rescue_is_for_incompatible_values_only() {
    for key in ["additive", "nested_addition", "widening"] {
        let text = format!(
            "[[table]]\nname = \"e\"\nprefix = \"e/\"\nformat = \"ndjson\"\ncontract = \"c.json\"\n\
             [table.drift]\n{key} = \"rescue\"\n"
        );
        let e = Config::parse(&text, std::path::Path::new("sluice.toml"), ".".into())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("table[0].drift.{key}"))
                && e.contains("applies to `incompatible` only"),
            "{e}"
        );
    }
}
