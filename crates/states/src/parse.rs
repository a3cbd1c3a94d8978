//! Parsing and static checks of a definition: strict JSON (duplicate keys are errors, not
//! silently the last), then every field checked against its state type, reporting every
//! problem with its JSON path.
//!
//! The checks follow the Amazon States Language specification (states-language.net) and the
//! Step Functions developer guide: the fields each state type allows, transitions within one
//! machine, reachability, retriers and catchers, choice rules, paths and payload templates,
//! and the Map state's item processor, reader, batcher and writer.
//!
//! # Layout
//!
//! - this file: the entry points, problem paths, the checker's shared field readers, the
//!   top level, machines and their graph, the fields every state has, Task, Wait, Fail,
//!   Parallel;
//! - `strict`: strict JSON (repeated member names are problems);
//! - `fields`: the field tables of JSONPath states and the Choice operators;
//! - `jsonata`: the field tables and expression checks of JSONata states;
//! - `retry_catch`, `choice`, `map`: the checks of those fields and state types;
//! - `tests`: the checks' tests, by concept.

mod choice;
mod fields;
mod jsonata;
mod map;
mod retry_catch;
mod strict;

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
use fields::{allowed_fields, operator, unsupported, OperandKind};
pub use strict::parse_value_strict;

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
    // JSONata reads the context object as `$states.context`, checked as `$$` is below; any
    // other mention of `$states` than its input, result or error output may read it whole.
    let whole = text.match_indices("$states").any(|(i, _)| {
        let rest = &text[i + "$states".len()..];
        ![".input", ".result", ".errorOutput", ".context"]
            .iter()
            .any(|m| rest.starts_with(m))
    });
    let respelled;
    let text = if text.contains("$states.context") {
        respelled = text.replace("$states.context", "$$");
        respelled.as_str()
    } else {
        text
    };
    whole
        || text.match_indices("$$").any(|(i, _)| {
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
        match Template::expression(text, key) {
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
mod tests;
