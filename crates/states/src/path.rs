//! Paths (ASL "Paths" and "Reference Paths"): JSONPath expressions beginning with `$`
//! (the state input), `$$` (the context object) or `$name` (the workflow variable `name`,
//! as the developer guide's "Passing data between states with variables" allows in
//! JSONPath states).
//!
//! A definite path (only `.name`, `['name']` and `[index]` steps) is walked directly and
//! selects one value; anything else (wildcards, slices, filters, descendants, unions) is an
//! RFC 9535 query run by `serde_json_path` and selects the array of its matches, as Step
//! Functions (Jayway JsonPath) does for indefinite paths.

use crate::error::json_kind as kind_of;
use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use crate::variables::Bindings;

/// A path that failed to parse or to select. `message` says what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PathError {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Name(String),
    Index(usize),
}

#[derive(Debug, Clone)]
enum Kind {
    Definite(Vec<Step>),
    Query(JsonPath),
}

/// What a path reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    Input,
    Context,
    Variable(String),
}

/// A compiled path: `$…` reads the state input, `$$…` the context object, `$name…` a
/// workflow variable.
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
    root: Root,
    kind: Kind,
}

fn error(path: &str, message: impl Into<String>) -> PathError {
    PathError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Characters that end a dot-notation member name.
fn ends_name(c: char) -> bool {
    matches!(
        c,
        '.' | '[' | ']' | '*' | '(' | ')' | '?' | '@' | '\'' | '"' | ',' | ':' | '$'
    ) || c.is_whitespace()
}

/// Parses the steps of a definite path (the text after `$` or `$$`); `None` when the path
/// uses anything beyond names and non-negative indexes.
fn definite_steps(body: &str) -> Option<Vec<Step>> {
    let chars: Vec<char> = body.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && !ends_name(chars[j]) {
                    j += 1;
                }
                if j == start {
                    return None;
                }
                steps.push(Step::Name(chars[start..j].iter().collect()));
                i = j;
            }
            '[' => {
                let quote = *chars.get(i + 1)?;
                if quote == '\'' || quote == '"' {
                    let mut name = String::new();
                    let mut j = i + 2;
                    loop {
                        let c = *chars.get(j)?;
                        if c == '\\' {
                            name.push(*chars.get(j + 1)?);
                            j += 2;
                        } else if c == quote {
                            break;
                        } else {
                            name.push(c);
                            j += 1;
                        }
                    }
                    if chars.get(j + 1) != Some(&']') {
                        return None;
                    }
                    steps.push(Step::Name(name));
                    i = j + 2;
                } else {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    if j == start || chars.get(j) != Some(&']') {
                        return None;
                    }
                    let digits: String = chars[start..j].iter().collect();
                    steps.push(Step::Index(digits.parse().ok()?));
                    i = j + 1;
                }
            }
            _ => return None,
        }
    }
    Some(steps)
}

fn walk<'a>(mut value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        value = match (step, value) {
            (Step::Name(n), Value::Object(m)) => m.get(n)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Why a definite path matched nothing, worded as the JSONPath library behind AWS's causes
/// words it ("Invalid path '$.x' : No results for path: $['x']", as recorded): "No results
/// for path: $['a']['b']" when only the last step is missing, "Missing property in path
/// $['a']" when an earlier one is.
fn no_match(source: &Value, steps: &[Step]) -> String {
    let mut value = source;
    let mut shown = String::from("$");
    for (i, step) in steps.iter().enumerate() {
        let next = match (step, value) {
            (Step::Name(n), Value::Object(m)) => {
                shown.push_str(&format!("['{n}']"));
                m.get(n)
            }
            (Step::Index(ix), Value::Array(a)) => {
                shown.push_str(&format!("[{ix}]"));
                a.get(*ix)
            }
            (Step::Name(n), _) => {
                shown.push_str(&format!("['{n}']"));
                None
            }
            (Step::Index(ix), _) => {
                shown.push_str(&format!("[{ix}]"));
                None
            }
        };
        match next {
            Some(v) => value = v,
            None if i + 1 == steps.len() => return format!("No results for path: {shown}"),
            None => return format!("Missing property in path {shown}"),
        }
    }
    format!("No results for path: {shown}")
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let (root, body) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            match rest.chars().next() {
                Some(c) if c.is_alphabetic() || c == '_' => {
                    let end = rest.find(ends_name).unwrap_or(rest.len());
                    (Root::Variable(rest[..end].to_string()), &rest[end..])
                }
                _ => (Root::Input, rest),
            }
        } else {
            return Err(error(
                text,
                "a path must begin with `$` (or `$$` for the context object)",
            ));
        };
        let kind = match definite_steps(body) {
            Some(steps) => Kind::Definite(steps),
            None => {
                let query = JsonPath::parse(&format!("${body}"))
                    .map_err(|e| error(text, format!("not a valid JSONPath: {e}")))?;
                Kind::Query(query)
            }
        };
        Ok(Path {
            text: text.to_string(),
            root,
            kind,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `$` alone: selects the whole input (the common case, kept cheap).
    pub fn is_root(&self) -> bool {
        self.root == Root::Input && matches!(&self.kind, Kind::Definite(s) if s.is_empty())
    }

    /// Whether the path reads the context object (`$$`).
    pub fn is_context(&self) -> bool {
        self.root == Root::Context
    }

    /// The workflow variable the path reads (`$name…`), if it reads one.
    pub fn variable(&self) -> Option<&str> {
        match &self.root {
            Root::Variable(name) => Some(name),
            _ => None,
        }
    }

    /// The value the path starts from; `None` for a variable that is not assigned.
    fn source<'a>(&self, input: &'a Value, bindings: &'a Bindings) -> Option<&'a Value> {
        match &self.root {
            Root::Input => Some(input),
            Root::Context => Some(&bindings.context),
            Root::Variable(name) => bindings.variables.get(name),
        }
    }

    /// Whether the path selects at most one node (names and indexes only).
    pub fn is_definite(&self) -> bool {
        matches!(self.kind, Kind::Definite(_))
    }

    /// Selects from `input` (or from the context object for `$$` paths, from a variable for
    /// `$name` paths). A definite path that matches nothing is an error; an indefinite one
    /// returns the (possibly empty) array of matches. A variable that is not assigned matches
    /// nothing.
    pub fn select(&self, input: &Value, bindings: &Bindings) -> Result<Value, PathError> {
        let source = self.source(input, bindings).ok_or_else(|| {
            error(
                &self.text,
                format!(
                    "the variable `${}` is not assigned",
                    self.variable().unwrap_or("")
                ),
            )
        })?;
        match &self.kind {
            Kind::Definite(steps) => walk(source, steps)
                .cloned()
                .ok_or_else(|| error(&self.text, no_match(source, steps))),
            Kind::Query(q) => Ok(Value::Array(
                q.query(source).all().into_iter().cloned().collect(),
            )),
        }
    }

    /// Like [`Path::select`] but borrowing; `None` when a definite path matches nothing
    /// (indefinite paths are never absent). Used by Choice rules, where absence is data.
    pub fn lookup<'a>(&self, input: &'a Value, bindings: &'a Bindings) -> Option<Lookup<'a>> {
        let source = self.source(input, bindings)?;
        match &self.kind {
            Kind::Definite(steps) => walk(source, steps).map(Lookup::Borrowed),
            Kind::Query(q) => Some(Lookup::Owned(Value::Array(
                q.query(source).all().into_iter().cloned().collect(),
            ))),
        }
    }
}

/// A value found by [`Path::lookup`].
pub enum Lookup<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl std::ops::Deref for Lookup<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        match self {
            Lookup::Borrowed(v) => v,
            Lookup::Owned(v) => v,
        }
    }
}

/// A reference path: `$` followed only by `.name`, `['name']` and `[index]` steps, which
/// identifies a single node (ResultPath).
#[derive(Debug, Clone)]
pub struct ReferencePath {
    text: String,
    steps: Vec<Step>,
}

impl ReferencePath {
    pub fn parse(text: &str) -> Result<ReferencePath, PathError> {
        if text.starts_with("$$") {
            return Err(error(
                text,
                "a reference path cannot address the context object",
            ));
        }
        let Some(body) = text.strip_prefix('$') else {
            return Err(error(text, "a reference path must begin with `$`"));
        };
        let steps = definite_steps(body).ok_or_else(|| {
            error(
                text,
                "a reference path may contain only `.name`, `['name']` and `[index]` steps",
            )
        })?;
        Ok(ReferencePath {
            text: text.to_string(),
            steps,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The node this path identifies, if present.
    pub fn get<'a>(&self, target: &'a Value) -> Option<&'a Value> {
        walk(target, &self.steps)
    }

    /// Places `value` at this path inside `target` and returns the result, creating missing
    /// object members on the way (ResultPath semantics). A step through a value that is not
    /// an object (or an array index out of range) is an error: the interpreter reports it as
    /// `States.ResultPathMatchFailure`.
    pub fn set(&self, mut target: Value, value: Value) -> Result<Value, PathError> {
        if self.steps.is_empty() {
            return Ok(value);
        }
        let mut node = &mut target;
        let last = self.steps.len() - 1;
        for (i, step) in self.steps.iter().enumerate() {
            let slot = match (step, node) {
                (Step::Name(n), Value::Object(m)) => {
                    if i == last {
                        m.insert(n.clone(), value);
                        return Ok(target);
                    }
                    m.entry(n.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                }
                (Step::Index(ix), Value::Array(a)) => {
                    let len = a.len();
                    let Some(slot) = a.get_mut(*ix) else {
                        return Err(error(
                            &self.text,
                            format!("index {ix} is out of range (the array has {len} items)"),
                        ));
                    };
                    if i == last {
                        *slot = value;
                        return Ok(target);
                    }
                    slot
                }
                (Step::Name(n), other) => {
                    return Err(error(
                        &self.text,
                        format!("cannot set member `{n}` on {}", kind_of(other)),
                    ))
                }
                (Step::Index(ix), other) => {
                    return Err(error(
                        &self.text,
                        format!("cannot set index {ix} on {}", kind_of(other)),
                    ))
                }
            };
            node = slot;
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// recorded, test_base_scenarios[test_invalid_jsonpath] and [test_catch_states_runtime]:
    /// a missing last member is "No results for path", a missing earlier one "Missing
    /// property in path", both in bracket notation.
    // See: #22
    #[test]
    fn no_match_is_worded_as_aws_words_it() {
        let input = json!({"a": {"b": [10]}});
        let message = |p: &str| sel(p, input.clone()).unwrap_err().message;
        assert_eq!(message("$.nope"), "No results for path: $['nope']");
        assert_eq!(message("$.a.c"), "No results for path: $['a']['c']");
        assert_eq!(message("$.a.b[3]"), "No results for path: $['a']['b'][3]");
        assert_eq!(
            message("$.no.such.result.path"),
            "Missing property in path $['no']"
        );
    }

    fn sel(path: &str, input: Value) -> Result<Value, PathError> {
        let variables = crate::variables::Variables::default().with(
            json!({"order": {"id": 7, "lines": [1, 2]}})
                .as_object()
                .unwrap_or(&Map::new()),
        );
        let bindings = Bindings::new(json!({"Execution": {"Name": "e1"}}), variables);
        Path::parse(path)?.select(&input, &bindings)
    }

    #[test]
    fn definite_paths_select_one_value() {
        let input = json!({"a": {"b-c": [1, {"d": "x"}]}, "odd key": 3});
        assert_eq!(sel("$", input.clone()).unwrap(), input);
        assert_eq!(sel("$.a.b-c[1].d", input.clone()).unwrap(), json!("x"));
        assert_eq!(sel("$['odd key']", input.clone()).unwrap(), json!(3));
        assert_eq!(
            sel("$$.Execution.Name", input.clone()).unwrap(),
            json!("e1")
        );
        assert!(sel("$.a.missing", input).is_err());
    }

    #[test]
    fn indefinite_paths_select_arrays() {
        // Spec, "Paths": `$.store.book[*].author` style paths yield arrays.
        let input = json!({"items": [{"n": 1}, {"n": 2}, {"m": 3}]});
        assert_eq!(sel("$.items[*].n", input.clone()).unwrap(), json!([1, 2]));
        assert_eq!(
            sel("$.items[?@.n > 1].n", input.clone()).unwrap(),
            json!([2])
        );
        assert_eq!(sel("$.nothing[*]", input).unwrap(), json!([]));
    }

    #[test]
    fn variable_paths_read_workflow_variables() {
        // See: #22. Developer guide, "Passing data between states with variables":
        // `$name` references a variable, with JSONPath steps after it.
        assert_eq!(sel("$order.id", json!({})).unwrap(), json!(7));
        assert_eq!(sel("$order.lines[1]", json!({})).unwrap(), json!(2));
        assert_eq!(sel("$order.lines[*]", json!({})).unwrap(), json!([1, 2]));
        assert_eq!(sel("$order", json!({})).unwrap()["id"], json!(7));
        assert!(sel("$missing", json!({})).is_err());
        assert_eq!(Path::parse("$order.id").unwrap().variable(), Some("order"));
        assert!(!Path::parse("$order").unwrap().is_root());
    }

    #[test]
    fn bad_paths_are_rejected() {
        assert!(Path::parse("a.b").is_err());
        assert!(Path::parse("$.a[").is_err());
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$$.Execution").is_err());
    }

    #[test]
    fn reference_paths_set_and_create() {
        let r = ReferencePath::parse("$.a.b").unwrap();
        assert_eq!(
            r.set(json!({"x": 1}), json!(2)).unwrap(),
            json!({"x": 1, "a": {"b": 2}})
        );
        assert_eq!(
            ReferencePath::parse("$")
                .unwrap()
                .set(json!(1), json!(2))
                .unwrap(),
            json!(2)
        );
        let i = ReferencePath::parse("$.l[1]").unwrap();
        assert_eq!(
            i.set(json!({"l": [0, 0]}), json!(9)).unwrap(),
            json!({"l": [0, 9]})
        );
        assert!(i.set(json!({"l": [0]}), json!(9)).is_err());
        assert!(r.set(json!("text"), json!(2)).is_err());
        assert!(r.set(json!({"a": 5}), json!(2)).is_err());
    }
}
