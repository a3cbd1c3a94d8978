//! A Parquet file added to a table as it is: its bytes become the batch's data file, with no
//! decode-and-encode, when its columns are exactly the table's.
//!
//! Every row is still read and judged against the contract first (the caller's pass); only
//! the writing is skipped. "Exactly" means: the same columns in the same order, with the same
//! names and the types Iceberg maps the table's to (a string may be any of Arrow's string
//! types, a timestamp must be microseconds with a zone, as `timestamptz` is); no list column
//! (writers spell a list's element differently); and the table unpartitioned (a file is one
//! data file, so its rows cannot be split by partition). A file that carries Iceberg field ids
//! must carry the table's. Anything else is rewritten through the ordinary path.
//!
//! A file written elsewhere has no field ids, so readers find its columns by name: the table
//! property `schema.name-mapping.default` (as Iceberg's `add_files` sets it), kept covering
//! every column of the current schema ([`Lake::ensure_name_mapping`]) before such a file is
//! committed. pyiceberg, Spark, Trino and iceberg-rust read it; sluice's compaction passes it
//! to the reader.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_schema::{DataType, Field as ArrowField, Fields, Schema as ArrowSchema};
use bytes::Bytes;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{
    DataFileFormat, MappedField, NameMapping, NestedFieldRef, Schema, Type,
    DEFAULT_SCHEMA_NAME_MAPPING,
};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator, FileNameGenerator, LocationGenerator,
};
use iceberg::writer::file_writer::ParquetWriter;
use parquet::file::metadata::ParquetMetaDataReader;
use sluice_core::config::TableConfig;
use sluice_core::BatchId;

use crate::commit::StagedBatch;
use crate::error::{LakeError, LakeErrorKind, Result};
use crate::Lake;

/// The key under which Arrow keeps a Parquet column's field id.
const FIELD_ID_KEY: &str = "PARQUET:field_id";

/// Why a Parquet file with columns `file` cannot be added to `table` as it is; `None` when it
/// can.
pub fn why_not(table: &Table, file: &ArrowSchema) -> Option<String> {
    let metadata = table.metadata();
    if !metadata.default_partition_spec().is_unpartitioned() {
        return Some("the table is partitioned".into());
    }
    let wanted = match schema_to_arrow_schema(metadata.current_schema()) {
        Ok(wanted) => wanted,
        Err(e) => return Some(format!("the table's columns have no Arrow form: {e}")),
    };
    fields_differ(wanted.fields(), file.fields(), "")
}

fn fields_differ(table: &Fields, file: &Fields, at: &str) -> Option<String> {
    if table.len() != file.len() {
        return Some(format!(
            "{} has {} columns, the table {}",
            if at.is_empty() { "the file" } else { at },
            file.len(),
            table.len()
        ));
    }
    for (t, f) in table.iter().zip(file.iter()) {
        let path = if at.is_empty() {
            f.name().clone()
        } else {
            format!("{at}.{}", f.name())
        };
        if t.name() != f.name() {
            return Some(format!(
                "column `{path}` where the table has `{}`",
                t.name()
            ));
        }
        if let Some(id) = f.metadata().get(FIELD_ID_KEY) {
            if t.metadata().get(FIELD_ID_KEY) != Some(id) {
                return Some(format!("column `{path}` carries another field id ({id})"));
            }
        }
        if let Some(why) = type_differs(t, f, &path) {
            return Some(why);
        }
    }
    None
}

fn type_differs(table: &ArrowField, file: &ArrowField, path: &str) -> Option<String> {
    use DataType as D;
    let same = match (table.data_type(), file.data_type()) {
        (D::Struct(_) | D::List(_) | D::LargeList(_), _) => {
            return Some(format!(
                "the table's column `{path}` is nested, and a file without field ids is read by \
                 name at the top level only"
            ))
        }
        (D::Utf8, D::Utf8 | D::LargeUtf8 | D::Utf8View) => true,
        (
            D::Timestamp(arrow_schema::TimeUnit::Microsecond, Some(_)),
            D::Timestamp(arrow_schema::TimeUnit::Microsecond, Some(_)),
        ) => true,
        (t, f) => t == f,
    };
    (!same).then(|| {
        format!(
            "column `{path}` is {} where the table has {}",
            file.data_type(),
            table.data_type()
        )
    })
}

/// Stages the Parquet file at `file` (a local copy of the object) as `batch_id`'s one data
/// file of `table`: copied to the name the batch's writer would have given its first file
/// (so a re-run writes the same name), and described with the statistics of its footer.
/// The caller has checked it with [`why_not`] and judged every row.
pub async fn stage(table: &Table, batch_id: &BatchId, file: &Path) -> Result<StagedBatch> {
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    let spec = metadata.default_partition_spec().clone();
    let location = DefaultLocationGenerator::new(metadata)
        .map_err(|e| LakeError::iceberg("choosing the data location", e))?;
    let name = DefaultFileNameGenerator::new(batch_id.to_string(), None, DataFileFormat::Parquet)
        .generate_file_name();
    let path = location.generate_location(None, &name);

    let local = |e: std::io::Error| {
        LakeError::new(
            LakeErrorKind::Transient,
            format!("reading the copy of a Parquet file to add: {e}"),
        )
    };
    let footer = {
        let reader = std::fs::File::open(file).map_err(local)?;
        ParquetMetaDataReader::new()
            .parse_and_finish(&reader)
            .map_err(|e| LakeError::internal(format!("reading a Parquet footer again: {e}")))?
    };
    let size = std::fs::metadata(file).map_err(local)?.len();
    let output = table
        .file_io()
        .new_output(&path)
        .map_err(|e| LakeError::iceberg(format!("opening {path}"), e))?;
    let mut writer = output
        .writer()
        .await
        .map_err(|e| LakeError::iceberg(format!("opening {path}"), e))?;
    let mut source = tokio::fs::File::open(file).await.map_err(local)?;
    let mut buf = vec![0u8; COPY_CHUNK];
    loop {
        let n = tokio::io::AsyncReadExt::read(&mut source, &mut buf)
            .await
            .map_err(local)?;
        if n == 0 {
            break;
        }
        writer
            .write(Bytes::copy_from_slice(&buf[..n]))
            .await
            .map_err(|e| LakeError::iceberg(format!("writing {path}"), e))?;
    }
    writer
        .close()
        .await
        .map_err(|e| LakeError::iceberg(format!("closing {path}"), e))?;

    let rows = footer.file_metadata().num_rows().max(0) as u64;
    let mut builder = ParquetWriter::parquet_to_data_file_builder(
        schema.clone(),
        Arc::new(footer),
        size as usize,
        path.clone(),
        HashMap::new(),
    )
    .map_err(|e| LakeError::iceberg(format!("describing {path}"), e))?;
    builder.partition_spec_id(spec.spec_id());
    let data_file = builder
        .build()
        .map_err(|e| LakeError::internal(format!("describing {path}: {e}")))?;
    StagedBatch::from_data_files(batch_id.clone(), &schema, &spec, vec![data_file], rows)
}

/// Bytes copied at a time.
const COPY_CHUNK: usize = 8 << 20;

/// The name mapping of `schema`: every field by its name, with its id.
pub fn name_mapping(schema: &Schema) -> NameMapping {
    fn mapped(field: &NestedFieldRef) -> MappedField {
        MappedField::new(
            Some(field.id),
            vec![field.name.clone()],
            children(&field.field_type),
        )
    }
    fn children(ty: &Type) -> Vec<MappedField> {
        match ty {
            Type::Struct(s) => s.fields().iter().map(mapped).collect(),
            Type::List(l) => vec![mapped(&l.element_field)],
            Type::Map(m) => vec![mapped(&m.key_field), mapped(&m.value_field)],
            Type::Primitive(_) => vec![],
        }
    }
    NameMapping::new(schema.as_struct().fields().iter().map(mapped).collect())
}

/// Commits attempts at setting the name mapping before giving up on a busy table.
const MAPPING_ATTEMPTS: usize = 4;

impl Lake {
    /// The table, with its `schema.name-mapping.default` property covering every column of
    /// its current schema (set, or replaced when the schema gained columns since), so that a
    /// data file without field ids can be read by name.
    pub async fn ensure_name_mapping(&self, cfg: &TableConfig) -> Result<Table> {
        for _ in 0..MAPPING_ATTEMPTS {
            let table = self
                .load(cfg)
                .await?
                .ok_or_else(|| LakeError::internal(format!("table {} vanished", cfg.name)))?;
            let wanted = name_mapping(table.metadata().current_schema());
            let current = table
                .metadata()
                .properties()
                .get(DEFAULT_SCHEMA_NAME_MAPPING)
                .and_then(|raw| serde_json::from_str::<NameMapping>(raw).ok());
            if current.as_ref() == Some(&wanted) {
                return Ok(table);
            }
            let text = serde_json::to_string(&wanted)
                .map_err(|e| LakeError::internal(format!("a name mapping: {e}")))?;
            let tx = Transaction::new(&table);
            let tx = tx
                .update_table_properties()
                .set(DEFAULT_SCHEMA_NAME_MAPPING.to_string(), text)
                .apply(tx)
                .map_err(|e| LakeError::iceberg("preparing the name mapping", e))?;
            match tx.commit(self.catalog().as_ref()).await {
                Ok(table) => {
                    tracing::info!(table = %cfg.name, "name mapping set, for Parquet files added as they are");
                    return Ok(table);
                }
                Err(e) => {
                    let e =
                        LakeError::iceberg(format!("setting table {}'s name mapping", cfg.name), e);
                    if e.kind != LakeErrorKind::CommitConflict {
                        return Err(e);
                    }
                }
            }
        }
        Err(LakeError::new(
            LakeErrorKind::CommitConflict,
            format!(
                "table {} kept changing under {MAPPING_ATTEMPTS} attempts to set its name mapping",
                cfg.name
            ),
        ))
    }
}

/// The name mapping `table` has, for reading files without field ids.
pub fn mapping_of(table: &Table) -> Option<Arc<NameMapping>> {
    table
        .metadata()
        .properties()
        .get(DEFAULT_SCHEMA_NAME_MAPPING)
        .and_then(|raw| serde_json::from_str::<NameMapping>(raw).ok())
        .map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::TimeUnit;

    fn with_id(field: ArrowField, id: i32) -> ArrowField {
        field.with_metadata(HashMap::from([(FIELD_ID_KEY.to_string(), id.to_string())]))
    }

    fn table() -> Fields {
        vec![
            with_id(ArrowField::new("id", DataType::Int64, false), 1),
            with_id(
                ArrowField::new(
                    "at",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
                    true,
                ),
                2,
            ),
            with_id(ArrowField::new("name", DataType::Utf8, true), 3),
        ]
        .into()
    }

    fn file(fields: Vec<ArrowField>) -> Fields {
        fields.into()
    }

    #[test]
    fn only_the_same_columns_in_the_same_order_with_the_same_types_match() {
        let ts = |tz: &str| DataType::Timestamp(TimeUnit::Microsecond, Some(tz.into()));
        let exact = file(vec![
            ArrowField::new("id", DataType::Int64, true),
            ArrowField::new("at", ts("UTC"), true),
            ArrowField::new("name", DataType::LargeUtf8, true),
        ]);
        assert_eq!(fields_differ(&table(), &exact, ""), None);
        // The table's own field ids are fine; another table's are not.
        let ids = file(vec![
            with_id(ArrowField::new("id", DataType::Int64, true), 1),
            ArrowField::new("at", ts("UTC"), true),
            ArrowField::new("name", DataType::Utf8View, true),
        ]);
        assert_eq!(fields_differ(&table(), &ids, ""), None);
        let cases = [
            (
                vec![
                    with_id(ArrowField::new("id", DataType::Int64, true), 7),
                    ArrowField::new("at", ts("UTC"), true),
                    ArrowField::new("name", DataType::Utf8, true),
                ],
                "another field id",
            ),
            (
                vec![
                    ArrowField::new("id", DataType::Int32, true),
                    ArrowField::new("at", ts("UTC"), true),
                    ArrowField::new("name", DataType::Utf8, true),
                ],
                "`id` is Int32",
            ),
            (
                vec![
                    ArrowField::new("id", DataType::Int64, true),
                    ArrowField::new("at", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
                    ArrowField::new("name", DataType::Utf8, true),
                ],
                "`at` is Timestamp(ns)",
            ),
            (
                vec![
                    ArrowField::new("id", DataType::Int64, true),
                    ArrowField::new("name", DataType::Utf8, true),
                    ArrowField::new("at", ts("UTC"), true),
                ],
                "column `name` where the table has `at`",
            ),
            (
                vec![ArrowField::new("id", DataType::Int64, true)],
                "the file has 1 columns, the table 3",
            ),
        ];
        for (fields, why) in cases {
            let got = fields_differ(&table(), &file(fields), "").expect(why);
            assert!(got.contains(why), "{got} (wanted {why})");
        }
        // A nested column is never matched: its members would be read by id.
        let nested: Fields = vec![ArrowField::new(
            "s",
            DataType::Struct(vec![ArrowField::new("x", DataType::Int64, true)].into()),
            true,
        )]
        .into();
        let got = fields_differ(&nested, &nested, "").unwrap();
        assert!(got.contains("`s` is nested"), "{got}");
    }
}
