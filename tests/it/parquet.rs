//! Parquet files, read by their content under any table: their rows go the way of NDJSON
//! rows (drift, the contract, rejected rows by row number, exactly once), a column of another
//! type is drift naming the column and both types, a column no table can take and a file
//! that is not readable Parquet are quarantined naming why.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sluice_core::QuarantineReason;
use sluice_local::Outcome;
use sluice_tests::Harness;

/// Orders as a Parquet file (snappy, as pyarrow and Spark write by default), `rows` of them
/// from `first`; `quantity` as the given column, `extra` added.
fn orders_parquet(
    first: i64,
    rows: usize,
    quantity: ArrayRef,
    extra: Option<(Field, ArrayRef)>,
) -> Vec<u8> {
    let ids: Vec<i64> = (first..first + rows as i64).collect();
    let march_first = 1_772_359_200_000_000i64; // 2026-03-01T10:00:00Z
    let mut fields = vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new(
            "ordered_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("customer_email", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("quantity", quantity.data_type().clone(), false),
        Field::new("amount", DataType::Float64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(TimestampMicrosecondArray::from(vec![march_first; rows]).with_timezone("UTC")),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| format!("c{i}@example.com")),
        )),
        Arc::new(StringArray::from_iter_values(ids.iter().map(|i| {
            if i % 10 == 7 {
                "lost"
            } else {
                "paid"
            }
        }))),
        quantity,
        Arc::new(Float64Array::from(vec![19.5; rows])),
    ];
    if let Some((field, column)) = extra {
        fields.push(field);
        columns.push(column);
    }
    snappy_parquet(fields, columns)
}

/// The columns as a Parquet file (snappy, as pyarrow and Spark write by default) of row
/// groups of 300 rows.
fn snappy_parquet(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Vec<u8> {
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let mut out = vec![];
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(300))
        .build();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn quantities(rows: usize) -> ArrayRef {
    Arc::new(Int32Array::from(vec![2; rows]))
}

#[tokio::test]
async fn a_parquet_file_lands_its_rows_and_rejects_its_bad_ones_by_row_number() {
    let h = Harness::orders().await;
    // 1,000 rows in four row groups; rows 7, 17, ... have a status the contract refuses.
    let done = h
        .ingest_bytes(
            "export.parquet",
            orders_parquet(1, 1000, quantities(1000), None),
        )
        .await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    let counts = done.rows.clone().unwrap();
    assert_eq!(
        (counts.total, counts.valid, counts.rejected),
        (1000, 900, 100)
    );
    let rows = h.rows().await;
    assert_eq!(rows.len(), 900);
    let first = rows.iter().find(|r| r["order_id"] == 1).unwrap();
    assert_eq!(first["customer_email"], "c1@example.com");
    assert_eq!(first["quantity"], 2);
    let rejects = h.rejects(done.rejects_key.as_deref().unwrap()).await;
    assert_eq!(rejects.len(), 100);
    // Line numbers are row numbers: order 7 is the seventh row.
    assert_eq!(rejects[0]["line"], 7, "{}", rejects[0]);
    // Named as any file: the same bytes again are a duplicate, under another extension too.
    let again = h
        .ingest_bytes(
            "export.parquet",
            orders_parquet(1, 1000, quantities(1000), None),
        )
        .await;
    assert!(
        matches!(again.outcome, Outcome::Duplicate { .. }),
        "{again:?}"
    );
    let renamed = h
        .ingest_bytes(
            "export-copy.ndjson",
            orders_parquet(2001, 10, quantities(10), None),
        )
        .await;
    assert!(
        matches!(renamed.outcome, Outcome::Committed { .. }),
        "{renamed:?}"
    );
    assert_eq!(h.rows().await.len(), 909);
}

#[tokio::test]
async fn a_column_of_another_type_is_drift_and_one_no_table_takes_is_refused_by_name() {
    let h = Harness::orders().await;
    let text: ArrayRef = Arc::new(StringArray::from(vec!["many"; 20]));
    let drifted = h
        .ingest_bytes("text-quantity.parquet", orders_parquet(1, 20, text, None))
        .await;
    let (Outcome::Quarantined { reason }, Some(detail)) = (&drifted.outcome, &drifted.detail)
    else {
        panic!("{drifted:?}");
    };
    assert_eq!(*reason, QuarantineReason::DriftBlocked);
    assert!(
        detail.contains("`quantity` is string in the file but long in the table"),
        "{detail}"
    );
    let blob: ArrayRef = Arc::new(BinaryArray::from(vec![&b"\x00\x01"[..]; 5]));
    let refused = h
        .ingest_bytes(
            "blob.parquet",
            orders_parquet(
                100,
                5,
                quantities(5),
                Some((Field::new("photo", DataType::Binary, false), blob)),
            ),
        )
        .await;
    let (Outcome::Quarantined { reason }, Some(detail)) = (&refused.outcome, &refused.detail)
    else {
        panic!("{refused:?}");
    };
    assert_eq!(*reason, QuarantineReason::UnsupportedFormat);
    assert!(
        detail.contains("Parquet column `photo` is Binary"),
        "{detail}"
    );
    // Cut short: its footer is gone.
    let whole = orders_parquet(200, 50, quantities(50), None);
    let cut = h
        .ingest_bytes("cut.parquet", whole[..whole.len() / 2].to_vec())
        .await;
    let (Outcome::Quarantined { reason }, Some(detail)) = (&cut.outcome, &cut.detail) else {
        panic!("{cut:?}");
    };
    assert_eq!(*reason, QuarantineReason::UnsupportedFormat);
    assert!(detail.contains("not a readable Parquet file"), "{detail}");
    assert!(h.rows().await.is_empty());
    // Named Parquet, but text: its name is not believed.
    let text = h.ingest_bytes("notes.parquet", "PAR1....PAR1\n").await;
    let (Outcome::Quarantined { reason }, Some(detail)) = (&text.outcome, &text.detail) else {
        panic!("{text:?}");
    };
    assert_eq!(*reason, QuarantineReason::UnsupportedFormat);
    assert!(
        detail.contains("named .parquet, but its content is not Parquet"),
        "{detail}"
    );
    // A CSV whose header starts like Parquet's magic is still CSV.
    let csv = "PAR1_score,order_id\n1,2\n";
    let done = h.ingest_bytes("scores.csv", csv).await;
    assert!(
        !done.detail.as_deref().unwrap_or("").contains("Parquet"),
        "{done:?}"
    );
}

/// Orders with exactly the columns of the unpartitioned flat orders table (the orders
/// contract without its `shipping` struct), in its order and with its types (`quantity`
/// long): what an Iceberg-minded exporter writes. Statuses from `status(id)`. `nullable`: every
/// column declared optional, as pyarrow declares them by default.
fn exact_orders_parquet(
    first: i64,
    rows: usize,
    status: impl Fn(i64) -> &'static str,
    nullable: bool,
) -> Vec<u8> {
    let ids: Vec<i64> = (first..first + rows as i64).collect();
    let march_first = 1_772_359_200_000_000i64; // 2026-03-01T10:00:00Z
    let fields = vec![
        Field::new("order_id", DataType::Int64, nullable),
        Field::new(
            "ordered_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            nullable,
        ),
        Field::new("customer_email", DataType::Utf8, nullable),
        Field::new("status", DataType::Utf8, nullable),
        Field::new("quantity", DataType::Int64, nullable),
        Field::new("amount", DataType::Float64, nullable),
        Field::new("note", DataType::Utf8, true),
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(TimestampMicrosecondArray::from(vec![march_first; rows]).with_timezone("+00:00")),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| format!("c{i}@example.com")),
        )),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| status(*i)),
        )),
        Arc::new(Int64Array::from(vec![3; rows])),
        Arc::new(Float64Array::from(vec![19.5; rows])),
        Arc::new(StringArray::from_iter(
            ids.iter()
                .map(|i| (i % 2 == 0).then(|| format!("note {i}"))),
        )),
    ];
    snappy_parquet(fields, columns)
}

/// Every `.parquet` data file under `dir`, with its bytes.
fn data_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = vec![];
    for entry in walkdir(dir) {
        if entry.extension().is_some_and(|e| e == "parquet")
            && entry.to_string_lossy().contains("/data/")
        {
            out.push((entry.clone(), std::fs::read(&entry).unwrap()));
        }
    }
    out
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A Parquet file whose columns are exactly the table's is added as it is: its bytes are the
/// table's data file (no decode-and-encode), read back by name through the table's name
/// mapping by sluice, by its compaction and by pyiceberg. One with a rejected row, or with
/// other columns, is rewritten through the ordinary path; so is any file after the table
/// gained a column the file lacks.
#[tokio::test]
async fn a_parquet_file_with_exactly_the_tables_columns_is_added_as_it_is() {
    let flat = sluice_tests::repo().join("tests/fixtures/flat-orders.schema.json");
    let text = std::fs::read_to_string(sluice_tests::orders_example().join("sluice.toml"))
        .unwrap()
        .replace(
            "partition = { field = \"ordered_at\", transform = \"day\" }\n",
            "",
        )
        .replace(
            "\"orders.schema.json\"",
            &format!("{:?}", flat.display().to_string()),
        );
    assert!(
        !text.contains("partition =") && text.contains("flat-orders"),
        "{text}"
    );
    let h = Harness::with_config_text(&text).await;
    let exact = exact_orders_parquet(1, 1000, |_| "paid", false);
    let done = h.ingest_bytes("exact.parquet", exact.clone()).await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    assert_eq!(done.rows.clone().unwrap().valid, 1000);
    let files = data_files(h.dir.path());
    assert_eq!(
        files.len(),
        1,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(
        files[0].1 == exact,
        "the data file is the file as it arrived"
    );

    let rows = h.rows().await;
    assert_eq!(rows.len(), 1000);
    let two = rows.iter().find(|r| r["order_id"] == 2).unwrap();
    assert_eq!(two["customer_email"], "c2@example.com");
    assert_eq!(two["note"], "note 2");
    assert_eq!(two["quantity"], 3);
    assert_eq!(two["ordered_at"], "2026-03-01T10:00:00Z");
    let again = h.ingest_bytes("exact.parquet", exact.clone()).await;
    assert!(
        matches!(again.outcome, Outcome::Duplicate { .. }),
        "{again:?}"
    );

    // One row the contract refuses: the file is rewritten without it.
    let one_bad = exact_orders_parquet(
        2001,
        100,
        |i| if i == 2050 { "lost" } else { "paid" },
        false,
    );
    let done = h.ingest_bytes("one-bad.parquet", one_bad.clone()).await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    let counts = done.rows.clone().unwrap();
    assert_eq!((counts.valid, counts.rejected), (99, 1));
    let files = data_files(h.dir.path());
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|(_, bytes)| *bytes != one_bad));
    // Other columns (quantity as int32, no note or shipping): rewritten, as before.
    let other = orders_parquet(3001, 10, quantities(10), None);
    let done = h.ingest_bytes("other.parquet", other.clone()).await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    assert!(data_files(h.dir.path())
        .iter()
        .all(|(_, bytes)| *bytes != other));
    assert_eq!(h.rows().await.len(), 1108);

    // Compaction reads the added file by name and keeps every value.
    let table = &h.ctx.config.tables[0];
    let options = sluice_lake::CompactOptions {
        min_input_files: 2,
        ..Default::default()
    };
    let report = h.ctx.lake.compact(table, &options, &|_| {}).await.unwrap();
    assert_eq!(report.groups.len(), 1, "{report:?}");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1108);
    let two = rows.iter().find(|r| r["order_id"] == 2).unwrap();
    assert_eq!(two["note"], "note 2");

    // Another file added as it is after the compaction, its columns all declared optional (as
    // pyarrow declares them), then read by pyiceberg with the rest.
    let later = exact_orders_parquet(5001, 50, |_| "shipped", true);
    let done = h.ingest_bytes("later.parquet", later.clone()).await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    assert!(data_files(h.dir.path())
        .iter()
        .any(|(_, bytes)| *bytes == later));
    let read = crate::interop::pyiceberg(
        r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
rows = catalog.load_table("shop.orders").scan().to_arrow().to_pylist()
by_id = {r["order_id"]: r for r in rows}
print(json.dumps({"rows": len(rows), "email": by_id[5002]["customer_email"], "note": by_id[5002]["note"], "status": by_id[5002]["status"]}))
"#,
        h.dir.path(),
    );
    assert_eq!(
        read,
        serde_json::json!({"rows": 1158, "email": "c5002@example.com", "note": "note 5002", "status": "shipped"})
    );

    // The table gains a column: a file without it no longer matches, and is rewritten; the
    // file added before still reads, the new column null.
    let coupon = sluice_tests::ndjson([{
        let mut o = sluice_tests::order(9001);
        o["coupon"] = serde_json::json!("SPRING");
        o
    }]);
    let done = h.ingest_bytes("coupon.ndjson", coupon).await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    let after = exact_orders_parquet(6001, 20, |_| "paid", true);
    let done = h.ingest_bytes("after.parquet", after.clone()).await;
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    assert!(data_files(h.dir.path())
        .iter()
        .all(|(_, bytes)| *bytes != after));
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1179);
    let later = rows.iter().find(|r| r["order_id"] == 5002).unwrap();
    assert_eq!(later["status"], "shipped");
    assert!(later["coupon"].is_null());
}
