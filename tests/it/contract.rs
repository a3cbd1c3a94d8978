//! Contracts: bad lines and bad rows are rejected with line, pointer and message while good
//! rows commit; too many bad rows quarantine the file; an additive field evolves the table.

use sluice_core::ledger::LedgerState;
use sluice_core::QuarantineReason;
use sluice_local::Outcome;
use sluice_tests::{ndjson, order, Harness};

#[tokio::test]
async fn malformed_lines_are_rejected_with_line_numbers_while_good_lines_commit() {
    let h = Harness::orders().await;
    let mut lines: Vec<String> = (1..=20).map(|i| order(i).to_string()).collect();
    lines[6] = "{\"order_id\": 7, \"ordered_at\": ".into(); // line 7
    lines[14] = "not json".into(); // line 15
    let r = h
        .ingest_bytes("partly-broken.ndjson", lines.join("\n") + "\n")
        .await;
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    let rows = r.rows.clone().unwrap();
    assert_eq!((rows.total, rows.valid, rows.rejected), (20, 18, 2));
    let rejects = h.rejects(r.rejects_key.as_ref().unwrap()).await;
    let lines: Vec<u64> = rejects
        .iter()
        .map(|x| x["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [7, 15]);
    assert!(rejects.iter().all(|x| x["reason"] == "parse_error"));
    assert_eq!(h.rows().await.len(), 18);
}

#[tokio::test]
async fn too_many_malformed_lines_quarantine_the_file_and_land_nothing() {
    let h = Harness::orders().await;
    let mut lines: Vec<String> = (1..=10).map(|i| order(i).to_string()).collect();
    for l in lines.iter_mut().take(5) {
        *l = "{broken".into();
    }
    let r = h
        .ingest_bytes("mostly-broken.ndjson", lines.join("\n"))
        .await;
    assert_eq!(
        r.outcome,
        Outcome::Quarantined {
            reason: QuarantineReason::TooManyInvalidRows
        }
    );
    assert_eq!(h.rows().await.len(), 0);
    let object = r.object.unwrap();
    let rec = h.ctx.ledger.get(&object).await.unwrap().unwrap();
    assert_eq!(
        rec.record.state,
        LedgerState::Quarantined {
            reason: QuarantineReason::TooManyInvalidRows
        }
    );
    // The original object is still where it landed.
    assert!(h.ctx.store.head(&object.key).await.unwrap().is_some());
}

#[tokio::test]
async fn contract_violation_names_the_field() {
    let h = Harness::orders().await;
    let mut rows: Vec<_> = (1..=20).map(order).collect();
    rows[2]["quantity"] = "two".into();
    rows[9].as_object_mut().unwrap().remove("customer_email");
    let r = h.ingest_bytes("violations.ndjson", ndjson(rows)).await;
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    let rejects = h.rejects(r.rejects_key.as_ref().unwrap()).await;
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], 3);
    assert_eq!(rejects[0]["pointer"], "/quantity");
    assert_eq!(rejects[0]["reason"], "contract_violation");
    assert!(
        rejects[1]["message"]
            .as_str()
            .unwrap()
            .contains("customer_email"),
        "{}",
        rejects[1]
    );
    assert_eq!(rejects[1]["line"], 10);
}

#[tokio::test]
async fn additive_field_evolves_the_schema_and_old_rows_read_null() {
    let h = Harness::orders().await;
    h.ingest_bytes("old.ndjson", ndjson((1..=3).map(order)))
        .await;
    let new_rows = (4..=6).map(|i| {
        let mut o = order(i);
        o["coupon"] = "SPRING".into();
        o
    });
    let r = h.ingest_bytes("new.ndjson", ndjson(new_rows)).await;
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    let d = h
        .ctx
        .lake
        .describe(&h.ctx.config.tables[0])
        .await
        .unwrap()
        .unwrap();
    let coupon = d.schema.field("coupon").expect("coupon column added");
    assert!(!coupon.required);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 6);
    for row in rows {
        let id = row["order_id"].as_i64().unwrap();
        if id <= 3 {
            assert!(
                row.get("coupon").is_none(),
                "old row {row} should read null"
            );
        } else {
            assert_eq!(row["coupon"], "SPRING");
        }
    }
}

#[tokio::test]
async fn incompatible_type_change_is_quarantined_as_drift_blocked() {
    let h = Harness::orders().await;
    h.ingest_bytes("old.ndjson", ndjson((1..=3).map(order)))
        .await;
    let rows = (4..=6).map(|i| {
        let mut o = order(i);
        o["quantity"] = format!("{i} units").into();
        o
    });
    let r = h.ingest_bytes("drifted.ndjson", ndjson(rows)).await;
    assert_eq!(
        r.outcome,
        Outcome::Quarantined {
            reason: QuarantineReason::DriftBlocked
        }
    );
    assert!(r.detail.unwrap().contains("quantity"));
    assert_eq!(h.rows().await.len(), 3);
}

/// A contract changed so that it contradicts the table (`quantity` made a string while the
/// table has `long`) stops the execution before its file is judged: nothing is quarantined
/// or committed for the contract's fault, and once the contract is put back a redrive lands
/// the file. The CLI refuses such a contract before landing anything (crates/cli/tests).
#[tokio::test]
async fn a_contract_that_contradicts_its_table_stops_the_execution_before_any_judgement() {
    let mut h = Harness::orders().await;
    let first = h.ingest_bytes("first.ndjson", ndjson([order(1)])).await;
    assert!(
        matches!(first.outcome, Outcome::Committed { .. }),
        "{first:?}"
    );
    let example = sluice_tests::orders_example();
    let original = std::fs::read_to_string(example.join("sluice.toml")).unwrap();
    let mut contract: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example.join("orders.schema.json")).unwrap())
            .unwrap();
    contract["properties"]["quantity"] = serde_json::json!({"type": "string"});
    let changed = h.dir.path().join("changed.schema.json");
    std::fs::write(&changed, contract.to_string()).unwrap();
    assert!(original.contains("contract = \"orders.schema.json\""));
    h.reconfigure(&original.replace(
        "contract = \"orders.schema.json\"",
        &format!("contract = {:?}", changed.to_str().unwrap()),
    ))
    .await;

    let second = h.ingest_bytes("second.ndjson", ndjson([order(2)])).await;
    let Outcome::Failed { error } = &second.outcome else {
        panic!("{second:?}")
    };
    assert_eq!(error, "Internal");
    let detail = second.detail.clone().unwrap_or_default();
    assert!(
        detail.contains("changed.schema.json contradicts table shop.orders")
            && detail
                .contains("/properties/quantity: string in the contract, but long in the table"),
        "{detail}"
    );
    let records = h.ctx.ledger.list().await.unwrap();
    let record = records
        .iter()
        .find(|r| r.object.key.ends_with("second.ndjson"))
        .expect("the second file is claimed");
    assert!(
        !matches!(
            record.state,
            LedgerState::Quarantined { .. } | LedgerState::Committed { .. }
        ),
        "{:?}",
        record.state
    );
    assert_eq!(h.rows().await.len(), 1);

    h.reconfigure(&original).await;
    let redriven = h.local.redrive(&second.execution).await.unwrap();
    assert!(
        matches!(redriven.outcome, Outcome::Committed { .. }),
        "{redriven:?}"
    );
    assert_eq!(h.rows().await.len(), 2);
}

/// The sluice.toml of the orders example with its contract replaced by `schema`, written
/// beside the harness's workspace as `name`.
fn with_contract(h: &Harness, name: &str, schema: &serde_json::Value) -> String {
    let example = sluice_tests::orders_example();
    let original = std::fs::read_to_string(example.join("sluice.toml")).unwrap();
    let path = h.dir.path().join(name);
    std::fs::write(&path, schema.to_string()).unwrap();
    original.replace(
        "contract = \"orders.schema.json\"",
        &format!("contract = {:?}", path.to_str().unwrap()),
    )
}

fn orders_contract() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(sluice_tests::orders_example().join("orders.schema.json"))
            .unwrap(),
    )
    .unwrap()
}

/// Each contract a table's files were judged under is a recorded version, in order of first
/// use; a new one that breaks the table's compatibility mode (backward by default: a newly
/// required field) is refused before any file is judged, and racing processes record one
/// contract once.
#[tokio::test]
async fn contract_versions_are_recorded_in_order_and_an_incompatible_one_is_refused() {
    use sluice_steps::contracts::{record, versions};
    let mut h = Harness::orders().await;
    let table = h.ctx.config.tables[0].clone();
    let first = h.ingest_bytes("a.ndjson", ndjson([order(1)])).await;
    assert!(
        matches!(first.outcome, Outcome::Committed { .. }),
        "{first:?}"
    );
    let recorded = versions(h.ctx.store.as_ref(), &table).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].version, 1);
    assert_eq!(recorded[0].schema, orders_contract());

    // A new optional field: backward compatible, version 2.
    let mut v2 = orders_contract();
    v2["properties"]["coupon"] = serde_json::json!({"type": "string"});
    let text = with_contract(&h, "v2.schema.json", &v2);
    h.reconfigure(&text).await;
    let second = h.ingest_bytes("b.ndjson", ndjson([order(2)])).await;
    assert!(
        matches!(second.outcome, Outcome::Committed { .. }),
        "{second:?}"
    );
    let recorded = versions(h.ctx.store.as_ref(), &table).await.unwrap();
    assert_eq!(
        recorded.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    // The ledger names the version each file was judged under, committed or quarantined.
    let mut broken = order(9);
    broken["quantity"] = serde_json::json!("many");
    let bad = h.ingest_bytes("bad.ndjson", ndjson([broken])).await;
    assert!(
        matches!(bad.outcome, Outcome::Quarantined { .. }),
        "{bad:?}"
    );
    let judged: std::collections::BTreeMap<String, Option<u32>> = h
        .ctx
        .ledger
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.object.key.clone(), r.contract_version))
        .collect();
    assert_eq!(judged["orders/a.ndjson"], Some(1));
    assert_eq!(judged["orders/b.ndjson"], Some(2));
    assert_eq!(judged["orders/bad.ndjson"], Some(2));

    // The coupon made required: files valid under version 2 lack it. Refused, unrecorded.
    let mut v3 = v2.clone();
    v3["required"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!("coupon"));
    let text = with_contract(&h, "v3.schema.json", &v3);
    h.reconfigure(&text).await;
    let mut row = order(3);
    row["coupon"] = serde_json::json!("SPRING");
    let third = h.ingest_bytes("c.ndjson", ndjson([row])).await;
    let Outcome::Failed { .. } = &third.outcome else {
        panic!("{third:?}")
    };
    let detail = third.detail.clone().unwrap_or_default();
    assert!(
        detail.contains("is not backward compatible with version 2")
            && detail.contains(
                "/properties/coupon: required in the new contract, optional in version 2"
            ),
        "{detail}"
    );
    assert_eq!(
        versions(h.ctx.store.as_ref(), &table).await.unwrap().len(),
        2
    );

    // Under `compatibility = "forward"` the same contract is version 3; racing recorders of
    // it agree on that one version.
    let text = with_contract(&h, "v3.schema.json", &v3).replace(
        "[table.drift]",
        "compatibility = \"forward\"\n\n[table.drift]",
    );
    assert!(text.contains("compatibility = \"forward\""), "{text}");
    h.reconfigure(&text).await;
    let table = h.ctx.config.tables[0].clone();
    let contract = h.ctx.effective_contract(&table).await.unwrap();
    let store = h.ctx.store.clone();
    let (a, b) = tokio::join!(
        record(store.as_ref(), &table, &contract),
        record(store.as_ref(), &table, &contract)
    );
    assert_eq!(a.unwrap().version, 3);
    assert_eq!(b.unwrap().version, 3);
    assert_eq!(
        versions(h.ctx.store.as_ref(), &table).await.unwrap().len(),
        3
    );
}

/// A struct that gains a member (`shipping.zip`, under `nested_addition = "evolve"`) leaves
/// older files without it: sluice's own reader reads old and new files together (the old
/// rows' `zip` null), compaction rewrites them into one file, and pyiceberg reads the same.
/// The reader used to fail with "Incorrect number of arrays for StructArray fields".
#[tokio::test]
async fn a_struct_that_gained_a_member_reads_back_old_and_new_files_and_compacts() {
    let example = std::fs::read_to_string(sluice_tests::orders_example().join("sluice.toml"))
        .unwrap()
        .replace(
            "[table.drift]",
            "[table.drift]\nnested_addition = \"evolve\"",
        );
    let h = Harness::with_config_text(&example).await;
    let mut old = order(1);
    old["shipping"] = serde_json::json!({"city": "Oslo", "country": "NO"});
    let first = h.ingest_bytes("old.ndjson", ndjson([old])).await;
    assert!(
        matches!(first.outcome, Outcome::Committed { .. }),
        "{first:?}"
    );
    let mut new = order(2);
    new["shipping"] = serde_json::json!({"city": "Bergen", "country": "NO", "zip": "5003"});
    let second = h.ingest_bytes("new.ndjson", ndjson([new])).await;
    assert!(
        matches!(second.outcome, Outcome::Committed { .. }),
        "{second:?}"
    );

    let zips = |rows: Vec<serde_json::Value>| {
        let mut zips: Vec<(i64, serde_json::Value)> = rows
            .iter()
            .map(|r| {
                (
                    r["order_id"].as_i64().unwrap(),
                    r["shipping"]["zip"].clone(),
                )
            })
            .collect();
        zips.sort_by_key(|(id, _)| *id);
        zips
    };
    let expected = vec![(1, serde_json::Value::Null), (2, serde_json::json!("5003"))];
    assert_eq!(zips(h.rows().await), expected);

    let table = &h.ctx.config.tables[0];
    let options = sluice_lake::CompactOptions {
        min_input_files: 2,
        ..Default::default()
    };
    let report = h.ctx.lake.compact(table, &options, &|_| {}).await.unwrap();
    assert_eq!(report.groups.len(), 1, "{report:?}");
    assert_eq!(zips(h.rows().await), expected);

    let read = crate::interop::pyiceberg(
        r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
rows = catalog.load_table("shop.orders").scan().to_arrow().to_pylist()
print(json.dumps(sorted([r["order_id"], r["shipping"]["zip"]] for r in rows)))
"#,
        h.dir.path(),
    );
    assert_eq!(read, serde_json::json!([[1, null], [2, "5003"]]));
}
