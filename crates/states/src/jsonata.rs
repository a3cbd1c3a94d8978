//! JSONata, the query language of states with `"QueryLanguage": "JSONata"` (developer guide,
//! "Transforming data with JSONata in Step Functions").
//!
//! Expressions are written `{% … %}` in field values; a [`Template`] is a JSON value in which
//! any string that is wholly such an expression is evaluated (`Arguments`, `Output`,
//! `Assign`, `Items`, `ItemSelector`, a catcher's `Output`, …). Every expression sees the
//! reserved `$states` (`input`, `result`, `errorOutput`, `context`) and the workflow
//! variables, plus AWS's extra functions `$partition`, `$range`, `$hash` and `$parse`
//! (`$uuid` and `$random` come with the library).
//!
//! Evaluation is the `jsonata-rs` crate's: the one maintained JSONata implementation in Rust
//! that runs the official JSONata test suite (it passes the larger part and lists what it
//! skips). Expressions are parsed when the definition loads, so a syntax error is a load
//! problem that names the state and field; each evaluation runs under a depth and a time
//! bound, and any failure (a runaway expression, a panic inside the library, a result that
//! is not JSON, no value where one is required) is `States.QueryEvaluationError`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, FunctionContext, JsonAta, Value as JValue};
use serde_json::{Map, Value};

use crate::error::{names, StatesError};
use crate::template::TemplateError;
use crate::variables::Bindings;

/// How deep an evaluation may nest (function calls, sub-expressions) before it fails.
const MAX_DEPTH: usize = 256;

/// How long one evaluation may run, in milliseconds, before it fails.
const TIME_LIMIT_MS: usize = 1_000;

/// The `$states` of one evaluation: the state's raw input, and its result or error output
/// where the field being evaluated has one. `context` comes from [`Bindings`].
#[derive(Debug, Clone, Copy)]
pub struct States<'a> {
    pub input: &'a Value,
    pub result: Option<&'a Value>,
    pub error_output: Option<&'a Value>,
}

impl<'a> States<'a> {
    pub fn input(input: &'a Value) -> Self {
        States {
            input,
            result: None,
            error_output: None,
        }
    }
}

/// One `{% … %}` expression, checked at load.
#[derive(Debug, Clone)]
pub struct Expression {
    /// The text between `{%` and `%}`.
    text: String,
    /// The `$name`s the text mentions: only these are bound when it runs.
    names: Vec<String>,
    /// The members of `$states` the text reads: only these are converted when it runs (a
    /// Map's `ItemSelector` that reads only `$states.context` must not copy the whole input
    /// once per item).
    parts: StatesParts,
    /// The field it is the value of, as AWS names it in causes (`Output/result`).
    field: String,
    /// `$states.input.a.b` or `$name.a`: a plain path, walked directly while it only goes
    /// through objects (what most fields hold; the library's setup costs more than the
    /// walk).
    plain: Option<PlainPath>,
}

/// A path of names from a variable or a member of `$states`.
#[derive(Debug, Clone)]
struct PlainPath {
    root: PlainRoot,
    steps: Vec<String>,
}

#[derive(Debug, Clone)]
enum PlainRoot {
    Input,
    Result,
    ErrorOutput,
    Context,
    Variable(String),
}

/// What a direct walk found: a value, nothing (JSONata's `undefined`), or a place where
/// JSONata's sequence rules apply (an array on the way or at the end), left to the library.
enum Walk {
    Found(Value),
    Nothing,
    NotPlain,
}

impl PlainPath {
    fn parse(text: &str) -> Option<PlainPath> {
        let rest = text.strip_prefix('$')?;
        let names: Vec<&str> = rest.split('.').collect();
        // JSONata's keywords are not plain names (`a.and` does not parse as a path).
        const KEYWORDS: [&str; 7] = ["and", "or", "in", "true", "false", "null", "function"];
        let identifier = |n: &str| {
            n.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !KEYWORDS.contains(&n)
        };
        if !names.iter().all(|n| identifier(n)) {
            return None;
        }
        let (root, skip) = match names.as_slice() {
            ["states", member, ..] => (
                match *member {
                    "input" => PlainRoot::Input,
                    "result" => PlainRoot::Result,
                    "errorOutput" => PlainRoot::ErrorOutput,
                    "context" => PlainRoot::Context,
                    _ => return None,
                },
                2,
            ),
            ["states"] => return None,
            [name, ..] => (PlainRoot::Variable(name.to_string()), 1),
            [] => return None,
        };
        Some(PlainPath {
            root,
            steps: names[skip..].iter().map(|n| n.to_string()).collect(),
        })
    }

    fn walk(&self, states: States, bindings: &Bindings) -> Walk {
        let start = match &self.root {
            PlainRoot::Input => Some(states.input),
            PlainRoot::Result => states.result,
            PlainRoot::ErrorOutput => states.error_output,
            PlainRoot::Context => Some(&bindings.context),
            PlainRoot::Variable(name) => bindings.variables.get(name),
        };
        let Some(mut value) = start else {
            return Walk::Nothing;
        };
        for step in &self.steps {
            match value {
                Value::Object(m) => match m.get(step) {
                    Some(v) => value = v,
                    None => return Walk::Nothing,
                },
                _ => return Walk::NotPlain,
            }
        }
        if value.is_array() {
            return Walk::NotPlain;
        }
        Walk::Found(value.clone())
    }
}

/// Whether a string is a whole `{% … %}` expression.
pub fn is_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("{%") && t.ends_with("%}") && t.len() >= 4
}

impl Expression {
    /// Parses `{% … %}` (or the bare text when `enclosed` is false).
    pub fn parse(source: &str) -> Result<Expression, String> {
        let t = source.trim();
        let text = t
            .strip_prefix("{%")
            .and_then(|r| r.strip_suffix("%}"))
            .ok_or_else(|| format!("`{source}` is not a `{{% … %}}` JSONata expression"))?
            .trim()
            .to_string();
        if text.is_empty() {
            return Err("the JSONata expression is empty".into());
        }
        let plain = PlainPath::parse(&text);
        // A plain path is valid JSONata by construction; anything else is parsed now, so a
        // definition that loads has no syntax error left.
        if plain.is_none() {
            let arena = Bump::new();
            let parsed = catch_unwind(AssertUnwindSafe(|| JsonAta::new(&text, &arena).map(|_| ())));
            match parsed {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(format!(
                        "the JSONata expression `{text}` does not parse: {e}"
                    ))
                }
                Err(_) => return Err(format!("the JSONata expression `{text}` does not parse")),
            }
        }
        let names = mentioned_names(&text);
        let parts = StatesParts::of(&text);
        Ok(Expression {
            text,
            names,
            parts,
            plain,
            field: String::new(),
        })
    }

    /// The same expression, named as the value of `field` in error causes.
    pub fn for_field(mut self, field: &str) -> Expression {
        self.field = field.to_string();
        self
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Evaluates to a JSON value; an expression that yields nothing is an error, as AWS
    /// fails a field that must have a value.
    pub fn eval(&self, states: States, bindings: &Bindings) -> Result<Value, StatesError> {
        self.eval_optional(states, bindings)?.ok_or_else(|| {
            query_error(format!(
                "The JSONata expression '{}'{} returned nothing (undefined).",
                self.text,
                self.specified_for()
            ))
        })
    }

    /// Evaluates; `None` when the expression yields nothing (JSONata's `undefined`).
    pub fn eval_optional(
        &self,
        states: States,
        bindings: &Bindings,
    ) -> Result<Option<Value>, StatesError> {
        if let Some(plain) = &self.plain {
            match plain.walk(states, bindings) {
                Walk::Found(v) => return Ok(Some(v)),
                Walk::Nothing => return Ok(None),
                Walk::NotPlain => {}
            }
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| self.run(states, bindings)));
        match outcome {
            Ok(r) => r,
            Err(_) => Err(query_error(format!(
                "The JSONata expression '{}' could not be evaluated",
                self.text
            ))),
        }
    }

    fn run(&self, states: States, bindings: &Bindings) -> Result<Option<Value>, StatesError> {
        let arena = Bump::new();
        let j = JsonAta::new(&self.text, &arena).map_err(|e| self.failed(e))?;
        for name in &self.names {
            let value = match name.as_str() {
                "states" => states_value(states, bindings, self.parts),
                other => match bindings.variables.get(other) {
                    Some(v) => v.clone(),
                    None => continue,
                },
            };
            j.assign_var(name, to_jsonata(&arena, &value));
        }
        j.register_function("partition", 2, fn_partition);
        j.register_function("range", 3, fn_range);
        j.register_function("hash", 2, fn_hash);
        j.register_function("parse", 1, fn_parse);
        // JSONata 2.0.6 functions the library lacks.
        j.register_function("average", 1, fn_average);
        j.register_function("type", 1, fn_type);
        j.register_function("formatBase", 2, fn_format_base);
        j.register_function("encodeUrlComponent", 1, fn_encode_url_component);
        j.register_function("encodeUrl", 1, fn_encode_url);
        j.register_function("decodeUrlComponent", 1, fn_decode_url_component);
        j.register_function("decodeUrl", 1, fn_decode_url);
        let result = j
            .evaluate_timeboxed(None, Some(MAX_DEPTH), Some(TIME_LIMIT_MS))
            .map_err(|e| self.failed(e))?;
        if result.is_undefined() {
            return Ok(None);
        }
        if result.is_function() {
            return Err(query_error(format!(
                "The JSONata expression '{}' returned a function, not JSON",
                self.text
            )));
        }
        serde_json::from_str(&result.serialize(false))
            .map(Some)
            .map_err(|e| {
                query_error(format!(
                    "The JSONata expression '{}' returned a value that is not JSON: {e}",
                    self.text
                ))
            })
    }

    fn failed(&self, e: jsonata_rs::Error) -> StatesError {
        query_error(format!(
            "The JSONata expression '{}'{} failed: {e}",
            self.text,
            self.specified_for()
        ))
    }

    fn specified_for(&self) -> String {
        if self.field.is_empty() {
            String::new()
        } else {
            format!(" specified for the field '{}'", self.field)
        }
    }
}

fn query_error(cause: String) -> StatesError {
    StatesError::new(names::QUERY_EVALUATION_ERROR, cause)
}

/// Which members of `$states` an expression reads.
#[derive(Debug, Clone, Copy, Default)]
struct StatesParts {
    input: bool,
    result: bool,
    error_output: bool,
    context: bool,
}

impl StatesParts {
    fn of(text: &str) -> StatesParts {
        let mut parts = StatesParts::default();
        for (i, _) in text.match_indices("$states") {
            let rest = &text[i + "$states".len()..];
            let member = |m: &str| {
                rest.strip_prefix(m)
                    .is_some_and(|r| !r.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
            };
            if member(".input") {
                parts.input = true;
            } else if member(".result") {
                parts.result = true;
            } else if member(".errorOutput") {
                parts.error_output = true;
            } else if member(".context") {
                parts.context = true;
            } else {
                // `$states` itself, or a member by another spelling: everything.
                return StatesParts {
                    input: true,
                    result: true,
                    error_output: true,
                    context: true,
                };
            }
        }
        parts
    }
}

/// `$states` as JSON: the members this evaluation has and the expression reads.
fn states_value(states: States, bindings: &Bindings, parts: StatesParts) -> Value {
    let mut m = Map::new();
    if parts.input {
        m.insert("input".into(), states.input.clone());
    }
    if let Some(r) = states.result.filter(|_| parts.result) {
        m.insert("result".into(), r.clone());
    }
    if let Some(e) = states.error_output.filter(|_| parts.error_output) {
        m.insert("errorOutput".into(), e.clone());
    }
    if parts.context {
        m.insert("context".into(), bindings.context.clone());
    }
    Value::Object(m)
}

/// The `$name`s a text mentions (outside string literals is not tracked: binding a few
/// extra names is harmless).
fn mentioned_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..end];
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        rest = &after[end..];
    }
    names
}

fn to_jsonata<'a>(arena: &'a Bump, v: &Value) -> &'a JValue<'a> {
    match v {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(items) => {
            let array = JValue::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for item in items {
                array.push(to_jsonata(arena, item));
            }
            array
        }
        Value::Object(members) => {
            let object = JValue::object_with_capacity(arena, members.len());
            for (k, item) in members {
                object.insert(k, to_jsonata(arena, item));
            }
            object
        }
    }
}

type Native<'a> = jsonata_rs::Result<&'a JValue<'a>>;

fn bad_argument(context: &FunctionContext, index: usize) -> jsonata_rs::Error {
    jsonata_rs::Error::T0410ArgumentNotValid(context.char_index, index, context.name.to_string())
}

/// `$partition(array, size)`: the array in chunks of `size`.
fn fn_partition<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> Native<'a> {
    let (Some(array), Some(size)) = (args.first(), args.get(1)) else {
        return Err(bad_argument(&context, 1));
    };
    if !array.is_array() || !size.is_integer() || size.as_f64() < 1.0 {
        return Err(bad_argument(&context, 1));
    }
    let size = size.as_f64() as usize;
    let items: Vec<&JValue> = array.members().collect();
    let out =
        JValue::array_with_capacity(context.arena, items.len() / size + 1, ArrayFlags::empty());
    for chunk in items.chunks(size) {
        let part = JValue::array_with_capacity(context.arena, chunk.len(), ArrayFlags::empty());
        for item in chunk {
            part.push(item);
        }
        out.push(part);
    }
    Ok(out)
}

/// `$range(start, end, step)`: numbers from `start` to `end` inclusive, by `step`.
fn fn_range<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> Native<'a> {
    let number = |i: usize| {
        args.get(i)
            .filter(|v| v.is_integer())
            .map(|v| v.as_f64() as i64)
    };
    let (Some(start), Some(end), Some(step)) = (number(0), number(1), number(2)) else {
        return Err(bad_argument(&context, 1));
    };
    if step == 0 {
        return Err(bad_argument(&context, 3));
    }
    let count = ((end - start) / step + 1).max(0) as usize;
    if count > 1000 {
        return Err(jsonata_rs::Error::D3137Error(
            "$range may produce at most 1000 items".into(),
        ));
    }
    let out = JValue::array_with_capacity(context.arena, count, ArrayFlags::empty());
    let mut n = start;
    while (step > 0 && n <= end) || (step < 0 && n >= end) {
        out.push(JValue::number(context.arena, n as f64));
        n += step;
    }
    Ok(out)
}

/// `$hash(data, algorithm)`: the hex digest of a string (MD5, SHA-1, SHA-256, SHA-384,
/// SHA-512), as `States.Hash` computes it.
fn fn_hash<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> Native<'a> {
    let (Some(data), Some(algorithm)) = (args.first(), args.get(1)) else {
        return Err(bad_argument(&context, 1));
    };
    if !data.is_string() || !algorithm.is_string() {
        return Err(bad_argument(&context, 1));
    }
    let digest = crate::intrinsic::hash_hex(&data.as_str(), &algorithm.as_str())
        .map_err(jsonata_rs::Error::D3137Error)?;
    Ok(JValue::string(context.arena, &digest))
}

/// `$parse(text)`: a JSON string as its value.
fn fn_parse<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> Native<'a> {
    let Some(text) = args.first().filter(|v| v.is_string()) else {
        return Err(bad_argument(&context, 1));
    };
    let value: Value = serde_json::from_str(&text.as_str())
        .map_err(|e| jsonata_rs::Error::D3137Error(format!("$parse: not JSON: {e}")))?;
    Ok(to_jsonata(context.arena, &value))
}

/// `$average(array)`: the mean of the numbers, nothing for an empty array.
fn fn_average<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> Native<'a> {
    let Some(v) = args.first() else {
        return Ok(JValue::undefined());
    };
    if v.is_undefined() {
        return Ok(JValue::undefined());
    }
    let numbers: Vec<f64> = if v.is_array() {
        let mut out = Vec::new();
        for m in v.members() {
            if !m.is_number() {
                return Err(bad_argument(&context, 1));
            }
            out.push(m.as_f64());
        }
        out
    } else if v.is_number() {
        vec![v.as_f64()]
    } else {
        return Err(bad_argument(&context, 1));
    };
    if numbers.is_empty() {
        return Ok(JValue::undefined());
    }
    let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
    Ok(JValue::number(context.arena, mean))
}

/// `$type(value)`: "null", "number", "string", "boolean", "array", "object" or "function".
fn fn_type<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> Native<'a> {
    let Some(v) = args.first().filter(|v| !v.is_undefined()) else {
        return Ok(JValue::undefined());
    };
    let name = if v.is_null() {
        "null"
    } else if v.is_number() {
        "number"
    } else if v.is_string() {
        "string"
    } else if v.is_bool() {
        "boolean"
    } else if v.is_array() {
        "array"
    } else if v.is_function() {
        "function"
    } else {
        "object"
    };
    Ok(JValue::string(context.arena, name))
}

/// `$formatBase(number, radix)`: the rounded number in base 2 to 36 (default 10).
fn fn_format_base<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> Native<'a> {
    let Some(n) = args.first().filter(|v| v.is_number()) else {
        return Ok(JValue::undefined());
    };
    let radix = match args.get(1) {
        Some(r) if r.is_number() => r.as_f64() as u32,
        Some(r) if !r.is_undefined() => return Err(bad_argument(&context, 2)),
        _ => 10,
    };
    if !(2..=36).contains(&radix) {
        return Err(jsonata_rs::Error::D3137Error(format!(
            "$formatBase: the radix must be between 2 and 36, not {radix}"
        )));
    }
    let value = n.as_f64().round() as i64;
    let mut digits = Vec::new();
    let mut rest = value.unsigned_abs();
    loop {
        let d = (rest % radix as u64) as u32;
        digits.push(char::from_digit(d, radix).unwrap_or('0'));
        rest /= radix as u64;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        digits.push('-');
    }
    let text: String = digits.into_iter().rev().collect();
    Ok(JValue::string(context.arena, &text))
}

/// Percent-encodes every byte of `s` outside the unreserved set and `keep` (JavaScript's
/// `encodeURIComponent` with `keep` empty, `encodeURI` with the reserved characters).
fn percent_encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c) || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Decodes `%XX` sequences, leaving those that decode to a character of `keep` encoded;
/// `None` for a malformed sequence or bytes that are not UTF-8.
fn percent_decode(s: &str, keep: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if b.is_ascii() && keep.contains(b as char) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(b);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

const URL_RESERVED: &str = ";,/?:@&=+$#";

fn url_function<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
    apply: fn(&str) -> Option<String>,
) -> Native<'a> {
    let Some(s) = args.first().filter(|v| !v.is_undefined()) else {
        return Ok(JValue::undefined());
    };
    if !s.is_string() {
        return Err(bad_argument(&context, 1));
    }
    let out = apply(&s.as_str()).ok_or_else(|| {
        jsonata_rs::Error::D3137Error(format!("{}: malformed URL encoding", context.name))
    })?;
    Ok(JValue::string(context.arena, &out))
}

fn fn_encode_url_component<'a>(c: FunctionContext<'a, '_>, a: &[&'a JValue<'a>]) -> Native<'a> {
    url_function(c, a, |s| Some(percent_encode(s, "")))
}

fn fn_encode_url<'a>(c: FunctionContext<'a, '_>, a: &[&'a JValue<'a>]) -> Native<'a> {
    url_function(c, a, |s| Some(percent_encode(s, URL_RESERVED)))
}

fn fn_decode_url_component<'a>(c: FunctionContext<'a, '_>, a: &[&'a JValue<'a>]) -> Native<'a> {
    url_function(c, a, |s| percent_decode(s, ""))
}

fn fn_decode_url<'a>(c: FunctionContext<'a, '_>, a: &[&'a JValue<'a>]) -> Native<'a> {
    url_function(c, a, |s| percent_decode(s, URL_RESERVED))
}

#[derive(Debug, Clone)]
enum Node {
    Literal(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Expression(Expression),
}

/// A JSON value whose `{% … %}` strings are expressions, compiled once.
#[derive(Debug, Clone)]
pub struct Template {
    root: Node,
}

impl Template {
    /// Compiles the value of `field`, reporting every expression that does not parse with
    /// the JSON path of its field relative to the value.
    pub fn compile(value: &Value, field: &str) -> Result<Template, Vec<TemplateError>> {
        let mut errors = Vec::new();
        let root = compile_node(value, "", field, &mut errors);
        if errors.is_empty() {
            Ok(Template { root })
        } else {
            Err(errors)
        }
    }

    /// Evaluates every expression. An expression that yields nothing fails: AWS raises
    /// `States.QueryEvaluationError` for a field without a value.
    pub fn render(&self, states: States, bindings: &Bindings) -> Result<Value, StatesError> {
        render_node(&self.root, states, bindings)
    }

    /// The single expression this template is, if it is one (`Items`, `Condition`, …).
    pub fn as_expression(&self) -> Option<&Expression> {
        match &self.root {
            Node::Expression(e) => Some(e),
            _ => None,
        }
    }
}

/// Compiles one value: `at` is its JSON path for load problems, `field` its AWS field name
/// (`Output/result`) for run-time causes.
fn compile_node(value: &Value, at: &str, field: &str, errors: &mut Vec<TemplateError>) -> Node {
    match value {
        Value::String(s) if is_expression(s) => match Expression::parse(s) {
            Ok(e) => Node::Expression(e.for_field(field)),
            Err(message) => {
                errors.push(TemplateError {
                    at: at.to_string(),
                    message,
                });
                Node::Literal(Value::Null)
            }
        },
        Value::Object(members) => {
            let nodes: Vec<(String, Node)> = members
                .iter()
                .map(|(k, v)| {
                    let node =
                        compile_node(v, &format!("{at}.{k}"), &format!("{field}/{k}"), errors);
                    (k.clone(), node)
                })
                .collect();
            if nodes.iter().all(|(_, n)| matches!(n, Node::Literal(_))) {
                Node::Literal(value.clone())
            } else {
                Node::Object(nodes)
            }
        }
        Value::Array(items) => {
            let nodes: Vec<Node> = items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    compile_node(v, &format!("{at}[{i}]"), &format!("{field}/{i}"), errors)
                })
                .collect();
            if nodes.iter().all(|n| matches!(n, Node::Literal(_))) {
                Node::Literal(value.clone())
            } else {
                Node::Array(nodes)
            }
        }
        other => Node::Literal(other.clone()),
    }
}

fn render_node(node: &Node, states: States, bindings: &Bindings) -> Result<Value, StatesError> {
    match node {
        Node::Literal(v) => Ok(v.clone()),
        Node::Expression(e) => e.eval(states, bindings),
        Node::Object(members) => {
            let mut out = Map::with_capacity(members.len());
            for (k, n) in members {
                out.insert(k.clone(), render_node(n, states, bindings)?);
            }
            Ok(Value::Object(out))
        }
        Node::Array(items) => items
            .iter()
            .map(|n| render_node(n, states, bindings))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::Variables;
    use serde_json::json;

    fn eval(text: &str, input: Value) -> Result<Value, StatesError> {
        let variables = Variables::default().with(
            json!({"limit": 3, "name": "ada"})
                .as_object()
                .unwrap_or(&Map::new()),
        );
        let bindings = Bindings::new(json!({"Execution": {"Name": "e1"}}), variables);
        Expression::parse(&format!("{{% {text} %}}"))
            .map_err(|e| StatesError::new("parse", e))?
            .eval(States::input(&input), &bindings)
    }

    #[test]
    fn states_and_variables_are_bound() {
        let input = json!({"items": [1, 2, 3, 4], "who": "x"});
        assert_eq!(
            eval("$states.input.who", input.clone()).unwrap(),
            json!("x")
        );
        assert_eq!(
            eval("$sum($states.input.items)", input.clone()).unwrap(),
            json!(10)
        );
        assert_eq!(
            eval("$states.input.items[$ > 2]", input.clone()).unwrap(),
            json!([3, 4])
        );
        assert_eq!(eval("$limit * 2", input.clone()).unwrap(), json!(6));
        assert_eq!(
            eval("'hi ' & $name", input.clone()).unwrap(),
            json!("hi ada")
        );
        assert_eq!(
            eval("$states.context.Execution.Name", input.clone()).unwrap(),
            json!("e1")
        );
        assert_eq!(
            eval("{'n': $count($states.input.items), 'ok': true}", input).unwrap(),
            json!({"n": 4, "ok": true})
        );
    }

    #[test]
    fn only_the_members_of_states_an_expression_reads_are_bound() {
        let p = StatesParts::of("$states.input.a & $states.context.Map.Item.Value");
        assert!(p.input && p.context && !p.result && !p.error_output);
        let p = StatesParts::of("$keys($states)");
        assert!(p.input && p.context && p.result && p.error_output);
        let p = StatesParts::of("$states.inputs");
        assert!(p.input && p.result, "an unknown member binds everything");
        // Reading a member that was not bound still sees nothing, as it would on AWS for a
        // member the state does not have.
        assert!(eval("$states.result", json!({})).is_err());
    }

    #[test]
    fn plain_paths_agree_with_the_library() {
        // The direct walk and the library must give the same value, nothing, or hand over.
        let input = json!({"a": {"b": 1, "n": null}, "list": [{"x": 1}, {"x": 2}], "s": "t"});
        for text in [
            "$states.input.a.b",
            "$states.input.a",
            "$states.input.a.missing",
            "$states.input.a.n",
            "$states.input.list",
            "$states.input.list.x",
            "$states.input.s.deeper",
            "$name",
            "$limit.x",
        ] {
            let fast = eval(text, input.clone()).ok();
            let expression = Expression::parse(&format!("{{% {text} %}}")).unwrap();
            let bindings = Bindings::new(
                json!({}),
                Variables::default().with(
                    json!({"limit": 3, "name": "ada"})
                        .as_object()
                        .unwrap_or(&Map::new()),
                ),
            );
            let slow = expression
                .run(States::input(&input), &bindings)
                .ok()
                .flatten();
            assert_eq!(fast, slow, "{text}");
        }
        assert!(PlainPath::parse("states.input").is_none());
        assert!(PlainPath::parse("$states.input.a + 1").is_none());
        assert!(PlainPath::parse("$states.other").is_none());
        assert!(PlainPath::parse("$states.input.and").is_none());
    }

    #[test]
    fn aws_functions_are_registered() {
        // guide, "Transforming data with JSONata": the functions Step Functions adds.
        let i = json!({});
        assert_eq!(
            eval("$partition([1,2,3,4,5], 2)", i.clone()).unwrap(),
            json!([[1, 2], [3, 4], [5]])
        );
        assert_eq!(
            eval("$range(0, 10, 5)", i.clone()).unwrap(),
            json!([0, 5, 10])
        );
        assert_eq!(
            eval("$hash('input data', 'SHA-1')", i.clone()).unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            eval("$parse('{\"a\": [1]}').a[0]", i.clone()).unwrap(),
            json!(1)
        );
        assert!(eval("$uuid()", i)
            .unwrap()
            .as_str()
            .is_some_and(|u| u.len() == 36));
    }

    #[test]
    fn functions_the_library_lacks_are_added() {
        // docs.jsonata.org (2.0), the function library: $average, $type, $formatBase and the
        // URL functions, with the examples of their pages.
        let i = json!({});
        assert_eq!(eval("$average([1,2,3,4])", i.clone()).unwrap(), json!(2.5));
        assert!(
            eval("$average([])", i.clone()).is_err(),
            "nothing is undefined"
        );
        assert_eq!(eval("$type({'a': 1})", i.clone()).unwrap(), json!("object"));
        assert_eq!(eval("$type([1])", i.clone()).unwrap(), json!("array"));
        assert_eq!(eval("$type(null)", i.clone()).unwrap(), json!("null"));
        assert_eq!(
            eval("$formatBase(100, 2)", i.clone()).unwrap(),
            json!("1100100")
        );
        assert_eq!(
            eval("$formatBase(2555, 16)", i.clone()).unwrap(),
            json!("9fb")
        );
        assert_eq!(
            eval("$encodeUrlComponent('?x=test')", i.clone()).unwrap(),
            json!("%3Fx%3Dtest")
        );
        assert_eq!(
            eval("$encodeUrl('https://mozilla.org/?x=шеллы')", i.clone()).unwrap(),
            json!("https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B")
        );
        assert_eq!(
            eval("$decodeUrlComponent('%3Fx%3Dtest')", i.clone()).unwrap(),
            json!("?x=test")
        );
        assert_eq!(
            eval(
                "$decodeUrl('https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B')",
                i
            )
            .unwrap(),
            json!("https://mozilla.org/?x=шеллы")
        );
    }

    #[test]
    fn failures_are_query_evaluation_errors() {
        let i = json!({"a": 1});
        let undefined = eval("$states.input.missing", i.clone()).unwrap_err();
        assert_eq!(undefined.error, names::QUERY_EVALUATION_ERROR);
        let type_error = eval("$states.input.a + 'x'", i.clone()).unwrap_err();
        assert_eq!(type_error.error, names::QUERY_EVALUATION_ERROR);
        // A runaway recursion is stopped by the depth bound, not by the stack.
        let runaway = eval("($f := function($n) { $f($n + 1) }; $f(0))", i).unwrap_err();
        assert_eq!(runaway.error, names::QUERY_EVALUATION_ERROR, "{runaway:?}");
    }

    #[test]
    fn templates_evaluate_only_whole_expressions() {
        let t = Template::compile(
            &json!({
            "a": "{% $states.input.a + 1 %}",
            "b": ["{% $name %}", "plain {% not %}", 3],
            "c": {"d": "text"}
            }),
            "Output",
        )
        .unwrap();
        let bindings = Bindings::new(
            json!({}),
            Variables::default().with(json!({"name": "ada"}).as_object().unwrap_or(&Map::new())),
        );
        assert_eq!(
            t.render(States::input(&json!({"a": 1})), &bindings)
                .unwrap(),
            json!({"a": 2, "b": ["ada", "plain {% not %}", 3], "c": {"d": "text"}})
        );
        let bad =
            Template::compile(&json!({"x": {"y": "{% $states.input. %}"}}), "Output").unwrap_err();
        assert_eq!(bad[0].at, ".x.y");
        assert!(bad[0].message.contains("does not parse"), "{bad:?}");
        let undefined = Template::compile(&json!({"result": "{% $doesNotExist %}"}), "Output")
            .unwrap()
            .render(States::input(&json!({})), &bindings)
            .unwrap_err();
        // Recorded by AWS (LocalStack's assign snapshot, BASE_UNDEFINED_OUTPUT_FIELD).
        assert!(
            undefined.cause.ends_with(
                "The JSONata expression '$doesNotExist' specified for the field 'Output/result' \
                 returned nothing (undefined)."
            ),
            "{undefined:?}"
        );
    }
}
