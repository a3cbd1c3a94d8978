//! The table schema as sluice reasons about it, independent of Iceberg and Arrow.
//!
//! A contract's JSON Schema is turned into a [`TableSchema`] once (`from_json_schema`); the
//! lake crate maps it to Iceberg types, drift detection compares inferred file schemas with it.
//! The mapping is deliberately small and predictable:
//!
//! | JSON Schema | column |
//! | --- | --- |
//! | `boolean` | boolean |
//! | `integer` | long (64-bit) |
//! | `number` | double |
//! | `string` (`format: date-time`) | timestamptz (µs) |
//! | `string` (`format: date`) | date |
//! | `string` | string |
//! | `object` with `properties` | struct |
//! | `array` with `items` | list |
//!
//! `["T", "null"]` makes a column optional; so does leaving it out of `required`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A column's type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Boolean,
    Long,
    Double,
    String,
    /// Iceberg `timestamptz`: microseconds, UTC (contract timestamps carry an offset).
    #[serde(rename = "timestamptz", alias = "timestamp")]
    Timestamp,
    Date,
    Struct(Vec<Field>),
    List(Box<FieldType>),
}

impl FieldType {
    /// The type as Iceberg spells it, for messages and `table show` (`long`, `timestamptz`,
    /// `struct<…>`).
    pub fn name(&self) -> String {
        match self {
            Self::Boolean => "boolean".into(),
            Self::Long => "long".into(),
            Self::Double => "double".into(),
            Self::String => "string".into(),
            Self::Timestamp => "timestamptz".into(),
            Self::Date => "date".into(),
            Self::Struct(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.name, f.ty.name()))
                    .collect();
                format!("struct<{}>", inner.join(", "))
            }
            Self::List(item) => format!("list<{}>", item.name()),
        }
    }
}

/// One named column or struct member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub required: bool,
}

/// The lineage columns a table with `lineage = true` has, after the contract's, each written
/// by sluice for every row (a row's own fields of these names are ignored): the object's
/// key, its version (the S3 version id, or the etag where the bucket keeps no versions), the
/// batch that committed it, when it was validated, and the line (of the decompressed
/// object) the row starts on.
pub const LINEAGE_COLUMNS: [(&str, FieldType); 5] = [
    ("_source_key", FieldType::String),
    ("_source_version", FieldType::String),
    ("_batch_id", FieldType::String),
    ("_ingested_at", FieldType::Timestamp),
    ("_source_line", FieldType::Long),
];

/// The column a table with `incompatible = "rescue"` has: per row, a JSON object of the
/// values that did not fit their columns, by field (`{"shipping.city": 42}`); null in a row
/// that needed none.
pub const RESCUED_COLUMN: &str = "_rescued";

/// The [`RESCUED_COLUMN`] as an optional field.
pub fn rescued_field() -> Field {
    Field {
        name: RESCUED_COLUMN.to_string(),
        ty: FieldType::String,
        required: false,
    }
}

/// Whether `name` is one of the [`LINEAGE_COLUMNS`].
pub fn is_lineage_column(name: &str) -> bool {
    LINEAGE_COLUMNS.iter().any(|(n, _)| *n == name)
}

/// The [`LINEAGE_COLUMNS`] as optional fields (a table that gains them later has rows
/// without).
pub fn lineage_fields() -> Vec<Field> {
    LINEAGE_COLUMNS
        .iter()
        .map(|(name, ty)| Field {
            name: (*name).to_string(),
            ty: ty.clone(),
            required: false,
        })
        .collect()
}

/// The columns of a table, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TableSchema {
    pub fields: Vec<Field>,
}

impl TableSchema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Why a JSON Schema cannot become a table schema. `pointer` is the JSON pointer inside the
/// schema document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("contract schema at {pointer}: {message}")]
pub struct SchemaMappingError {
    pub pointer: String,
    pub message: String,
}

/// Maps a contract's root JSON Schema (an object schema) to a table schema.
pub fn from_json_schema(root: &Value) -> Result<TableSchema, SchemaMappingError> {
    match object_fields(root, "")? {
        Some(fields) => Ok(TableSchema { fields }),
        None => Err(SchemaMappingError {
            pointer: "/".into(),
            message: "the root must be an object schema with `properties`".into(),
        }),
    }
}

fn object_fields(schema: &Value, pointer: &str) -> Result<Option<Vec<Field>>, SchemaMappingError> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(None);
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = Vec::with_capacity(props.len());
    for (name, sub) in props {
        let sub_pointer = format!("{pointer}/properties/{}", escape_pointer(name));
        let (ty, nullable) = field_type(sub, &sub_pointer)?;
        fields.push(Field {
            name: name.clone(),
            ty,
            required: required.contains(&name.as_str()) && !nullable,
        });
    }
    Ok(Some(fields))
}

/// Returns the column type and whether `null` is allowed by the `type` keyword.
fn field_type(schema: &Value, pointer: &str) -> Result<(FieldType, bool), SchemaMappingError> {
    let err = |message: String| SchemaMappingError {
        pointer: pointer.to_string(),
        message,
    };
    let (name, nullable) = match schema.get("type") {
        Some(Value::String(t)) => (t.as_str(), false),
        Some(Value::Array(types)) => {
            let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            let non_null: Vec<&str> = names.iter().copied().filter(|t| *t != "null").collect();
            match non_null.as_slice() {
                [one] => (*one, names.contains(&"null")),
                // integer + number is a number column.
                [a, b] if [*a, *b].contains(&"integer") && [*a, *b].contains(&"number") => {
                    ("number", names.contains(&"null"))
                }
                _ => {
                    return Err(err(format!(
                        "type {names:?} does not map to one column type"
                    )))
                }
            }
        }
        Some(_) => return Err(err("`type` must be a string or an array of strings".into())),
        None if schema.get("enum").is_some() || schema.get("const").is_some() => ("string", false),
        None => return Err(err("every property needs a `type`".into())),
    };
    let ty = match name {
        "boolean" => FieldType::Boolean,
        "integer" => FieldType::Long,
        "number" => FieldType::Double,
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => FieldType::Timestamp,
            Some("date") => FieldType::Date,
            _ => FieldType::String,
        },
        "object" => match object_fields(schema, pointer)? {
            Some(fields) => FieldType::Struct(fields),
            None => return Err(err("an object needs `properties` to become a struct".into())),
        },
        "array" => {
            let items = schema
                .get("items")
                .ok_or_else(|| err("an array needs `items` to become a list".into()))?;
            let (item, _) = field_type(items, &format!("{pointer}/items"))?;
            FieldType::List(Box::new(item))
        }
        other => return Err(err(format!("type {other:?} is not supported"))),
    };
    Ok((ty, nullable))
}

/// Escapes a property name for use in a JSON pointer (RFC 6901).
pub fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The type a name of [`FieldType::name`] spells (`long`, `list<struct<sku: string>>`), or
/// `None` for a name it cannot have made: a cut one (`…`), `mixed (…)`, or a struct whose
/// member names hold `<`, `>`, `,` or `: ` (those cannot be told from the type's own marks).
pub fn parse_type_name(name: &str) -> Option<FieldType> {
    let name = name.trim();
    match name {
        "boolean" => return Some(FieldType::Boolean),
        "long" => return Some(FieldType::Long),
        "double" => return Some(FieldType::Double),
        "string" => return Some(FieldType::String),
        "timestamptz" => return Some(FieldType::Timestamp),
        "date" => return Some(FieldType::Date),
        _ => {}
    }
    if let Some(inner) = name.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
        return parse_type_name(inner).map(|t| FieldType::List(Box::new(t)));
    }
    let inner = name.strip_prefix("struct<")?.strip_suffix('>')?;
    let mut fields = vec![];
    if inner.is_empty() {
        return Some(FieldType::Struct(fields));
    }
    for member in split_top_level(inner)? {
        let (field, ty) = member.split_once(": ")?;
        if field.is_empty() || field.contains(['<', '>', ',']) {
            return None;
        }
        fields.push(Field {
            name: field.to_string(),
            ty: parse_type_name(ty)?,
            required: false,
        });
    }
    Some(FieldType::Struct(fields))
}

/// `text` split at the `, ` that are not inside `<…>`; `None` when the marks do not pair.
fn split_top_level(text: &str) -> Option<Vec<&str>> {
    let (mut depth, mut start, mut out) = (0usize, 0usize, vec![]);
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
                if bytes.get(i + 1) == Some(&b' ') {
                    start += 1;
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    out.push(&text[start..]);
    Some(out)
}

/// The JSON Schema of an optional field of type `ty` (null allowed), as a contract would
/// write it: what an approved addition adds to a contract version.
pub fn optional_json_schema(ty: &FieldType) -> Value {
    fn of(ty: &FieldType) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        let ty_name = match ty {
            FieldType::Boolean => "boolean",
            FieldType::Long => "integer",
            FieldType::Double => "number",
            FieldType::String | FieldType::Timestamp | FieldType::Date => "string",
            FieldType::Struct(_) => "object",
            FieldType::List(_) => "array",
        };
        out.insert("type".into(), Value::from(vec![ty_name, "null"]));
        match ty {
            FieldType::Timestamp => {
                out.insert("format".into(), "date-time".into());
            }
            FieldType::Date => {
                out.insert("format".into(), "date".into());
            }
            FieldType::Struct(fields) => {
                let props = fields
                    .iter()
                    .map(|f| (f.name.clone(), Value::Object(of(&f.ty))))
                    .collect::<serde_json::Map<_, _>>();
                out.insert("properties".into(), Value::Object(props));
            }
            FieldType::List(item) => {
                out.insert("items".into(), Value::Object(of(item)));
            }
            _ => {}
        }
        out
    }
    Value::Object(of(ty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_nested_contract() {
        let schema = json!({
            "type": "object",
            "required": ["id", "at"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "note": {"type": ["string", "null"]},
                "customer": {"type": "object", "properties": {"email": {"type": "string"}}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}}
            }
        });
        let t = from_json_schema(&schema).unwrap();
        assert_eq!(t.field("id").unwrap().ty, FieldType::Long);
        assert!(t.field("id").unwrap().required);
        assert_eq!(t.field("at").unwrap().ty, FieldType::Timestamp);
        assert!(!t.field("note").unwrap().required);
        assert!(matches!(
            t.field("customer").unwrap().ty,
            FieldType::Struct(_)
        ));
        assert_eq!(
            t.field("items").unwrap().ty.name(),
            "list<struct<qty: long>>"
        );
    }

    #[test]
    fn unsupported_type_names_its_pointer() {
        let schema =
            json!({"type": "object", "properties": {"a": {"type": ["string", "integer"]}}});
        let e = from_json_schema(&schema).unwrap_err();
        assert_eq!(e.pointer, "/properties/a");
    }

    #[test]
    fn type_names_parse_back_and_render_as_json_schema_that_maps_to_them() {
        for name in [
            "long",
            "timestamptz",
            "list<string>",
            "struct<tier: string, since: date>",
            "list<struct<sku: string, tags: list<string>, at: struct<x: double>>>",
            "struct<>",
        ] {
            let ty = parse_type_name(name).unwrap_or_else(|| panic!("{name} did not parse"));
            assert_eq!(ty.name(), name);
            let doc = json!({"type": "object", "properties": {"f": optional_json_schema(&ty)}});
            let back = from_json_schema(&doc).unwrap();
            assert_eq!(back.fields[0].ty, ty, "{name}");
            assert!(!back.fields[0].required);
        }
        for bad in [
            "mixed (long, string)",
            "struct<a: long, b…",
            "struct<a<b: long>",
            "list<long",
            "struct<a: nope>",
            "",
        ] {
            assert_eq!(parse_type_name(bad), None, "{bad}");
        }
    }
}
