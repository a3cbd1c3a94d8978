//! A table's contract: its JSON Schema, compiled once, and the row check built on it.
//!
//! The contract file is the single source of truth for a table. It is read and compiled
//! once per table ([`Contract::load`]), mapped to a [`TableSchema`] for the lake and for drift
//! detection, and then every row of every file is checked with [`Contract::validate`].
//!
//! Remote `$ref`s are never fetched (jsonschema is built without its HTTP resolver): a
//! contract that needs one does not compile. Formats are validated, because `date-time` and
//! `date` strings become timestamp and date columns, and a bad string would otherwise only
//! fail later, in the Arrow conversion, without naming the row.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::schema::{
    escape_pointer, from_json_schema, Field, FieldType, SchemaMappingError, TableSchema,
};

/// At most this many violations are reported per row: enough to repair it, bounded so that a
/// row with thousands of bad array items does not produce a megabyte of messages.
pub const MAX_VIOLATIONS_PER_ROW: usize = 10;

/// A violation message is cut to this many characters, because jsonschema quotes the
/// offending value and that value may be a very long string.
const MAX_MESSAGE_CHARS: usize = 1024;

/// A table's compiled contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The JSON Schema document as written in the contract file; kept for display and for
    /// storing beside the table.
    pub schema_json: Value,
    /// The columns the contract describes, for the lake and for drift detection.
    pub table_schema: TableSchema,
    /// The compiled validator; compiling is the expensive part, validating is cheap.
    validator: jsonschema::Validator,
}

/// One way a row breaks its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending value in the row (`/customer/email`), `""` for the row
    /// itself. For a missing required property it is the pointer of the object that lacks it.
    pub pointer: String,
    /// What is wrong, for a person: names the field and the expectation, e.g.
    /// `"quantity": "abc" is not of type "integer"`.
    pub message: String,
    /// The value is of another JSON type than its field's (`type`): what
    /// `incompatible = "rescue"` moves into the `_rescued` column.
    pub wrong_type: bool,
}

/// Why a contract could not be loaded. Every variant names the contract file.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file could not be read.
    #[error("cannot read contract {path}: {source}")]
    Read {
        /// The contract file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON; the message carries line and column.
    #[error("contract {path} is not valid JSON: {message}")]
    Json {
        /// The contract file.
        path: PathBuf,
        /// serde_json's message, with line and column.
        message: String,
    },
    /// The JSON is not a JSON Schema that compiles (bad keyword value, unresolvable `$ref`).
    #[error("contract {path} is not a valid JSON Schema: {message}")]
    Invalid {
        /// The contract file.
        path: PathBuf,
        /// jsonschema's message.
        message: String,
    },
    /// The schema is valid but cannot become table columns.
    #[error("contract {path}: {source}")]
    Mapping {
        /// The contract file.
        path: PathBuf,
        /// Where in the schema and why.
        source: SchemaMappingError,
    },
}

impl Contract {
    /// Reads, parses and compiles a contract file; errors name `path`.
    pub fn load(path: &Path) -> Result<Contract, ContractError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContractError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let schema: Value = serde_json::from_str(&text).map_err(|e| ContractError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::compile(schema, path.to_path_buf())
    }

    /// Compiles an already parsed schema; `origin` (usually the file name) is used in messages.
    pub fn from_value(schema: Value, origin: &str) -> Result<Contract, ContractError> {
        Self::compile(schema, PathBuf::from(origin))
    }

    fn compile(schema: Value, path: PathBuf) -> Result<Contract, ContractError> {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| ContractError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let table_schema =
            from_json_schema(&schema).map_err(|source| ContractError::Mapping { path, source })?;
        Ok(Contract {
            schema_json: schema,
            table_schema,
            validator,
        })
    }

    /// Checks one row. An empty vec means the row is valid; at most
    /// [`MAX_VIOLATIONS_PER_ROW`] violations are returned.
    pub fn validate(&self, row: &Value) -> Vec<Violation> {
        self.validator
            .iter_errors(row)
            .take(MAX_VIOLATIONS_PER_ROW)
            .map(|error| {
                let pointer = error.instance_path().as_str().to_string();
                let message = describe(&pointer, &error.to_string());
                let wrong_type = matches!(
                    error.kind(),
                    jsonschema::error::ValidationErrorKind::Type { .. }
                );
                Violation {
                    pointer,
                    message,
                    wrong_type,
                }
            })
            .collect()
    }
}

/// Prefixes jsonschema's message with the field it is about (`"customer.email": …`), so a
/// person reading a reject file knows where to look, and bounds its length.
fn describe(pointer: &str, message: &str) -> String {
    let message = truncate(message, MAX_MESSAGE_CHARS);
    if pointer.is_empty() {
        return message;
    }
    format!("\"{}\": {message}", field_path(pointer))
}

/// Renders a JSON pointer as a dotted field path: `/items/0/sku` → `items[0].sku`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// One way a contract contradicts the table it governs: rows it accepts could not land, or
/// rows the table's columns need could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConflict {
    /// JSON pointer of the field in the contract (`/properties/customer/properties/tier`;
    /// `/properties/items/items/properties/sku` inside a list of objects).
    pub pointer: String,
    /// Why, in words: the two types, or the requirement.
    pub reason: String,
}

impl std::fmt::Display for TableConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pointer, self.reason)
    }
}

/// Where the columns a contract describes (`contract`) contradict the table's current ones
/// (`table`): a field the contract types in a way its column cannot hold (a string where the
/// table has `long`, a number where it has `long`, any string where it has `timestamptz`, a
/// scalar where it has a struct), or a column the table requires that the contract lets a
/// row leave out. Fields only the contract has are no conflict: they are additions, which
/// the drift policy governs when files bring them. Checked when a table is used, so that a
/// contract that would quarantine every valid file is refused before any file is judged.
pub fn table_conflicts(contract: &TableSchema, table: &TableSchema) -> Vec<TableConflict> {
    let mut out = Vec::new();
    fields_conflicts(&contract.fields, &table.fields, "", &mut out);
    out
}

fn fields_conflicts(contract: &[Field], table: &[Field], at: &str, out: &mut Vec<TableConflict>) {
    for column in table {
        let pointer = format!("{at}/properties/{}", escape_pointer(&column.name));
        match contract.iter().find(|f| f.name == column.name) {
            None if column.required => out.push(TableConflict {
                pointer,
                reason: format!(
                    "the table requires column `{}`, which the contract no longer describes",
                    column.name
                ),
            }),
            None => {}
            Some(field) => {
                if column.required && !field.required {
                    out.push(TableConflict {
                        pointer: pointer.clone(),
                        reason: "optional in the contract, but required in the table: a row \
                                 without it could not be written"
                            .into(),
                    });
                }
                type_conflicts(&field.ty, &column.ty, &pointer, out);
            }
        }
    }
}

fn type_conflicts(contract: &FieldType, table: &FieldType, at: &str, out: &mut Vec<TableConflict>) {
    use FieldType as T;
    match (contract, table) {
        (T::Struct(c), T::Struct(t)) => fields_conflicts(c, t, at, out),
        (T::List(c), T::List(t)) => type_conflicts(c, t, &format!("{at}/items"), out),
        // An integer is a double's value too.
        (T::Long, T::Double) => {}
        (c, t) if c == t => {}
        (c, t) => {
            let why = match (c, t) {
                (T::Double, T::Long) => {
                    " (a fractional value would not fit; Iceberg cannot narrow a column, and \
                     sluice does not yet widen one)"
                }
                (T::String, T::Timestamp | T::Date) => {
                    " (the contract lets any string in; give it the column's `format`)"
                }
                _ => "",
            };
            out.push(TableConflict {
                pointer: at.to_string(),
                reason: format!(
                    "{} in the contract, but {} in the table{why}",
                    c.name(),
                    t.name()
                ),
            });
        }
    }
}

/// Where a new contract version (`next`) breaks `mode` against the version recorded before
/// it (`previous`, numbered `previous_version`), on the columns both map to: backward, the
/// new version must accept every row the previous accepted; forward, the previous must
/// accept every row the new one accepts; full, both; none, nothing is checked.
pub fn compatibility_breaks(
    previous: &TableSchema,
    previous_version: u32,
    next: &TableSchema,
    mode: crate::config::Compatibility,
) -> Vec<TableConflict> {
    use crate::config::Compatibility as C;
    let old = format!("version {previous_version}");
    let mut out = Vec::new();
    if matches!(mode, C::Backward | C::Full) {
        reads(
            &next.fields,
            &previous.fields,
            "",
            ("the new contract", &old),
            &mut out,
        );
    }
    if matches!(mode, C::Forward | C::Full) {
        reads(
            &previous.fields,
            &next.fields,
            "",
            (&old, "the new contract"),
            &mut out,
        );
    }
    out
}

/// Whether rows valid under `writer`'s fields are valid under `reader`'s; `sides` names the
/// two (reader, writer) in messages.
fn reads(
    reader: &[Field],
    writer: &[Field],
    at: &str,
    sides: (&str, &str),
    out: &mut Vec<TableConflict>,
) {
    let (reader_side, writer_side) = sides;
    for field in reader {
        let pointer = format!("{at}/properties/{}", escape_pointer(&field.name));
        let break_at = |reason: String| TableConflict {
            pointer: pointer.clone(),
            reason,
        };
        match writer.iter().find(|w| w.name == field.name) {
            None if field.required => out.push(break_at(format!(
                "required in {reader_side}, absent from {writer_side}: rows valid under {writer_side} lack it"
            ))),
            None => {}
            Some(w) => {
                if field.required && !w.required {
                    out.push(break_at(format!(
                        "required in {reader_side}, optional in {writer_side}: rows valid under {writer_side} may lack it"
                    )));
                }
                reads_type(&field.ty, &w.ty, &pointer, sides, out);
            }
        }
    }
}

fn reads_type(
    reader: &FieldType,
    writer: &FieldType,
    at: &str,
    sides: (&str, &str),
    out: &mut Vec<TableConflict>,
) {
    use FieldType as T;
    match (reader, writer) {
        (T::Struct(r), T::Struct(w)) => reads(r, w, at, sides, out),
        (T::List(r), T::List(w)) => reads_type(r, w, &format!("{at}/items"), sides, out),
        // An integer is a number; a timestamp or a date is a string.
        (T::Double, T::Long) | (T::String, T::Timestamp | T::Date) => {}
        (r, w) if r == w => {}
        (r, w) => out.push(TableConflict {
            pointer: at.to_string(),
            reason: format!(
                "{} in {}, {} in {}: values valid under {} would not be",
                w.name(),
                sides.1,
                r.name(),
                sides.0,
                sides.1
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn orders() -> Contract {
        Contract::from_value(
            json!({
                "type": "object",
                "required": ["order_id", "quantity"],
                "properties": {
                    "order_id": {"type": "string"},
                    "quantity": {"type": "integer"},
                    "ordered_at": {"type": "string", "format": "date-time"},
                    "day": {"type": "string", "format": "date"},
                    "customer": {
                        "type": "object",
                        "required": ["email"],
                        "properties": {"email": {"type": "string"}}
                    },
                    "items": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}
                    }
                }
            }),
            "orders.schema.json",
        )
        .unwrap()
    }

    #[test]
    fn valid_row_has_no_violations() {
        let row = json!({"order_id": "o1", "quantity": 2, "ordered_at": "2026-01-02T03:04:05Z",
                         "day": "2026-01-02", "customer": {"email": "a@b.c"}, "items": [{"qty": 1}]});
        assert_eq!(orders().validate(&row), vec![]);
    }

    #[test]
    fn violation_names_field_pointer() {
        let v = orders().validate(&json!({"order_id": "o1", "quantity": "abc"}));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].pointer, "/quantity");
        assert_eq!(
            v[0].message,
            r#""quantity": "abc" is not of type "integer""#
        );
    }

    #[test]
    fn nested_violation_names_nested_pointer() {
        let v = orders().validate(
            &json!({"order_id": "o1", "quantity": 1, "customer": {"email": 5},
                                          "items": [{"qty": 1}, {"qty": "x"}]}),
        );
        let pointers: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
        assert!(pointers.contains(&"/customer/email"), "{v:?}");
        assert!(pointers.contains(&"/items/1/qty"), "{v:?}");
        assert!(
            v.iter()
                .any(|v| v.message.starts_with("\"items[1].qty\": ")),
            "{v:?}"
        );
    }

    #[test]
    fn missing_required_property_is_named_at_parent_pointer() {
        let v = orders().validate(&json!({"quantity": 1, "customer": {}}));
        let root = v
            .iter()
            .find(|v| v.pointer.is_empty())
            .expect("root violation");
        assert!(root.message.contains("\"order_id\""), "{}", root.message);
        let nested = v
            .iter()
            .find(|v| v.pointer == "/customer")
            .expect("nested violation");
        assert!(nested.message.contains("\"email\""), "{}", nested.message);
    }

    #[test]
    fn bad_date_time_and_date_strings_are_violations() {
        let v = orders().validate(&json!({"order_id": "o1", "quantity": 1,
                                          "ordered_at": "yesterday", "day": "2026-13-45"}));
        let pointers: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/ordered_at", "/day"], "{v:?}");
    }

    #[test]
    fn violations_are_capped_per_row() {
        let items: Vec<Value> = (0..50).map(|_| json!({"qty": "x"})).collect();
        let v = orders().validate(&json!({"order_id": "o1", "quantity": 1, "items": items}));
        assert_eq!(v.len(), MAX_VIOLATIONS_PER_ROW);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let v = orders().validate(&json!({"order_id": "o1", "quantity": "x".repeat(100_000)}));
        assert!(v[0].message.chars().count() < MAX_MESSAGE_CHARS + 32);
    }

    #[test]
    fn load_reports_json_syntax_with_path_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.schema.json");
        std::fs::write(&path, "{\n  \"type\": \"object\",\n  oops\n}").unwrap();
        let e = Contract::load(&path).unwrap_err();
        assert!(matches!(e, ContractError::Json { .. }));
        let text = e.to_string();
        assert!(
            text.contains("bad.schema.json") && text.contains("line 3"),
            "{text}"
        );
    }

    #[test]
    fn load_reports_missing_file_with_path() {
        let e = Contract::load(Path::new("/nonexistent/x.schema.json")).unwrap_err();
        assert!(matches!(e, ContractError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/x.schema.json"));
    }

    #[test]
    fn schema_that_does_not_compile_is_invalid() {
        let e = Contract::from_value(
            json!({"type": "object", "properties": {"a": {"type": 5}}}),
            "c.json",
        )
        .unwrap_err();
        assert!(matches!(e, ContractError::Invalid { .. }), "{e}");
        assert!(e.to_string().contains("c.json"));
    }

    #[test]
    fn remote_ref_is_not_fetched() {
        let schema =
            json!({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}});
        assert!(Contract::from_value(schema, "c.json").is_err());
    }

    #[test]
    fn schema_without_columns_is_a_mapping_error() {
        let e = Contract::from_value(json!({"type": "object"}), "c.json").unwrap_err();
        assert!(matches!(e, ContractError::Mapping { .. }), "{e}");
    }

    #[test]
    fn load_reads_valid_contract() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.schema.json");
        std::fs::write(&path, orders().schema_json.to_string()).unwrap();
        let c = Contract::load(&path).unwrap();
        assert_eq!(c.table_schema.fields.len(), 6);
    }

    fn columns(schema: Value) -> TableSchema {
        Contract::from_value(schema, "test").unwrap().table_schema
    }

    #[test]
    fn a_contract_that_contradicts_its_table_names_each_field_and_why() {
        let table = orders().table_schema;
        // The same contract, a narrower type (an integer for a double) and a new field: no
        // conflict.
        assert_eq!(table_conflicts(&table, &table), vec![]);
        let mut wider = orders().schema_json.clone();
        wider["properties"]["coupon"] = json!({"type": "string"});
        assert_eq!(table_conflicts(&columns(wider), &table), vec![]);

        let mut changed = orders().schema_json.clone();
        changed["properties"]["quantity"] = json!({"type": "string"});
        changed["properties"]["ordered_at"] = json!({"type": "string"});
        changed["properties"]["customer"]["required"] = json!([]);
        changed["properties"]["items"]["items"]["properties"]["qty"] = json!({"type": "number"});
        changed["required"] = json!(["order_id"]);
        let found: Vec<String> = table_conflicts(&columns(changed), &table)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            vec![
                "/properties/quantity: optional in the contract, but required in the table: a row without it could not be written".to_string(),
                "/properties/quantity: string in the contract, but long in the table".to_string(),
                "/properties/ordered_at: string in the contract, but timestamptz in the table (the contract lets any string in; give it the column's `format`)".to_string(),
                "/properties/customer/properties/email: optional in the contract, but required in the table: a row without it could not be written".to_string(),
                "/properties/items/items/properties/qty: double in the contract, but long in the table (a fractional value would not fit; Iceberg cannot narrow a column, and sluice does not yet widen one)".to_string(),
            ]
        );

        // A required column the contract no longer has.
        let mut dropped = orders().schema_json.clone();
        dropped["properties"]
            .as_object_mut()
            .unwrap()
            .remove("quantity");
        dropped["required"] = json!(["order_id"]);
        let found = table_conflicts(&columns(dropped), &table);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pointer, "/properties/quantity");
        assert!(
            found[0].reason.contains("no longer describes"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn compatibility_modes_judge_a_new_version_as_schema_registries_do() {
        use crate::config::Compatibility as C;
        let v1 = orders().table_schema;
        // A new optional field and a widened type (integer to number): backward compatible
        // (the new version accepts every old row), not forward (an old reader refuses 2.5).
        let mut looser = orders().schema_json.clone();
        looser["properties"]["coupon"] = json!({"type": "string"});
        looser["properties"]["quantity"] = json!({"type": "number"});
        let looser = columns(looser);
        assert_eq!(compatibility_breaks(&v1, 1, &looser, C::Backward), vec![]);
        let forward: Vec<String> = compatibility_breaks(&v1, 1, &looser, C::Forward)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            forward,
            vec!["/properties/quantity: double in the new contract, long in version 1: values valid under the new contract would not be"]
        );
        // A newly required field: forward compatible, not backward (old rows lack it).
        let mut stricter = orders().schema_json.clone();
        stricter["properties"]["coupon"] = json!({"type": "string"});
        stricter["required"] = json!(["order_id", "quantity", "coupon"]);
        let stricter = columns(stricter);
        assert_eq!(compatibility_breaks(&v1, 1, &stricter, C::Forward), vec![]);
        let backward = compatibility_breaks(&v1, 1, &stricter, C::Backward);
        assert_eq!(backward.len(), 1);
        assert_eq!(backward[0].pointer, "/properties/coupon");
        assert!(
            backward[0]
                .reason
                .contains("required in the new contract, absent from version 1"),
            "{}",
            backward[0]
        );
        // Full is both; none is nothing.
        assert_eq!(compatibility_breaks(&v1, 1, &looser, C::Full).len(), 1);
        assert_eq!(compatibility_breaks(&v1, 1, &stricter, C::Full).len(), 1);
        assert_eq!(compatibility_breaks(&v1, 1, &stricter, C::None), vec![]);
        // A required field dropped: backward fine, forward broken; a nested type changed:
        // both broken.
        let mut dropped = orders().schema_json.clone();
        dropped["properties"]
            .as_object_mut()
            .unwrap()
            .remove("quantity");
        dropped["required"] = json!(["order_id"]);
        let dropped = columns(dropped);
        assert_eq!(compatibility_breaks(&v1, 1, &dropped, C::Backward), vec![]);
        assert_eq!(compatibility_breaks(&v1, 1, &dropped, C::Forward).len(), 1);
        let mut nested = orders().schema_json.clone();
        nested["properties"]["items"]["items"]["properties"]["qty"] = json!({"type": "string"});
        let nested = columns(nested);
        let both = compatibility_breaks(&v1, 1, &nested, C::Full);
        assert_eq!(both.len(), 2);
        assert!(both
            .iter()
            .all(|b| b.pointer == "/properties/items/items/properties/qty"));
    }
}
