//! [`PartitionSplitter`]: a record batch's rows grouped by the partition they belong to.
//!
//! iceberg-rust's `RecordBatchPartitionSplitter` turns every row's partition value into an
//! Iceberg `Struct` literal (allocated, then hashed) and then filters the whole batch once per
//! partition it found: its cost grows with rows × partitions, and a file spread over 120 days
//! filtered each 8,192-row batch 120 times. This one computes the partition values the same
//! way (iceberg's `PartitionValueCalculator`: the transforms over Arrow arrays), groups rows
//! by the values' row encoding (`arrow_row`), makes a literal once per partition, and takes
//! each partition's rows by index once: its cost is the batch's, whatever the partitions.

use std::collections::HashMap;

use arrow_array::{Array, ArrayRef, RecordBatch, StructArray, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_select::take::take_record_batch;
use iceberg::arrow::{arrow_struct_to_literal, PartitionValueCalculator};
use iceberg::spec::{Literal, PartitionKey, PartitionSpecRef, SchemaRef, Struct, StructType};

use crate::error::{LakeError, Result};

/// Splits record batches by a table's partition spec.
pub(crate) struct PartitionSplitter {
    schema: SchemaRef,
    spec: PartitionSpecRef,
    calculator: PartitionValueCalculator,
    partition_type: StructType,
    /// Encodes a batch's partition values as comparable rows; made once per table, not once
    /// per batch.
    rows: RowConverter,
}

impl PartitionSplitter {
    pub(crate) fn new(schema: SchemaRef, spec: PartitionSpecRef) -> Result<Self> {
        let preparing = |e| LakeError::iceberg("preparing the partition splitter", e);
        let calculator = PartitionValueCalculator::try_new(&spec, &schema).map_err(preparing)?;
        let partition_type = spec.partition_type(&schema).map_err(preparing)?;
        let fields = iceberg::arrow::type_to_arrow_type(&iceberg::spec::Type::Struct(
            partition_type.clone(),
        ))
        .map_err(preparing)?;
        let arrow_schema::DataType::Struct(fields) = fields else {
            return Err(LakeError::internal(
                "partition values that are not a struct",
            ));
        };
        let rows = RowConverter::new(
            fields
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )
        .map_err(|e| LakeError::internal(format!("partition values' rows: {e}")))?;
        Ok(PartitionSplitter {
            schema,
            spec,
            calculator,
            partition_type,
            rows,
        })
    }

    /// The batch's rows by partition, each partition's rows in the batch's order, partitions
    /// in the order of their first row.
    pub(crate) fn split(&self, batch: &RecordBatch) -> Result<Vec<(PartitionKey, RecordBatch)>> {
        let splitting = |e| LakeError::iceberg("splitting rows by partition", e);
        let values = self.calculator.calculate(batch).map_err(splitting)?;
        let Some(structs) = values.as_any().downcast_ref::<StructArray>() else {
            return Err(LakeError::internal(
                "partition values that are not a struct",
            ));
        };
        let rows = self
            .rows
            .convert_columns(structs.columns())
            .map_err(|e| LakeError::internal(format!("partition values' rows: {e}")))?;
        let mut group_of = HashMap::new();
        let mut groups: Vec<(usize, Vec<u32>)> = vec![];
        for i in 0..rows.num_rows() {
            let group = *group_of.entry(rows.row(i)).or_insert_with(|| {
                groups.push((i, vec![]));
                groups.len() - 1
            });
            // A batch has fewer than 2^32 rows: the decoder makes them 8,192 at a time.
            groups[group].1.push(i as u32);
        }
        let mut parts = Vec::with_capacity(groups.len());
        for (first, indices) in groups {
            let key = PartitionKey::new(
                self.spec.as_ref().clone(),
                self.schema.clone(),
                self.literal(&values, first)?,
            );
            let part = if indices.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(indices))
                    .map_err(|e| LakeError::internal(format!("taking a partition's rows: {e}")))?
            };
            parts.push((key, part));
        }
        Ok(parts)
    }

    /// The partition value of row `row`, as an Iceberg struct.
    fn literal(&self, values: &ArrayRef, row: usize) -> Result<Struct> {
        let one = values.slice(row, 1);
        match arrow_struct_to_literal(&one, &self.partition_type)
            .map_err(|e| LakeError::iceberg("splitting rows by partition", e))?
            .pop()
        {
            Some(Some(Literal::Struct(value))) => Ok(value),
            _ => Err(LakeError::internal(
                "a partition value that is not a struct literal or is null",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use iceberg::arrow::{schema_to_arrow_schema, RecordBatchPartitionSplitter};
    use iceberg::spec::{
        NestedField, PartitionSpec, PrimitiveType, Schema, Transform, Type, UnboundPartitionField,
    };
    use proptest::prelude::*;

    use super::*;

    fn table() -> (SchemaRef, PartitionSpecRef) {
        let schema = Arc::new(
            Schema::builder()
                .with_fields(vec![
                    NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
                    NestedField::optional(2, "region", Type::Primitive(PrimitiveType::String))
                        .into(),
                    NestedField::optional(3, "at", Type::Primitive(PrimitiveType::Timestamptz))
                        .into(),
                ])
                .build()
                .unwrap(),
        );
        let field = |source_id, name: &str, transform| UnboundPartitionField {
            source_id,
            field_id: None,
            name: name.into(),
            transform,
        };
        let spec = PartitionSpec::builder(schema.clone())
            .with_spec_id(1)
            .add_unbound_field(field(3, "at_day", Transform::Day))
            .unwrap()
            .add_unbound_field(field(2, "region", Transform::Identity))
            .unwrap()
            .build()
            .unwrap();
        (schema, Arc::new(spec))
    }

    /// Each partition's path and its rows' ids, partitions in path order.
    fn by_path(parts: Vec<(PartitionKey, RecordBatch)>) -> Vec<(String, Vec<i64>)> {
        let mut out: Vec<(String, Vec<i64>)> = parts
            .into_iter()
            .map(|(key, batch)| {
                let ids = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec();
                (key.to_path(), ids)
            })
            .collect();
        out.sort();
        out
    }

    proptest! {
        /// The same partitions, with the same rows in the same order, as iceberg-rust's
        /// splitter: nulls in either source column, one partition or many.
        #[test]
        fn splits_as_iceberg_does(
            rows in prop::collection::vec(
                (prop::option::of(0i64..200 * 86_400_000_000), prop::option::of(0u8..4)),
                1..400,
            )
        ) {
            let (schema, spec) = table();
            let arrow = Arc::new(schema_to_arrow_schema(&schema).unwrap());
            let ids: Vec<i64> = (0..rows.len() as i64).collect();
            let regions: Vec<Option<String>> =
                rows.iter().map(|(_, r)| r.map(|r| format!("r{r}"))).collect();
            let at: Vec<Option<i64>> = rows.iter().map(|(t, _)| *t).collect();
            let batch = RecordBatch::try_new(arrow, vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(regions)),
                Arc::new(TimestampMicrosecondArray::from(at).with_timezone("+00:00")),
            ])
            .unwrap();
            let ours = PartitionSplitter::new(schema.clone(), spec.clone())
                .unwrap()
                .split(&batch)
                .unwrap();
            let theirs = RecordBatchPartitionSplitter::try_new_with_computed_values(schema, spec)
                .unwrap()
                .split(&batch)
                .unwrap();
            prop_assert_eq!(by_path(ours), by_path(theirs));
        }
    }
}
