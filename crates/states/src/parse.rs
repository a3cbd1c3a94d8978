//! Parsing and static checks of a definition: strict JSON (duplicate keys are errors, not
//! silently the last), then every field checked against its state type, reporting every
//! problem with its JSON path.
//!
//! The checks follow the Amazon States Language specification (states-language.net) and the
//! Step Functions developer guide: the fields each state type allows, transitions within one
//! machine, reachability, retriers and catchers, choice rules, paths and payload templates,
//! and the Map state's item processor, reader, batcher and writer. JSONata states have
//! their own field tables and expression checks in [`jsonata`].

mod jsonata;

use crate::error::json_kind as kind;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map as JsonMap, Number, Value};

use crate::choice::{check_pattern, parse_timestamp, ChoiceRule, Comparison, Operand};
use crate::model::{
    Assign, Body, Catcher, Choice, ChoiceBranch, Count, Definition, Fail, ItemBatcher, ItemInput,
    ItemReader, Jitter, Machine, Map, MapMode, Parallel, Percentage, ResultPath, ResultWriter,
    Retrier, State, Task, Text, Transition, Wait,
};
use crate::path::{Path, ReferencePath};
use crate::template::Template;

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending field, e.g. `$.States.Filter.Retry[0].ErrorEquals`.
    pub path: String,
    pub message: String,
}

/// Every problem found, in document order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Problems(pub Vec<Problem>);

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longest state name Step Functions accepts, in Unicode characters.
pub const MAX_STATE_NAME_CHARS: usize = 80;
/// The longest Map `Label`.
pub const MAX_LABEL_CHARS: usize = 40;
/// The largest `ItemBatcher.MaxInputBytesPerBatch` (256 KiB).
pub const MAX_INPUT_BYTES_PER_BATCH: u64 = 256 * 1024;

const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
const LIST_OBJECTS: &str = "arn:aws:states:::s3:listObjectsV2";
const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

const STATE_TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Parses and checks a definition (JSONPath query language).
pub fn parse_definition(text: &str) -> Result<Definition, Problems> {
    let value = parse_value_strict(text).map_err(|p| Problems(vec![p]))?;
    let mut checker = Checker::default();
    let mut definition = checker.definition(&value);
    definition.context_reads_input = context_reads_input(text);
    if checker.problems.is_empty() {
        Ok(definition)
    } else {
        Err(Problems(checker.problems))
    }
}

/// Whether any `$$` reference in the definition could reach `$$.Execution.Input`: true
/// unless every `$$` is followed by a member that is not `Execution`, or by
/// `.Execution.<member other than Input>`. Conservative: anything unusual counts as reading.
fn context_reads_input(text: &str) -> bool {
    let safe_roots = [".State.", ".StateMachine.", ".Map.", ".Task."];
    let safe_execution = [
        ".Execution.Id",
        ".Execution.Name",
        ".Execution.RoleArn",
        ".Execution.StartTime",
        ".Execution.RedriveCount",
        ".Execution.RedriveTime",
    ];
    text.match_indices("$$").any(|(i, _)| {
        let rest = &text[i + 2..];
        if safe_roots.iter().any(|r| rest.starts_with(r)) {
            return false;
        }
        !safe_execution.iter().any(|m| {
            rest.starts_with(m)
                && !rest[m.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        })
    })
}

/// Replaces CDK/CloudFormation-style `${Name}` placeholders (`DefinitionSubstitutions`)
/// anywhere in `text` with their values, inserted as they are. A `${` not followed by a name
/// (letters, digits, `_`, `-`, `.`, `:`) and `}` is left alone. Every placeholder without a
/// value is an error, each name listed once in order of first use.
pub fn substitute(text: &str, values: &HashMap<String, String>) -> Result<String, Vec<String>> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if end > 0 && after[..end].chars().all(is_name) => {
                let name = &after[..end];
                match values.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        if !missing.iter().any(|m| m == name) {
                            missing.push(name.to_string());
                        }
                        out.push_str(&rest[start..start + 2 + end + 1]);
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

// ---------------------------------------------------------------------------------------------
// Strict JSON

/// Parses JSON like `serde_json::from_str`, but a repeated member name in an object is an
/// error (serde_json would keep the last silently). The problem's path is the object's, the
/// message names the key and its line and column. Nesting deeper than serde_json's recursion
/// limit (128) is an error too.
pub fn parse_value_strict(text: &str) -> Result<Value, Problem> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = StrictSeed {
        path: "$".into(),
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| {
        let at = if e.line() > 0 {
            format!(" at line {} column {}", e.line(), e.column())
        } else {
            String::new()
        };
        match duplicate.into_inner() {
            Some((path, key)) => Problem {
                path,
                message: format!(
                    "duplicate key `{key}`{at}: a member name may appear only once in an object"
                ),
            },
            None => Problem {
                path: "$".into(),
                message: format!("not valid JSON: {e}"),
            },
        }
    })
}

struct StrictSeed<'a> {
    path: String,
    /// Where the first duplicate was found: the object's path and the key.
    duplicate: &'a RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = StrictSeed {
                path: index_path(&self.path, items.len()),
                duplicate: self.duplicate,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = JsonMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                let message = format!("duplicate key `{key}`");
                *self.duplicate.borrow_mut() = Some((self.path.clone(), key));
                return Err(de::Error::custom(message));
            }
            let value = map.next_value_seed(StrictSeed {
                path: member_path(&self.path, &key),
                duplicate: self.duplicate,
            })?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

// ---------------------------------------------------------------------------------------------
// JSON paths of problems

/// `parent.key` for identifier-like keys (and `key.$` template keys), else `parent['key']`.
fn member_path(parent: &str, key: &str) -> String {
    let stem = key.strip_suffix(".$").unwrap_or(key);
    let plain = stem
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{parent}.{key}")
    } else {
        let escaped = key.replace('\\', "\\\\").replace('\'', "\\'");
        format!("{parent}['{escaped}']")
    }
}

fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// A field's path joined with a path relative to it (as template errors give them).
fn join_path(base: &str, relative: &str) -> String {
    let relative = relative.strip_prefix('$').unwrap_or(relative);
    if relative.is_empty() || relative.starts_with('.') || relative.starts_with('[') {
        format!("{base}{relative}")
    } else {
        format!("{base}.{relative}")
    }
}

/// A value as a problem message shows it: short scalars literally, the rest by kind.
fn show(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => kind(v).to_string(),
        other => {
            let s = other.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(60).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn listed(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Fields per state type

/// Fields allowed per state type: the spec's "Required & allowed fields" table, plus the
/// type-specific fields of each state's section and of the developer guide (Map's distributed
/// fields, Task's `…Path` timeouts, `QueryLanguage` with the value `JSONPath`).
fn allowed_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultPath",
            "Result",
        ],
        "Task" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
        ],
        "Choice" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Choices",
            "Default",
        ],
        "Wait" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
        ],
        "Succeed" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "InputPath",
            "OutputPath",
        ],
        "Fail" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Error",
            "ErrorPath",
            "Cause",
            "CausePath",
        ],
        "Parallel" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Branches",
        ],
        "Map" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
        ],
        _ => &["Type", "Comment"],
    }
}

/// Fields Step Functions knows but this engine does not implement.
fn unsupported(key: &str) -> Option<String> {
    match key {
        "Arguments" | "Output" | "Items" | "Condition" | "ItemsPointer" => Some(format!(
            "`{key}` belongs to the JSONata query language: set `\"QueryLanguage\": \"JSONata\"` \
             on the state or the definition to use it"
        )),
        "Credentials" => {
            Some("`Credentials` (cross-account tasks) is not supported by this engine".into())
        }
        _ => None,
    }
}

/// The comparison operators: name, comparison and the operand type it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OperandKind {
    String,
    Pattern,
    Number,
    Boolean,
    Timestamp,
    Test,
}

const OPERATORS: &[(&str, Comparison, OperandKind)] = {
    use Comparison as C;
    use OperandKind as K;
    &[
        ("StringEquals", C::StringEquals, K::String),
        ("StringLessThan", C::StringLessThan, K::String),
        ("StringGreaterThan", C::StringGreaterThan, K::String),
        ("StringLessThanEquals", C::StringLessThanEquals, K::String),
        (
            "StringGreaterThanEquals",
            C::StringGreaterThanEquals,
            K::String,
        ),
        ("StringMatches", C::StringMatches, K::Pattern),
        ("NumericEquals", C::NumericEquals, K::Number),
        ("NumericLessThan", C::NumericLessThan, K::Number),
        ("NumericGreaterThan", C::NumericGreaterThan, K::Number),
        ("NumericLessThanEquals", C::NumericLessThanEquals, K::Number),
        (
            "NumericGreaterThanEquals",
            C::NumericGreaterThanEquals,
            K::Number,
        ),
        ("BooleanEquals", C::BooleanEquals, K::Boolean),
        ("TimestampEquals", C::TimestampEquals, K::Timestamp),
        ("TimestampLessThan", C::TimestampLessThan, K::Timestamp),
        (
            "TimestampGreaterThan",
            C::TimestampGreaterThan,
            K::Timestamp,
        ),
        (
            "TimestampLessThanEquals",
            C::TimestampLessThanEquals,
            K::Timestamp,
        ),
        (
            "TimestampGreaterThanEquals",
            C::TimestampGreaterThanEquals,
            K::Timestamp,
        ),
        ("IsNull", C::IsNull, K::Test),
        ("IsPresent", C::IsPresent, K::Test),
        ("IsNumeric", C::IsNumeric, K::Test),
        ("IsString", C::IsString, K::Test),
        ("IsBoolean", C::IsBoolean, K::Test),
        ("IsTimestamp", C::IsTimestamp, K::Test),
    ]
};

/// A comparison operator by name: its comparison, operand type and whether it is the `…Path`
/// form. `StringMatches` and the `Is…` tests have no `…Path` form.
fn operator(key: &str) -> Option<(Comparison, OperandKind, bool)> {
    if let Some(&(_, c, k)) = OPERATORS.iter().find(|(name, ..)| *name == key) {
        return Some((c, k, false));
    }
    let stem = key.strip_suffix("Path")?;
    OPERATORS
        .iter()
        .find(|(name, _, k)| {
            *name == stem && !matches!(k, OperandKind::Pattern | OperandKind::Test)
        })
        .map(|&(_, c, k)| (c, k, true))
}

fn root_path() -> Path {
    Path::parse("$").expect("`$` is a path")
}

fn placeholder_machine() -> Machine {
    Machine {
        start_at: String::new(),
        states: HashMap::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The checker

/// An object being checked, with its JSON path.
#[derive(Clone, Copy)]
struct Obj<'a> {
    map: &'a JsonMap<String, Value>,
    path: &'a str,
}

impl<'a> Obj<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn at(&self, key: &str) -> String {
        member_path(self.path, key)
    }
}

/// Walks a definition, building the model and recording every problem. Where a field is
/// wrong the model gets a stand-in and the walk goes on: the model is only returned when
/// there were no problems.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
    /// Every state name with the path where it is first defined: names are unique in the
    /// whole definition, branches and item processors included.
    names: HashMap<String, String>,
    /// The state names of each machine being walked, innermost last: transitions stay inside
    /// the innermost.
    scopes: Vec<HashSet<String>>,
    /// The definition's `QueryLanguage` is JSONata: states without their own are JSONata.
    jsonata_default: bool,
    /// The state being checked is a JSONata state.
    jsonata: bool,
}

impl Checker {
    fn report(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn object<'a>(
        &mut self,
        v: &'a Value,
        path: &str,
        what: &str,
    ) -> Option<&'a JsonMap<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.report(
                    path,
                    format!("{what} must be a JSON object, not {}", kind(other)),
                );
                None
            }
        }
    }

    /// Reports every field of `o` not in `allowed`.
    fn fields(&mut self, o: Obj, allowed: &[&str], owner: &str) {
        for key in o.map.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let message = unsupported(key)
                .unwrap_or_else(|| format!("field `{key}` does not belong to {owner}"));
            self.report(o.at(key), message);
        }
    }

    fn required<'a>(&mut self, o: Obj<'a>, key: &str) -> Option<&'a Value> {
        let v = o.get(key);
        if v.is_none() {
            self.report(o.path, format!("the field `{key}` is required"));
        }
        v
    }

    /// An optional string field.
    fn string(&mut self, o: Obj, key: &str) -> Option<String> {
        match o.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.report(
                    o.at(key),
                    format!("`{key}` must be a string, not {}", kind(other)),
                );
                None
            }
        }
    }

    fn required_string(&mut self, o: Obj, key: &str) -> Option<String> {
        self.required(o, key)?;
        self.string(o, key)
    }

    /// An integer of at least `min` (0: non-negative, 1: positive).
    fn integer(&mut self, v: &Value, path: &str, key: &str, min: u64) -> Option<u64> {
        match v.as_u64() {
            Some(n) if n >= min => Some(n),
            _ => {
                let what = if min == 0 {
                    "a non-negative"
                } else {
                    "a positive"
                };
                self.report(
                    path,
                    format!("`{key}` must be {what} integer, not {}", show(v)),
                );
                None
            }
        }
    }

    fn path(&mut self, v: &Value, at: &str, key: &str) -> Option<Path> {
        let Value::String(text) = v else {
            self.report(
                at,
                format!("`{key}` must be a path string, not {}", kind(v)),
            );
            return None;
        };
        match Path::parse(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.report(at, format!("`{key}` is not a valid path: {}", e.message));
                None
            }
        }
    }

    /// `Key` (an integer of at least `min`) or `KeyPath`, not both.
    fn count(&mut self, o: Obj, key: &str, min: u64) -> Option<Count> {
        let path_key = format!("{key}Path");
        match (o.get(key), o.get(&path_key)) {
            (Some(_), Some(_)) => {
                self.report(
                    o.path,
                    format!("`{key}` and `{path_key}` are mutually exclusive"),
                );
                None
            }
            (Some(Value::String(s)), None) if self.jsonata && crate::jsonata::is_expression(s) => {
                let v = Value::String(s.clone());
                self.jsonata_expression(&v, &o.at(key), key)
                    .map(Count::Expression)
            }
            (Some(v), None) => self.integer(v, &o.at(key), key, min).map(Count::Literal),
            (None, Some(v)) => self.path(v, &o.at(&path_key), &path_key).map(Count::Path),
            (None, None) => None,
        }
    }

    /// `InputPath`/`OutputPath`: absent is `$`, `null` is `None` (the state sees `{}`).
    fn io_path(&mut self, o: Obj, key: &str) -> Option<Path> {
        match o.get(key) {
            None => Some(root_path()),
            Some(Value::Null) => None,
            Some(v) => Some(self.path(v, &o.at(key), key).unwrap_or_else(root_path)),
        }
    }

    /// `ResultPath` of a state or catcher: absent or `$` replaces, `null` discards.
    fn result_path(&mut self, o: Obj) -> ResultPath {
        match o.get("ResultPath") {
            None => ResultPath::Replace,
            Some(Value::Null) => ResultPath::Discard,
            Some(Value::String(s)) => match ReferencePath::parse(s) {
                Ok(r) if r.as_str() == "$" => ResultPath::Replace,
                Ok(r) => ResultPath::At(r),
                Err(e) => {
                    self.report(
                        o.at("ResultPath"),
                        format!("`ResultPath` is not a valid reference path: {}", e.message),
                    );
                    ResultPath::Replace
                }
            },
            Some(other) => {
                self.report(
                    o.at("ResultPath"),
                    format!(
                        "`ResultPath` must be a reference path or null, not {}",
                        kind(other)
                    ),
                );
                ResultPath::Replace
            }
        }
    }

    /// A payload template: a JSON object whose `.$` keys are compiled.
    fn template(&mut self, v: &Value, at: &str, key: &str) -> Option<Template> {
        if !v.is_object() {
            self.report(
                at,
                format!(
                    "`{key}` must be a JSON object (a payload template), not {}",
                    kind(v)
                ),
            );
            return None;
        }
        match Template::compile(v) {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    self.report(join_path(at, &e.at), e.message);
                }
                None
            }
        }
    }

    /// `Assign` of a state, a choice rule or a catcher: a payload template whose top-level
    /// keys (less a `.$` suffix) are variable names.
    fn assign(&mut self, o: Obj) -> Option<Assign> {
        let v = o.get("Assign")?;
        let at = o.at("Assign");
        if self.jsonata {
            return self.jsonata_assign(v, &at);
        }
        if let Value::Object(m) = v {
            for key in m.keys() {
                let name = key.strip_suffix(".$").unwrap_or(key);
                if let Some(message) = crate::variables::bad_name(name) {
                    self.report(member_path(&at, key), message);
                }
            }
        }
        self.template(v, &at, "Assign").map(Assign::Paths)
    }

    /// `ErrorPath`/`CausePath`: a path or an intrinsic call.
    fn expression(&mut self, v: &Value, at: &str, key: &str) -> Option<Template> {
        let Value::String(text) = v else {
            self.report(
                at,
                format!(
                    "`{key}` must be a path or intrinsic function string, not {}",
                    kind(v)
                ),
            );
            return None;
        };
        match Template::expression(text) {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    self.report(join_path(at, &e.at), e.message);
                }
                None
            }
        }
    }

    /// `QueryLanguage` at the top or in a state: `Some(true)` for JSONata, `Some(false)` for
    /// JSONPath, `None` when absent (or wrong, which is reported).
    fn query_language(&mut self, o: Obj) -> Option<bool> {
        match o.get("QueryLanguage") {
            None => None,
            Some(Value::String(s)) if s == "JSONPath" => Some(false),
            Some(Value::String(s)) if s == "JSONata" => Some(true),
            Some(other) => {
                self.report(
                    o.at("QueryLanguage"),
                    format!(
                        "`QueryLanguage` must be \"JSONPath\" or \"JSONata\", not {}",
                        show(other)
                    ),
                );
                None
            }
        }
    }

    /// A transition target: a state of the machine being walked.
    fn target(&mut self, v: &Value, at: &str, key: &str) -> Option<String> {
        let Value::String(name) = v else {
            self.report(at, format!("`{key}` must be a state name, not {}", kind(v)));
            return None;
        };
        let scopes = &self.scopes;
        let here = scopes.last().is_some_and(|s| s.contains(name));
        if here {
            return Some(name.clone());
        }
        let outside = scopes.iter().rev().skip(1).any(|s| s.contains(name));
        let message = if outside {
            format!(
                "`{key}` names `{name}`, a state outside this branch or item processor: \
                 Parallel branches and Map item processors cannot transition out of themselves"
            )
        } else {
            format!("`{key}` names `{name}`, which is not a state in this machine")
        };
        self.report(at, message);
        None
    }

    // -- definitions and machines -------------------------------------------------------------

    fn definition(&mut self, v: &Value) -> Definition {
        let mut timeout_seconds = None;
        if let Value::Object(m) = v {
            let o = Obj { map: m, path: "$" };
            self.string(o, "Version");
            self.jsonata_default = self.query_language(o) == Some(true);
            if let Some(t) = o.get("TimeoutSeconds") {
                timeout_seconds = self.integer(t, &o.at("TimeoutSeconds"), "TimeoutSeconds", 1);
            }
        }
        let machine = self.machine(
            v,
            "$",
            "a state machine definition",
            &["Version", "TimeoutSeconds", "QueryLanguage"],
        );
        let comment = v.get("Comment").and_then(Value::as_str).map(str::to_string);
        Definition {
            comment,
            timeout_seconds,
            machine: Arc::new(machine),
            context_reads_input: true,
        }
    }

    /// A machine: the top level, a Parallel branch, a Map item processor. Its states are
    /// checked, then its graph: `StartAt` exists, every state is reachable, something ends.
    fn machine(&mut self, v: &Value, path: &str, what: &str, extra: &[&str]) -> Machine {
        let Some(m) = self.object(v, path, what) else {
            return placeholder_machine();
        };
        let o = Obj { map: m, path };
        let mut allowed = vec!["StartAt", "States", "Comment"];
        allowed.extend_from_slice(extra);
        self.fields(o, &allowed, what);
        self.string(o, "Comment");
        let start_at = self.required_string(o, "StartAt");
        let states_at = o.at("States");
        let states_map = match self.required(o, "States") {
            None => None,
            Some(Value::Object(s)) if !s.is_empty() => Some(s),
            Some(Value::Object(_)) => {
                self.report(&states_at, "`States` must name at least one state");
                None
            }
            Some(other) => {
                self.report(
                    &states_at,
                    format!(
                        "`States` must be an object of named states, not {}",
                        kind(other)
                    ),
                );
                None
            }
        };
        let names: HashSet<String> = states_map
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        if let (Some(start), Some(_)) = (&start_at, states_map) {
            if !names.contains(start) {
                self.report(
                    o.at("StartAt"),
                    format!("`StartAt` names `{start}`, which is not a state in `States`"),
                );
            }
        }
        self.scopes.push(names);
        // Names first, so a clash between a machine and a branch inside it is reported at
        // the branch.
        for name in states_map.into_iter().flat_map(|s| s.keys()) {
            let sp = member_path(&states_at, name);
            let length = name.chars().count();
            if length == 0 {
                self.report(&sp, "a state name cannot be empty");
            } else if length > MAX_STATE_NAME_CHARS {
                self.report(
                    &sp,
                    format!(
                        "the state name is {length} characters long; the limit is {MAX_STATE_NAME_CHARS}"
                    ),
                );
            }
            match self.names.get(name) {
                Some(first) => {
                    let message = format!(
                        "the state name `{name}` is already used at {first}: state names must be \
                         unique in the whole definition"
                    );
                    self.report(&sp, message);
                }
                None => {
                    self.names.insert(name.clone(), sp);
                }
            }
        }
        let mut states = HashMap::new();
        for (name, sv) in states_map.into_iter().flatten() {
            let sp = member_path(&states_at, name);
            if let Some(state) = self.state(name, sv, &sp) {
                states.insert(name.clone(), Arc::new(state));
            }
        }
        self.scopes.pop();
        if let Some(s) = states_map {
            self.graph(s, &states_at, start_at.as_deref());
        }
        Machine {
            start_at: start_at.unwrap_or_default(),
            states,
        }
    }

    /// Something must end the machine, and every state must be reachable from `StartAt`
    /// through `Next`, `Default`, `Choices[].Next` and `Catch[].Next`.
    fn graph(&mut self, states: &JsonMap<String, Value>, states_at: &str, start_at: Option<&str>) {
        let terminal = states.values().any(|s| {
            matches!(
                s.get("Type").and_then(Value::as_str),
                Some("Succeed" | "Fail")
            ) || s.get("End") == Some(&Value::Bool(true))
        });
        if !terminal {
            self.report(
                states_at,
                "no terminal state: the machine needs a state with `\"End\": true`, or a \
                 Succeed or Fail state",
            );
        }
        let Some(start) = start_at.filter(|s| states.contains_key(*s)) else {
            return;
        };
        let mut seen: HashSet<&str> = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(name) = queue.pop_front() {
            for next in successors(&states[name]) {
                if states.contains_key(next) && seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        for name in states.keys() {
            if !seen.contains(name.as_str()) {
                self.report(
                    member_path(states_at, name),
                    format!("the state `{name}` cannot be reached from `StartAt` (`{start}`)"),
                );
            }
        }
    }

    // -- states -------------------------------------------------------------------------------

    fn state(&mut self, name: &str, v: &Value, path: &str) -> Option<State> {
        let m = self.object(v, path, "a state")?;
        let o = Obj { map: m, path };
        let ty = match o.get("Type") {
            None => {
                self.report(path, "the field `Type` is required");
                return None;
            }
            Some(Value::String(t)) if STATE_TYPES.contains(&t.as_str()) => t.as_str(),
            Some(other) => {
                self.report(
                    o.at("Type"),
                    format!(
                        "unknown state type {}: expected one of {}",
                        show(other),
                        STATE_TYPES.join(", ")
                    ),
                );
                return None;
            }
        };
        let jsonata = match self.query_language(o) {
            Some(true) => true,
            Some(false) => {
                if self.jsonata_default {
                    self.report(
                        o.at("QueryLanguage"),
                        "a state cannot use JSONPath when the definition's `QueryLanguage` is \
                         JSONata",
                    );
                }
                false
            }
            None => self.jsonata_default,
        };
        let outer_jsonata = std::mem::replace(&mut self.jsonata, jsonata);
        let state = self.state_fields(name, o, ty);
        self.jsonata = outer_jsonata;
        state
    }

    /// The fields of a state whose type and query language are known.
    fn state_fields(&mut self, name: &str, o: Obj, ty: &str) -> Option<State> {
        let path = o.path;
        let allowed = if self.jsonata {
            jsonata::allowed_fields(ty)
        } else {
            allowed_fields(ty)
        };
        let owner = format!("a {ty} state");
        if self.jsonata {
            for key in o.map.keys() {
                if !allowed.contains(&key.as_str()) {
                    let message = jsonata::refused(key).unwrap_or_else(|| {
                        format!("field `{key}` does not belong to a JSONata {ty} state")
                    });
                    self.report(o.at(key), message);
                }
            }
        } else {
            self.fields(o, allowed, &owner);
        }
        let has = |key: &str| allowed.contains(&key);
        let _ = path;
        let comment = self.string(o, "Comment");
        let (input_path, output_path) = if has("InputPath") {
            (self.io_path(o, "InputPath"), self.io_path(o, "OutputPath"))
        } else {
            (Some(root_path()), Some(root_path()))
        };
        let parameters = match o.get("Parameters") {
            Some(v) if has("Parameters") && ty != "Map" => {
                self.template(v, &o.at("Parameters"), "Parameters")
            }
            _ => None,
        };
        let result_selector = match o.get("ResultSelector") {
            Some(v) if has("ResultSelector") => {
                self.template(v, &o.at("ResultSelector"), "ResultSelector")
            }
            _ => None,
        };
        let result_path = if has("ResultPath") {
            self.result_path(o)
        } else {
            ResultPath::Replace
        };
        let transition = if has("Next") {
            self.transition(o, ty)
        } else {
            Transition::Terminal
        };
        let assign = self.assign(o);
        let jsonata_io = self.jsonata.then(|| Box::new(self.jsonata_io(o)));
        let (retry, catch) = if has("Retry") {
            (self.retry(o), self.catch(o))
        } else {
            (Vec::new(), Vec::new())
        };
        let body = match ty {
            "Pass" => Body::Pass {
                result: o.get("Result").cloned(),
            },
            "Task" => Body::Task(self.task(o)),
            "Choice" => Body::Choice(self.choice(o)),
            "Wait" => Body::Wait(self.wait(o)),
            "Succeed" => Body::Succeed,
            "Fail" => Body::Fail(self.fail(o)),
            "Parallel" => Body::Parallel(self.parallel(o)),
            _ => Body::Map(Box::new(self.map(o))),
        };
        Some(State {
            name: name.to_string(),
            comment,
            input_path,
            output_path,
            parameters,
            result_selector,
            result_path,
            transition,
            retry,
            catch,
            assign,
            jsonata: jsonata_io,
            body,
        })
    }

    /// Exactly one of `Next` and `"End": true`.
    fn transition(&mut self, o: Obj, ty: &str) -> Transition {
        match (o.get("Next"), o.get("End")) {
            (Some(_), Some(_)) => {
                self.report(o.path, "`Next` and `End` are mutually exclusive");
                Transition::End
            }
            (Some(v), None) => match self.target(v, &o.at("Next"), "Next") {
                Some(n) => Transition::Next(n),
                None => Transition::End,
            },
            (None, Some(Value::Bool(true))) => Transition::End,
            (None, Some(v)) => {
                self.report(o.at("End"), format!("`End` must be true, not {}", show(v)));
                Transition::End
            }
            (None, None) => {
                self.report(
                    o.path,
                    format!("a {ty} state needs `Next` or `\"End\": true`"),
                );
                Transition::End
            }
        }
    }

    /// `ErrorEquals` of a retrier or catcher: a non-empty array of error names, with
    /// `States.ALL` alone. Returns the names and whether `States.ALL` is among them.
    fn error_equals(&mut self, o: Obj) -> (Vec<String>, bool) {
        let Some(v) = self.required(o, "ErrorEquals") else {
            return (Vec::new(), false);
        };
        let at = o.at("ErrorEquals");
        let items = match v {
            Value::Array(items) if !items.is_empty() => items,
            _ => {
                self.report(
                    &at,
                    "`ErrorEquals` must be a non-empty array of error names",
                );
                return (Vec::new(), false);
            }
        };
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => names.push(s.clone()),
                other => self.report(
                    index_path(&at, i),
                    format!("an error name must be a string, not {}", kind(other)),
                ),
            }
        }
        let all = names.iter().any(|n| n == crate::error::names::ALL);
        if all && items.len() > 1 {
            self.report(&at, "`States.ALL` must appear alone in `ErrorEquals`");
        }
        (names, all)
    }

    fn retry(&mut self, o: Obj) -> Vec<Retrier> {
        let Some(v) = o.get("Retry") else {
            return Vec::new();
        };
        let at = o.at("Retry");
        let Value::Array(items) = v else {
            self.report(
                &at,
                format!("`Retry` must be an array of retriers, not {}", kind(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = index_path(&at, i);
            let Some(m) = self.object(item, &ip, "a retrier") else {
                continue;
            };
            let r = Obj { map: m, path: &ip };
            self.fields(
                r,
                &[
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ],
                "a retrier",
            );
            self.string(r, "Comment");
            let (error_equals, all) = self.error_equals(r);
            if all && i + 1 < items.len() {
                self.report(
                    r.at("ErrorEquals"),
                    "a retrier matching `States.ALL` must be the last in `Retry`",
                );
            }
            let mut retrier = Retrier {
                error_equals,
                ..Retrier::default()
            };
            if let Some(v) = r.get("IntervalSeconds") {
                if let Some(n) = self.integer(v, &r.at("IntervalSeconds"), "IntervalSeconds", 1) {
                    retrier.interval_seconds = n;
                }
            }
            if let Some(v) = r.get("MaxAttempts") {
                match v.as_u64().map(u32::try_from) {
                    Some(Ok(n)) => retrier.max_attempts = n,
                    _ => self.report(
                        r.at("MaxAttempts"),
                        format!(
                            "`MaxAttempts` must be a non-negative integer, not {}",
                            show(v)
                        ),
                    ),
                }
            }
            if let Some(v) = r.get("BackoffRate") {
                match v.as_f64() {
                    Some(rate) if rate >= 1.0 => retrier.backoff_rate = rate,
                    _ => self.report(
                        r.at("BackoffRate"),
                        format!(
                            "`BackoffRate` must be a number of at least 1.0, not {}",
                            show(v)
                        ),
                    ),
                }
            }
            if let Some(v) = r.get("MaxDelaySeconds") {
                retrier.max_delay_seconds =
                    self.integer(v, &r.at("MaxDelaySeconds"), "MaxDelaySeconds", 1);
            }
            match r.get("JitterStrategy") {
                None => {}
                Some(Value::String(s)) if s == "FULL" => retrier.jitter = Jitter::Full,
                Some(Value::String(s)) if s == "NONE" => retrier.jitter = Jitter::None,
                Some(v) => self.report(
                    r.at("JitterStrategy"),
                    format!(
                        "`JitterStrategy` must be \"FULL\" or \"NONE\", not {}",
                        show(v)
                    ),
                ),
            }
            out.push(retrier);
        }
        out
    }

    fn catch(&mut self, o: Obj) -> Vec<Catcher> {
        let Some(v) = o.get("Catch") else {
            return Vec::new();
        };
        let at = o.at("Catch");
        let Value::Array(items) = v else {
            self.report(
                &at,
                format!("`Catch` must be an array of catchers, not {}", kind(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = index_path(&at, i);
            let Some(m) = self.object(item, &ip, "a catcher") else {
                continue;
            };
            let c = Obj { map: m, path: &ip };
            let allowed: &[&str] = if self.jsonata {
                &["ErrorEquals", "Next", "Output", "Comment", "Assign"]
            } else {
                &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"]
            };
            self.fields(c, allowed, "a catcher");
            self.string(c, "Comment");
            let (error_equals, all) = self.error_equals(c);
            if all && i + 1 < items.len() {
                self.report(
                    c.at("ErrorEquals"),
                    "a catcher matching `States.ALL` must be the last in `Catch`",
                );
            }
            let next = self
                .required(c, "Next")
                .and_then(|v| self.target(v, &c.at("Next"), "Next"));
            let result_path = self.result_path(c);
            let assign = self.assign(c);
            let output = match c.get("Output") {
                Some(v) if self.jsonata => self.jsonata_template(v, &c.at("Output"), "Output"),
                _ => None,
            };
            out.push(Catcher {
                error_equals,
                result_path,
                assign,
                output,
                next: next.unwrap_or_default(),
            });
        }
        out
    }

    fn task(&mut self, o: Obj) -> Task {
        let resource = self.required_string(o, "Resource").unwrap_or_default();
        let timeout = self.count(o, "TimeoutSeconds", 1);
        let heartbeat = self.count(o, "HeartbeatSeconds", 1);
        if let (Some(Count::Literal(t)), Some(Count::Literal(h))) = (&timeout, &heartbeat) {
            if h >= t {
                self.report(
                    o.at("HeartbeatSeconds"),
                    format!("`HeartbeatSeconds` ({h}) must be smaller than `TimeoutSeconds` ({t})"),
                );
            }
        }
        Task {
            resource,
            timeout,
            heartbeat,
        }
    }

    fn choice(&mut self, o: Obj) -> Choice {
        let mut choices = Vec::new();
        if let Some(v) = self.required(o, "Choices") {
            let at = o.at("Choices");
            match v {
                Value::Array(items) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        let ip = index_path(&at, i);
                        if let Some(branch) = self.choice_branch(item, &ip) {
                            choices.push(branch);
                        }
                    }
                }
                _ => self.report(&at, "`Choices` must be a non-empty array of choice rules"),
            }
        }
        let default = o
            .get("Default")
            .and_then(|v| self.target(v, &o.at("Default"), "Default"));
        Choice { choices, default }
    }

    fn choice_branch(&mut self, v: &Value, path: &str) -> Option<ChoiceBranch> {
        let m = self.object(v, path, "a choice rule")?;
        let o = Obj { map: m, path };
        let next = match o.get("Next") {
            None => {
                self.report(path, "a choice rule in `Choices` needs `Next`");
                None
            }
            Some(v) => self.target(v, &o.at("Next"), "Next"),
        };
        let rule = if self.jsonata {
            self.jsonata_rule(o)
        } else {
            self.rule(o, true)
        };
        let assign = self.assign(o);
        Some(ChoiceBranch {
            rule,
            assign,
            next: next.unwrap_or_default(),
        })
    }

    /// A choice rule: a comparison of `Variable`, or `And`/`Or`/`Not`. Only the rules directly
    /// in `Choices` (`top`) carry `Next`.
    fn rule(&mut self, o: Obj, top: bool) -> ChoiceRule {
        let stand_in = ChoiceRule::And(Vec::new());
        let mut ops = Vec::new();
        for key in o.map.keys() {
            let k = key.as_str();
            if matches!(k, "And" | "Or" | "Not") || operator(k).is_some() {
                ops.push(k);
                continue;
            }
            match k {
                "Variable" | "Comment" => {}
                "Next" | "Assign" if top => {}
                "Next" => self.report(
                    o.at(k),
                    "a nested choice rule cannot have `Next`: only the rules directly in \
                     `Choices` transition",
                ),
                _ => {
                    let message = unsupported(k)
                        .unwrap_or_else(|| format!("field `{k}` does not belong to a choice rule"));
                    self.report(o.at(k), message);
                }
            }
        }
        self.string(o, "Comment");
        let op = match ops.as_slice() {
            [op] => *op,
            [] => {
                self.report(
                    o.path,
                    "a choice rule needs a comparison operator (such as `StringEquals`) or \
                     `And`, `Or` or `Not`",
                );
                return stand_in;
            }
            many => {
                self.report(
                    o.path,
                    format!(
                        "a choice rule has exactly one operator; this one has {}",
                        listed(many)
                    ),
                );
                return stand_in;
            }
        };
        let value = &o.map[op];
        let at = o.at(op);
        match op {
            "And" | "Or" | "Not" => {
                if o.has("Variable") {
                    self.report(
                        o.at("Variable"),
                        format!(
                            "`Variable` does not belong to `{op}`: it applies to its inner rules"
                        ),
                    );
                }
                if op == "Not" {
                    let Some(m) = self.object(value, &at, "`Not`") else {
                        return stand_in;
                    };
                    let inner = self.rule(Obj { map: m, path: &at }, false);
                    return ChoiceRule::Not(Box::new(inner));
                }
                let items = match value {
                    Value::Array(items) if !items.is_empty() => items,
                    _ => {
                        self.report(
                            &at,
                            format!("`{op}` must be a non-empty array of choice rules"),
                        );
                        return stand_in;
                    }
                };
                let mut rules = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ip = index_path(&at, i);
                    if let Some(m) = self.object(item, &ip, "a choice rule") {
                        rules.push(self.rule(Obj { map: m, path: &ip }, false));
                    }
                }
                if op == "And" {
                    ChoiceRule::And(rules)
                } else {
                    ChoiceRule::Or(rules)
                }
            }
            _ => {
                let (comparison, operand_kind, is_path) =
                    operator(op).expect("only operators reach here");
                let variable = match o.get("Variable") {
                    None => {
                        self.report(o.path, format!("a `{op}` rule needs `Variable`"));
                        None
                    }
                    Some(v) => self.path(v, &o.at("Variable"), "Variable"),
                };
                let operand = if is_path {
                    self.path(value, &at, op).map(Operand::Path)
                } else {
                    self.operand(operand_kind, value, &at, op);
                    Some(Operand::Value(value.clone()))
                };
                ChoiceRule::Compare {
                    variable: variable.unwrap_or_else(root_path),
                    op: comparison,
                    operand: operand.unwrap_or(Operand::Value(Value::Null)),
                }
            }
        }
    }

    /// Checks a literal operand against the type its operator takes.
    fn operand(&mut self, operand_kind: OperandKind, v: &Value, at: &str, op: &str) {
        let wrong = |what: &str| format!("`{op}` takes {what}, not {}", show(v));
        match operand_kind {
            OperandKind::String if !v.is_string() => self.report(at, wrong("a string")),
            OperandKind::Pattern => match v {
                Value::String(p) => {
                    if let Err(e) = check_pattern(p) {
                        self.report(at, format!("`StringMatches` pattern: {e}"));
                    }
                }
                _ => self.report(at, wrong("a pattern string")),
            },
            OperandKind::Number if !v.is_number() => self.report(at, wrong("a number")),
            OperandKind::Boolean | OperandKind::Test if !v.is_boolean() => {
                self.report(at, wrong("true or false"))
            }
            OperandKind::Timestamp if v.as_str().and_then(parse_timestamp).is_none() => self
                .report(
                    at,
                    wrong("an RFC 3339 timestamp such as \"2016-03-14T01:59:00Z\""),
                ),
            _ => {}
        }
    }

    fn wait(&mut self, o: Obj) -> Wait {
        if self.jsonata {
            for key in ["Seconds", "Timestamp"] {
                match o.get(key) {
                    Some(Value::String(s)) if crate::jsonata::is_expression(s) => {
                        let v = Value::String(s.clone());
                        return self
                            .jsonata_wait(&v, &o.at(key), key)
                            .unwrap_or(Wait::Seconds(0));
                    }
                    _ => {}
                }
            }
        }
        let keys = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
        let present: Vec<&str> = keys.into_iter().filter(|k| o.has(k)).collect();
        let stand_in = Wait::Seconds(0);
        let key = match present.as_slice() {
            [key] => *key,
            [] => {
                self.report(
                    o.path,
                    format!("a Wait state needs one of {}", listed(&keys)),
                );
                return stand_in;
            }
            many => {
                self.report(
                    o.path,
                    format!(
                        "a Wait state takes exactly one of {}; this one has {}",
                        listed(&keys),
                        listed(many)
                    ),
                );
                return stand_in;
            }
        };
        let v = &o.map[key];
        let at = o.at(key);
        let wait = match key {
            "Seconds" => self.integer(v, &at, key, 0).map(Wait::Seconds),
            "Timestamp" => match v.as_str().and_then(parse_timestamp) {
                Some(t) => Some(Wait::Timestamp(t)),
                None => {
                    self.report(
                        &at,
                        format!(
                            "`Timestamp` must be an RFC 3339 timestamp such as \
                             \"2016-03-14T01:59:00Z\", not {}",
                            show(v)
                        ),
                    );
                    None
                }
            },
            "SecondsPath" => self.path(v, &at, key).map(Wait::SecondsPath),
            _ => self.path(v, &at, key).map(Wait::TimestampPath),
        };
        wait.unwrap_or(stand_in)
    }

    fn fail(&mut self, o: Obj) -> Fail {
        if self.jsonata {
            return Fail {
                error: self.jsonata_text(o, "Error"),
                cause: self.jsonata_text(o, "Cause"),
            };
        }
        Fail {
            error: self.text(o, "Error", "ErrorPath"),
            cause: self.text(o, "Cause", "CausePath"),
        }
    }

    /// `Error`/`ErrorPath` or `Cause`/`CausePath`: a literal or a dynamic expression.
    fn text(&mut self, o: Obj, literal: &str, dynamic: &str) -> Option<Text> {
        match (o.get(literal), o.get(dynamic)) {
            (Some(_), Some(_)) => {
                self.report(
                    o.path,
                    format!("`{literal}` and `{dynamic}` are mutually exclusive"),
                );
                None
            }
            (Some(_), None) => self.string(o, literal).map(Text::Literal),
            (None, Some(v)) => self
                .expression(v, &o.at(dynamic), dynamic)
                .map(Text::Dynamic),
            (None, None) => None,
        }
    }

    fn parallel(&mut self, o: Obj) -> Parallel {
        let mut branches = Vec::new();
        if let Some(v) = self.required(o, "Branches") {
            let at = o.at("Branches");
            match v {
                Value::Array(items) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        let machine =
                            self.machine(item, &index_path(&at, i), "a Parallel branch", &[]);
                        branches.push(Arc::new(machine));
                    }
                }
                _ => self.report(
                    &at,
                    "`Branches` must be a non-empty array of state machines",
                ),
            }
        }
        Parallel { branches }
    }

    fn map(&mut self, o: Obj) -> Map {
        // The processor first: its mode decides which other fields are allowed.
        let processor = match (o.get("ItemProcessor"), o.get("Iterator")) {
            (Some(v), iterator) => {
                if iterator.is_some() {
                    self.report(
                        o.path,
                        "`ItemProcessor` and `Iterator` (its deprecated name) are mutually exclusive",
                    );
                }
                Some(("ItemProcessor", v))
            }
            (None, Some(v)) => Some(("Iterator", v)),
            (None, None) => {
                self.report(o.path, "a Map state needs `ItemProcessor`");
                None
            }
        };
        let mut mode = MapMode::Inline;
        let processor = match processor {
            Some((key, v)) => {
                let at = o.at(key);
                let extra: &[&str] = if key == "ItemProcessor" {
                    if let Some(config) = v.get("ProcessorConfig") {
                        mode = self.processor_config(config, &member_path(&at, "ProcessorConfig"));
                    }
                    &["ProcessorConfig"]
                } else {
                    &[]
                };
                let what = if key == "ItemProcessor" {
                    "an ItemProcessor"
                } else {
                    "an Iterator"
                };
                self.machine(v, &at, what, extra)
            }
            None => placeholder_machine(),
        };
        let (items, item_selector_jsonata) = if self.jsonata {
            (
                o.get("Items")
                    .and_then(|v| self.jsonata_template(v, &o.at("Items"), "Items")),
                o.get("ItemSelector")
                    .and_then(|v| self.jsonata_template(v, &o.at("ItemSelector"), "ItemSelector")),
            )
        } else {
            (None, None)
        };
        let item_selector = match (o.get("ItemSelector"), o.get("Parameters")) {
            _ if self.jsonata => None,
            (Some(_), Some(_)) => {
                self.report(
                    o.path,
                    "`ItemSelector` and `Parameters` (its deprecated name on a Map) are mutually \
                     exclusive",
                );
                None
            }
            (Some(v), None) => self.template(v, &o.at("ItemSelector"), "ItemSelector"),
            (None, Some(v)) => self.template(v, &o.at("Parameters"), "Parameters"),
            (None, None) => None,
        };
        let items_path = o
            .get("ItemsPath")
            .and_then(|v| self.path(v, &o.at("ItemsPath"), "ItemsPath"));
        let max_concurrency = self.count(o, "MaxConcurrency", 0);
        let tolerated_failure_count = self.count(o, "ToleratedFailureCount", 0);
        let tolerated_failure_percentage = self.percentage(o);
        let label = self.string(o, "Label");
        if let Some(l) = &label {
            let n = l.chars().count();
            if n > MAX_LABEL_CHARS {
                self.report(
                    o.at("Label"),
                    format!("`Label` is {n} characters long; the limit is {MAX_LABEL_CHARS}"),
                );
            }
        }
        let item_reader = o
            .get("ItemReader")
            .and_then(|v| self.item_reader(v, &o.at("ItemReader")));
        let item_batcher = o
            .get("ItemBatcher")
            .and_then(|v| self.item_batcher(v, &o.at("ItemBatcher")));
        let result_writer = o
            .get("ResultWriter")
            .and_then(|v| self.result_writer(v, &o.at("ResultWriter")));
        // AWS accepts the tolerated-failure fields on an inline Map in a JSONata state (its
        // recorded behaviour; the guide lists them for distributed Maps only).
        let recorded_inline: &[&str] = if self.jsonata {
            &["ToleratedFailureCount", "ToleratedFailurePercentage"]
        } else {
            &[]
        };
        if mode == MapMode::Inline {
            for key in [
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "Label",
            ] {
                if o.has(key) && !recorded_inline.contains(&key) {
                    self.report(
                        o.at(key),
                        format!(
                            "`{key}` applies only to a distributed Map \
                             (ItemProcessor.ProcessorConfig.Mode DISTRIBUTED)"
                        ),
                    );
                }
            }
        }
        if o.has("ItemReader") && o.has("ItemsPath") {
            self.report(
                o.at("ItemsPath"),
                "`ItemsPath` cannot be used with `ItemReader`: the reader supplies the items",
            );
        }
        Map {
            items_path,
            items,
            item_selector_jsonata,
            item_selector,
            processor: Arc::new(processor),
            mode,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            item_reader,
            item_batcher,
            result_writer,
            label,
        }
    }

    fn processor_config(&mut self, v: &Value, at: &str) -> MapMode {
        let Some(m) = self.object(v, at, "`ProcessorConfig`") else {
            return MapMode::Inline;
        };
        let c = Obj { map: m, path: at };
        self.fields(c, &["Mode", "ExecutionType"], "`ProcessorConfig`");
        let mode = match c.get("Mode") {
            None => MapMode::Inline,
            Some(Value::String(s)) if s == "INLINE" => MapMode::Inline,
            Some(Value::String(s)) if s == "DISTRIBUTED" => MapMode::Distributed,
            Some(other) => {
                self.report(
                    c.at("Mode"),
                    format!(
                        "`Mode` must be \"INLINE\" or \"DISTRIBUTED\", not {}",
                        show(other)
                    ),
                );
                MapMode::Inline
            }
        };
        match c.get("ExecutionType") {
            None if mode == MapMode::Distributed => self.report(
                at,
                "`ExecutionType` (STANDARD or EXPRESS) is required when `Mode` is DISTRIBUTED",
            ),
            None => {}
            Some(v) => {
                if !matches!(v.as_str(), Some("STANDARD" | "EXPRESS")) {
                    self.report(
                        c.at("ExecutionType"),
                        format!(
                            "`ExecutionType` must be \"STANDARD\" or \"EXPRESS\", not {}",
                            show(v)
                        ),
                    );
                } else if mode == MapMode::Inline {
                    self.report(
                        c.at("ExecutionType"),
                        "`ExecutionType` applies only when `Mode` is DISTRIBUTED",
                    );
                }
            }
        }
        mode
    }

    fn percentage(&mut self, o: Obj) -> Option<Percentage> {
        let (key, path_key) = (
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        );
        match (o.get(key), o.get(path_key)) {
            (Some(_), Some(_)) => {
                self.report(
                    o.path,
                    format!("`{key}` and `{path_key}` are mutually exclusive"),
                );
                None
            }
            (Some(Value::String(s)), None) if self.jsonata && crate::jsonata::is_expression(s) => {
                let v = Value::String(s.clone());
                self.jsonata_expression(&v, &o.at(key), key)
                    .map(Percentage::Expression)
            }
            (Some(v), None) => match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(Percentage::Literal(p)),
                _ => {
                    self.report(
                        o.at(key),
                        format!("`{key}` must be a number from 0 to 100, not {}", show(v)),
                    );
                    None
                }
            },
            (None, Some(v)) => self
                .path(v, &o.at(path_key), path_key)
                .map(Percentage::Path),
            (None, None) => None,
        }
    }

    fn item_reader(&mut self, v: &Value, at: &str) -> Option<ItemReader> {
        let m = self.object(v, at, "`ItemReader`")?;
        let o = Obj { map: m, path: at };
        self.fields(
            o,
            &["Resource", "ReaderConfig", "Parameters"],
            "`ItemReader`",
        );
        let listing = match self.required_string(o, "Resource").as_deref() {
            Some(GET_OBJECT) => Some(false),
            Some(LIST_OBJECTS) => Some(true),
            Some(other) => {
                self.report(
                    o.at("Resource"),
                    format!(
                        "ItemReader resource `{other}` is not supported: use `{GET_OBJECT}` or \
                         `{LIST_OBJECTS}`"
                    ),
                );
                None
            }
            None => None,
        };
        let mut input = if listing == Some(true) {
            ItemInput::Listing
        } else {
            ItemInput::Json
        };
        let mut csv_headers = None;
        let mut max_items = None;
        if let Some(rc) = o.get("ReaderConfig") {
            let rat = o.at("ReaderConfig");
            if let Some(rm) = self.object(rc, &rat, "`ReaderConfig`") {
                let r = Obj {
                    map: rm,
                    path: &rat,
                };
                self.fields(
                    r,
                    &[
                        "InputType",
                        "CSVHeaderLocation",
                        "CSVHeaders",
                        "MaxItems",
                        "MaxItemsPath",
                    ],
                    "`ReaderConfig`",
                );
                match r.get("InputType") {
                    None => {}
                    Some(_) if listing == Some(true) => self.report(
                        r.at("InputType"),
                        format!("`InputType` does not apply to `{LIST_OBJECTS}`"),
                    ),
                    Some(v) => match v.as_str() {
                        Some("JSON") => input = ItemInput::Json,
                        Some("JSONL") => input = ItemInput::Jsonl,
                        Some("CSV") => input = ItemInput::Csv,
                        Some(other @ ("MANIFEST" | "PARQUET")) => self.report(
                            r.at("InputType"),
                            format!("InputType `{other}` is not supported by this engine"),
                        ),
                        _ => self.report(
                            r.at("InputType"),
                            format!(
                                "`InputType` must be \"JSON\", \"JSONL\" or \"CSV\", not {}",
                                show(v)
                            ),
                        ),
                    },
                }
                let csv = input == ItemInput::Csv;
                for key in ["CSVHeaderLocation", "CSVHeaders"] {
                    if r.has(key) && !csv {
                        self.report(r.at(key), format!("`{key}` applies only to InputType CSV"));
                    }
                }
                let given = match r.get("CSVHeaderLocation") {
                    None => false,
                    Some(Value::String(s)) if s == "FIRST_ROW" => false,
                    Some(Value::String(s)) if s == "GIVEN" => true,
                    Some(other) => {
                        self.report(
                            r.at("CSVHeaderLocation"),
                            format!(
                                "`CSVHeaderLocation` must be \"FIRST_ROW\" or \"GIVEN\", not {}",
                                show(other)
                            ),
                        );
                        false
                    }
                };
                match r.get("CSVHeaders") {
                    None if given => self.report(
                        &rat,
                        "`CSVHeaders` is required when `CSVHeaderLocation` is GIVEN",
                    ),
                    None => {}
                    Some(_) if !given && csv => self.report(
                        r.at("CSVHeaders"),
                        "`CSVHeaders` applies only when `CSVHeaderLocation` is GIVEN",
                    ),
                    Some(v) => {
                        let headers: Option<Vec<String>> = match v {
                            Value::Array(a) if !a.is_empty() => {
                                a.iter().map(|h| h.as_str().map(str::to_string)).collect()
                            }
                            _ => None,
                        };
                        match headers {
                            Some(h) => csv_headers = Some(h).filter(|_| given),
                            None => self.report(
                                r.at("CSVHeaders"),
                                "`CSVHeaders` must be a non-empty array of strings",
                            ),
                        }
                    }
                }
                max_items = self.count(r, "MaxItems", 1);
            }
        }
        let parameters = match o.get("Parameters") {
            None => {
                self.report(
                    at,
                    "the field `Parameters` is required (the `Bucket` and `Key`, or `Prefix`, to read)",
                );
                None
            }
            Some(v) => self.template(v, &o.at("Parameters"), "Parameters"),
        };
        Some(ItemReader {
            input,
            parameters: parameters?,
            csv_headers,
            max_items,
        })
    }

    fn item_batcher(&mut self, v: &Value, at: &str) -> Option<ItemBatcher> {
        let m = self.object(v, at, "`ItemBatcher`")?;
        let o = Obj { map: m, path: at };
        self.fields(
            o,
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ],
            "`ItemBatcher`",
        );
        let max_items_per_batch = self.count(o, "MaxItemsPerBatch", 1);
        let max_input_bytes_per_batch = self.count(o, "MaxInputBytesPerBatch", 1);
        if let Some(Count::Literal(n)) = max_input_bytes_per_batch {
            if n > MAX_INPUT_BYTES_PER_BATCH {
                self.report(
                    o.at("MaxInputBytesPerBatch"),
                    format!(
                        "`MaxInputBytesPerBatch` is {n}; the limit is {MAX_INPUT_BYTES_PER_BATCH} (256 KiB)"
                    ),
                );
            }
        }
        let limits = [
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        ];
        if !limits.iter().any(|k| o.has(k)) {
            self.report(
                at,
                "`ItemBatcher` needs `MaxItemsPerBatch` or `MaxInputBytesPerBatch` (or a `…Path` form)",
            );
        }
        let batch_input = o
            .get("BatchInput")
            .and_then(|v| self.template(v, &o.at("BatchInput"), "BatchInput"));
        Some(ItemBatcher {
            max_items_per_batch,
            max_input_bytes_per_batch,
            batch_input,
        })
    }

    fn result_writer(&mut self, v: &Value, at: &str) -> Option<ResultWriter> {
        let m = self.object(v, at, "`ResultWriter`")?;
        let o = Obj { map: m, path: at };
        self.fields(o, &["Resource", "Parameters"], "`ResultWriter`");
        if let Some(resource) = self.required_string(o, "Resource") {
            if resource != PUT_OBJECT {
                self.report(
                    o.at("Resource"),
                    format!(
                        "ResultWriter resource `{resource}` is not supported: use `{PUT_OBJECT}`"
                    ),
                );
            }
        }
        let parameters = match o.get("Parameters") {
            None => {
                self.report(
                    at,
                    "the field `Parameters` is required (the `Bucket` and `Prefix` to write to)",
                );
                None
            }
            Some(v) => self.template(v, &o.at("Parameters"), "Parameters"),
        };
        Some(ResultWriter {
            parameters: parameters?,
        })
    }
}

/// The states a state can transition to, read from its JSON (checked or not).
fn successors(state: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(n) = state.get(key).and_then(Value::as_str) {
            out.push(n);
        }
    }
    for key in ["Choices", "Catch"] {
        if let Some(items) = state.get(key).and_then(Value::as_array) {
            out.extend(
                items
                    .iter()
                    .filter_map(|i| i.get("Next").and_then(Value::as_str)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Tests that need `Template::compile`/`Template::expression` (payload templates,
    //! `ErrorPath`/`CausePath`, a complete ItemReader or ResultWriter) check
    //! [`templates_ready`] first and pass vacuously until template.rs is implemented; every
    //! other definition here avoids those fields.
    use super::*;
    use serde_json::json;

    fn problems(definition: &Value) -> Vec<Problem> {
        match parse_definition(&definition.to_string()) {
            Ok(_) => panic!("expected problems in {definition:#}"),
            Err(Problems(p)) => p,
        }
    }

    #[track_caller]
    fn assert_problem(definition: Value, path: &str, fragment: &str) -> Vec<Problem> {
        let found = problems(&definition);
        assert!(
            found
                .iter()
                .any(|p| p.path == path && p.message.contains(fragment)),
            "no problem at {path} containing {fragment:?}; got:\n{}",
            render(&found)
        );
        found
    }

    /// `A` is the state under test; `Done` is a Succeed state to go to.
    fn with_state(state: Value) -> Value {
        json!({"StartAt": "A", "States": {"A": state, "Done": {"Type": "Succeed"}}})
    }

    fn ok(definition: Value) -> Definition {
        match parse_definition(&definition.to_string()) {
            Ok(d) => d,
            Err(e) => panic!("unexpected problems:\n{e}"),
        }
    }

    fn state_of(d: &Definition, name: &str) -> Arc<State> {
        d.machine.state(name).cloned().expect("state exists")
    }

    #[test]
    fn context_input_is_built_only_when_a_path_may_read_it() {
        assert!(!context_reads_input(
            r#"{"a.$": "$$.Map.Item.Value", "b.$": "$$.Execution.Name"}"#
        ));
        assert!(!context_reads_input(r#"{"a.$": "$.x"}"#));
        for reads in [
            "$$.Execution.Input.x",
            "$$.Execution",
            "$$",
            "$$['Execution']",
            "$$.Execution.Names",
            "$$..Input",
        ] {
            assert!(
                context_reads_input(&format!(r#"{{"a.$": "{reads}"}}"#)),
                "{reads}"
            );
        }
    }

    // -- strict JSON --------------------------------------------------------------------------

    #[test]
    fn duplicate_keys_are_rejected_with_key_path_and_position() {
        let text = "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\"Type\": \"Succeed\", \"Type\": \"Pass\"}\n  }\n}";
        let e = parse_definition(text).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].path, "$.States.A");
        assert!(e.0[0].message.contains("duplicate key `Type`"), "{e}");
        assert!(e.0[0].message.contains("line 4"), "{e}");
        let top = parse_value_strict(r#"{"a": 1, "a": 2}"#).unwrap_err();
        assert_eq!(top.path, "$");
        assert!(
            top.message.contains("`a`") && top.message.contains("column"),
            "{top:?}"
        );
        let nested =
            parse_value_strict(r#"{"l": [{"x": 1}, {"odd key": 1, "odd key": 2}]}"#).unwrap_err();
        assert_eq!(nested.path, "$.l[1]");
        assert!(nested.message.contains("`odd key`"));
    }

    #[test]
    fn strict_values_keep_order_and_reject_bad_json() {
        let v = parse_value_strict(r#"{"b": [1, -2, 2.5, true, null], "a": {"c": "x"}}"#).unwrap();
        assert_eq!(v, json!({"b": [1, -2, 2.5, true, null], "a": {"c": "x"}}));
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["b", "a"]
        );
        let bad = parse_value_strict("{\"a\": }").unwrap_err();
        assert_eq!(bad.path, "$");
        assert!(bad.message.contains("not valid JSON") && bad.message.contains("line 1"));
        assert!(parse_value_strict("{} trailing").is_err());
        // Nesting beyond serde_json's recursion limit is an error, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse_value_strict(&deep)
            .unwrap_err()
            .message
            .contains("recursion limit"));
        // Same key in different objects is fine.
        assert!(parse_value_strict(r#"{"a": {"x": 1}, "b": {"x": 1}}"#).is_ok());
    }

    // -- top level ----------------------------------------------------------------------------

    #[test]
    fn top_level_fields() {
        assert_problem(
            json!({"States": {"A": {"Type": "Succeed"}}}),
            "$",
            "`StartAt` is required",
        );
        assert_problem(
            json!({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}),
            "$.StartAt",
            "`B`",
        );
        assert_problem(
            json!({"StartAt": "A", "States": {}}),
            "$.States",
            "at least one state",
        );
        assert_problem(json!({"StartAt": "A"}), "$", "`States` is required");
        assert_problem(
            json!({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}}),
            "$.StartAt",
            "must be a string",
        );
        let base = |extra: Value| {
            let mut d = json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
            for (k, v) in extra.as_object().unwrap() {
                d[k] = v.clone();
            }
            d
        };
        assert_problem(
            base(json!({"Extra": 1})),
            "$.Extra",
            "does not belong to a state machine definition",
        );
        assert_problem(
            base(json!({"TimeoutSeconds": 0})),
            "$.TimeoutSeconds",
            "positive integer",
        );
        assert_problem(
            base(json!({"TimeoutSeconds": 1.5})),
            "$.TimeoutSeconds",
            "positive integer",
        );
        ok(base(json!({"QueryLanguage": "JSONata"})));
        assert_problem(
            base(json!({"QueryLanguage": "SQL"})),
            "$.QueryLanguage",
            "must be",
        );
        assert_problem(base(json!({"Comment": 3})), "$.Comment", "must be a string");
        assert_problem(
            base(json!({"Version": 1.0})),
            "$.Version",
            "must be a string",
        );
        let d = ok(base(
            json!({"Comment": "c", "Version": "1.0", "TimeoutSeconds": 30, "QueryLanguage": "JSONPath"}),
        ));
        assert_eq!(d.comment.as_deref(), Some("c"));
        assert_eq!(d.timeout_seconds, Some(30));
        assert_problem(json!([1]), "$", "must be a JSON object");
    }

    // -- every state --------------------------------------------------------------------------

    #[test]
    fn state_type_is_required_and_known() {
        assert_problem(
            with_state(json!({"Next": "Done"})),
            "$.States.A",
            "`Type` is required",
        );
        assert_problem(
            with_state(json!({"Type": "Sleep", "Next": "Done"})),
            "$.States.A.Type",
            "unknown state type \"Sleep\"",
        );
        assert_problem(
            with_state(json!("Pass")),
            "$.States.A",
            "must be a JSON object",
        );
    }

    #[test]
    fn fields_are_allowed_per_state_type() {
        // Spec, "Required & allowed fields".
        let cases = [
            (
                json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Done"}], "Next": "Done"}),
                "Next",
                "Choice",
            ),
            (json!({"Type": "Succeed", "End": true}), "End", "Succeed"),
            (
                json!({"Type": "Fail", "InputPath": "$"}),
                "InputPath",
                "Fail",
            ),
            (
                json!({"Type": "Wait", "Seconds": 1, "Next": "Done", "ResultPath": "$.x"}),
                "ResultPath",
                "Wait",
            ),
            (
                json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Done"}], "ResultPath": "$.x"}),
                "ResultPath",
                "Choice",
            ),
            (
                json!({"Type": "Pass", "Next": "Done", "Retry": []}),
                "Retry",
                "Pass",
            ),
            (
                json!({"Type": "Pass", "Next": "Done", "ResultSelector": {}}),
                "ResultSelector",
                "Pass",
            ),
            (
                json!({"Type": "Wait", "Seconds": 1, "Next": "Done", "Parameters": {}}),
                "Parameters",
                "Wait",
            ),
            (
                json!({"Type": "Task", "Resource": "r", "Next": "Done", "Resul": 1}),
                "Resul",
                "Task",
            ),
            (
                json!({"Type": "Succeed", "Seconds": 1}),
                "Seconds",
                "Succeed",
            ),
        ];
        for (state, field, ty) in cases {
            assert_problem(
                with_state(state),
                &format!("$.States.A.{field}"),
                &format!("field `{field}` does not belong to a {ty} state"),
            );
        }
        assert_problem(
            with_state(json!({"Type": "Succeed", "Assign": {"x": 1}})),
            "$.States.A.Assign",
            "does not belong to a Succeed state",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "Assign": {"9lives": 1}})),
            "$.States.A.Assign['9lives']",
            "must begin with a letter",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "Assign": {"x.$": "$$.Nope["}})),
            "$.States.A.Assign.x.$",
            "invalid path",
        );
        ok(with_state(
            json!({"Type": "Pass", "Next": "Done", "Assign": {"x": 1, "y.$": "$x"}}),
        ));
        assert_problem(
            with_state(json!({"Type": "Task", "Resource": "r", "Next": "Done", "Arguments": {}})),
            "$.States.A.Arguments",
            "JSONata",
        );
        ok(with_state(
            json!({"Type": "Pass", "Next": "Done", "QueryLanguage": "JSONata"}),
        ));
        ok(with_state(
            json!({"Type": "Pass", "Next": "Done", "QueryLanguage": "JSONPath", "Comment": "x"}),
        ));
    }

    #[test]
    fn next_or_end_exactly_once() {
        assert_problem(
            with_state(json!({"Type": "Pass"})),
            "$.States.A",
            "needs `Next` or `\"End\": true`",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "End": true})),
            "$.States.A",
            "mutually exclusive",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "End": false, "Next": "Done"})),
            "$.States.A",
            "mutually exclusive",
        );
        assert_problem(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": "yes"}}}),
            "$.States.A.End",
            "must be true",
        );
        let d = ok(
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "End": true}}}),
        );
        assert_eq!(state_of(&d, "A").transition, Transition::End);
    }

    #[test]
    fn state_names_are_limited_and_unique() {
        let long = "x".repeat(81);
        assert_problem(
            json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}}),
            &format!("$.States.{long}"),
            "the limit is 80",
        );
        let fine = "é".repeat(80);
        ok(json!({"StartAt": fine, "States": {fine.clone(): {"Type": "Succeed"}}}));
        // Spec, "States": names are unique in the whole state machine, branches included.
        assert_problem(
            with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
            ]})),
            "$.States.A.Branches[0].States.Done",
            "already used at $.States.Done",
        );
        assert_problem(
            json!({"StartAt": "my state", "States": {"my state": {"Type": "Pass", "Next": "gone"}}}),
            "$.States['my state'].Next",
            "`gone`",
        );
    }

    // -- transitions and the graph ------------------------------------------------------------

    #[test]
    fn transitions_stay_inside_their_machine() {
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Nowhere"})),
            "$.States.A.Next",
            "`Nowhere`, which is not a state",
        );
        assert_problem(
            with_state(
                json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Elsewhere"}], "Default": "Nope"}),
            ),
            "$.States.A.Default",
            "`Nope`",
        );
        assert_problem(
            with_state(
                json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Elsewhere"}], "Default": "Done"}),
            ),
            "$.States.A.Choices[0].Next",
            "`Elsewhere`",
        );
        assert_problem(
            with_state(json!({"Type": "Task", "Resource": "r", "Next": "Done",
                              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Lost"}]})),
            "$.States.A.Catch[0].Next",
            "`Lost`",
        );
        // A branch cannot go to a state of the machine around it.
        assert_problem(
            with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "Done"}}}
            ]})),
            "$.States.A.Branches[0].States.B1.Next",
            "cannot transition out",
        );
        assert_problem(
            with_state(json!({"Type": "Map", "Next": "Done", "ItemProcessor":
                {"StartAt": "M1", "States": {"M1": {"Type": "Pass", "Next": "A"}}}})),
            "$.States.A.ItemProcessor.States.M1.Next",
            "cannot transition out",
        );
    }

    #[test]
    fn unreachable_states_and_missing_terminal() {
        let found = assert_problem(
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "End": true},
                "Orphan": {"Type": "Pass", "Next": "A"},
                "Caught": {"Type": "Succeed"}}}),
            "$.States.Orphan",
            "cannot be reached from `StartAt`",
        );
        assert!(found.iter().any(|p| p.path == "$.States.Caught"));
        // Reachable through Choice rules, Default and Catch: no problem.
        ok(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "T"}], "Default": "D"},
            "T": {"Type": "Task", "Resource": "r", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "D": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E"}}}));
        assert_problem(
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Pass", "Next": "A"}}}),
            "$.States",
            "no terminal state",
        );
    }

    // -- paths --------------------------------------------------------------------------------

    #[test]
    fn input_output_and_result_paths() {
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "InputPath": "x"})),
            "$.States.A.InputPath",
            "must begin with `$`",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "OutputPath": "$.a["})),
            "$.States.A.OutputPath",
            "not a valid path",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "InputPath": 3})),
            "$.States.A.InputPath",
            "path string",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "ResultPath": "$.a[*]"})),
            "$.States.A.ResultPath",
            "reference path",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "ResultPath": "$$.x"})),
            "$.States.A.ResultPath",
            "context object",
        );
        assert_problem(
            with_state(json!({"Type": "Pass", "Next": "Done", "ResultPath": 1})),
            "$.States.A.ResultPath",
            "or null",
        );
        let d = ok(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "InputPath": null, "OutputPath": "$.x", "ResultPath": null, "Next": "B"},
            "B": {"Type": "Pass", "ResultPath": "$.r.s", "Next": "C"},
            "C": {"Type": "Pass", "ResultPath": "$", "InputPath": "$$.Execution", "End": true}}}));
        let a = state_of(&d, "A");
        assert!(a.input_path.is_none());
        assert_eq!(a.output_path.as_ref().map(Path::as_str), Some("$.x"));
        assert!(matches!(a.result_path, ResultPath::Discard));
        let b = state_of(&d, "B");
        assert!(b.input_path.as_ref().is_some_and(Path::is_root));
        assert!(matches!(&b.result_path, ResultPath::At(r) if r.as_str() == "$.r.s"));
        let c = state_of(&d, "C");
        assert!(matches!(c.result_path, ResultPath::Replace));
        assert!(c.input_path.as_ref().is_some_and(Path::is_context));
    }

    // -- retry and catch ----------------------------------------------------------------------

    fn task_with(extra: Value) -> Value {
        let mut t = json!({"Type": "Task", "Resource": "r", "Next": "Done"});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        with_state(t)
    }

    #[test]
    fn retriers_are_checked() {
        let retry = |r: Value| task_with(json!({"Retry": [r]}));
        assert_problem(
            retry(json!({"ErrorEquals": []})),
            "$.States.A.Retry[0].ErrorEquals",
            "non-empty array",
        );
        assert_problem(
            retry(json!({"MaxAttempts": 1})),
            "$.States.A.Retry[0]",
            "`ErrorEquals` is required",
        );
        assert_problem(
            retry(json!({"ErrorEquals": [1]})),
            "$.States.A.Retry[0].ErrorEquals[0]",
            "must be a string",
        );
        assert_problem(
            retry(json!({"ErrorEquals": ["States.ALL", "X"]})),
            "$.States.A.Retry[0].ErrorEquals",
            "alone",
        );
        assert_problem(
            retry(json!({"ErrorEquals": ["X"], "IntervalSeconds": 0})),
            "$.States.A.Retry[0].IntervalSeconds",
            "positive integer",
        );
        assert_problem(
            retry(json!({"ErrorEquals": ["X"], "MaxAttempts": -1})),
            "$.States.A.Retry[0].MaxAttempts",
            "non-negative integer",
        );
        assert_problem(
            retry(json!({"ErrorEquals": ["X"], "BackoffRate": 0.5})),
            "$.States.A.Retry[0].BackoffRate",
            "at least 1.0",
        );
        assert_problem(
            retry(json!({"ErrorEquals": ["X"], "MaxDelaySeconds": 0})),
            "$.States.A.Retry[0].MaxDelaySeconds",
            "positive integer",
        );
        assert_problem(
            retry(json!({"ErrorEquals": ["X"], "JitterStrategy": "HALF"})),
            "$.States.A.Retry[0].JitterStrategy",
            "FULL",
        );
        assert_problem(
            retry(json!({"ErrorEquals": ["X"], "Interval": 1})),
            "$.States.A.Retry[0].Interval",
            "does not belong to a retrier",
        );
        assert_problem(
            task_with(json!({"Retry": {}})),
            "$.States.A.Retry",
            "array of retriers",
        );
        assert_problem(
            task_with(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})),
            "$.States.A.Retry[0].ErrorEquals",
            "must be the last in `Retry`",
        );
        let d = ok(task_with(json!({"Retry": [
            {"ErrorEquals": ["A", "B"], "IntervalSeconds": 2, "MaxAttempts": 0, "BackoffRate": 1.5,
             "MaxDelaySeconds": 10, "JitterStrategy": "FULL", "Comment": "c"},
            {"ErrorEquals": ["States.ALL"]}]})));
        let a = state_of(&d, "A");
        assert_eq!(a.retry.len(), 2);
        let r = &a.retry[0];
        assert_eq!(r.error_equals, ["A", "B"]);
        assert_eq!(
            (r.interval_seconds, r.max_attempts, r.max_delay_seconds),
            (2, 0, Some(10))
        );
        assert_eq!(r.backoff_rate, 1.5);
        assert_eq!(r.jitter, Jitter::Full);
        let d2 = &a.retry[1];
        assert_eq!(
            (d2.interval_seconds, d2.max_attempts, d2.backoff_rate),
            (1, 3, 2.0)
        );
        assert_eq!((d2.max_delay_seconds, d2.jitter), (None, Jitter::None));
    }

    #[test]
    fn catchers_are_checked() {
        assert_problem(
            task_with(json!({"Catch": [{"ErrorEquals": ["X"]}]})),
            "$.States.A.Catch[0]",
            "`Next` is required",
        );
        assert_problem(
            task_with(json!({"Catch": [{"Next": "Done"}]})),
            "$.States.A.Catch[0]",
            "`ErrorEquals` is required",
        );
        assert_problem(
            task_with(
                json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}, {"ErrorEquals": ["X"], "Next": "Done"}]}),
            ),
            "$.States.A.Catch[0].ErrorEquals",
            "must be the last in `Catch`",
        );
        assert_problem(
            task_with(
                json!({"Catch": [{"ErrorEquals": ["X"], "Next": "Done", "ResultPath": "$.a.*"}]}),
            ),
            "$.States.A.Catch[0].ResultPath",
            "reference path",
        );
        let d = ok(task_with(json!({"Catch": [
            {"ErrorEquals": ["X"], "Next": "Done", "ResultPath": "$.error"},
            {"ErrorEquals": ["States.ALL"], "Next": "Done", "ResultPath": null}]})));
        let a = state_of(&d, "A");
        assert_eq!(a.catch[0].next, "Done");
        assert!(matches!(&a.catch[0].result_path, ResultPath::At(p) if p.as_str() == "$.error"));
        assert!(matches!(a.catch[1].result_path, ResultPath::Discard));
    }

    // -- Task ---------------------------------------------------------------------------------

    #[test]
    fn task_fields() {
        assert_problem(
            with_state(json!({"Type": "Task", "Next": "Done"})),
            "$.States.A",
            "`Resource` is required",
        );
        assert_problem(
            task_with(json!({"TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t"})),
            "$.States.A",
            "mutually exclusive",
        );
        assert_problem(
            task_with(json!({"HeartbeatSeconds": 5, "HeartbeatSecondsPath": "$.h"})),
            "$.States.A",
            "mutually exclusive",
        );
        assert_problem(
            task_with(json!({"TimeoutSeconds": 0})),
            "$.States.A.TimeoutSeconds",
            "positive integer",
        );
        assert_problem(
            task_with(json!({"TimeoutSeconds": 10, "HeartbeatSeconds": 10})),
            "$.States.A.HeartbeatSeconds",
            "smaller than `TimeoutSeconds`",
        );
        assert_problem(
            task_with(json!({"TimeoutSecondsPath": "t"})),
            "$.States.A.TimeoutSecondsPath",
            "not a valid path",
        );
        let d = ok(task_with(
            json!({"TimeoutSeconds": 10, "HeartbeatSecondsPath": "$.hb"}),
        ));
        let Body::Task(t) = &state_of(&d, "A").body else {
            panic!("a Task")
        };
        assert_eq!(t.resource, "r");
        assert!(matches!(t.timeout, Some(Count::Literal(10))));
        assert!(matches!(&t.heartbeat, Some(Count::Path(p)) if p.as_str() == "$.hb"));
    }

    // -- Choice -------------------------------------------------------------------------------

    fn choice_rule(rule: Value) -> Value {
        with_state(json!({"Type": "Choice", "Choices": [rule], "Default": "Done"}))
    }

    #[test]
    fn choice_structure() {
        assert_problem(
            with_state(json!({"Type": "Choice", "Choices": []})),
            "$.States.A.Choices",
            "non-empty array",
        );
        assert_problem(
            with_state(json!({"Type": "Choice", "Default": "Done"})),
            "$.States.A",
            "`Choices` is required",
        );
        assert_problem(
            choice_rule(json!({"Variable": "$.x", "IsNull": true})),
            "$.States.A.Choices[0]",
            "needs `Next`",
        );
        assert_problem(
            choice_rule(
                json!({"Not": {"Variable": "$.x", "IsNull": true, "Next": "Done"}, "Next": "Done"}),
            ),
            "$.States.A.Choices[0].Not.Next",
            "nested choice rule cannot have `Next`",
        );
        assert_problem(
            choice_rule(
                json!({"Variable": "$.x", "IsNull": true, "IsString": true, "Next": "Done"}),
            ),
            "$.States.A.Choices[0]",
            "exactly one operator; this one has `IsNull`, `IsString`",
        );
        assert_problem(
            choice_rule(json!({"Variable": "$.x", "Next": "Done"})),
            "$.States.A.Choices[0]",
            "needs a comparison operator",
        );
        assert_problem(
            choice_rule(json!({"And": [], "Next": "Done"})),
            "$.States.A.Choices[0].And",
            "non-empty array",
        );
        assert_problem(
            choice_rule(json!({"Or": {}, "Next": "Done"})),
            "$.States.A.Choices[0].Or",
            "non-empty array",
        );
        assert_problem(
            choice_rule(json!({"Not": [], "Next": "Done"})),
            "$.States.A.Choices[0].Not",
            "must be a JSON object",
        );
        assert_problem(
            choice_rule(json!({"StringEquals": "a", "Next": "Done"})),
            "$.States.A.Choices[0]",
            "needs `Variable`",
        );
        assert_problem(
            choice_rule(
                json!({"Variable": "$.x", "And": [{"Variable": "$.x", "IsNull": true}], "Next": "Done"}),
            ),
            "$.States.A.Choices[0].Variable",
            "does not belong to `And`",
        );
        assert_problem(
            choice_rule(json!({"Variable": "$.x[", "IsNull": true, "Next": "Done"})),
            "$.States.A.Choices[0].Variable",
            "not a valid path",
        );
        assert_problem(
            choice_rule(json!({"Variable": "$.x", "IsNull": true, "Next": "Done", "Extra": 1})),
            "$.States.A.Choices[0].Extra",
            "does not belong to a choice rule",
        );
        assert_problem(
            choice_rule(json!({"Condition": "{% true %}", "Next": "Done"})),
            "$.States.A.Choices[0].Condition",
            "JSONata",
        );
        assert_problem(
            choice_rule(
                json!({"Or": [{"Variable": "$.x", "IsNull": true}, {"Variable": "$.y"}], "Next": "Done"}),
            ),
            "$.States.A.Choices[0].Or[1]",
            "needs a comparison operator",
        );
    }

    #[test]
    fn choice_operand_types() {
        let cases = [
            ("StringEquals", json!(1), "a string"),
            ("StringLessThanEquals", json!(null), "a string"),
            ("NumericEquals", json!("1"), "a number"),
            ("NumericGreaterThan", json!(true), "a number"),
            ("BooleanEquals", json!("true"), "true or false"),
            ("TimestampEquals", json!("yesterday"), "RFC 3339"),
            (
                "TimestampLessThan",
                json!("2016-03-14 01:59:00Z"),
                "RFC 3339",
            ),
            ("IsNull", json!("yes"), "true or false"),
            ("IsPresent", json!(1), "true or false"),
            ("StringMatches", json!(1), "pattern string"),
            ("StringMatches", json!("a\\d"), "not an escape"),
            ("StringEqualsPath", json!("x"), "not a valid path"),
            ("NumericLessThanPath", json!(3), "path string"),
        ];
        for (op, operand, fragment) in cases {
            assert_problem(
                choice_rule(json!({"Variable": "$.x", op: operand, "Next": "Done"})),
                &format!("$.States.A.Choices[0].{op}"),
                fragment,
            );
        }
        // No `…Path` form for StringMatches and the Is… tests.
        assert_problem(
            choice_rule(json!({"Variable": "$.x", "IsNullPath": "$.y", "Next": "Done"})),
            "$.States.A.Choices[0].IsNullPath",
            "does not belong to a choice rule",
        );
    }

    #[test]
    fn choice_model() {
        // Spec, Choice Rules: the example with Not, And and NumericGreaterThanPath.
        let d = ok(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [
                {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                {"And": [
                    {"Variable": "$.value", "IsPresent": true},
                    {"Variable": "$.value", "IsNumeric": true},
                    {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.value", "NumericLessThan": 30}],
                 "Next": "ValueInTwenties"},
                {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold", "Next": "StartAudit"},
                {"Variable": "$.when", "TimestampLessThan": "2016-03-14T01:59:00Z", "Next": "Public"},
                {"Variable": "$.name", "StringMatches": "log-*.txt", "Next": "Public"}],
             "Default": "RecordEvent"},
            "Public": {"Type": "Succeed"},
            "ValueInTwenties": {"Type": "Succeed"},
            "StartAudit": {"Type": "Succeed"},
            "RecordEvent": {"Type": "Succeed"}}}));
        let c = state_of(&d, "C");
        assert_eq!(c.transition, Transition::Terminal);
        let Body::Choice(choice) = &c.body else {
            panic!("a Choice")
        };
        assert_eq!(choice.default.as_deref(), Some("RecordEvent"));
        let nexts: Vec<_> = choice.choices.iter().map(|b| b.next.as_str()).collect();
        assert_eq!(
            nexts,
            [
                "Public",
                "ValueInTwenties",
                "StartAudit",
                "Public",
                "Public"
            ]
        );
        assert!(matches!(&choice.choices[0].rule, ChoiceRule::Not(_)));
        assert!(matches!(&choice.choices[1].rule, ChoiceRule::And(r) if r.len() == 4));
        assert!(matches!(&choice.choices[2].rule,
            ChoiceRule::Compare { op: Comparison::NumericGreaterThan, operand: Operand::Path(p), .. }
                if p.as_str() == "$.auditThreshold"));
        let ctx = crate::variables::Bindings::default();
        let rule = |i: usize| &choice.choices[i].rule;
        assert!(rule(0).matches(&json!({"type": "Public"}), &ctx).unwrap());
        assert!(rule(1).matches(&json!({"value": 25}), &ctx).unwrap());
        assert!(rule(2)
            .matches(&json!({"rating": 60, "auditThreshold": 50}), &ctx)
            .unwrap());
        assert!(rule(3)
            .matches(&json!({"when": "2016-03-13T00:00:00Z"}), &ctx)
            .unwrap());
        assert!(rule(4)
            .matches(&json!({"name": "log-1.txt"}), &ctx)
            .unwrap());
    }

    // -- Wait, Fail, Pass ---------------------------------------------------------------------

    #[test]
    fn wait_fields() {
        let wait = |extra: Value| {
            let mut w = json!({"Type": "Wait", "Next": "Done"});
            for (k, v) in extra.as_object().unwrap() {
                w[k] = v.clone();
            }
            with_state(w)
        };
        assert_problem(wait(json!({})), "$.States.A", "needs one of `Seconds`");
        assert_problem(
            wait(json!({"Seconds": 1, "SecondsPath": "$.s"})),
            "$.States.A",
            "exactly one of",
        );
        assert_problem(
            wait(json!({"Seconds": -1})),
            "$.States.A.Seconds",
            "non-negative integer",
        );
        assert_problem(
            wait(json!({"Timestamp": "tomorrow"})),
            "$.States.A.Timestamp",
            "RFC 3339",
        );
        assert_problem(
            wait(json!({"Timestamp": "2016-03-14T01:59:00z"})),
            "$.States.A.Timestamp",
            "RFC 3339",
        );
        assert_problem(
            wait(json!({"TimestampPath": "$$$"})),
            "$.States.A.TimestampPath",
            "not a valid path",
        );
        let d = ok(json!({"StartAt": "W1", "States": {
            "W1": {"Type": "Wait", "Seconds": 0, "Next": "W2"},
            "W2": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00+02:00", "Next": "W3"},
            "W3": {"Type": "Wait", "SecondsPath": "$.s", "Next": "W4"},
            "W4": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}}));
        assert!(matches!(
            state_of(&d, "W1").body,
            Body::Wait(Wait::Seconds(0))
        ));
        let Body::Wait(Wait::Timestamp(t)) = state_of(&d, "W2").body.clone() else {
            panic!("timestamp")
        };
        assert_eq!(t.to_rfc3339(), "2016-03-14T01:59:00+02:00");
        assert!(
            matches!(&state_of(&d, "W3").body, Body::Wait(Wait::SecondsPath(p)) if p.as_str() == "$.s")
        );
        assert!(
            matches!(&state_of(&d, "W4").body, Body::Wait(Wait::TimestampPath(p)) if p.as_str() == "$.t")
        );
    }

    #[test]
    fn fail_fields() {
        let fail = |f: Value| json!({"StartAt": "A", "States": {"A": f}});
        // Neither combination reaches Template::expression: both forms are present.
        assert_problem(
            fail(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})),
            "$.States.A",
            "`Error` and `ErrorPath` are mutually exclusive",
        );
        assert_problem(
            fail(json!({"Type": "Fail", "Cause": "C", "CausePath": "$.c"})),
            "$.States.A",
            "`Cause` and `CausePath` are mutually exclusive",
        );
        assert_problem(
            fail(json!({"Type": "Fail", "Error": 5})),
            "$.States.A.Error",
            "must be a string",
        );
        assert_problem(
            fail(json!({"Type": "Fail", "Cause": "C", "Next": "A"})),
            "$.States.A.Next",
            "does not belong to a Fail state",
        );
        let d = ok(fail(
            json!({"Type": "Fail", "Error": "Oops", "Cause": "because"}),
        ));
        let Body::Fail(f) = &state_of(&d, "A").body else {
            panic!("a Fail")
        };
        assert!(matches!(&f.error, Some(Text::Literal(e)) if e == "Oops"));
        assert!(matches!(&f.cause, Some(Text::Literal(c)) if c == "because"));
        let d = ok(fail(json!({"Type": "Fail"})));
        assert!(matches!(
            &state_of(&d, "A").body,
            Body::Fail(Fail {
                error: None,
                cause: None
            })
        ));
    }

    #[test]
    fn fail_paths_compile_as_expressions() {
        let d = ok(
            json!({"StartAt": "A", "States": {"A": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('x {}', $.c)"}}}),
        );
        let Body::Fail(f) = &state_of(&d, "A").body else {
            panic!("a Fail")
        };
        assert!(matches!(f.error, Some(Text::Dynamic(_))));
        assert!(matches!(f.cause, Some(Text::Dynamic(_))));
        let found = problems(
            &json!({"StartAt": "A", "States": {"A": {"Type": "Fail", "ErrorPath": "States.Nope(1)"}}}),
        );
        assert!(
            found
                .iter()
                .any(|p| p.path.starts_with("$.States.A.ErrorPath")),
            "{found:?}"
        );
    }

    #[test]
    fn pass_result() {
        let d = ok(with_state(
            json!({"Type": "Pass", "Result": {"x": [1, 2]}, "ResultPath": "$.r", "Next": "Done"}),
        ));
        let a = state_of(&d, "A");
        assert!(matches!(&a.body, Body::Pass { result: Some(r) } if *r == json!({"x": [1, 2]})));
        let d = ok(with_state(
            json!({"Type": "Pass", "Result": null, "Next": "Done"}),
        ));
        assert!(matches!(
            &state_of(&d, "A").body,
            Body::Pass {
                result: Some(Value::Null)
            }
        ));
        let d = ok(with_state(json!({"Type": "Pass", "Next": "Done"})));
        assert!(matches!(
            &state_of(&d, "A").body,
            Body::Pass { result: None }
        ));
    }

    // -- templates ----------------------------------------------------------------------------

    #[test]
    fn templates_must_be_objects() {
        // Rejected before compiling, so this holds with or without template.rs.
        assert_problem(
            task_with(json!({"Parameters": [1]})),
            "$.States.A.Parameters",
            "must be a JSON object",
        );
        assert_problem(
            task_with(json!({"ResultSelector": "x"})),
            "$.States.A.ResultSelector",
            "must be a JSON object",
        );
    }

    #[test]
    fn template_problems_carry_their_path() {
        let found = problems(&task_with(
            json!({"Parameters": {"ok.$": "$.a", "bad.$": "nope"}}),
        ));
        assert!(
            found
                .iter()
                .any(|p| p.path.starts_with("$.States.A.Parameters") && p.path.contains("bad")),
            "{found:?}"
        );
        let d = ok(task_with(
            json!({"Parameters": {"a.$": "$.a", "b": 1}, "ResultSelector": {"r.$": "$.x"}}),
        ));
        let a = state_of(&d, "A");
        assert!(a.parameters.is_some() && a.result_selector.is_some());
        // A Map's `Parameters` is its legacy `ItemSelector`.
        let d = ok(with_state(
            json!({"Type": "Map", "Next": "Done", "Parameters": {"v.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
        ));
        let a = state_of(&d, "A");
        assert!(a.parameters.is_none());
        assert!(matches!(&a.body, Body::Map(m) if m.item_selector.is_some()));
    }

    // -- Parallel -----------------------------------------------------------------------------

    #[test]
    fn parallel_branches() {
        assert_problem(
            with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": []})),
            "$.States.A.Branches",
            "non-empty array",
        );
        assert_problem(
            with_state(json!({"Type": "Parallel", "Next": "Done"})),
            "$.States.A",
            "`Branches` is required",
        );
        assert_problem(
            with_state(
                json!({"Type": "Parallel", "Next": "Done", "Branches": [{"States": {"X": {"Type": "Succeed"}}}]}),
            ),
            "$.States.A.Branches[0]",
            "`StartAt` is required",
        );
        assert_problem(
            with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}, "Version": "1.0"}]})),
            "$.States.A.Branches[0].Version",
            "does not belong to a Parallel branch",
        );
        assert_problem(
            with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "X", "States": {"X": {"Type": "Wait", "End": true}}}]})),
            "$.States.A.Branches[0].States.X",
            "needs one of `Seconds`",
        );
    }

    // -- Map ----------------------------------------------------------------------------------

    fn map_with(extra: Value) -> Value {
        let mut m = json!({"Type": "Map", "Next": "Done",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        with_state(m)
    }

    fn distributed(extra: Value) -> Value {
        let mut m = json!({"ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        map_with(m)
    }

    #[test]
    fn map_processor() {
        assert_problem(
            with_state(json!({"Type": "Map", "Next": "Done"})),
            "$.States.A",
            "needs `ItemProcessor`",
        );
        let p = json!({"StartAt": "P", "States": {"P": {"Type": "Succeed"}}});
        assert_problem(
            map_with(json!({"Iterator": p})),
            "$.States.A",
            "mutually exclusive",
        );
        assert_problem(
            map_with(
                json!({"ItemProcessor": {"ProcessorConfig": {"Mode": "PARALLEL"}, "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
            ),
            "$.States.A.ItemProcessor.ProcessorConfig.Mode",
            "INLINE",
        );
        assert_problem(
            map_with(
                json!({"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
            ),
            "$.States.A.ItemProcessor.ProcessorConfig",
            "`ExecutionType` (STANDARD or EXPRESS) is required",
        );
        assert_problem(
            map_with(
                json!({"ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE", "ExecutionType": "EXPRESS"}, "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
            ),
            "$.States.A.ItemProcessor.ProcessorConfig.ExecutionType",
            "only when `Mode` is DISTRIBUTED",
        );
        assert_problem(
            map_with(
                json!({"ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}, "Extra": 1}}),
            ),
            "$.States.A.ItemProcessor.Extra",
            "does not belong to an ItemProcessor",
        );
        // The deprecated `Iterator` is an inline processor.
        let d = ok(with_state(
            json!({"Type": "Map", "Next": "Done", "Iterator": p, "ItemsPath": "$.items", "MaxConcurrency": 2}),
        ));
        let Body::Map(m) = &state_of(&d, "A").body else {
            panic!("a Map")
        };
        assert_eq!(m.mode, MapMode::Inline);
        assert_eq!(m.processor.start_at, "P");
        assert_eq!(m.items_path.as_ref().map(Path::as_str), Some("$.items"));
        assert!(matches!(m.max_concurrency, Some(Count::Literal(2))));
    }

    #[test]
    fn map_counts_and_distributed_only_fields() {
        assert_problem(
            map_with(json!({"MaxConcurrency": 1, "MaxConcurrencyPath": "$.m"})),
            "$.States.A",
            "mutually exclusive",
        );
        assert_problem(
            map_with(json!({"MaxConcurrency": -1})),
            "$.States.A.MaxConcurrency",
            "non-negative integer",
        );
        assert_problem(
            map_with(json!({"ItemsPath": 3})),
            "$.States.A.ItemsPath",
            "path string",
        );
        for key in [
            "ItemBatcher",
            "Label",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
        ] {
            let value = match key {
                "ItemBatcher" => json!({"MaxItemsPerBatch": 2}),
                "Label" => json!("l"),
                _ => json!(1),
            };
            assert_problem(
                map_with(json!({key: value})),
                &format!("$.States.A.{key}"),
                "applies only to a distributed Map",
            );
        }
        assert_problem(
            distributed(json!({"ToleratedFailurePercentage": 150})),
            "$.States.A.ToleratedFailurePercentage",
            "from 0 to 100",
        );
        assert_problem(
            distributed(
                json!({"ToleratedFailurePercentage": 5, "ToleratedFailurePercentagePath": "$.p"}),
            ),
            "$.States.A",
            "mutually exclusive",
        );
        assert_problem(
            distributed(json!({"ToleratedFailureCount": 1.5})),
            "$.States.A.ToleratedFailureCount",
            "non-negative integer",
        );
        assert_problem(
            distributed(json!({"Label": "x".repeat(41)})),
            "$.States.A.Label",
            "the limit is 40",
        );
        assert_problem(
            distributed(json!({"ItemBatcher": {}})),
            "$.States.A.ItemBatcher",
            "needs `MaxItemsPerBatch`",
        );
        assert_problem(
            distributed(json!({"ItemBatcher": {"MaxInputBytesPerBatch": 262145}})),
            "$.States.A.ItemBatcher.MaxInputBytesPerBatch",
            "the limit is 262144",
        );
        assert_problem(
            distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 0}})),
            "$.States.A.ItemBatcher.MaxItemsPerBatch",
            "positive integer",
        );
        assert_problem(
            distributed(json!({"ItemBatcher": {"MaxItems": 1}})),
            "$.States.A.ItemBatcher.MaxItems",
            "does not belong to `ItemBatcher`",
        );
    }

    #[test]
    fn map_item_reader_and_result_writer() {
        // Without `Parameters` (reported) nothing here needs template.rs.
        assert_problem(
            distributed(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}})),
            "$.States.A.ItemReader",
            "`Parameters` is required",
        );
        assert_problem(
            distributed(json!({"ItemReader": {"Resource": "arn:aws:states:::dynamodb:scan"}})),
            "$.States.A.ItemReader.Resource",
            "is not supported",
        );
        assert_problem(
            distributed(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "XML"}}}),
            ),
            "$.States.A.ItemReader.ReaderConfig.InputType",
            "must be \"JSON\", \"JSONL\" or \"CSV\"",
        );
        assert_problem(
            distributed(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"}}}),
            ),
            "$.States.A.ItemReader.ReaderConfig.InputType",
            "not supported by this engine",
        );
        assert_problem(
            distributed(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}}),
            ),
            "$.States.A.ItemReader.ReaderConfig",
            "`CSVHeaders` is required",
        );
        assert_problem(
            distributed(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON", "CSVHeaderLocation": "FIRST_ROW"}}}),
            ),
            "$.States.A.ItemReader.ReaderConfig.CSVHeaderLocation",
            "only to InputType CSV",
        );
        assert_problem(
            distributed(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": {"InputType": "JSON"}}}),
            ),
            "$.States.A.ItemReader.ReaderConfig.InputType",
            "does not apply",
        );
        assert_problem(
            distributed(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"MaxItems": 0}}}),
            ),
            "$.States.A.ItemReader.ReaderConfig.MaxItems",
            "positive integer",
        );
        assert_problem(
            distributed(
                json!({"ItemsPath": "$.x", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}}),
            ),
            "$.States.A.ItemsPath",
            "cannot be used with `ItemReader`",
        );
        assert_problem(
            map_with(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}})),
            "$.States.A.ItemReader",
            "applies only to a distributed Map",
        );
        assert_problem(
            distributed(json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject"}})),
            "$.States.A.ResultWriter.Resource",
            "use `arn:aws:states:::s3:putObject`",
        );
        assert_problem(
            distributed(json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"}})),
            "$.States.A.ResultWriter",
            "`Parameters` is required",
        );
    }

    #[test]
    fn map_item_reader_model() {
        let d = ok(distributed(json!({
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"], "MaxItems": 10},
                "Parameters": {"Bucket": "b", "Key.$": "$.key"}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "out"}},
            "ItemBatcher": {"MaxItemsPerBatchPath": "$.n", "BatchInput": {"run.$": "$$.Execution.Name"}}})));
        let Body::Map(m) = &state_of(&d, "A").body else {
            panic!("a Map")
        };
        let reader = m.item_reader.as_ref().expect("a reader");
        assert_eq!(reader.input, ItemInput::Csv);
        assert_eq!(
            reader.csv_headers.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert!(matches!(reader.max_items, Some(Count::Literal(10))));
        assert!(m.result_writer.is_some());
        let batcher = m.item_batcher.as_ref().expect("a batcher");
        assert!(
            matches!(&batcher.max_items_per_batch, Some(Count::Path(p)) if p.as_str() == "$.n")
        );
        assert!(batcher.batch_input.is_some());
        let d = ok(distributed(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": "b", "Prefix": "p/"}}}),
        ));
        let Body::Map(m) = &state_of(&d, "A").body else {
            panic!("a Map")
        };
        assert_eq!(
            m.item_reader.as_ref().map(|r| r.input),
            Some(ItemInput::Listing)
        );
    }

    // -- everything together ------------------------------------------------------------------

    #[test]
    fn many_problems_are_reported_at_once() {
        let found = problems(&json!({
            "StartAt": "A",
            "Bogus": true,
            "States": {
                "A": {"Type": "Task", "Next": "Missing", "Retry": [{"ErrorEquals": []}]},
                "B": {"Type": "Wait", "Seconds": -5, "End": true},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "1"}]}
            }
        }));
        let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "$.Bogus",
            "$.States.A",
            "$.States.A.Next",
            "$.States.A.Retry[0].ErrorEquals",
            "$.States.B.Seconds",
            "$.States.C.Choices[0]",
            "$.States.C.Choices[0].NumericEquals",
        ] {
            assert!(
                paths.contains(&expected),
                "missing {expected} in {paths:#?}"
            );
        }
        assert!(found.len() >= 7);
        let rendered = Problems(found).to_string();
        assert!(
            rendered.contains("$.States.B.Seconds: `Seconds` must be a non-negative integer"),
            "{rendered}"
        );
    }

    #[test]
    fn full_definition_builds_the_model() {
        let d = ok(json!({
            "Comment": "every state type",
            "StartAt": "Start",
            "TimeoutSeconds": 3600,
            "States": {
                "Start": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.pass", "Next": "Work"},
                "Work": {
                    "Type": "Task", "Comment": "do it", "Resource": "arn:local:work",
                    "InputPath": "$.in", "OutputPath": "$.out", "ResultPath": "$.result",
                    "TimeoutSeconds": 60, "HeartbeatSeconds": 10,
                    "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 5, "JitterStrategy": "FULL"}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Broken"}],
                    "Next": "Route"
                },
                "Route": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "Pause"}],
                    "Default": "Finish"
                },
                "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Fan"},
                "Fan": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
                        {"StartAt": "Right", "States": {"Right": {"Type": "Succeed"}}}
                    ],
                    "ResultPath": null,
                    "Retry": [{"ErrorEquals": ["States.BranchFailed"], "IntervalSeconds": 3}],
                    "Next": "Each"
                },
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 4,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Item",
                        "States": {"Item": {"Type": "Task", "Resource": "arn:local:item", "End": true}}
                    },
                    "Next": "Batch"
                },
                "Batch": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Chunk",
                        "States": {"Chunk": {"Type": "Pass", "End": true}}
                    },
                    "ItemBatcher": {"MaxItemsPerBatch": 100, "MaxInputBytesPerBatch": 1024},
                    "ToleratedFailurePercentage": 5,
                    "ToleratedFailureCountPath": "$.tolerated",
                    "Label": "batches",
                    "Next": "Finish"
                },
                "Finish": {"Type": "Succeed", "OutputPath": null},
                "Broken": {"Type": "Fail", "Error": "Broken", "Cause": "the task failed"}
            }
        }));
        assert_eq!(d.comment.as_deref(), Some("every state type"));
        assert_eq!(d.timeout_seconds, Some(3600));
        let m = &d.machine;
        assert_eq!(m.start_at, "Start");
        assert_eq!(m.states.len(), 9);
        for (name, s) in &m.states {
            assert_eq!(&s.name, name);
        }

        let start = state_of(&d, "Start");
        assert!(matches!(&start.body, Body::Pass { result: Some(r) } if *r == json!({"n": 1})));
        assert_eq!(start.transition, Transition::Next("Work".into()));
        assert!(matches!(&start.result_path, ResultPath::At(p) if p.as_str() == "$.pass"));

        let work = state_of(&d, "Work");
        assert_eq!(work.body.type_name(), "Task");
        assert_eq!(work.comment.as_deref(), Some("do it"));
        assert_eq!(work.input_path.as_ref().map(Path::as_str), Some("$.in"));
        assert_eq!(work.output_path.as_ref().map(Path::as_str), Some("$.out"));
        assert!(work.parameters.is_none() && work.result_selector.is_none());
        let Body::Task(task) = &work.body else {
            panic!("a Task")
        };
        assert_eq!(task.resource, "arn:local:work");
        assert!(matches!(task.timeout, Some(Count::Literal(60))));
        assert!(matches!(task.heartbeat, Some(Count::Literal(10))));
        assert_eq!(work.retry.len(), 1);
        assert_eq!(work.retry[0].max_attempts, 5);
        assert_eq!(work.retry[0].jitter, Jitter::Full);
        assert_eq!(work.catch.len(), 1);
        assert_eq!(work.catch[0].next, "Broken");
        assert_eq!(work.catch[0].error_equals, ["States.ALL"]);

        let route = state_of(&d, "Route");
        assert_eq!(route.transition, Transition::Terminal);
        let Body::Choice(c) = &route.body else {
            panic!("a Choice")
        };
        assert_eq!(c.choices.len(), 1);
        assert_eq!(c.choices[0].next, "Pause");
        assert_eq!(c.default.as_deref(), Some("Finish"));
        assert!(c.choices[0]
            .rule
            .matches(&json!({"go": true}), &crate::variables::Bindings::default())
            .unwrap());

        let pause = state_of(&d, "Pause");
        assert!(matches!(&pause.body, Body::Wait(Wait::SecondsPath(p)) if p.as_str() == "$.delay"));
        assert_eq!(pause.transition, Transition::Next("Fan".into()));

        let fan = state_of(&d, "Fan");
        assert!(matches!(fan.result_path, ResultPath::Discard));
        assert_eq!(fan.retry[0].interval_seconds, 3);
        let Body::Parallel(p) = &fan.body else {
            panic!("a Parallel")
        };
        assert_eq!(p.branches.len(), 2);
        assert_eq!(p.branches[0].start_at, "Left");
        assert_eq!(
            p.branches[0].state("Left").unwrap().transition,
            Transition::End
        );
        assert!(matches!(
            p.branches[1].state("Right").unwrap().body,
            Body::Succeed
        ));

        let each = state_of(&d, "Each");
        let Body::Map(map) = &each.body else {
            panic!("a Map")
        };
        assert_eq!(map.mode, MapMode::Inline);
        assert_eq!(map.items_path.as_ref().map(Path::as_str), Some("$.items"));
        assert!(matches!(map.max_concurrency, Some(Count::Literal(4))));
        assert!(map.item_selector.is_none() && map.item_reader.is_none());
        assert!(
            matches!(&map.processor.state("Item").unwrap().body, Body::Task(t) if t.resource == "arn:local:item")
        );

        let batch = state_of(&d, "Batch");
        let Body::Map(map) = &batch.body else {
            panic!("a Map")
        };
        assert_eq!(map.mode, MapMode::Distributed);
        assert_eq!(map.label.as_deref(), Some("batches"));
        assert!(
            matches!(map.tolerated_failure_percentage, Some(Percentage::Literal(p)) if p == 5.0)
        );
        assert!(
            matches!(&map.tolerated_failure_count, Some(Count::Path(p)) if p.as_str() == "$.tolerated")
        );
        let batcher = map.item_batcher.as_ref().expect("a batcher");
        assert!(matches!(
            batcher.max_items_per_batch,
            Some(Count::Literal(100))
        ));
        assert!(matches!(
            batcher.max_input_bytes_per_batch,
            Some(Count::Literal(1024))
        ));
        assert!(batcher.batch_input.is_none());
        assert_eq!(batch.transition, Transition::Next("Finish".into()));

        let finish = state_of(&d, "Finish");
        assert!(matches!(finish.body, Body::Succeed));
        assert!(finish.output_path.is_none());
        assert_eq!(finish.transition, Transition::Terminal);

        let broken = state_of(&d, "Broken");
        assert!(
            matches!(&broken.body, Body::Fail(f) if matches!(&f.error, Some(Text::Literal(e)) if e == "Broken"))
        );
        assert!(broken.input_path.as_ref().is_some_and(Path::is_root));
    }

    #[test]
    fn the_ingest_definition_parses_after_substitution() {
        let text = include_str!("../../../statemachine/ingest.asl.json");
        let names = [
            "FilterFunctionArn",
            "SchemaDriftDetectFunctionArn",
            "ValidateFunctionArn",
            "CommitFunctionArn",
            "QuarantineFunctionArn",
        ];
        let values: HashMap<String, String> = names
            .iter()
            .map(|n| (n.to_string(), format!("local:{n}")))
            .collect();
        let text = substitute(text, &values).unwrap();
        let d = parse_definition(&text).unwrap();
        assert_eq!(d.machine.start_at, "Route");
    }

    // -- substitution -------------------------------------------------------------------------

    #[test]
    fn substitute_replaces_placeholders() {
        let values: HashMap<String, String> = [("Fn", "arn:fn"), ("Other-Name.x", "o")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            substitute(
                r#"{"Resource": "${Fn}", "x": "${Other-Name.x}/${Fn}"}"#,
                &values
            )
            .unwrap(),
            r#"{"Resource": "arn:fn", "x": "o/arn:fn"}"#
        );
        // Not placeholders: left alone.
        assert_eq!(
            substitute("$.a ${} ${ x } $ {Fn} ${Fn", &values).unwrap(),
            "$.a ${} ${ x } $ {Fn} ${Fn"
        );
        assert_eq!(
            substitute("${A} ${Fn} ${B} ${A}", &values).unwrap_err(),
            ["A".to_string(), "B".to_string()]
        );
        assert_eq!(substitute("", &values).unwrap(), "");
    }
}
