//! sluice's [`TableSchema`] ↔ Iceberg [`Schema`], and partition specs from `sluice.toml`.
//!
//! New tables get fresh field ids in declaration order. Timestamps are `timestamptz`
//! (microseconds, UTC) because contract timestamps carry an offset; every column sluice
//! creates or adds is optional unless the contract requires it at creation time, so old rows
//! read as null after an evolution.

use std::sync::Arc;

use iceberg::spec::{
    ListType, NestedField, NestedFieldRef, PrimitiveType, Schema, StructType, Transform, Type,
    UnboundPartitionSpec,
};
use sluice_core::config::{PartitionConfig, PartitionTransform};
use sluice_core::schema::{Field, FieldType, TableSchema};

use crate::error::{LakeError, Result};

/// Builds an Iceberg schema for a new table.
pub fn to_iceberg_schema(schema: &TableSchema) -> Result<Schema> {
    let mut next_id = 0;
    let fields: Vec<NestedFieldRef> = schema
        .fields
        .iter()
        .map(|f| to_nested_field(f, &mut next_id))
        .collect();
    Schema::builder()
        .with_fields(fields)
        .build()
        .map_err(|e| LakeError::iceberg("building the table schema", e))
}

fn to_nested_field(field: &Field, next_id: &mut i32) -> NestedFieldRef {
    *next_id += 1;
    let id = *next_id;
    let ty = to_iceberg_type(&field.ty, next_id);
    Arc::new(NestedField::new(id, &field.name, ty, field.required))
}

/// Maps a column type, assigning ids to nested fields from `next_id`.
pub fn to_iceberg_type(ty: &FieldType, next_id: &mut i32) -> Type {
    match ty {
        FieldType::Boolean => Type::Primitive(PrimitiveType::Boolean),
        FieldType::Long => Type::Primitive(PrimitiveType::Long),
        FieldType::Double => Type::Primitive(PrimitiveType::Double),
        FieldType::String => Type::Primitive(PrimitiveType::String),
        FieldType::Timestamp => Type::Primitive(PrimitiveType::Timestamptz),
        FieldType::Date => Type::Primitive(PrimitiveType::Date),
        FieldType::Struct(fields) => Type::Struct(StructType::new(
            fields.iter().map(|f| to_nested_field(f, next_id)).collect(),
        )),
        FieldType::List(item) => {
            *next_id += 1;
            let element_id = *next_id;
            let element = to_iceberg_type(item, next_id);
            Type::List(ListType::new(Arc::new(NestedField::list_element(
                element_id, element, false,
            ))))
        }
    }
}

/// Reads an Iceberg schema back as sluice's model (for drift comparison and display).
pub fn from_iceberg_schema(schema: &Schema) -> Result<TableSchema> {
    let fields = schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| from_nested_field(f))
        .collect::<Result<Vec<_>>>()?;
    Ok(TableSchema { fields })
}

fn from_nested_field(field: &NestedField) -> Result<Field> {
    Ok(Field {
        name: field.name.clone(),
        ty: from_iceberg_type(&field.field_type)?,
        required: field.required,
    })
}

fn from_iceberg_type(ty: &Type) -> Result<FieldType> {
    Ok(match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => FieldType::Boolean,
            PrimitiveType::Int | PrimitiveType::Long => FieldType::Long,
            PrimitiveType::Float | PrimitiveType::Double => FieldType::Double,
            PrimitiveType::String | PrimitiveType::Uuid => FieldType::String,
            PrimitiveType::Timestamp
            | PrimitiveType::Timestamptz
            | PrimitiveType::TimestampNs
            | PrimitiveType::TimestamptzNs => FieldType::Timestamp,
            PrimitiveType::Date => FieldType::Date,
            other => {
                return Err(LakeError::internal(format!(
                "column type {other} is not one sluice writes; point sluice at a table it created"
            )))
            }
        },
        Type::Struct(s) => FieldType::Struct(
            s.fields()
                .iter()
                .map(|f| from_nested_field(f))
                .collect::<Result<Vec<_>>>()?,
        ),
        Type::List(l) => FieldType::List(Box::new(from_iceberg_type(&l.element_field.field_type)?)),
        Type::Map(_) => return Err(LakeError::internal("map columns are not supported")),
    })
}

/// The partition spec for a new table, if the config asks for one.
pub fn partition_spec(
    schema: &Schema,
    partition: Option<&PartitionConfig>,
) -> Result<Option<UnboundPartitionSpec>> {
    let Some(p) = partition else { return Ok(None) };
    let field = schema.field_by_name(&p.field).ok_or_else(|| {
        LakeError::internal(format!(
            "partition field {:?} is not a column of the contract",
            p.field
        ))
    })?;
    let (transform, suffix) = match p.transform {
        PartitionTransform::Identity => (Transform::Identity, ""),
        PartitionTransform::Year => (Transform::Year, "_year"),
        PartitionTransform::Month => (Transform::Month, "_month"),
        PartitionTransform::Day => (Transform::Day, "_day"),
        PartitionTransform::Hour => (Transform::Hour, "_hour"),
    };
    let spec = UnboundPartitionSpec::builder()
        .add_partition_field(field.id, format!("{}{suffix}", p.field), transform)
        .map_err(|e| LakeError::iceberg("building the partition spec", e))?
        .build();
    Ok(Some(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_schema() {
        let schema = TableSchema {
            fields: vec![
                Field {
                    name: "id".into(),
                    ty: FieldType::Long,
                    required: true,
                },
                Field {
                    name: "at".into(),
                    ty: FieldType::Timestamp,
                    required: false,
                },
                Field {
                    name: "items".into(),
                    ty: FieldType::List(Box::new(FieldType::Struct(vec![Field {
                        name: "sku".into(),
                        ty: FieldType::String,
                        required: false,
                    }]))),
                    required: false,
                },
            ],
        };
        let ice = to_iceberg_schema(&schema).unwrap();
        assert_eq!(from_iceberg_schema(&ice).unwrap(), schema);
    }
}
