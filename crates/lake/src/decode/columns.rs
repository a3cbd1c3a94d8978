//! Column buffers the compiled decoder appends to, which (unlike Arrow's builders) can be cut
//! back to where a row began when the row turns out not to be accepted.

use std::sync::Arc;

use arrow_array::timezone::Tz;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{ArrayRef, BooleanArray, ListArray, PrimitiveArray, StringArray, StructArray};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, FieldRef, Fields, TimeUnit};

/// What a column holds, and the buffers that hold it.
pub(crate) enum Data {
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    Float64(Vec<f64>),
    Float32(Vec<f32>),
    Bool(Vec<bool>),
    Utf8 {
        offsets: Vec<i32>,
        bytes: Vec<u8>,
    },
    /// Microseconds since the epoch; strings are read in `tz` as arrow-json reads them.
    TimestampMicros {
        values: Vec<i64>,
        tz: Tz,
    },
    /// Days since the epoch.
    Date32(Vec<i32>),
    Struct {
        fields: Fields,
        /// Shared, so a null struct can walk them while it pushes nulls into the arena.
        children: Arc<[usize]>,
    },
    List {
        item: FieldRef,
        offsets: Vec<i32>,
        child: usize,
    },
}

/// One column (top level or nested), in an arena indexed by position.
pub(crate) struct Column {
    pub data_type: DataType,
    pub nullable: bool,
    pub valid: Vec<bool>,
    pub data: Data,
}

/// Where a row began, per column: the number of entries and (strings) of bytes.
#[derive(Clone, Copy, Default)]
pub(crate) struct Mark {
    len: usize,
    bytes: usize,
}

impl Column {
    /// A column for `data_type`, adding nested columns to `arena`; `None` when the compiled
    /// decoder does not build this type (the contract then uses the value-based path).
    pub fn build(
        data_type: &DataType,
        nullable: bool,
        arena: &mut Vec<Column>,
    ) -> Result<usize, String> {
        let data = match data_type {
            DataType::Int64 => Data::Int64(vec![]),
            DataType::Int32 => Data::Int32(vec![]),
            DataType::Float64 => Data::Float64(vec![]),
            DataType::Float32 => Data::Float32(vec![]),
            DataType::Boolean => Data::Bool(vec![]),
            DataType::Utf8 => Data::Utf8 {
                offsets: vec![0],
                bytes: vec![],
            },
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                let tz: Tz = match tz {
                    Some(tz) => tz.parse().map_err(|e: ArrowError| e.to_string())?,
                    None => "+00:00".parse().map_err(|e: ArrowError| e.to_string())?,
                };
                Data::TimestampMicros { values: vec![], tz }
            }
            DataType::Date32 => Data::Date32(vec![]),
            DataType::Struct(fields) => {
                let mut children = Vec::with_capacity(fields.len());
                for f in fields {
                    children.push(Column::build(f.data_type(), f.is_nullable(), arena)?);
                }
                Data::Struct {
                    fields: fields.clone(),
                    children: children.into(),
                }
            }
            DataType::List(item) => {
                let child = Column::build(item.data_type(), item.is_nullable(), arena)?;
                Data::List {
                    item: item.clone(),
                    offsets: vec![0],
                    child,
                }
            }
            other => return Err(format!("columns of type {other}")),
        };
        arena.push(Column {
            data_type: data_type.clone(),
            nullable,
            valid: vec![],
            data,
        });
        Ok(arena.len() - 1)
    }

    pub fn mark(&self) -> Mark {
        Mark {
            len: self.valid.len(),
            bytes: match &self.data {
                Data::Utf8 { bytes, .. } => bytes.len(),
                _ => 0,
            },
        }
    }

    /// Cuts the column back to `mark`.
    pub fn rewind(&mut self, mark: Mark) {
        let len = mark.len;
        self.valid.truncate(len);
        match &mut self.data {
            Data::Int64(v) | Data::TimestampMicros { values: v, .. } => v.truncate(len),
            Data::Int32(v) | Data::Date32(v) => v.truncate(len),
            Data::Float64(v) => v.truncate(len),
            Data::Float32(v) => v.truncate(len),
            Data::Bool(v) => v.truncate(len),
            Data::Utf8 { offsets, bytes } => {
                offsets.truncate(len + 1);
                bytes.truncate(mark.bytes);
            }
            Data::Struct { .. } => {}
            Data::List { offsets, .. } => offsets.truncate(len + 1),
        }
    }

    /// Entries so far.
    pub fn len(&self) -> usize {
        self.valid.len()
    }
}

/// Appends a null to column `at`. `masked`: the parent is null too, so a column that may not
/// hold nulls takes one all the same (Arrow allows a null under a null parent). A null where
/// the column may not hold one is refused (`false`).
#[must_use]
pub(crate) fn push_null(arena: &mut [Column], at: usize, masked: bool) -> bool {
    let column = &mut arena[at];
    if !column.nullable && !masked {
        return false;
    }
    column.valid.push(false);
    let children: Option<Arc<[usize]>> = match &mut column.data {
        Data::Int64(v) | Data::TimestampMicros { values: v, .. } => {
            v.push(0);
            None
        }
        Data::Int32(v) | Data::Date32(v) => {
            v.push(0);
            None
        }
        Data::Float64(v) => {
            v.push(0.0);
            None
        }
        Data::Float32(v) => {
            v.push(0.0);
            None
        }
        Data::Bool(v) => {
            v.push(false);
            None
        }
        Data::Utf8 { offsets, .. } | Data::List { offsets, .. } => {
            let last = *offsets.last().unwrap_or(&0);
            offsets.push(last);
            None
        }
        Data::Struct { children, .. } => Some(children.clone()),
    };
    for &child in children.iter().flat_map(|c| c.iter()) {
        // Masked by this null: always accepted.
        let _ = push_null(arena, child, true);
    }
    true
}

/// Takes the column's entries out as an Arrow array, leaving it empty.
pub(crate) fn finish(arena: &mut [Column], at: usize) -> Result<ArrayRef, ArrowError> {
    let column = &mut arena[at];
    let valid = std::mem::take(&mut column.valid);
    let len = valid.len();
    let nulls = if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    };
    let data_type = column.data_type.clone();
    let array: ArrayRef = match &mut column.data {
        Data::Int64(v) => Arc::new(PrimitiveArray::<Int64Type>::new(take(v), nulls)),
        Data::Int32(v) => Arc::new(PrimitiveArray::<Int32Type>::new(take(v), nulls)),
        Data::Float64(v) => Arc::new(PrimitiveArray::<Float64Type>::new(take(v), nulls)),
        Data::Float32(v) => Arc::new(PrimitiveArray::<Float32Type>::new(take(v), nulls)),
        Data::Date32(v) => Arc::new(PrimitiveArray::<Date32Type>::new(take(v), nulls)),
        Data::TimestampMicros { values, .. } => Arc::new(
            PrimitiveArray::<TimestampMicrosecondType>::new(take(values), nulls)
                .with_data_type(data_type),
        ),
        Data::Bool(v) => {
            let values = BooleanBuffer::from(std::mem::take(v));
            Arc::new(BooleanArray::new(values, nulls))
        }
        Data::Utf8 { offsets, bytes } => {
            let offsets = std::mem::replace(offsets, vec![0]);
            let bytes = std::mem::take(bytes);
            Arc::new(StringArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(bytes),
                nulls,
            )?)
        }
        Data::Struct { fields, children } => {
            let (fields, children) = (fields.clone(), children.clone());
            let mut arrays = Vec::with_capacity(children.len());
            for &child in children.iter() {
                arrays.push(finish(arena, child)?);
            }
            if fields.is_empty() {
                Arc::new(StructArray::new_empty_fields(len, nulls))
            } else {
                Arc::new(StructArray::try_new(fields, arrays, nulls)?)
            }
        }
        Data::List {
            item,
            offsets,
            child,
        } => {
            let (item, child) = (item.clone(), *child);
            let offsets = std::mem::replace(offsets, vec![0]);
            let values = finish(arena, child)?;
            Arc::new(ListArray::try_new(
                item,
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                values,
                nulls,
            )?)
        }
    };
    Ok(array)
}

fn take<T: arrow_buffer::ArrowNativeType>(v: &mut Vec<T>) -> ScalarBuffer<T> {
    let capacity = v.capacity();
    ScalarBuffer::from(std::mem::replace(v, Vec::with_capacity(capacity)))
}
