//! Schema drift: what a file's rows look like, how that differs from the table, and what the
//! table's drift policy says to do about it.
//!
//! Three steps, each a pure function:
//! 1. [`infer_schema`] reads a sample of rows (the head of the file) and infers their types;
//! 2. [`classify`] compares the inferred schema with the table's and lists the changes, each
//!    in a [`DriftClass`];
//! 3. [`decide`] applies the table's [`DriftPolicy`]: no change, evolve the table (add
//!    nullable columns), or quarantine the file as `drift_blocked`.
//!
//! Fields the table has but the file lacks are not drift: a missing required field is a
//! row-level contract matter.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{DriftAction, DriftPolicy};
use crate::schema::{Field, FieldType, TableSchema};

/// What a sample of rows says about a file's columns.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InferredSchema {
    /// The file's columns in order of first appearance, all optional. A field whose values
    /// disagree on type appears as `string`; see `conflicts`.
    pub schema: TableSchema,
    /// Fields whose sample values have more than one type, so their `string` in `schema` is a
    /// stand-in, not a fact.
    pub conflicts: Vec<TypeConflict>,
    /// Dotted paths of `double` fields whose values were all integral (`2.0`): JSON Schema
    /// counts those as integers, so they fit a `long` column and are no widening.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integral: Vec<String>,
}

/// A field whose sample values disagree on type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeConflict {
    /// Dotted path of the field (`customer.tier`; `items.sku` inside a list of structs).
    pub path: String,
    /// The types seen, e.g. `["long", "string"]`, sorted.
    pub types: Vec<String>,
}

impl InferredSchema {
    fn conflict(&self, path: &str) -> Option<&TypeConflict> {
        self.conflicts.iter().find(|c| c.path == path)
    }

    fn is_integral(&self, path: &str) -> bool {
        self.integral.iter().any(|p| p == path)
    }
}

/// A type as inferred from values, before conflicts are flattened into `string`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    /// Only nulls, empty arrays or empty objects: nothing is known.
    Unknown,
    Boolean,
    Long,
    /// Numbers written with a fraction or exponent, or integers too large for a long;
    /// `true` while every one of them was integral (`2.0`, `1e3`, `99999999999999999999`),
    /// which JSON Schema counts as an integer. An integral value a long cannot hold is still
    /// no drift of a long column: it is that row's bad value, rejected when the row is
    /// decoded, wherever in the file it stands.
    Double(bool),
    String,
    Struct(Members),
    List(Box<Seen>),
    /// More than one type; the names seen, sorted and unique.
    Conflict(Vec<String>),
}

impl Seen {
    pub(crate) fn of(value: &Value) -> Seen {
        match value {
            Value::Null => Seen::Unknown,
            Value::Bool(_) => Seen::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Seen::Long,
            Value::Number(n) => Seen::Double(n.as_f64().is_some_and(|f| f.fract() == 0.0)),
            Value::String(_) => Seen::String,
            Value::Array(items) => Seen::List(Box::new(
                items
                    .iter()
                    .fold(Seen::Unknown, |acc, item| acc.merge(Seen::of(item))),
            )),
            Value::Object(members) => {
                let mut fields = Members::with_capacity(members.len());
                for (name, value) in members {
                    merge_member(&mut fields, name, Seen::of(value));
                }
                Seen::Struct(fields)
            }
        }
    }

    pub(crate) fn merge(self, other: Seen) -> Seen {
        match (self, other) {
            (Seen::Unknown, x) | (x, Seen::Unknown) => x,
            (Seen::Long, Seen::Double(i)) | (Seen::Double(i), Seen::Long) => Seen::Double(i),
            (Seen::Double(a), Seen::Double(b)) => Seen::Double(a && b),
            (Seen::Struct(mut a), Seen::Struct(b)) => {
                for (name, seen) in b {
                    merge_member(&mut a, &name, seen);
                }
                Seen::Struct(a)
            }
            (Seen::List(a), Seen::List(b)) => Seen::List(Box::new(a.merge(*b))),
            (a, b) if a == b => a,
            (a, b) => {
                let mut names = a.names();
                names.extend(b.names());
                names.sort();
                names.dedup();
                Seen::Conflict(names)
            }
        }
    }

    /// Type names for a conflict message.
    fn names(&self) -> Vec<String> {
        match self {
            Seen::Conflict(names) => names.clone(),
            other => other.to_type().map(|t| vec![t.name()]).unwrap_or_default(),
        }
    }

    /// Whether anything is known: a scalar, a struct with a known member, a list with a
    /// known element type.
    pub(crate) fn is_known(&self) -> bool {
        match self {
            Seen::Unknown => false,
            Seen::Struct(fields) => fields.values().any(Seen::is_known),
            Seen::List(item) => item.is_known(),
            _ => true,
        }
    }

    /// The column type; `None` when nothing is known. Conflicts become `string`.
    fn to_type(&self) -> Option<FieldType> {
        if !self.is_known() {
            return None;
        }
        Some(match self {
            Seen::Unknown => return None,
            Seen::Boolean => FieldType::Boolean,
            Seen::Long => FieldType::Long,
            Seen::Double(_) => FieldType::Double,
            Seen::String | Seen::Conflict(_) => FieldType::String,
            Seen::Struct(fields) => FieldType::Struct(to_fields(fields)),
            Seen::List(item) => FieldType::List(Box::new(item.to_type()?)),
        })
    }
}

/// Merged members by name, in order of first appearance. A map, not a list: a hostile row
/// may have tens of thousands of members, and merging must not cost their square.
pub(crate) type Members = indexmap::IndexMap<String, Seen>;

pub(crate) fn merge_member(fields: &mut Members, name: &str, seen: Seen) {
    match fields.get_mut(name) {
        Some(existing) => {
            let current = std::mem::replace(existing, Seen::Unknown);
            *existing = current.merge(seen);
        }
        None => {
            fields.insert(name.to_string(), seen);
        }
    }
}

fn to_fields(fields: &Members) -> Vec<Field> {
    fields
        .iter()
        .filter_map(|(name, seen)| {
            seen.to_type().map(|ty| Field {
                name: name.clone(),
                ty,
                required: false,
            })
        })
        .collect()
}

/// Collects the conflicts under `fields`, with dotted paths (list elements share the list's
/// path).
fn collect_conflicts(fields: &Members, prefix: &str, out: &mut Vec<TypeConflict>) {
    for (name, seen) in fields {
        let path = join(prefix, name);
        collect_seen_conflicts(seen, &path, out);
    }
}

/// Collects the paths of doubles whose values were all integral.
fn collect_integral(fields: &Members, prefix: &str, out: &mut Vec<String>) {
    for (name, seen) in fields {
        collect_seen_integral(seen, &join(prefix, name), out);
    }
}

fn collect_seen_integral(seen: &Seen, path: &str, out: &mut Vec<String>) {
    match seen {
        Seen::Double(true) => out.push(path.to_string()),
        Seen::Struct(fields) => collect_integral(fields, path, out),
        Seen::List(item) => collect_seen_integral(item, path, out),
        _ => {}
    }
}

fn collect_seen_conflicts(seen: &Seen, path: &str, out: &mut Vec<TypeConflict>) {
    match seen {
        Seen::Conflict(types) => out.push(TypeConflict {
            path: path.to_string(),
            types: types.clone(),
        }),
        Seen::Struct(fields) => collect_conflicts(fields, path, out),
        Seen::List(item) => collect_seen_conflicts(item, path, out),
        _ => {}
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Infers a file's schema from sample rows. Fields come in order of first appearance, all
/// optional. `true`/`false` → boolean, integers → long, other numbers → double (long and
/// double merge to double), strings → string, objects → struct (merged member by member),
/// arrays → list of the merged element types. Nulls, empty arrays and empty objects say
/// nothing; a field seen only so is left out. Values that are not objects are ignored.
pub fn infer_schema(sample: &[Value]) -> InferredSchema {
    let mut fields = Members::new();
    for row in sample {
        if let Value::Object(members) = row {
            for (name, value) in members {
                merge_member(&mut fields, name, Seen::of(value));
            }
        }
    }
    inferred_from(&fields)
}

/// The inferred schema of merged top-level fields.
pub(crate) fn inferred_from(fields: &Members) -> InferredSchema {
    let mut conflicts = Vec::new();
    collect_conflicts(fields, "", &mut conflicts);
    let mut integral = Vec::new();
    collect_integral(fields, "", &mut integral);
    InferredSchema {
        schema: TableSchema {
            fields: to_fields(fields),
        },
        conflicts,
        integral,
    }
}

/// The kind of a schema change, each with its own policy action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftClass {
    /// A new top-level field: an optional column can be added.
    AdditiveOptional,
    /// A new member inside a struct (or inside a list's element struct).
    NestedAddition,
    /// A long column now holds doubles.
    Widening,
    /// Anything the table cannot absorb: string where a number was, scalar where a struct
    /// was, values of mixed types.
    Incompatible,
}

/// One difference between a file and its table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftChange {
    /// What kind of change, which decides the policy action.
    pub class: DriftClass,
    /// Dotted path of the field: `coupon`, `customer.tier`, `items.sku` (a member of the
    /// element struct of list `items`).
    pub path: String,
    /// The table's type for the field; `None` for a new field.
    pub table_type: Option<String>,
    /// The file's type for the field (`mixed (long, string)` for conflicting values).
    pub file_type: String,
}

impl DriftChange {
    /// Whether a person can let the change through (`sluice drift approve`): an addition,
    /// which the table takes as a nullable column. A widening or an incompatible change has
    /// no column type that holds both, whoever approves it.
    pub fn approvable(&self) -> bool {
        matches!(
            self.class,
            DriftClass::AdditiveOptional | DriftClass::NestedAddition
        )
    }

    /// The same change: class, path and the file's type.
    pub fn same_change(&self, other: &DriftChange) -> bool {
        self.class == other.class && self.path == other.path && self.file_type == other.file_type
    }
}

/// The id of a set of changes to one table, as `sluice drift list` shows it and `sluice drift
/// approve` takes it: `d` and 10 hex digits of a SHA-256 over the table and the changes, in
/// any order. Every file blocked by the same changes waits on the same id.
pub fn change_set_id(table: &str, changes: &[DriftChange]) -> String {
    use sha2::{Digest, Sha256};
    let mut lines: Vec<String> = changes
        .iter()
        .map(|c| format!("{:?}\u{1f}{}\u{1f}{}", c.class, c.path, c.file_type))
        .collect();
    lines.sort();
    lines.dedup();
    let mut hash = Sha256::new();
    hash.update(table.as_bytes());
    for line in lines {
        hash.update([0u8]);
        hash.update(line.as_bytes());
    }
    format!("d{}", &hex::encode(hash.finalize())[..10])
}

impl std::fmt::Display for DriftChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = bounded(self.path.clone());
        let file = &self.file_type;
        match (self.class, &self.table_type) {
            (DriftClass::AdditiveOptional, _) => write!(f, "new column `{path}` ({file})"),
            (DriftClass::NestedAddition, _) => {
                write!(f, "new field `{path}` ({file}) inside an existing struct")
            }
            (DriftClass::Widening, Some(table)) => {
                write!(f, "`{path}` widens from {table} to {file}")
            }
            (_, Some(table)) => {
                write!(f, "`{path}` is {file} in the file but {table} in the table")
            }
            (_, None) => write!(
                f,
                "new field `{path}` is {file}, which no column type can hold"
            ),
        }
    }
}

/// Compares a file's inferred schema with the table's and lists the changes, in the file's
/// field order. A new struct or list column is one change, not one per member.
pub fn classify(table: &TableSchema, file: &InferredSchema) -> Vec<DriftChange> {
    let mut changes = Vec::new();
    compare_fields(&table.fields, &file.schema.fields, "", file, &mut changes);
    changes
}

fn compare_fields(
    table: &[Field],
    file: &[Field],
    prefix: &str,
    inferred: &InferredSchema,
    out: &mut Vec<DriftChange>,
) {
    for field in file {
        let path = join(prefix, &field.name);
        match table.iter().find(|t| t.name == field.name) {
            Some(t) => compare_types(&t.ty, &field.ty, &path, inferred, out),
            None => {
                let conflict =
                    inferred.conflict(&path).is_some() || has_conflict_under(&path, inferred);
                let class = if conflict {
                    DriftClass::Incompatible
                } else if prefix.is_empty() {
                    DriftClass::AdditiveOptional
                } else {
                    DriftClass::NestedAddition
                };
                out.push(DriftChange {
                    class,
                    path: path.clone(),
                    table_type: None,
                    file_type: file_type_name(&field.ty, &path, inferred),
                });
            }
        }
    }
}

/// Whether a new field has conflicting values somewhere inside it.
fn has_conflict_under(path: &str, inferred: &InferredSchema) -> bool {
    let prefix = format!("{path}.");
    inferred
        .conflicts
        .iter()
        .any(|c| c.path.starts_with(&prefix))
}

fn file_type_name(ty: &FieldType, path: &str, inferred: &InferredSchema) -> String {
    let name = match inferred.conflict(path) {
        Some(c) => format!("mixed ({})", c.types.join(", ")),
        None => ty.name(),
    };
    bounded(name)
}

/// Longest type name or path a change carries into a payload or a quarantine record; a
/// struct of thousands of members, or nested a hundred deep, is cut here, not carried whole
/// into a state limited to 256 KiB.
const MAX_DESCRIBED_CHARS: usize = 200;

/// `text`, cut after [`MAX_DESCRIBED_CHARS`] characters with `…` when it was longer.
fn bounded(text: String) -> String {
    match text.char_indices().nth(MAX_DESCRIBED_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn compare_types(
    table: &FieldType,
    file: &FieldType,
    path: &str,
    inferred: &InferredSchema,
    out: &mut Vec<DriftChange>,
) {
    let change = |class| DriftChange {
        class,
        path: path.to_string(),
        table_type: Some(table.name()),
        file_type: file_type_name(file, path, inferred),
    };
    if let Some(conflict) = inferred.conflict(path) {
        // Mixed values where some fit the column (a few `"two"` among numbers) are row-level
        // contract matters: validation rejects those rows with their line numbers. Only when
        // no value fits has the column's type changed.
        if !conflict
            .types
            .iter()
            .any(|seen| seen_type_fits(table, seen))
        {
            out.push(change(DriftClass::Incompatible));
        }
        return;
    }
    use FieldType as T;
    match (table, file) {
        (T::Struct(t), T::Struct(f)) => compare_fields(t, f, path, inferred, out),
        (T::List(t), T::List(f)) => compare_types(t, f, path, inferred, out),
        // `2.0` is an integer to JSON Schema, and the writer stores it in a long column.
        (T::Long, T::Double) if inferred.is_integral(path) => {}
        (T::Long, T::Double) => out.push(change(DriftClass::Widening)),
        (T::Double, T::Long) => {}
        (T::Timestamp | T::Date, T::String) => {}
        (t, f) if t == f => {}
        _ => out.push(change(DriftClass::Incompatible)),
    }
}

/// Whether values inferred as `seen` (a [`FieldType::name`]) can land in a `table` column.
fn seen_type_fits(table: &FieldType, seen: &str) -> bool {
    match table {
        FieldType::String | FieldType::Timestamp | FieldType::Date => seen == "string",
        FieldType::Long => seen == "long",
        FieldType::Double => seen == "double" || seen == "long",
        FieldType::Boolean => seen == "boolean",
        FieldType::Struct(_) => seen.starts_with("struct"),
        FieldType::List(_) => seen.starts_with("list"),
    }
}

/// A column to add when the table evolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnAddition {
    /// Dotted path of the struct that gains the member; for a list of structs the list
    /// column's path (`items`). `None` for a new top-level column.
    pub parent: Option<String>,
    /// The new column, `required = false`, with its full inferred type.
    pub field: Field,
}

impl ColumnAddition {
    /// The new column's dotted path (`coupon`, `customer.tier`).
    pub fn path(&self) -> String {
        match &self.parent {
            Some(p) => format!("{p}.{}", self.field.name),
            None => self.field.name.clone(),
        }
    }
}

/// What to do with a file, given its drift and the table's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftDecision {
    /// The file fits the table as it is.
    NoChange,
    /// Add these nullable columns, then load the file.
    Evolve {
        /// The columns to add, in the file's field order.
        additions: Vec<ColumnAddition>,
    },
    /// Leave the table alone; quarantine the file as `drift_blocked`.
    Quarantine {
        /// Names every blocking change and the policy key that blocked it.
        detail: String,
        /// The changes that blocked the file, as recorded in its quarantine record: the
        /// pending change `sluice drift approve` can let through.
        blocking: Vec<DriftChange>,
    },
}

/// Applies the policy. Any change whose action is `quarantine` quarantines the file (even if
/// others would evolve); a widening whose action is `evolve` also quarantines it, because the
/// Iceberg spec has no promotion from long to double. Otherwise every change evolves.
pub fn decide(
    changes: &[DriftChange],
    file: &InferredSchema,
    policy: &DriftPolicy,
) -> DriftDecision {
    decide_approved(changes, file, policy, &[])
}

/// [`decide`], with the changes a person approved (`sluice drift approve`) evolving the table
/// whatever the policy says: an approved addition (a new column, a new struct member: the
/// only changes a table can take) with the same path and type as one in `approved`.
pub fn decide_approved(
    changes: &[DriftChange],
    file: &InferredSchema,
    policy: &DriftPolicy,
    approved: &[DriftChange],
) -> DriftDecision {
    if changes.is_empty() {
        return DriftDecision::NoChange;
    }
    let mut blocking = Vec::new();
    let mut blocked = Vec::new();
    for change in changes {
        if change.approvable() && approved.iter().any(|a| a.same_change(change)) {
            continue;
        }
        let before = blocking.len();
        let (key, action) = match change.class {
            DriftClass::AdditiveOptional => ("additive", policy.additive),
            DriftClass::NestedAddition => ("nested_addition", policy.nested_addition),
            DriftClass::Widening => ("widening", policy.widening),
            DriftClass::Incompatible => ("incompatible", policy.incompatible),
        };
        match (action, change.class) {
            (DriftAction::Quarantine, _) => {
                blocking.push(format!("{change} (drift.{key} = \"quarantine\")"))
            }
            (DriftAction::Evolve, DriftClass::Widening) => blocking.push(format!(
                "{change} (drift.widening = \"evolve\", but Iceberg cannot promote a long \
                 column to double: the spec's promotions are int to long, float to double and \
                 a decimal's precision; keep the column's type, or bring the values in a new \
                 column)"
            )),
            (DriftAction::Evolve, DriftClass::Incompatible) => blocking.push(format!(
                "{change} (an incompatible change cannot be evolved: no column type holds both)"
            )),
            // The values are rescued row by row (validate), the table keeps its type.
            (DriftAction::Rescue, DriftClass::Incompatible) => {}
            // Refused at load for the other classes; quarantine if one got here.
            (DriftAction::Rescue, _) => blocking.push(format!(
                "{change} (\"rescue\" applies to incompatible changes only)"
            )),
            (DriftAction::Evolve, _) => {}
        }
        if blocking.len() > before {
            blocked.push(change.clone());
        }
    }
    if !blocking.is_empty() {
        return DriftDecision::Quarantine {
            detail: format!("schema drift blocked: {}", blocking.join("; ")),
            blocking: blocked,
        };
    }
    let mut additions = Vec::new();
    // Only new fields become columns: a change of an existing column's type that got here is
    // rescued row by row.
    for change in changes.iter().filter(|c| c.table_type.is_none()) {
        match resolve(&file.schema.fields, &change.path) {
            Some((parent, field)) => additions.push(ColumnAddition {
                parent,
                field: Field {
                    required: false,
                    ..field.clone()
                },
            }),
            None => {
                return DriftDecision::Quarantine {
                    detail: format!(
                        "schema drift blocked: {change} (not found in the file's schema)"
                    ),
                    blocking: vec![],
                }
            }
        }
    }
    if additions.is_empty() {
        return DriftDecision::NoChange;
    }
    DriftDecision::Evolve { additions }
}

/// Whether `table` has a column (or struct member) at the dotted `path`.
pub fn has_path(table: &TableSchema, path: &str) -> bool {
    resolve(&table.fields, path).is_some()
}

/// Finds the field at a dotted path in the file's schema, looking through lists, and returns
/// it with its parent's dotted path. Tries longer names first, so member names with dots in
/// them still resolve.
pub(crate) fn resolve<'a>(fields: &'a [Field], path: &str) -> Option<(Option<String>, &'a Field)> {
    let mut candidates: Vec<&Field> = fields
        .iter()
        .filter(|f| {
            path.strip_prefix(f.name.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
        .collect();
    candidates.sort_by_key(|f| std::cmp::Reverse(f.name.len()));
    for field in candidates {
        if path == field.name {
            return Some((None, field));
        }
        let rest = &path[field.name.len() + 1..];
        if let Some(members) = struct_members(&field.ty) {
            if let Some((parent, found)) = resolve(members, rest) {
                let parent = match parent {
                    Some(p) => format!("{}.{p}", field.name),
                    None => field.name.clone(),
                };
                return Some((Some(parent), found));
            }
        }
    }
    None
}

/// The members of a struct, or of the struct inside (nested) lists.
pub(crate) fn struct_members(ty: &FieldType) -> Option<&[Field]> {
    match ty {
        FieldType::Struct(fields) => Some(fields),
        FieldType::List(item) => struct_members(item),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, ty: FieldType) -> Field {
        Field {
            name: name.into(),
            ty,
            required: false,
        }
    }

    fn orders_table() -> TableSchema {
        TableSchema {
            fields: vec![
                Field {
                    name: "order_id".into(),
                    ty: FieldType::String,
                    required: true,
                },
                field("quantity", FieldType::Long),
                field("price", FieldType::Double),
                field("ordered_at", FieldType::Timestamp),
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

    fn changes(rows: &[Value]) -> Vec<DriftChange> {
        classify(&orders_table(), &infer_schema(rows))
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

    #[test]
    fn inference_merges_rows_in_order_of_first_appearance() {
        let s = infer_schema(&[
            json!({"b": 1, "a": true, "n": null}),
            json!({"c": "x", "b": 2.5, "o": {"k": 1}, "l": [1, 2]}),
            json!({"o": {"j": "s"}, "l": [], "e": [], "n": null}),
        ]);
        assert_eq!(
            s.schema.fields,
            vec![
                field("b", FieldType::Double),
                field("a", FieldType::Boolean),
                field("c", FieldType::String),
                field(
                    "o",
                    FieldType::Struct(vec![
                        field("k", FieldType::Long),
                        field("j", FieldType::String)
                    ])
                ),
                field("l", FieldType::List(Box::new(FieldType::Long))),
            ]
        );
        assert!(s.conflicts.is_empty());
    }

    #[test]
    fn conflicting_values_are_string_with_a_recorded_conflict() {
        let s = infer_schema(&[
            json!({"q": 1, "o": {"t": "a"}}),
            json!({"q": "x", "o": {"t": [1]}}),
        ]);
        assert_eq!(s.schema.field("q").unwrap().ty, FieldType::String);
        assert_eq!(
            s.conflicts,
            vec![
                TypeConflict {
                    path: "q".into(),
                    types: vec!["long".into(), "string".into()]
                },
                TypeConflict {
                    path: "o.t".into(),
                    types: vec!["list<long>".into(), "string".into()]
                },
            ]
        );
    }

    #[test]
    fn matching_file_has_no_drift() {
        let rows = [
            json!({"order_id": "o1", "quantity": 1, "price": 2, "ordered_at": "2026-01-01T00:00:00Z",
                           "customer": {"email": "a@b"}, "items": [{"qty": 1}]}),
        ];
        assert_eq!(changes(&rows), vec![]);
    }

    #[test]
    fn missing_fields_are_not_drift() {
        assert_eq!(changes(&[json!({"quantity": 1})]), vec![]);
    }

    #[test]
    fn new_field_is_additive() {
        let c = changes(&[json!({"order_id": "o1", "coupon": "X"})]);
        assert_eq!(
            c,
            vec![DriftChange {
                class: DriftClass::AdditiveOptional,
                path: "coupon".into(),
                table_type: None,
                file_type: "string".into()
            }]
        );
        assert_eq!(c[0].to_string(), "new column `coupon` (string)");
    }

    #[test]
    fn new_member_in_struct_or_list_element_is_nested_addition() {
        let c =
            changes(&[json!({"customer": {"tier": "gold"}, "items": [{"qty": 1, "sku": "A"}]})]);
        let paths: Vec<(&str, DriftClass)> = c.iter().map(|c| (c.path.as_str(), c.class)).collect();
        assert_eq!(
            paths,
            vec![
                ("customer.tier", DriftClass::NestedAddition),
                ("items.sku", DriftClass::NestedAddition)
            ]
        );
    }

    #[test]
    fn long_to_double_is_widening_and_double_to_long_is_not_drift() {
        let c = changes(&[json!({"quantity": 1.5, "price": 3})]);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].class, c[0].path.as_str()),
            (DriftClass::Widening, "quantity")
        );
        assert_eq!(c[0].to_string(), "`quantity` widens from long to double");
    }

    // See: #15
    #[test]
    fn integral_doubles_fit_a_long_column_and_fractions_do_not() {
        assert_eq!(
            changes(&[json!({"quantity": 2.0}), json!({"quantity": 3})]),
            vec![]
        );
        assert_eq!(changes(&[json!({"quantity": 1e3})]), vec![]);
        // Too large for a long, but an integer: the row's bad value, not the file's drift.
        let huge: Value = serde_json::from_str(r#"{"quantity": 99999999999999999999}"#).unwrap();
        assert_eq!(changes(&[huge]), vec![]);
        let c = changes(&[json!({"quantity": 2.0}), json!({"quantity": 2.5})]);
        assert_eq!(c[0].class, DriftClass::Widening);
        // A new column of integral doubles is still a double column.
        let s = infer_schema(&[json!({"price2": 2.0})]);
        assert_eq!(s.schema.fields[0].ty, FieldType::Double);
    }

    #[test]
    fn a_change_describes_a_huge_type_and_name_in_bounded_text() {
        let mut deep = json!("x");
        for _ in 0..100 {
            deep = json!({ "member_with_a_long_name": deep });
        }
        let long_name = "n".repeat(10_000);
        let c = changes(&[json!({ "note": deep, (long_name.as_str()): 1 })]);
        assert_eq!(c.len(), 2, "{c:?}");
        for change in &c {
            let text = change.to_string();
            assert!(text.chars().count() < 3 * MAX_DESCRIBED_CHARS, "{text}");
            assert!(text.contains('…'), "{text}");
        }
    }

    #[test]
    fn string_in_timestamp_column_is_not_drift() {
        assert_eq!(changes(&[json!({"ordered_at": "yesterday"})]), vec![]);
    }

    #[test]
    fn string_where_number_was_is_incompatible() {
        let c = changes(&[json!({"quantity": "three"})]);
        assert_eq!(c[0].class, DriftClass::Incompatible);
        assert_eq!(
            c[0].to_string(),
            "`quantity` is string in the file but long in the table"
        );
    }

    #[test]
    fn number_in_string_column_and_scalar_for_struct_are_incompatible() {
        let c = changes(&[json!({"order_id": 5, "customer": "alice", "items": {"qty": 1}})]);
        assert!(
            c.iter().all(|c| c.class == DriftClass::Incompatible),
            "{c:?}"
        );
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn mixed_values_that_partly_fit_are_left_to_row_validation() {
        // A few bad values among good ones: validation rejects those rows, not the file.
        let c = changes(&[
            json!({"quantity": 1, "order_id": "a"}),
            json!({"quantity": "x", "order_id": 2}),
        ]);
        assert_eq!(c, vec![], "{c:?}");
    }

    #[test]
    fn mixed_values_that_never_fit_are_incompatible() {
        let c = changes(&[json!({"quantity": "x"}), json!({"quantity": true})]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].class, DriftClass::Incompatible);
        assert_eq!(c[0].file_type, "mixed (boolean, string)");
    }

    #[test]
    fn new_field_with_mixed_values_is_incompatible() {
        let c = changes(&[json!({"coupon": 1}), json!({"coupon": "X"})]);
        assert_eq!(c[0].class, DriftClass::Incompatible);
        assert_eq!(c[0].table_type, None);
    }

    #[test]
    fn null_only_field_is_not_drift() {
        assert_eq!(
            changes(&[json!({"coupon": null, "tags": [], "meta": {}})]),
            vec![]
        );
    }

    #[test]
    fn no_changes_is_no_change() {
        assert_eq!(
            decide(&[], &InferredSchema::default(), &DriftPolicy::default()),
            DriftDecision::NoChange
        );
    }

    #[test]
    fn additive_change_evolves_with_full_nested_type() {
        let file = infer_schema(&[json!({"shipping": {"city": "Oslo", "zip": 1234}})]);
        let c = classify(&orders_table(), &file);
        let d = decide(&c, &file, &DriftPolicy::default());
        let expected = field(
            "shipping",
            FieldType::Struct(vec![
                field("city", FieldType::String),
                field("zip", FieldType::Long),
            ]),
        );
        assert_eq!(
            d,
            DriftDecision::Evolve {
                additions: vec![ColumnAddition {
                    parent: None,
                    field: expected
                }]
            }
        );
    }

    #[test]
    fn nested_addition_evolves_under_its_parent_when_policy_allows() {
        let file = infer_schema(&[json!({"customer": {"tier": "gold"}, "items": [{"sku": "A"}]})]);
        let c = classify(&orders_table(), &file);
        let DriftDecision::Evolve { additions } = decide(&c, &file, &evolve_all()) else {
            panic!()
        };
        let parents: Vec<Option<&str>> = additions.iter().map(|a| a.parent.as_deref()).collect();
        assert_eq!(parents, vec![Some("customer"), Some("items")]);
        assert_eq!(additions[1].field, field("sku", FieldType::String));
    }

    #[test]
    fn nested_addition_evolves_by_default_and_quarantines_when_told() {
        let file = infer_schema(&[json!({"customer": {"tier": "gold"}})]);
        let changes = classify(&orders_table(), &file);
        let d = decide(&changes, &file, &DriftPolicy::default());
        let DriftDecision::Evolve { additions } = d else {
            panic!("{d:?}")
        };
        assert_eq!(additions[0].path(), "customer.tier");
        let strict = DriftPolicy {
            nested_addition: DriftAction::Quarantine,
            ..DriftPolicy::default()
        };
        let DriftDecision::Quarantine { detail, .. } = decide(&changes, &file, &strict) else {
            panic!("quarantined under nested_addition = \"quarantine\"")
        };
        assert!(
            detail.contains("customer.tier") && detail.contains("drift.nested_addition"),
            "{detail}"
        );
    }

    #[test]
    fn one_blocking_change_quarantines_the_whole_file_and_names_every_blocker() {
        let file = infer_schema(&[json!({"coupon": "X", "quantity": "x", "order_id": 1})]);
        let d = decide(
            &classify(&orders_table(), &file),
            &file,
            &DriftPolicy::default(),
        );
        let DriftDecision::Quarantine { detail, .. } = d else {
            panic!("{d:?}")
        };
        assert!(
            detail.contains("`quantity`") && detail.contains("`order_id`"),
            "{detail}"
        );
        assert!(!detail.contains("coupon"), "{detail}");
    }

    #[test]
    fn widening_with_evolve_is_quarantined_as_unsupported() {
        let file = infer_schema(&[json!({"quantity": 1.5})]);
        let policy = DriftPolicy {
            widening: DriftAction::Evolve,
            ..DriftPolicy::default()
        };
        let d = decide(&classify(&orders_table(), &file), &file, &policy);
        let DriftDecision::Quarantine { detail, .. } = d else {
            panic!("{d:?}")
        };
        assert!(
            detail.contains("Iceberg cannot promote a long column to double"),
            "{detail}"
        );
    }

    #[test]
    fn field_names_with_dots_still_resolve() {
        let table = TableSchema {
            fields: vec![field(
                "a",
                FieldType::Struct(vec![field("x", FieldType::Long)]),
            )],
        };
        let file = infer_schema(&[json!({"a": {"x": 1, "b.c": true}})]);
        let c = classify(&table, &file);
        let DriftDecision::Evolve { additions } = decide(&c, &file, &evolve_all()) else {
            panic!()
        };
        assert_eq!(additions[0].parent.as_deref(), Some("a"));
        assert_eq!(additions[0].field.name, "b.c");
    }

    #[test]
    fn drift_class_serialises_snake_case() {
        assert_eq!(
            serde_json::to_string(&DriftClass::AdditiveOptional).unwrap(),
            "\"additive_optional\""
        );
    }
}
