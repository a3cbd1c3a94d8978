//! The gate every schema evolution passes, and the fields a file's accepted rows bring.
//!
//! A table's schema is its most durable state: a column, once added, is in the metadata of
//! every later snapshot and every reader's plan. So evolution is decided from rows the
//! contract *accepted*, over the whole file (not a head sample), and only within limits
//! that keep the table readable by sluice and by other engines:
//!
//! - [`NewFields`] collects, row by row, the members that accepted rows have and the table
//!   lacks (top level, inside structs, inside lists of structs), with their inferred types.
//!   Rows with no new member cost a walk and no allocation.
//! - [`check`] refuses an evolution that would add too many columns for one file or for the
//!   table, nest deeper than the limit, or add a name Iceberg and its catalogs cannot take.
//!
//! Why the depth limit: iceberg-rust parses table metadata with serde_json, whose recursion
//! limit (128) is reached by a struct nested about 42 deep (three JSON levels per struct
//! level), after which the table's own metadata cannot be loaded; pyarrow refuses Parquet
//! schemas deeper than 100 levels (a list is three). The default, 10, is far below both.

use serde_json::{Map, Value};

use crate::config::Limits;
use crate::drift::{
    inferred_from, merge_member, resolve, struct_members, ColumnAddition, DriftChange, DriftClass,
    InferredSchema, Members, Seen,
};
use crate::schema::{Field, FieldType, TableSchema};

/// The members of accepted rows that the table has no column for, merged over the rows seen.
#[derive(Debug)]
pub struct NewFields {
    /// Top-level members, each with the merged type of its values; a known struct or list
    /// appears only with its new members.
    fields: Members,
    /// Rows that had at least one new member.
    rows: u64,
    /// Most new members (nested ones included) worth collecting: past it the evolution is
    /// refused anyway, so collecting stops and memory stays bounded whatever the file.
    limit: usize,
    /// Set once more than `limit` new members were seen.
    overflow: bool,
}

impl NewFields {
    /// Collects up to `limit` new members (`limits.max_new_columns_per_file`).
    pub fn new(limit: usize) -> Self {
        NewFields {
            fields: Members::new(),
            rows: 0,
            limit,
            overflow: false,
        }
    }

    /// Merges the members of `row` that `table` lacks. Returns whether it had any. Values
    /// whose shape does not match their column (a string for a struct) are not looked into:
    /// that is a row-level matter for validation.
    pub fn observe(&mut self, table: &TableSchema, row: &Value) -> bool {
        let Value::Object(members) = row else {
            return false;
        };
        let Some(new) = unknown_members(&table.fields, members) else {
            return false;
        };
        self.rows += 1;
        if self.overflow {
            return true;
        }
        for (name, seen) in new {
            merge_member(&mut self.fields, &name, seen);
        }
        if count(&self.fields, self.limit + 1) > self.limit {
            self.overflow = true;
            self.fields.clear();
        }
        true
    }

    /// Whether the rows brought more new members than the limit (their fields are then no
    /// longer kept).
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Rows that brought at least one new member.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// What the rows seen so far add, as an inferred schema to [`crate::drift::classify`]
    /// against the table. Members seen only as null, `[]` or `{}` are left out.
    pub fn inferred(&self) -> InferredSchema {
        inferred_from(&self.fields)
    }

    /// Whether any new member with a known type was seen.
    pub fn is_empty(&self) -> bool {
        !self.overflow && !self.fields.values().any(Seen::is_known)
    }
}

/// Named members in `fields`, nested ones included, counted up to `stop`.
fn count(fields: &Members, stop: usize) -> usize {
    let mut n = 0;
    for seen in fields.values() {
        n += 1 + seen_members(seen, stop.saturating_sub(n));
        if n >= stop {
            break;
        }
    }
    n
}

fn seen_members(seen: &Seen, stop: usize) -> usize {
    match seen {
        Seen::Struct(fields) => count(fields, stop),
        Seen::List(item) => seen_members(item, stop),
        _ => 0,
    }
}

fn unknown_members(fields: &[Field], members: &Map<String, Value>) -> Option<Members> {
    let mut out: Option<Members> = None;
    for (name, value) in members {
        let seen = match fields.iter().find(|f| &f.name == name) {
            Some(field) => unknown_in(&field.ty, value),
            None => Some(Seen::of(value)),
        };
        if let Some(seen) = seen {
            merge_member(out.get_or_insert_with(Members::new), name, seen);
        }
    }
    out
}

fn unknown_in(ty: &FieldType, value: &Value) -> Option<Seen> {
    match (ty, value) {
        (FieldType::Struct(fields), Value::Object(members)) => {
            unknown_members(fields, members).map(Seen::Struct)
        }
        (FieldType::List(item), Value::Array(values)) => values
            .iter()
            .filter_map(|v| unknown_in(item, v))
            .reduce(Seen::merge)
            .map(|s| Seen::List(Box::new(s))),
        _ => None,
    }
}

/// A first check on classified changes, before any addition is worked out: each new column
/// or struct member found is at least one column added, so a file with thousands of new
/// fields is refused without resolving each one.
pub fn precheck(changes: &[DriftChange], limits: &Limits) -> Result<(), String> {
    let new = changes
        .iter()
        .filter(|c| {
            matches!(
                c.class,
                DriftClass::AdditiveOptional | DriftClass::NestedAddition
            )
        })
        .count();
    if new > limits.max_new_columns_per_file {
        return Err(format!(
            "schema evolution refused: the file brings {new} new fields, over \
             limits.max_new_columns_per_file = {}",
            limits.max_new_columns_per_file
        ));
    }
    Ok(())
}

/// Checks an evolution against the limits. The error names every limit it breaks, the
/// field, and the `[limits]` key that sets it, for the quarantine record.
pub fn check(
    additions: &[ColumnAddition],
    table: &TableSchema,
    limits: &Limits,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let added: usize = additions.iter().map(|a| 1 + members(&a.field.ty)).sum();
    if added > limits.max_new_columns_per_file {
        problems.push(format!(
            "the file would add {added} columns, over limits.max_new_columns_per_file = {}",
            limits.max_new_columns_per_file
        ));
    }
    let existing: usize = table.fields.iter().map(|f| 1 + members(&f.ty)).sum();
    if existing + added > limits.max_table_columns {
        problems.push(format!(
            "the table would have {} columns, over limits.max_table_columns = {}",
            existing + added,
            limits.max_table_columns
        ));
    }
    for a in additions {
        let path = a.path();
        let depth = parent_depth(&table.fields, a.parent.as_deref()) + 1 + depth(&a.field.ty);
        if depth > limits.max_nesting_depth {
            problems.push(format!(
                "`{}` would nest {depth} levels deep, over limits.max_nesting_depth = {}",
                shorten(&path),
                limits.max_nesting_depth
            ));
        }
        let siblings = siblings(&table.fields, a.parent.as_deref());
        name_problems(&a.field, &path, siblings, &mut problems);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.truncate(10);
        Err(format!("schema evolution refused: {}", problems.join("; ")))
    }
}

/// Checks a schema (a contract's) against the depth limit, so a table is never created with
/// metadata its own readers cannot parse.
pub fn check_depth(schema: &TableSchema, limits: &Limits) -> Result<(), String> {
    for field in &schema.fields {
        let d = 1 + depth(&field.ty);
        if d > limits.max_nesting_depth {
            return Err(format!(
                "column `{}` nests {d} levels deep, over limits.max_nesting_depth = {}",
                field.name, limits.max_nesting_depth
            ));
        }
    }
    Ok(())
}

/// Named members inside a type (struct members at every depth).
fn members(ty: &FieldType) -> usize {
    match ty {
        FieldType::Struct(fields) => fields.iter().map(|f| 1 + members(&f.ty)).sum(),
        FieldType::List(item) => members(item),
        _ => 0,
    }
}

/// Levels of struct and list inside a type: 0 for a scalar.
fn depth(ty: &FieldType) -> usize {
    match ty {
        FieldType::Struct(fields) => 1 + fields.iter().map(|f| depth(&f.ty)).max().unwrap_or(0),
        FieldType::List(item) => 1 + depth(item),
        _ => 0,
    }
}

/// How deep the parent of a new member sits: the levels from the table's top to inside
/// the parent's struct (a list of structs counts its list level too).
fn parent_depth(fields: &[Field], parent: Option<&str>) -> usize {
    let Some(parent) = parent else { return 0 };
    let mut level = 0;
    let mut current = fields;
    let mut rest = parent;
    while !rest.is_empty() {
        let Some(field) = current
            .iter()
            .filter(|f| rest == f.name || rest.starts_with(&format!("{}.", f.name)))
            .max_by_key(|f| f.name.len())
        else {
            break;
        };
        level += 1 + list_levels(&field.ty);
        rest = rest.get(field.name.len() + 1..).unwrap_or("");
        match struct_members(&field.ty) {
            Some(inner) => current = inner,
            None => break,
        }
    }
    level
}

fn list_levels(ty: &FieldType) -> usize {
    match ty {
        FieldType::List(item) => 1 + list_levels(item),
        _ => 0,
    }
}

fn siblings<'a>(fields: &'a [Field], parent: Option<&str>) -> &'a [Field] {
    match parent {
        None => fields,
        Some(p) => resolve(fields, p)
            .and_then(|(_, parent)| struct_members(&parent.ty))
            .unwrap_or(&[]),
    }
}

/// Longest column name a catalog takes (Glue: 255 characters).
const MAX_NAME_CHARS: usize = 255;

/// What is wrong with a new field's name and its members' names.
fn name_problems(field: &Field, path: &str, siblings: &[Field], out: &mut Vec<String>) {
    let name = &field.name;
    let shown = shorten(path);
    if name.is_empty() {
        out.push(format!("a field under `{shown}` has an empty name"));
    } else if name.chars().any(char::is_control) {
        out.push(format!(
            "`{}` contains a control character (NUL, newline, ...), which no catalog takes",
            shown.escape_debug()
        ));
    } else if name.contains('.') {
        out.push(format!(
            "`{shown}` contains `.`, which Iceberg reads as a path into a struct; rename the \
             field at its source, or declare it in the contract"
        ));
    } else if name.chars().count() > MAX_NAME_CHARS {
        out.push(format!(
            "`{shown}` is longer than {MAX_NAME_CHARS} characters"
        ));
    } else if let Some(other) = siblings
        .iter()
        .find(|s| s.name != *name && s.name.eq_ignore_ascii_case(name))
    {
        out.push(format!(
            "`{shown}` differs only in case from the existing column `{}`, which catalogs \
             that ignore case (Glue, Athena) cannot tell apart",
            other.name
        ));
    }
    if let Some(members) = struct_members(&field.ty) {
        for m in members {
            name_problems(m, &format!("{path}.{}", m.name), &[], out);
        }
    }
}

/// A path short enough for a message.
fn shorten(path: &str) -> String {
    const MAX: usize = 120;
    if path.chars().count() <= MAX {
        path.to_string()
    } else {
        let head: String = path.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DriftAction, DriftPolicy};
    use crate::drift::{classify, decide, DriftDecision};
    use serde_json::json;

    fn field(name: &str, ty: FieldType) -> Field {
        Field {
            name: name.into(),
            ty,
            required: false,
        }
    }

    fn table() -> TableSchema {
        TableSchema {
            fields: vec![
                field("id", FieldType::Long),
                field(
                    "customer",
                    FieldType::Struct(vec![field("email", FieldType::String)]),
                ),
                field(
                    "items",
                    FieldType::List(Box::new(FieldType::Struct(vec![field(
                        "qty",
                        FieldType::Long,
                    )]))),
                ),
            ],
        }
    }

    fn evolve_all() -> DriftPolicy {
        DriftPolicy {
            additive: DriftAction::Evolve,
            nested_addition: DriftAction::Evolve,
            widening: DriftAction::Quarantine,
            incompatible: DriftAction::Quarantine,
            sample_rows: 10,
        }
    }

    fn additions(rows: &[Value]) -> Vec<ColumnAddition> {
        let mut seen = NewFields::new(1000);
        for r in rows {
            seen.observe(&table(), r);
        }
        match decide(
            &classify(&table(), &seen.inferred()),
            &seen.inferred(),
            &evolve_all(),
        ) {
            DriftDecision::Evolve { additions } => additions,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rows_without_new_members_add_nothing() {
        let mut seen = NewFields::new(10);
        assert!(!seen.observe(
            &table(),
            &json!({"id": 1, "customer": {"email": "a"}, "items": [{"qty": 1}]})
        ));
        assert!(seen.is_empty());
        assert_eq!(seen.rows(), 0);
    }

    #[test]
    fn new_members_anywhere_are_found_and_merged() {
        let adds = additions(&[
            json!({"id": 1, "coupon": "X"}),
            json!({"customer": {"tier": "gold"}, "items": [{"qty": 1}, {"qty": 2, "sku": "a"}]}),
            json!({"coupon": null, "note": null}),
        ]);
        let paths: Vec<String> = adds.iter().map(ColumnAddition::path).collect();
        assert_eq!(paths, vec!["coupon", "customer.tier", "items.sku"]);
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_not_looked_into() {
        let mut seen = NewFields::new(10);
        assert!(!seen.observe(&table(), &json!({"customer": "not a struct", "items": 3})));
    }

    #[test]
    fn collecting_stops_past_the_limit() {
        let mut seen = NewFields::new(3);
        assert!(seen.observe(&table(), &json!({"a": 1, "b": {"c": 1}})));
        assert!(!seen.overflowed());
        assert!(seen.observe(&table(), &json!({"d": {"e": 1}})));
        assert!(seen.overflowed());
        assert!(!seen.is_empty());
        assert_eq!(seen.rows(), 2);
    }

    fn limits() -> Limits {
        Limits {
            max_new_columns_per_file: 3,
            max_table_columns: 8,
            max_nesting_depth: 4,
            ..Limits::default()
        }
    }

    #[test]
    fn too_many_new_columns_for_one_file_are_refused() {
        let adds = additions(&[json!({"a": 1, "b": 1, "c": 1, "d": 1})]);
        let err = check(&adds, &table(), &limits()).unwrap_err();
        assert!(
            err.contains("would add 4 columns, over limits.max_new_columns_per_file = 3"),
            "{err}"
        );
    }

    #[test]
    fn a_table_grown_past_its_column_limit_is_refused() {
        // The table has 5 named fields (id, customer, customer.email, items, items.qty).
        let adds = additions(&[json!({"a": 1, "b": {"c": 1}})]);
        assert!(check(&adds, &table(), &limits()).is_ok());
        let adds = additions(&[json!({"a": 1, "b": {"c": 1, "d": 2}})]);
        let err = check(&adds, &table(), &limits()).unwrap_err();
        assert!(err.contains("the table would have 9 columns"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_at_any_parent() {
        let mut deep = json!(1);
        for _ in 0..4 {
            deep = json!({ "n": deep });
        }
        let adds = additions(&[json!({ "top": deep })]);
        let err = check(&adds, &table(), &limits()).unwrap_err();
        assert!(
            err.contains("`top` would nest 5 levels deep, over limits.max_nesting_depth = 4"),
            "{err}"
        );
        // Under a list of structs: items (list, struct) = 2 levels, then the new member.
        let adds = additions(&[json!({"items": [{"sku": {"x": {"y": 1}}}]})]);
        let err = check(&adds, &table(), &limits()).unwrap_err();
        assert!(
            err.contains("`items.sku` would nest 5 levels deep"),
            "{err}"
        );
        let adds = additions(&[json!({"items": [{"sku": {"x": 1}}]})]);
        assert!(check(&adds, &table(), &limits()).is_ok());
    }

    #[test]
    fn names_that_catalogs_cannot_take_are_refused_with_the_reason() {
        let err = |row: Value| check(&additions(&[row]), &table(), &Limits::default()).unwrap_err();
        assert!(err(json!({"": 1})).contains("empty name"));
        assert!(err(json!({"a\u{0}b": 1})).contains("control character"));
        assert!(err(json!({"utm.source": "x"})).contains("contains `.`"));
        assert!(err(json!({"Customer": {"x": 1}}))
            .contains("differs only in case from the existing column `customer`"));
        assert!(err(json!({"customer": {"Email": "x"}}))
            .contains("`customer.Email` differs only in case"));
        assert!(err(json!({"n": {"bad\nname": 1}})).contains("control character"));
    }

    #[test]
    fn a_contract_deeper_than_the_limit_is_refused() {
        let mut ty = FieldType::Long;
        for _ in 0..12 {
            ty = FieldType::List(Box::new(ty));
        }
        let schema = TableSchema {
            fields: vec![field("deep", ty)],
        };
        let err = check_depth(&schema, &Limits::default()).unwrap_err();
        assert!(err.contains("nests 13 levels deep"), "{err}");
        assert!(check_depth(&table(), &Limits::default()).is_ok());
    }
}
