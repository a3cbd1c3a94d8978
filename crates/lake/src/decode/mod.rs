//! Parse once: a decoder compiled from a table's contract that checks each row while it
//! appends the row's values to the table's Arrow columns.
//!
//! The contract path it replaces parses every row twice: into a `serde_json::Value` for the
//! JSON Schema check, and again in arrow-json's decoder for the columns. A [`Plan`] is the
//! contract (`type`, `required`, `properties`, `additionalProperties`, `items`, `minItems`,
//! `maxItems`, `minimum`, `maximum` and their exclusive forms, `minLength`, `maxLength`,
//! `enum`) laid over the table's Arrow schema, so that one pass over a row's bytes checks
//! every keyword and builds the columns.
//!
//! It decides only what it is sure of. A row it accepts is one that `jsonschema` accepts and
//! arrow-json converts to the same values; anything else (a row that breaks the contract, a
//! value Arrow cannot hold, a duplicate key, a lone surrogate, `1.0` for an integer, nesting
//! past 100) it hands back, rolled back from the columns, and the caller takes the row the
//! value-based way, which reports the same line, pointer and message as before. Keywords the
//! plan does not check natively on a scalar (`pattern`, `format`, `multipleOf`, `const`, an
//! `enum` of non-strings, ...) are checked by `jsonschema` itself on that one value, compiled
//! from that subschema. A contract the plan cannot express (`$ref`, `oneOf`/`anyOf`/`allOf`,
//! `if`/`then`, `patternProperties`, ... on an object or array, a column type the decoder
//! does not build) has no plan: [`Plan::compile`] says why, and every row takes the
//! value-based path. A CSV record is decoded from its cells ([`RowDecoder::push_cells`]),
//! typed as the value-based path types them, with no JSON text written or read; it is
//! decided exactly as the JSON object its typed value serialises to. The differential tests
//! beside this module (`tests.rs`: property tests, hostile text, the benchmark generator's
//! valid and broken orders as NDJSON and as CSV) hold the two paths to the same answers, and
//! the cells to the text.

mod columns;
mod scan;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::Date32Type;
use arrow_array::RecordBatch;
use arrow_cast::parse::{string_to_datetime, Parser};
use arrow_schema::{ArrowError, DataType, SchemaRef};
use iceberg::arrow::schema_to_arrow_schema;
use serde_json::{Map, Number, Value};
use sluice_core::reader::Cell;
use sluice_core::schema::{is_lineage_column, FieldType, TableSchema};

use columns::{finish, push_null, Column, Data, Mark};
use scan::{Scan, Scanned, Slow};

/// Keywords that describe and do not constrain.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "$comment",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$schema",
    "$id",
    "$defs",
    "definitions",
];

/// Keywords that refer elsewhere: a contract with one anywhere has no plan.
const REFERENCES: &[&str] = &[
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
    "$anchor",
    "$dynamicAnchor",
];

/// The JSON types a value may have, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Types(u8);

impl Types {
    const NULL: u8 = 1;
    const BOOLEAN: u8 = 2;
    const INTEGER: u8 = 4;
    const NUMBER: u8 = 8;
    const STRING: u8 = 16;
    const ARRAY: u8 = 32;
    const OBJECT: u8 = 64;
    const ANY: Types = Types(127);

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn parse(value: &Value) -> Result<Types, String> {
        let one = |name: &str| -> Result<u8, String> {
            Ok(match name {
                "null" => Self::NULL,
                "boolean" => Self::BOOLEAN,
                "integer" => Self::INTEGER,
                "number" => Self::NUMBER,
                "string" => Self::STRING,
                "array" => Self::ARRAY,
                "object" => Self::OBJECT,
                other => return Err(format!("type {other:?}")),
            })
        };
        match value {
            Value::String(name) => Ok(Types(one(name)?)),
            Value::Array(names) => {
                let mut bits = 0;
                for name in names {
                    let name = name.as_str().ok_or("a type that is not a name")?;
                    bits |= one(name)?;
                }
                Ok(Types(bits))
            }
            _ => Err("a type that is not a name".into()),
        }
    }
}

/// A numeric bound as written in the contract.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Int(i64),
    Float(f64),
}

/// Integers of at most this size convert to `f64` exactly.
const EXACT: f64 = 9_007_199_254_740_992.0;

impl Bound {
    fn parse(value: &Value, keyword: &str) -> Result<Bound, String> {
        if let Some(i) = value.as_i64() {
            return Ok(Bound::Int(i));
        }
        match value.as_f64() {
            Some(f) if value.is_f64() && f.abs() < EXACT => Ok(Bound::Float(f)),
            _ => Err(format!("{keyword} {value}")),
        }
    }

    /// How `value` compares with the bound, when that is certain.
    fn cmp_int(self, value: i64) -> Option<std::cmp::Ordering> {
        match self {
            Bound::Int(b) => Some(value.cmp(&b)),
            Bound::Float(b) if (value as f64).abs() < EXACT => (value as f64).partial_cmp(&b),
            Bound::Float(_) => None,
        }
    }

    fn cmp_float(self, value: f64) -> Option<std::cmp::Ordering> {
        if value.abs() >= EXACT {
            return None;
        }
        match self {
            Bound::Int(b) if (b as f64).abs() < EXACT => value.partial_cmp(&(b as f64)),
            Bound::Int(_) => None,
            Bound::Float(b) => value.partial_cmp(&b),
        }
    }
}

/// The checks on one value and the column it goes to.
struct Node {
    types: Types,
    min_length: Option<usize>,
    max_length: Option<usize>,
    enum_strings: Option<Vec<Box<str>>>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    exclusive_minimum: Option<Bound>,
    exclusive_maximum: Option<Bound>,
    /// The subschema's other keywords, checked by `jsonschema` on the value (scalars only).
    rest: Option<jsonschema::Validator>,
    object: Option<Object>,
    items: Option<Box<Node>>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    /// Where the value goes; `None`: checked, not kept (a field the table has no column for).
    column: Option<usize>,
}

/// An object's members.
struct Object {
    members: Vec<Member>,
    /// The members' names, in `members`' order.
    names: Vec<Box<str>>,
    /// Each member by name, for objects with more than [`FEW_MEMBERS`] members.
    by_name: HashMap<Box<str>, usize>,
    /// Whether members the contract does not declare are allowed.
    additional: bool,
}

struct Member {
    node: Node,
    required: bool,
    /// Declared in the contract's `properties` (not only a column of the table).
    declared: bool,
}

/// A contract compiled against a table's Arrow schema; see the module documentation.
pub struct Plan {
    root: Object,
    schema: SchemaRef,
    /// The top-level columns, in the schema's order, in the arena [`columns_of`] builds.
    top: Vec<usize>,
}

/// Compiling state: the arena of columns and the schema's `$schema`, which each scalar
/// subschema checked by `jsonschema` keeps, so that it is read under the same draft.
struct Compiler {
    arena: Vec<Column>,
    dialect: Option<Value>,
}

impl Plan {
    /// Compiles `contract` (a JSON Schema document) for rows decoded into `schema` (the
    /// table's Arrow schema without lineage columns). `Err` says what the plan cannot check
    /// or build, with its JSON pointer in the contract.
    pub fn compile(contract: &Value, schema: SchemaRef) -> Result<Plan, String> {
        if let Some(pointer) = find_reference(contract, String::new()) {
            return Err(format!("a reference at {pointer}"));
        }
        let (arena, top) = columns_of(&schema)?;
        let mut compiler = Compiler {
            arena,
            dialect: contract.get("$schema").cloned(),
        };
        let Value::Object(keywords) = contract else {
            return Err("a contract that is not an object".into());
        };
        let root_types = match keywords.get("type") {
            Some(t) => Types::parse(t)?,
            None => Types::ANY,
        };
        if root_types != Types(Types::OBJECT) {
            return Err("a row type other than \"object\"".into());
        }
        let columns: Vec<(String, usize)> = schema
            .fields()
            .iter()
            .zip(&top)
            .map(|(f, c)| (f.name().clone(), *c))
            .collect();
        check_keywords(keywords, &[], "", root_types)?;
        let root = compiler.object(keywords, &columns, "")?;
        Ok(Plan { root, schema, top })
    }
}

impl Plan {
    /// The columns the plan decodes rows to.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

/// The empty columns of `schema` (nested ones included) and the top-level ones' indices;
/// the same schema always gives the same arena.
fn columns_of(schema: &SchemaRef) -> Result<(Vec<Column>, Vec<usize>), String> {
    let mut arena = vec![];
    let mut top = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        top.push(
            Column::build(field.data_type(), field.is_nullable(), &mut arena)
                .map_err(|e| format!("column {}: {e}", field.name()))?,
        );
    }
    Ok((arena, top))
}

/// The JSON pointer of the first reference keyword in `schema`, if any.
fn find_reference(schema: &Value, at: String) -> Option<String> {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if REFERENCES.contains(&key.as_str()) {
                    return Some(format!("{at}/{key}"));
                }
                if let Some(found) = find_reference(value, format!("{at}/{key}")) {
                    return Some(found);
                }
            }
            None
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_reference(v, format!("{at}/{i}"))),
        _ => None,
    }
}

/// The keywords the plan checks itself.
const NATIVE: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "enum",
];

/// `Err` when `keywords` has one that is neither native nor an annotation, and the value
/// may be an object or an array (scalars take theirs to `jsonschema`).
fn check_keywords(
    keywords: &Map<String, Value>,
    also: &[&str],
    at: &str,
    types: Types,
) -> Result<(), String> {
    if !types.has(Types::OBJECT) && !types.has(Types::ARRAY) {
        return Ok(());
    }
    for key in keywords.keys() {
        let k = key.as_str();
        if !NATIVE.contains(&k) && !ANNOTATIONS.contains(&k) && !also.contains(&k) {
            return Err(format!("the keyword {k:?} at {at}/{k}"));
        }
    }
    Ok(())
}

fn usize_of(keywords: &Map<String, Value>, key: &str, at: &str) -> Result<Option<usize>, String> {
    match keywords.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{key} {v} at {at}")),
    }
}

fn bound_of(keywords: &Map<String, Value>, key: &str, at: &str) -> Result<Option<Bound>, String> {
    keywords
        .get(key)
        .map(|v| Bound::parse(v, key).map_err(|e| format!("{e} at {at}")))
        .transpose()
}

impl Compiler {
    /// A node for the subschema `schema` at pointer `at`, its value going to `column`.
    fn node(&mut self, schema: &Value, at: &str, column: Option<usize>) -> Result<Node, String> {
        let empty = Map::new();
        let keywords = match schema {
            Value::Object(map) => map,
            Value::Bool(true) => &empty,
            _ => return Err(format!("a schema that is not an object at {at}")),
        };
        let types = match keywords.get("type") {
            Some(t) => Types::parse(t).map_err(|e| format!("{e} at {at}"))?,
            None => Types::ANY,
        };
        check_keywords(keywords, &[], at, types)?;
        let mut node = Node {
            types,
            min_length: usize_of(keywords, "minLength", at)?,
            max_length: usize_of(keywords, "maxLength", at)?,
            enum_strings: None,
            minimum: bound_of(keywords, "minimum", at)?,
            maximum: bound_of(keywords, "maximum", at)?,
            exclusive_minimum: bound_of(keywords, "exclusiveMinimum", at)?,
            exclusive_maximum: bound_of(keywords, "exclusiveMaximum", at)?,
            rest: None,
            object: None,
            items: None,
            min_items: usize_of(keywords, "minItems", at)?,
            max_items: usize_of(keywords, "maxItems", at)?,
            column,
        };
        let mut rest = Map::new();
        if let Some(values) = keywords.get("enum") {
            match values
                .as_array()
                .and_then(|a| a.iter().map(|v| v.as_str().map(Box::from)).collect())
            {
                Some(strings) => node.enum_strings = Some(strings),
                None if types.has(Types::OBJECT) || types.has(Types::ARRAY) => {
                    return Err(format!("an enum of other values than strings at {at}/enum"));
                }
                None => {
                    rest.insert("enum".into(), values.clone());
                }
            }
        }
        for (key, value) in keywords {
            if !NATIVE.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
                rest.insert(key.clone(), value.clone());
            }
        }
        if !rest.is_empty() {
            if let Some(dialect) = &self.dialect {
                rest.insert("$schema".into(), dialect.clone());
            }
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&Value::Object(rest))
                .map_err(|e| format!("the subschema at {at}: {e}"))?;
            node.rest = Some(validator);
        }
        let column_type = column.map(|c| self.arena[c].data_type.clone());
        if types.has(Types::OBJECT) {
            let members: Vec<(String, usize)> = match (&column_type, column) {
                (Some(DataType::Struct(fields)), Some(c)) => match &self.arena[c].data {
                    Data::Struct { children, .. } => fields
                        .iter()
                        .zip(children.iter())
                        .map(|(f, child)| (f.name().clone(), *child))
                        .collect(),
                    _ => vec![],
                },
                _ => vec![],
            };
            if keywords.contains_key("properties") || !members.is_empty() {
                node.object = Some(self.object(keywords, &members, at)?);
            } else if keywords.contains_key("required")
                || keywords.contains_key("additionalProperties")
            {
                node.object = Some(self.object(keywords, &[], at)?);
            }
        }
        if types.has(Types::ARRAY) {
            let child = match (&column_type, column) {
                (Some(DataType::List(_)), Some(c)) => match &self.arena[c].data {
                    Data::List { child, .. } => Some(*child),
                    _ => None,
                },
                _ => None,
            };
            match keywords.get("items") {
                Some(items @ (Value::Object(_) | Value::Bool(true))) => {
                    node.items = Some(Box::new(self.node(items, &format!("{at}/items"), child)?));
                }
                Some(other) => return Err(format!("items {other} at {at}")),
                None if child.is_some() => {
                    node.items = Some(Box::new(self.node(&Value::Bool(true), at, child)?));
                }
                None => {}
            }
        }
        Ok(node)
    }

    /// An object's members: the contract's `properties` and `columns` (name, column) together.
    fn object(
        &mut self,
        keywords: &Map<String, Value>,
        columns: &[(String, usize)],
        at: &str,
    ) -> Result<Object, String> {
        let empty = Map::new();
        let properties = match keywords.get("properties") {
            Some(Value::Object(p)) => p,
            Some(other) => return Err(format!("properties {other} at {at}")),
            None => &empty,
        };
        let required: Vec<&str> = match keywords.get("required") {
            Some(Value::Array(names)) => names
                .iter()
                .map(|n| n.as_str().ok_or(format!("required {n} at {at}")))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("required {other} at {at}")),
            None => vec![],
        };
        let additional = match keywords.get("additionalProperties") {
            None | Some(Value::Bool(true)) => true,
            Some(Value::Bool(false)) => false,
            Some(Value::Object(o)) if o.is_empty() => true,
            Some(other) => return Err(format!("additionalProperties {other} at {at}")),
        };
        let mut object = Object {
            members: vec![],
            names: vec![],
            by_name: HashMap::new(),
            additional,
        };
        let column_of: HashMap<&str, usize> =
            columns.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        for (name, schema) in properties {
            let column = column_of.get(name.as_str()).copied();
            let node = self.node(schema, &format!("{at}/properties/{name}"), column)?;
            object.add(name, node, true, required.contains(&name.as_str()));
        }
        for (name, column) in columns {
            if !properties.contains_key(name) {
                let node = self.node(&Value::Bool(true), &format!("{at}/{name}"), Some(*column))?;
                object.add(name, node, false, required.contains(&name.as_str()));
            }
        }
        for name in &required {
            if !object.by_name.contains_key(*name) {
                let node = self.node(&Value::Bool(true), at, None)?;
                object.add(name, node, false, true);
            }
        }
        Ok(object)
    }
}

/// Up to this many members, a name is looked up by comparing names, starting after the
/// member found last (rows tend to list members in the same order), not by hashing.
const FEW_MEMBERS: usize = 16;

impl Object {
    fn add(&mut self, name: &str, node: Node, declared: bool, required: bool) {
        self.by_name.insert(name.into(), self.members.len());
        self.names.push(name.into());
        self.members.push(Member {
            node,
            required,
            declared,
        });
    }
}

impl Object {
    /// The member named `name`; `after` is the index of the member found before it.
    fn find(&self, name: &str, after: Option<usize>) -> Option<usize> {
        let n = self.names.len();
        if n > FEW_MEMBERS {
            return self.by_name.get(name).copied();
        }
        let start = after.map_or(0, |i| i + 1);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| self.names[i].as_ref() == name)
    }
}

/// Rows decoded with a [`Plan`], held until [`RowDecoder::flush`].
pub struct RowDecoder {
    plan: Arc<Plan>,
    arena: Vec<Column>,
    marks: Vec<Mark>,
    rows: usize,
    scratch: String,
    value: Value,
    /// For a CSV object, the member of the contract's top-level object each column of its
    /// header is ([`RowDecoder::bind_headers`]).
    headers: Vec<Option<usize>>,
    /// Whether a member the table has no column for sends the row to the value-based path
    /// (which collects new fields for the drift gate).
    pub new_members_slow: bool,
}

/// Bytes of string data a decoder holds before [`RowDecoder::wants_flush`] says so, far
/// below the 2 GiB an Arrow string column can hold.
const FLUSH_BYTES: usize = 64 << 20;

impl RowDecoder {
    pub fn new(plan: Arc<Plan>) -> Self {
        // The plan compiled from this schema, so its columns build again, the same way.
        let arena = columns_of(&plan.schema).map(|(a, _)| a).unwrap_or_default();
        RowDecoder {
            marks: vec![Mark::default(); arena.len()],
            arena,
            plan,
            rows: 0,
            scratch: String::new(),
            value: Value::String(String::new()),
            headers: Vec::new(),
            new_members_slow: false,
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether enough is held that the caller should flush before the next row.
    pub fn wants_flush(&self) -> bool {
        self.arena.iter().any(|c| match &c.data {
            Data::Utf8 { bytes, .. } => bytes.len() > FLUSH_BYTES,
            _ => false,
        })
    }

    /// Checks one row (the text of one JSON object) and, when it is accepted, appends it.
    /// `false`: not accepted here, nothing appended; the caller takes the value-based path.
    pub fn push(&mut self, row: &[u8]) -> bool {
        // simdutf8 checks a line many bytes at a time; std's check was 4 % of an ingest.
        let Ok(text) = simdutf8::basic::from_utf8(row) else {
            return false;
        };
        self.row(|state, plan, _| {
            let mut scan = Scan::new(text);
            scan.peek() == Some(b'{')
                && state.object(&mut scan, &plan.root, None, 0).is_ok()
                && scan.at_end()
        })
    }

    /// Takes the header of the CSV object whose records [`push_cells`](Self::push_cells)
    /// will be given: each column is looked up once here, not once per row.
    pub fn bind_headers(&mut self, headers: &[String]) {
        self.headers = headers
            .iter()
            .map(|h| self.plan.root.find(h, None))
            .collect();
    }

    /// Checks one CSV record (its cells in the order of the header bound, each column's
    /// type in `types`) as [`push`](Self::push) checks the JSON object its typed value
    /// serialises to, and, when it is accepted, appends it. The cells are typed by
    /// [`Cell::of`], as the value-based path types them; no JSON text is written or read.
    /// `false`: not accepted here, nothing appended; the caller takes the value-based path.
    pub fn push_cells(&mut self, cells: &[Vec<u8>], types: &[Option<FieldType>]) -> bool {
        if cells.len() != self.headers.len() || types.len() != cells.len() {
            return false;
        }
        self.row(|state, plan, headers| state.cells(&plan.root, headers, cells, types).is_ok())
    }

    /// Decodes one row with `decode`, given the plan and the bound CSV header: the row is
    /// kept when `decode` accepts it and it filled every top-level column, rolled back from
    /// the columns otherwise.
    fn row(
        &mut self,
        decode: impl FnOnce(&mut State<'_>, &Plan, &[Option<usize>]) -> bool,
    ) -> bool {
        for (mark, column) in self.marks.iter_mut().zip(&self.arena) {
            *mark = column.mark();
        }
        let plan = &*self.plan;
        let mut state = State {
            arena: &mut self.arena,
            scratch: &mut self.scratch,
            value: &mut self.value,
            new_members_slow: self.new_members_slow,
        };
        let accepted = decode(&mut state, plan, &self.headers)
            && state.top_level_filled(&plan.top, self.rows + 1);
        if accepted {
            self.rows += 1;
        } else {
            for (column, mark) in self.arena.iter_mut().zip(&self.marks) {
                column.rewind(*mark);
            }
        }
        accepted
    }

    /// The rows held, as one batch of the plan's schema; the decoder is empty after.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let mut arrays = Vec::with_capacity(self.plan.top.len());
        for &at in &self.plan.top {
            arrays.push(finish(&mut self.arena, at)?);
        }
        let rows = std::mem::take(&mut self.rows);
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.plan.schema.clone(), arrays, &options).map(Some)
    }
}

/// The decoding of one row.
struct State<'d> {
    arena: &'d mut Vec<Column>,
    scratch: &'d mut String,
    /// A string value reused for the checks `jsonschema` makes on one value.
    value: &'d mut Value,
    new_members_slow: bool,
}

impl State<'_> {
    /// Every top-level column has `rows` entries (a member may have been absent).
    fn top_level_filled(&mut self, top: &[usize], rows: usize) -> bool {
        top.iter().all(|&c| self.arena[c].len() == rows)
    }

    /// An object value for `object`, whose struct column (if any) is `column`.
    fn object(
        &mut self,
        scan: &mut Scan<'_>,
        object: &Object,
        column: Option<usize>,
        depth: usize,
    ) -> Scanned<()> {
        if depth > scan::MAX_DEPTH {
            return Err(Slow);
        }
        scan.eat(b'{')?;
        let mut seen = Seen::new(object.members.len());
        let mut last = None;
        if !scan.close_if(b'}') {
            loop {
                if scan.peek() != Some(b'"') {
                    return Err(Slow);
                }
                let name = scan.string(self.scratch)?;
                let found = object.find(name, last);
                if found.is_some() {
                    last = found;
                }
                scan.eat(b':')?;
                match self.admit(object, &mut seen, found)? {
                    Some(member) => self.value(scan, &member.node, depth + 1)?,
                    None => scan.skip(depth + 1, self.scratch)?,
                }
                if !scan.next_or_close(b'}')? {
                    break;
                }
            }
        }
        self.absent(object, &seen)?;
        if let Some(c) = column {
            self.arena[c].valid.push(true);
        }
        Ok(())
    }

    /// Whether a member met in a row (`found`: its index in `object`, `None` when the object
    /// has no such member) is decoded here: `Some` to decode it, `None` to pass over a member
    /// the object allows but does not know. `Err(Slow)` when the value-based path decides.
    fn admit<'o>(
        &self,
        object: &'o Object,
        seen: &mut Seen,
        found: Option<usize>,
    ) -> Scanned<Option<&'o Member>> {
        let Some(i) = found else {
            if !object.additional || self.new_members_slow {
                return Err(Slow);
            }
            return Ok(None);
        };
        if seen.insert(i) {
            // A key given twice: serde_json keeps the last, arrow-json too; the value-based
            // path decides.
            return Err(Slow);
        }
        let member = &object.members[i];
        if !member.declared && !object.additional {
            return Err(Slow);
        }
        if member.node.column.is_none() && self.new_members_slow {
            return Err(Slow);
        }
        Ok(Some(member))
    }

    /// The members of `object` a row left out: null, unless one is required.
    fn absent(&mut self, object: &Object, seen: &Seen) -> Scanned<()> {
        for (i, member) in object.members.iter().enumerate() {
            if seen.contains(i) {
                continue;
            }
            if member.required {
                return Err(Slow);
            }
            if let Some(c) = member.node.column {
                if !push_null(self.arena, c, false) {
                    return Err(Slow);
                }
            }
        }
        Ok(())
    }

    /// A CSV record's cells as the members of the top-level `object`, the way
    /// [`object`](Self::object) takes the JSON object they serialise to: an empty cell is an
    /// absent member, a column the contract does not declare is an undeclared member.
    fn cells(
        &mut self,
        object: &Object,
        members: &[Option<usize>],
        cells: &[Vec<u8>],
        types: &[Option<FieldType>],
    ) -> Scanned<()> {
        let mut seen = Seen::new(object.members.len());
        for ((cell, member), ty) in cells.iter().zip(members).zip(types) {
            let text = std::str::from_utf8(cell).map_err(|_| Slow)?;
            let cell = Cell::of(text, ty.as_ref());
            if matches!(cell, Cell::Empty) {
                continue;
            }
            let Some(member) = self.admit(object, &mut seen, *member)? else {
                continue;
            };
            let node = &member.node;
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => put_string(self.arena, self.value, node, s)?,
                // The text path reads the integer's decimal text, which rounds to this f64.
                Cell::Long(i) => put_number(self.arena, node, Some(i), i as f64, None)?,
                Cell::Double(x) => put_number(self.arena, node, None, x, None)?,
                Cell::Boolean(b) => put_boolean(self.arena, node, b)?,
            }
        }
        self.absent(object, &seen)
    }

    /// One value for `node`.
    fn value(&mut self, scan: &mut Scan<'_>, node: &Node, depth: usize) -> Scanned<()> {
        let column = node.column;
        match scan.peek().ok_or(Slow)? {
            // A value of another type than string is never in an enum of strings.
            b'"' => {}
            _ if node.enum_strings.is_some() => return Err(Slow),
            _ => {}
        }
        match scan.peek().ok_or(Slow)? {
            b'{' => {
                if !node.types.has(Types::OBJECT) {
                    return Err(Slow);
                }
                if let Some(c) = column {
                    if !matches!(self.arena[c].data, Data::Struct { .. }) {
                        return Err(Slow);
                    }
                }
                match &node.object {
                    Some(object) => self.object(scan, object, column, depth),
                    // No members known and no column: any object.
                    None if column.is_none() => scan.skip(depth, self.scratch),
                    None => Err(Slow),
                }
            }
            b'[' => {
                if !node.types.has(Types::ARRAY) {
                    return Err(Slow);
                }
                self.array(scan, node, depth)
            }
            b'"' => {
                if !node.types.has(Types::STRING) {
                    return Err(Slow);
                }
                let s = scan.string(self.scratch)?;
                put_string(self.arena, self.value, node, s)
            }
            b'-' | b'0'..=b'9' => {
                let n = scan.number()?;
                let integer = n.as_i64();
                let float = n.as_f64()?;
                put_number(self.arena, node, integer, float, Some(n.text))
            }
            _ => {
                let literal = scan.literal()?;
                match literal {
                    Some(b) => put_boolean(self.arena, node, b),
                    None => {
                        if !node.types.has(Types::NULL) {
                            return Err(Slow);
                        }
                        if let Some(rest) = &node.rest {
                            if !rest.is_valid(&Value::Null) {
                                return Err(Slow);
                            }
                        }
                        match column {
                            Some(c) if !push_null(self.arena, c, false) => Err(Slow),
                            _ => Ok(()),
                        }
                    }
                }
            }
        }
    }

    fn array(&mut self, scan: &mut Scan<'_>, node: &Node, depth: usize) -> Scanned<()> {
        if depth > scan::MAX_DEPTH {
            return Err(Slow);
        }
        if let Some(c) = node.column {
            if !matches!(self.arena[c].data, Data::List { .. }) {
                return Err(Slow);
            }
        }
        let items = node.items.as_deref();
        if node.column.is_some() && items.is_none() {
            return Err(Slow);
        }
        scan.eat(b'[')?;
        let mut count = 0usize;
        if !scan.close_if(b']') {
            loop {
                match items {
                    Some(items) => self.value(scan, items, depth + 1)?,
                    None => scan.skip(depth + 1, self.scratch)?,
                }
                count += 1;
                if !scan.next_or_close(b']')? {
                    break;
                }
            }
        }
        if node.min_items.is_some_and(|m| count < m) || node.max_items.is_some_and(|m| count > m) {
            return Err(Slow);
        }
        if let Some(c) = node.column {
            let child_len = match &self.arena[c].data {
                Data::List { child, .. } => self.arena[*child].len(),
                _ => return Err(Slow),
            };
            let column = &mut self.arena[c];
            if let Data::List { offsets, .. } = &mut column.data {
                offsets.push(i32::try_from(child_len).map_err(|_| Slow)?);
            }
            column.valid.push(true);
        }
        Ok(())
    }
}

/// The members of an object met so far: a bit set, on the heap only past 64 members.
enum Seen {
    Few(u64),
    Many(Vec<bool>),
}

impl Seen {
    fn new(members: usize) -> Self {
        if members <= 64 {
            Seen::Few(0)
        } else {
            Seen::Many(vec![false; members])
        }
    }

    /// Marks member `i`; `true` when it was met before.
    fn insert(&mut self, i: usize) -> bool {
        match self {
            Seen::Few(bits) => {
                let before = *bits & (1 << i) != 0;
                *bits |= 1 << i;
                before
            }
            Seen::Many(v) => std::mem::replace(&mut v[i], true),
        }
    }

    fn contains(&self, i: usize) -> bool {
        match self {
            Seen::Few(bits) => *bits & (1 << i) != 0,
            Seen::Many(v) => v[i],
        }
    }
}

/// A string value for `node`, checked and appended to its column (if it has one).
fn put_string(arena: &mut [Column], value: &mut Value, node: &Node, s: &str) -> Scanned<()> {
    if !node.types.has(Types::STRING) {
        return Err(Slow);
    }
    check_string(node, s, value)?;
    let Some(c) = node.column else { return Ok(()) };
    let column = &mut arena[c];
    match &mut column.data {
        Data::Utf8 { offsets, bytes } => {
            bytes.extend_from_slice(s.as_bytes());
            let end = i32::try_from(bytes.len()).map_err(|_| Slow)?;
            offsets.push(end);
        }
        Data::TimestampMicros { values, tz } => {
            let micros = string_to_datetime(tz, s)
                .map_err(|_| Slow)?
                .timestamp_micros();
            values.push(micros);
        }
        Data::Date32(values) => values.push(Date32Type::parse(s).ok_or(Slow)?),
        _ => return Err(Slow),
    }
    column.valid.push(true);
    Ok(())
}

/// A number for `node`: `integer` when its text has no fraction or exponent, `float` its
/// value as an `f64`, `text` its JSON text when it was read from one. Checked and appended.
fn put_number(
    arena: &mut [Column],
    node: &Node,
    integer: Option<i64>,
    float: f64,
    text: Option<&str>,
) -> Scanned<()> {
    // A number is never in an enum of strings.
    if node.enum_strings.is_some() {
        return Err(Slow);
    }
    if integer.is_some() {
        if !node.types.has(Types::INTEGER) && !node.types.has(Types::NUMBER) {
            return Err(Slow);
        }
    } else if !node.types.has(Types::NUMBER) {
        // `1.0` is an integer to JSON Schema: the value-based path decides.
        return Err(Slow);
    }
    match integer {
        Some(i) => check_bounds(node, |b| b.cmp_int(i))?,
        None => check_bounds(node, |b| b.cmp_float(float))?,
    }
    if let Some(rest) = &node.rest {
        let value = match (text, integer) {
            (Some(text), _) => serde_json::from_str(text).map_err(|_| Slow)?,
            (None, Some(i)) => Value::from(i),
            (None, None) => Value::Number(Number::from_f64(float).ok_or(Slow)?),
        };
        if !rest.is_valid(&value) {
            return Err(Slow);
        }
    }
    let Some(c) = node.column else { return Ok(()) };
    let column = &mut arena[c];
    match &mut column.data {
        Data::Int64(values) => values.push(integer.ok_or(Slow)?),
        Data::Int32(values) => {
            values.push(integer.and_then(|i| i32::try_from(i).ok()).ok_or(Slow)?)
        }
        Data::Float64(values) => values.push(float),
        // From the text, as arrow-json reads it; a number without text goes slow.
        Data::Float32(values) => values.push(text.ok_or(Slow)?.parse::<f32>().map_err(|_| Slow)?),
        _ => return Err(Slow),
    }
    column.valid.push(true);
    Ok(())
}

/// A boolean for `node`, checked and appended.
fn put_boolean(arena: &mut [Column], node: &Node, b: bool) -> Scanned<()> {
    if node.enum_strings.is_some() || !node.types.has(Types::BOOLEAN) {
        return Err(Slow);
    }
    if let Some(rest) = &node.rest {
        if !rest.is_valid(&Value::Bool(b)) {
            return Err(Slow);
        }
    }
    let Some(c) = node.column else { return Ok(()) };
    let column = &mut arena[c];
    match &mut column.data {
        Data::Bool(values) => values.push(b),
        _ => return Err(Slow),
    }
    column.valid.push(true);
    Ok(())
}

fn check_string(node: &Node, s: &str, value: &mut Value) -> Scanned<()> {
    if node.min_length.is_some() || node.max_length.is_some() {
        let chars = s.chars().count();
        if node.min_length.is_some_and(|m| chars < m) || node.max_length.is_some_and(|m| chars > m)
        {
            return Err(Slow);
        }
    }
    if let Some(allowed) = &node.enum_strings {
        if !allowed.iter().any(|a| a.as_ref() == s) {
            return Err(Slow);
        }
    }
    if let Some(rest) = &node.rest {
        // The value's string is reused from row to row, not allocated for each.
        match &mut *value {
            Value::String(held) => {
                held.clear();
                held.push_str(s);
            }
            other => *other = Value::String(s.to_owned()),
        }
        if !rest.is_valid(value) {
            return Err(Slow);
        }
    }
    Ok(())
}

/// Checks the numeric bounds; a comparison that is not certain goes slow.
fn check_bounds(node: &Node, cmp: impl Fn(Bound) -> Option<std::cmp::Ordering>) -> Scanned<()> {
    use std::cmp::Ordering::*;
    let check = |bound: Option<Bound>, ok: &dyn Fn(std::cmp::Ordering) -> bool| match bound {
        None => Ok(()),
        Some(b) => match cmp(b) {
            Some(o) if ok(o) => Ok(()),
            _ => Err(Slow),
        },
    };
    check(node.minimum, &|o| o != Less)?;
    check(node.maximum, &|o| o != Greater)?;
    check(node.exclusive_minimum, &|o| o == Greater)?;
    check(node.exclusive_maximum, &|o| o == Less)?;
    Ok(())
}

/// The plan for rows of a table with columns `table` (lineage columns left out, as the
/// writer adds those), compiled from `contract`.
pub fn plan_for(contract: &Value, table: &TableSchema) -> Result<Plan, String> {
    let fields = table
        .fields
        .iter()
        .filter(|f| !is_lineage_column(&f.name))
        .cloned()
        .collect();
    let iceberg =
        crate::schema::to_iceberg_schema(&TableSchema { fields }).map_err(|e| e.to_string())?;
    let arrow = schema_to_arrow_schema(&iceberg).map_err(|e| e.to_string())?;
    Plan::compile(contract, Arc::new(arrow))
}

/// How a table's rows are decoded, for `sluice table show`: by a compiled plan, or (and
/// why) the value-based way.
pub fn describe(contract: &Value, table: &TableSchema) -> String {
    match plan_for(contract, table) {
        Ok(_) => "compiled (one pass: the contract is checked while the columns are built)".into(),
        Err(why) => format!("jsonschema, then arrow-json (the plan cannot check {why})"),
    }
}

#[cfg(test)]
mod tests;
