//! Intrinsic functions (`States.Format`, `States.Array`, … `States.UUID`): a small parser for
//! the call syntax and an evaluator, as the Step Functions developer guide's "Intrinsic
//! functions" chapter defines them.
//!
//! Syntax: `States.Name(arg, arg, …)`, where an argument is a string literal in single quotes
//! (with the escapes `\'`, `\{`, `\}` and `\\`), a number, `true`, `false`, `null`, a path
//! (`$…` or `$$…`) or another call. At most [`MAX_CALLS`] calls may appear in one field.
//!
//! Where the guide says a non-integer argument is "rounded off to the nearest integer"
//! (ArrayPartition, ArrayRange, MathRandom, MathAdd) it is rounded as Java's `Math.round`
//! does (half up), since that is what the service does.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::StatesError;
use crate::path::Path;
use crate::variables::Bindings;

/// The most intrinsic calls one field may contain ("You can nest up to 10 intrinsic functions
/// within a field").
pub const MAX_CALLS: usize = 10;
/// The longest string `States.Base64Encode`, `States.Base64Decode` and `States.Hash` accept.
pub const MAX_ENCODE_CHARS: usize = 10_000;
/// The most items `States.ArrayRange` may produce.
pub const MAX_RANGE_ITEMS: usize = 1000;
/// `States.MathAdd` arguments must lie in this range (a Java `int`).
pub const MATH_ADD_RANGE: std::ops::RangeInclusive<i64> = -2_147_483_648..=2_147_483_647;
/// The algorithms `States.Hash` knows.
pub const HASH_ALGORITHMS: [&str; 5] = ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

const FUNCS: [Func; 18] = [
    Func::Format,
    Func::StringToJson,
    Func::JsonToString,
    Func::Array,
    Func::ArrayPartition,
    Func::ArrayContains,
    Func::ArrayRange,
    Func::ArrayGetItem,
    Func::ArrayLength,
    Func::ArrayUnique,
    Func::Base64Encode,
    Func::Base64Decode,
    Func::Hash,
    Func::JsonMerge,
    Func::MathRandom,
    Func::MathAdd,
    Func::StringSplit,
    Func::Uuid,
];

impl Func {
    fn name(self) -> &'static str {
        match self {
            Func::Format => "States.Format",
            Func::StringToJson => "States.StringToJson",
            Func::JsonToString => "States.JsonToString",
            Func::Array => "States.Array",
            Func::ArrayPartition => "States.ArrayPartition",
            Func::ArrayContains => "States.ArrayContains",
            Func::ArrayRange => "States.ArrayRange",
            Func::ArrayGetItem => "States.ArrayGetItem",
            Func::ArrayLength => "States.ArrayLength",
            Func::ArrayUnique => "States.ArrayUnique",
            Func::Base64Encode => "States.Base64Encode",
            Func::Base64Decode => "States.Base64Decode",
            Func::Hash => "States.Hash",
            Func::JsonMerge => "States.JsonMerge",
            Func::MathRandom => "States.MathRandom",
            Func::MathAdd => "States.MathAdd",
            Func::StringSplit => "States.StringSplit",
            Func::Uuid => "States.UUID",
        }
    }

    /// Minimum and maximum argument counts (`None`: no maximum).
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::Array => (0, None),
            Func::Uuid => (0, Some(0)),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, Some(1)),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, Some(2)),
            Func::MathRandom => (2, Some(3)),
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
        }
    }

    fn lookup(name: &str) -> Option<Func> {
        FUNCS.iter().copied().find(|f| f.name() == name)
    }
}

/// A piece of a `States.Format` template: literal text or a `{}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Hole,
}

#[derive(Debug, Clone)]
enum Arg {
    Literal(Value),
    Path(Path),
    Call(Box<Call>),
}

#[derive(Debug, Clone)]
struct Call {
    func: Func,
    args: Vec<Arg>,
    /// For `States.Format` with a literal first argument: that template, with its escaped
    /// braces already resolved (so `\{}` stays text while `{}` is a placeholder).
    template: Option<Vec<Piece>>,
}

/// A compiled intrinsic call, for example `States.Format('Hello, {}', $.name)`.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    text: String,
    call: Call,
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Intrinsic {
    /// Parses a call; the error says what is wrong and where (unknown function, wrong number
    /// of arguments, unbalanced quotes or parentheses, a bad path argument).
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
            calls: 0,
        };
        parser.skip_ws();
        let call = parser.call()?;
        parser.skip_ws();
        if parser.pos < parser.chars.len() {
            let rest: String = parser.chars[parser.pos..].iter().collect();
            return Err(format!(
                "unexpected text after the closing `)` at column {}: `{}`",
                parser.pos + 1,
                rest
            ));
        }
        Ok(Intrinsic {
            text: text.to_string(),
            call,
        })
    }

    /// The call as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The name of the outermost function, for example `States.Format`.
    pub fn function(&self) -> &'static str {
        self.call.func.name()
    }

    /// Evaluates against the effective input and the context object; failures are
    /// `States.IntrinsicFailure` with a cause naming the function.
    pub fn eval(&self, input: &Value, context: &Bindings) -> Result<Value, StatesError> {
        eval_call(&self.call, input, context)
    }
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn is_intrinsic(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// Calls seen so far (bounded by MAX_CALLS, which also bounds the recursion).
    calls: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn col(&self) -> usize {
        self.pos + 1
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn word_at(&self, at: usize) -> String {
        self.chars[at..]
            .iter()
            .take_while(|c| is_name_char(**c))
            .collect()
    }

    fn call(&mut self) -> Result<Call, String> {
        let start = self.pos;
        let name = self.word_at(start);
        if name.is_empty() {
            return Err(match self.peek() {
                Some(c) => format!(
                    "expected an intrinsic function such as `States.Format(…)` at column {}, found `{c}`",
                    self.col()
                ),
                None => "expected an intrinsic function such as `States.Format(…)`".to_string(),
            });
        }
        let Some(func) = Func::lookup(&name) else {
            return Err(unknown_function(&name, start + 1));
        };
        self.pos += name.chars().count();
        self.calls += 1;
        if self.calls > MAX_CALLS {
            return Err(format!(
                "too many intrinsic functions: at most {MAX_CALLS} may be nested in one field \
                 (the {}th, `{name}`, is at column {})",
                self.calls,
                start + 1
            ));
        }
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(format!(
                "expected `(` after `{name}` at column {}",
                self.col()
            ));
        }
        let open = self.pos;
        self.pos += 1;
        let mut args = Vec::new();
        let mut template = None;
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                let (arg, pieces) = self.arg(&name, args.len() + 1)?;
                if args.is_empty() && func == Func::Format {
                    template = pieces;
                }
                args.push(arg);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(format!(
                            "expected `,` or `)` after argument {} of `{name}` at column {}, found `{c}`",
                            args.len(),
                            self.col()
                        ))
                    }
                    None => {
                        return Err(format!(
                            "missing `)` to close `{name}(` opened at column {}",
                            open + 1
                        ))
                    }
                }
            }
        }
        let call = Call {
            func,
            args,
            template,
        };
        check_call(&call)?;
        Ok(call)
    }

    /// One argument; for a string literal also its `States.Format` template pieces.
    fn arg(&mut self, name: &str, n: usize) -> Result<(Arg, Option<Vec<Piece>>), String> {
        match self.peek() {
            None => Err(format!(
                "missing argument {n} of `{name}`: the text ends at column {}",
                self.col()
            )),
            Some('\'') => {
                let (value, pieces) = self.string()?;
                Ok((Arg::Literal(Value::String(value)), Some(pieces)))
            }
            Some('$') => Ok((Arg::Path(self.path()?), None)),
            Some(c) if c == '-' || c.is_ascii_digit() => Ok((Arg::Literal(self.number()?), None)),
            Some(c) if c.is_ascii_alphabetic() => {
                let word = self.word_at(self.pos);
                let literal = match word.as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" => Some(Value::Null),
                    _ => None,
                };
                if let Some(v) = literal {
                    self.pos += word.len();
                    Ok((Arg::Literal(v), None))
                } else {
                    Ok((Arg::Call(Box::new(self.call()?)), None))
                }
            }
            Some(c @ (',' | ')')) => Err(format!(
                "missing argument {n} of `{name}` at column {}, found `{c}`",
                self.col()
            )),
            Some('"') => Err(format!(
                "string arguments are written in single quotes ('…'), found `\"` at column {}",
                self.col()
            )),
            Some(c) => Err(format!(
                "argument {n} of `{name}` at column {} starts with `{c}`: expected a 'string', \
                 a number, true, false, null, a path ($…) or a States.* call",
                self.col()
            )),
        }
    }

    /// A single-quoted string literal; returns its value and its template pieces.
    fn string(&mut self) -> Result<(String, Vec<Piece>), String> {
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut text = String::new();
        let mut pieces = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(format!(
                        "unterminated string starting at column {}: missing the closing `'`",
                        open + 1
                    ))
                }
                Some('\\') => match self.chars.get(self.pos + 1).copied() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => {
                        value.push(c);
                        text.push(c);
                        self.pos += 2;
                    }
                    Some(c) => {
                        return Err(format!(
                            "invalid escape `\\{c}` at column {}: only \\', \\{{, \\}} and \\\\ \
                             may follow a backslash",
                            self.col()
                        ))
                    }
                    None => {
                        return Err(format!(
                            "unterminated string starting at column {}: it ends in an open `\\`",
                            open + 1
                        ))
                    }
                },
                Some('\'') => {
                    self.pos += 1;
                    break;
                }
                Some('{') if self.chars.get(self.pos + 1) == Some(&'}') => {
                    value.push_str("{}");
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Hole);
                    self.pos += 2;
                }
                Some(c) => {
                    value.push(c);
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok((value, pieces))
    }

    /// A path argument: runs to the first `,`, `)` or blank outside brackets and quotes.
    fn path(&mut self) -> Result<Path, String> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<(char, usize)> = None;
        while let Some(c) = self.peek() {
            if let Some((q, _)) = quote {
                if c == '\\' {
                    self.pos += 2;
                    continue;
                }
                if c == q {
                    quote = None;
                }
                self.pos += 1;
                continue;
            }
            match c {
                '[' | '(' => depth += 1,
                ']' | ')' if depth > 0 => depth -= 1,
                ')' | ',' => break,
                '\'' | '"' if depth > 0 => quote = Some((c, self.pos)),
                c if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(self.chars.len());
        let text: String = self.chars[start..self.pos].iter().collect();
        if let Some((q, at)) = quote {
            return Err(format!(
                "bad path argument `{text}` at column {}: the `{q}` at column {} is never closed",
                start + 1,
                at + 1
            ));
        }
        if depth > 0 {
            return Err(format!(
                "bad path argument `{text}` at column {}: unbalanced brackets",
                start + 1
            ));
        }
        match Path::parse(&text) {
            Ok(p) => Ok(p),
            Err(e) => {
                // The guide writes bracketed names after a dot (`$.abc.['def ghi']`); accept
                // that spelling by dropping the dot.
                let respelled = drop_dot_before_bracket(&text);
                if respelled != text {
                    if let Ok(p) = Path::parse(&respelled) {
                        return Ok(p);
                    }
                }
                Err(format!(
                    "bad path argument `{text}` at column {}: {}",
                    start + 1,
                    e.message
                ))
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        let bad = |p: &Parser| {
            let text: String = p.chars[start..p.pos.min(p.chars.len())].iter().collect();
            format!("malformed number `{text}` at column {}", start + 1)
        };
        if self.digits() == 0 {
            return Err(bad(self));
        }
        let mut float = false;
        if self.peek() == Some('.') {
            float = true;
            self.pos += 1;
            if self.digits() == 0 {
                return Err(bad(self));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(bad(self));
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if !float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::from(i));
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("number `{text}` at column {} is out of range", start + 1))
    }
}

/// `$.a.['b c']` → `$.a['b c']` (outside quotes only).
fn drop_dot_before_bracket(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' {
                    if let Some(&n) = chars.get(i + 1) {
                        out.push(n);
                        i += 1;
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '.' && chars.get(i + 1) == Some(&'[') {
                    // drop the dot
                } else {
                    if c == '\'' || c == '"' {
                        quote = Some(c);
                    }
                    out.push(c);
                }
            }
        }
        i += 1;
    }
    out
}

fn unknown_function(name: &str, col: usize) -> String {
    let mut message = format!("unknown intrinsic function `{name}` at column {col}");
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("states.").unwrap_or(&lower);
    let best = FUNCS
        .iter()
        .map(|f| {
            let known = f.name().to_ascii_lowercase();
            let known_bare = known.strip_prefix("states.").unwrap_or(&known).to_string();
            (edit_distance(bare, &known_bare), f.name())
        })
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, known)) if d <= 2 || (d <= 3 && bare.len() > 8) => {
            message.push_str(&format!(" (did you mean `{known}`?)"));
        }
        _ if !name.starts_with("States.") => {
            message.push_str(" (intrinsic functions are named `States.…`)");
        }
        _ => {}
    }
    message
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Argument count, and the checks that literal arguments allow before any input is seen.
fn check_call(call: &Call) -> Result<(), String> {
    let name = call.func.name();
    let n = call.args.len();
    let (min, max) = call.func.arity();
    let ok = n >= min && max.is_none_or(|m| n <= m);
    if !ok {
        let wants = match (min, max) {
            (0, Some(0)) => "no arguments".to_string(),
            (a, Some(b)) if a == b => format!("exactly {}", plural(a, "argument")),
            (a, Some(b)) => format!("{a} to {b} arguments"),
            (a, None) => format!("at least {}", plural(a, "argument")),
        };
        return Err(format!("`{name}` takes {wants}, got {n}"));
    }
    match call.func {
        // A placeholder count that does not match is left to evaluation: the guide's own
        // nine-call example has three `{}` and two values.
        Func::Format => match &call.args[0] {
            Arg::Literal(Value::String(_)) | Arg::Path(_) | Arg::Call(_) => {}
            Arg::Literal(other) => {
                return Err(format!(
                    "the first argument of `{name}` must be a string, got {}",
                    describe(other)
                ))
            }
        },
        Func::Hash => {
            if let Arg::Literal(v) = &call.args[1] {
                match v {
                    Value::String(s) if HASH_ALGORITHMS.contains(&s.as_str()) => {}
                    other => {
                        return Err(format!(
                            "`{name}` does not know the algorithm {}; use one of {}",
                            describe(other),
                            HASH_ALGORITHMS.join(", ")
                        ))
                    }
                }
            }
        }
        Func::JsonMerge => match &call.args[2] {
            Arg::Literal(Value::Bool(true)) => {
                return Err(format!(
                    "`{name}` supports only shallow merging: its third argument must be false"
                ))
            }
            Arg::Literal(Value::Bool(false)) | Arg::Path(_) | Arg::Call(_) => {}
            Arg::Literal(other) => {
                return Err(format!(
                    "the third argument of `{name}` must be the boolean false, got {}",
                    describe(other)
                ))
            }
        },
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Evaluation

fn fail(func: Func, message: impl fmt::Display) -> StatesError {
    StatesError::intrinsic(format!("{}: {message}", func.name()))
}

/// A short description of a value for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let json = Value::String(s.clone()).to_string();
            if json.chars().count() > 80 {
                let cut: String = json.chars().take(77).collect();
                format!("the string {cut}…")
            } else {
                format!("the string {json}")
            }
        }
        Value::Array(a) => format!("an array of {}", plural(a.len(), "item")),
        Value::Object(_) => "an object".to_string(),
    }
}

fn eval_call(call: &Call, input: &Value, context: &Bindings) -> Result<Value, StatesError> {
    let func = call.func;
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Literal(v) => v.clone(),
            Arg::Path(p) => p.select(input, context).map_err(|_| {
                fail(
                    func,
                    format!(
                        "the path '{}' matched nothing in the {}",
                        p.as_str(),
                        if p.is_context() {
                            "context object"
                        } else {
                            "input"
                        }
                    ),
                )
            })?,
            Arg::Call(c) => eval_call(c, input, context)?,
        });
    }
    apply(call, args)
}

fn string_arg(func: Func, what: &str, v: Value) -> Result<String, StatesError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(fail(
            func,
            format!("{what} must be a string, got {}", describe(&other)),
        )),
    }
}

fn array_arg(func: Func, what: &str, v: Value) -> Result<Vec<Value>, StatesError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(fail(
            func,
            format!("{what} must be an array, got {}", describe(&other)),
        )),
    }
}

fn object_arg(func: Func, what: &str, v: Value) -> Result<Map<String, Value>, StatesError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(fail(
            func,
            format!("{what} must be an object, got {}", describe(&other)),
        )),
    }
}

/// An integer argument; a non-integer number is rounded half up (Java `Math.round`).
fn rounded_int(func: Func, what: &str, v: &Value) -> Result<i64, StatesError> {
    let bad = || {
        fail(
            func,
            format!("{what} must be an integer, got {}", describe(v)),
        )
    };
    let Value::Number(n) = v else {
        return Err(bad());
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let x = n.as_f64().ok_or_else(bad)?;
    let r = (x + 0.5).floor();
    if !r.is_finite() || !(-9.0e18..=9.0e18).contains(&r) {
        return Err(fail(func, format!("{what} {n} is out of range")));
    }
    Ok(r as i64)
}

/// An integer argument that must be integral as given.
fn exact_int(func: Func, what: &str, v: &Value) -> Result<i64, StatesError> {
    let bad = || {
        fail(
            func,
            format!("{what} must be an integer, got {}", describe(v)),
        )
    };
    let Value::Number(n) = v else {
        return Err(bad());
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e18 => Ok(x as i64),
        _ => Err(bad()),
    }
}

fn check_length(func: Func, what: &str, s: &str) -> Result<(), StatesError> {
    let n = s.chars().count();
    if n > MAX_ENCODE_CHARS {
        return Err(fail(
            func,
            format!("{what} has {n} characters; at most {MAX_ENCODE_CHARS} are allowed"),
        ));
    }
    Ok(())
}

const BASE64_DECODER: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn apply(call: &Call, args: Vec<Value>) -> Result<Value, StatesError> {
    let func = call.func;
    let mut args = args.into_iter();
    if func == Func::Format {
        let template = args.next().unwrap_or(Value::Null);
        return format(call, template, args.collect());
    }
    // Arity was checked at parse time, so the arguments asked for here exist.
    let mut next = || args.next().unwrap_or(Value::Null);
    Ok(match func {
        Func::Format => Value::Null, // handled above
        Func::StringToJson => {
            let s = string_arg(func, "the argument", next())?;
            serde_json::from_str(&s)
                .map_err(|e| fail(func, format!("the argument is not valid JSON: {e}")))?
        }
        Func::JsonToString => Value::String(next().to_string()),
        Func::Array => Value::Array((0..call.args.len()).map(|_| next()).collect()),
        Func::ArrayPartition => {
            let array = array_arg(func, "the first argument", next())?;
            let size = rounded_int(func, "the chunk size", &next())?;
            if size <= 0 {
                return Err(fail(
                    func,
                    format!("the chunk size must be a positive integer, got {size}"),
                ));
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Value::Array(
                array
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            )
        }
        Func::ArrayContains => {
            let array = array_arg(func, "the first argument", next())?;
            let needle = next();
            Value::Bool(array.iter().any(|v| json_eq(v, &needle)))
        }
        Func::ArrayRange => {
            let start = rounded_int(func, "the first argument (start)", &next())?;
            let end = rounded_int(func, "the second argument (end)", &next())?;
            let step = rounded_int(func, "the third argument (step)", &next())?;
            if step == 0 {
                return Err(fail(func, "the step (third argument) must not be zero"));
            }
            let (s, e, st) = (start as i128, end as i128, step as i128);
            let count = if (st > 0 && s <= e) || (st < 0 && s >= e) {
                (e - s) / st + 1
            } else {
                0
            };
            if count > MAX_RANGE_ITEMS as i128 {
                return Err(fail(
                    func,
                    format!(
                        "the range would have {count} items; at most {MAX_RANGE_ITEMS} are allowed"
                    ),
                ));
            }
            Value::Array(
                (0..count)
                    .map(|i| Value::from((s + i * st) as i64))
                    .collect(),
            )
        }
        Func::ArrayGetItem => {
            let array = array_arg(func, "the first argument", next())?;
            let index = exact_int(func, "the index", &next())?;
            let len = array.len();
            usize::try_from(index)
                .ok()
                .and_then(|i| array.into_iter().nth(i))
                .ok_or_else(|| {
                    fail(
                        func,
                        format!(
                            "index {index} is out of range for an array of {}",
                            plural(len, "item")
                        ),
                    )
                })?
        }
        Func::ArrayLength => Value::from(array_arg(func, "the argument", next())?.len() as u64),
        Func::ArrayUnique => {
            let array = array_arg(func, "the argument", next())?;
            let mut seen = HashSet::with_capacity(array.len());
            Value::Array(
                array
                    .into_iter()
                    .filter(|v| {
                        let mut key = String::new();
                        canonical(v, &mut key);
                        seen.insert(key)
                    })
                    .collect(),
            )
        }
        Func::Base64Encode => {
            let s = string_arg(func, "the argument", next())?;
            check_length(func, "the argument", &s)?;
            Value::String(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
        }
        Func::Base64Decode => {
            let s = string_arg(func, "the argument", next())?;
            check_length(func, "the argument", &s)?;
            let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = BASE64_DECODER
                .decode(compact.as_bytes())
                .map_err(|e| fail(func, format!("the argument is not valid Base64: {e}")))?;
            Value::String(
                String::from_utf8(bytes)
                    .map_err(|_| fail(func, "the decoded data is not valid UTF-8 text"))?,
            )
        }
        Func::Hash => {
            let data = string_arg(func, "the data (first argument)", next())?;
            let algorithm = string_arg(func, "the algorithm (second argument)", next())?;
            check_length(func, "the data", &data)?;
            Value::String(hash(func, &data, &algorithm)?)
        }
        Func::JsonMerge => {
            let mut first = object_arg(func, "the first argument", next())?;
            let second = object_arg(func, "the second argument", next())?;
            match next() {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return Err(fail(
                        func,
                        "only shallow merging is supported: the third argument must be false",
                    ))
                }
                other => {
                    return Err(fail(
                        func,
                        format!(
                            "the third argument must be the boolean false, got {}",
                            describe(&other)
                        ),
                    ))
                }
            }
            for (k, v) in second {
                first.insert(k, v);
            }
            Value::Object(first)
        }
        Func::MathRandom => {
            use rand::{Rng, SeedableRng};
            let start = rounded_int(func, "the start (first argument)", &next())?;
            let end = rounded_int(func, "the end (second argument)", &next())?;
            if start >= end {
                return Err(fail(
                    func,
                    format!(
                        "the start ({start}) must be less than the end ({end}), which is exclusive"
                    ),
                ));
            }
            let n = if call.args.len() == 3 {
                let seed = rounded_int(func, "the seed (third argument)", &next())?;
                rand::rngs::StdRng::seed_from_u64(seed as u64).gen_range(start..end)
            } else {
                rand::thread_rng().gen_range(start..end)
            };
            Value::from(n)
        }
        Func::MathAdd => {
            let a = rounded_int(func, "the first argument", &next())?;
            let b = rounded_int(func, "the second argument", &next())?;
            for (which, v) in [("first", a), ("second", b)] {
                if !MATH_ADD_RANGE.contains(&v) {
                    return Err(fail(
                        func,
                        format!(
                            "the {which} argument {v} is outside the range {} to {}",
                            MATH_ADD_RANGE.start(),
                            MATH_ADD_RANGE.end()
                        ),
                    ));
                }
            }
            Value::from(a + b)
        }
        Func::StringSplit => {
            let s = string_arg(func, "the first argument", next())?;
            let delimiters = string_arg(func, "the delimiter (second argument)", next())?;
            // Every character of the second argument is a delimiter, and empty pieces are
            // dropped ("1,,2" splits into "1" and "2").
            Value::Array(
                s.split(|c: char| delimiters.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )
        }
        Func::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
    })
}

fn format(call: &Call, template: Value, values: Vec<Value>) -> Result<Value, StatesError> {
    let func = call.func;
    let owned;
    let pieces = match &call.template {
        Some(p) => p,
        None => {
            let s = string_arg(func, "the template (first argument)", template)?;
            owned = split_holes(&s);
            &owned
        }
    };
    let holes = pieces.iter().filter(|p| **p == Piece::Hole).count();
    if holes != values.len() {
        return Err(fail(
            func,
            format!(
                "the template has {} but {} follow it",
                plural(holes, "`{}` placeholder"),
                plural(values.len(), "value")
            ),
        ));
    }
    let mut out = String::new();
    let mut values = values.iter();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole => match values.next() {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => {}
            },
        }
    }
    Ok(Value::String(out))
}

/// Template pieces of a string that came from the input (no escapes: only `{}` is special).
fn split_holes(s: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut parts = s.split("{}").peekable();
    while let Some(part) = parts.next() {
        if !part.is_empty() {
            pieces.push(Piece::Text(part.to_string()));
        }
        if parts.peek().is_some() {
            pieces.push(Piece::Hole);
        }
    }
    pieces
}

fn hash(func: Func, data: &str, algorithm: &str) -> Result<String, StatesError> {
    hash_hex(data, algorithm).map_err(|message| fail(func, message))
}

/// The hex digest of `data` by one of [`HASH_ALGORITHMS`] (`States.Hash`, JSONata `$hash`).
pub fn hash_hex(data: &str, algorithm: &str) -> Result<String, String> {
    use sha2::Digest;
    let bytes = data.as_bytes();
    Ok(match algorithm {
        "MD5" => hex::encode(md5::Md5::digest(bytes)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(bytes)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(bytes)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(bytes)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(bytes)),
        other => {
            return Err(format!(
                "unknown algorithm {}; use one of {}",
                describe(&Value::String(other.to_string())),
                HASH_ALGORITHMS.join(", ")
            ))
        }
    })
}

/// JSON equality where numbers compare by value (`1` equals `1.0`) and object member order
/// does not matter.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn number_eq(x: &Number, y: &Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a == b;
    }
    x.as_f64() == y.as_f64()
}

/// A text key such that `json_eq(a, b)` iff the keys of `a` and `b` are equal.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if x.fract() == 0.0 && x.abs() < 9.0e15 {
                    out.push_str(&(x as i64).to_string());
                } else {
                    out.push_str(&format!("{x:e}"));
                }
            }
        }
        Value::Array(a) => {
            out.push('[');
            for item in a {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
                out.push(',');
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Bindings {
        Bindings::from(
            json!({"Execution": {"Id": "arn:aws:states:eu-west-1:1:execution:m:e1", "Name": "e1"}}),
        )
    }

    fn eval(text: &str, input: Value) -> Result<Value, StatesError> {
        Intrinsic::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .eval(&input, &ctx())
    }

    fn ok(text: &str, input: Value) -> Value {
        eval(text, input).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn failure(text: &str, input: Value) -> String {
        let e = eval(text, input).expect_err(text);
        assert_eq!(e.error, "States.IntrinsicFailure", "{text}");
        e.cause
    }

    fn parse_err(text: &str) -> String {
        Intrinsic::parse(text).expect_err(text)
    }

    // --- The developer guide's examples ------------------------------------------------------

    #[test]
    fn guide_format() {
        // developer guide, Intrinsic functions, States.Format
        let input = json!({"name": "Arnav", "template": "Hello, my name is {}."});
        assert_eq!(
            ok(
                "States.Format('Hello, my name is {}.', $.name)",
                input.clone()
            ),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            ok("States.Format($.template, $.name)", input),
            json!("Hello, my name is Arnav.")
        );
        // ASL specification, Appendix B, States.Format
        assert_eq!(
            ok(
                "States.Format('Your name is {}, we are in the year {}', $.name, 2020)",
                json!({"name": "Foo", "zebra": "stripe"})
            ),
            json!("Your name is Foo, we are in the year 2020")
        );
    }

    #[test]
    fn guide_string_to_json_and_back() {
        // developer guide, Intrinsic functions, States.StringToJson
        assert_eq!(
            ok(
                "States.StringToJson($.escapedJsonString)",
                json!({"escapedJsonString": "{\"foo\": \"bar\"}"})
            ),
            json!({"foo": "bar"})
        );
        // developer guide, Intrinsic functions, States.JsonToString
        assert_eq!(
            ok(
                "States.JsonToString($.unescapedJson)",
                json!({"unescapedJson": {"foo": "bar"}})
            ),
            json!("{\"foo\":\"bar\"}")
        );
        // ASL specification, Appendix B, States.JsonToString (member order kept)
        assert_eq!(
            ok(
                "States.JsonToString($.someJson)",
                json!({"someJson": {"name": "Foo", "year": 2020}})
            ),
            json!("{\"name\":\"Foo\",\"year\":2020}")
        );
    }

    #[test]
    fn guide_arrays() {
        let nine = json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5, "index": 5});
        // developer guide, Intrinsic functions, States.Array
        assert_eq!(
            ok("States.Array($.Id)", json!({"Id": 123456})),
            json!([123456])
        );
        // ASL specification, Appendix B, States.Array
        assert_eq!(
            ok(
                "States.Array('Foo', 2020, $.someJson, null)",
                json!({"someJson": {"random": "abcdefg"}})
            ),
            json!(["Foo", 2020, {"random": "abcdefg"}, null])
        );
        // developer guide, Intrinsic functions, States.ArrayPartition
        assert_eq!(
            ok("States.ArrayPartition($.inputArray,4)", nine.clone()),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        // developer guide, Intrinsic functions, States.ArrayContains
        assert_eq!(
            ok(
                "States.ArrayContains($.inputArray, $.lookingFor)",
                nine.clone()
            ),
            json!(true)
        );
        // developer guide, Intrinsic functions, States.ArrayRange
        assert_eq!(
            ok("States.ArrayRange(1, 9, 2)", json!({})),
            json!([1, 3, 5, 7, 9])
        );
        // developer guide, Intrinsic functions, States.ArrayGetItem
        assert_eq!(
            ok("States.ArrayGetItem($.inputArray, $.index)", nine.clone()),
            json!(6)
        );
        // developer guide, Intrinsic functions, States.ArrayLength
        assert_eq!(ok("States.ArrayLength($.inputArray)", nine), json!(9));
        // developer guide, Intrinsic functions, States.ArrayUnique
        assert_eq!(
            ok(
                "States.ArrayUnique($.inputArray)",
                json!({"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]})
            ),
            json!([1, 2, 3, 4])
        );
    }

    #[test]
    fn guide_encoding_and_hash() {
        // developer guide, Intrinsic functions, States.Base64Encode
        assert_eq!(
            ok(
                "States.Base64Encode($.input)",
                json!({"input": "Data to encode"})
            ),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        // developer guide, Intrinsic functions, States.Base64Decode (the guide prints
        // "Decoded data" as the result, but its input decodes to "Data to encode")
        assert_eq!(
            ok(
                "States.Base64Decode($.base64)",
                json!({"base64": "RGF0YSB0byBlbmNvZGU="})
            ),
            json!("Data to encode")
        );
        // developer guide, Intrinsic functions, States.Hash. The guide prints
        // "aaff4a450a104cd177d28d18d7485e8cae074b7", one digit short of a SHA-1 (a "4" is
        // missing after "d7"); this is the full digest.
        assert_eq!(
            ok(
                "States.Hash($.Data, $.Algorithm)",
                json!({"Data": "input data", "Algorithm": "SHA-1"}),
            ),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
    }

    #[test]
    fn guide_json_merge() {
        // developer guide, Intrinsic functions, States.JsonMerge
        let input = json!({
            "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
            "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}
        });
        let out = ok("States.JsonMerge($.json1, $.json2, false)", input);
        assert_eq!(out, json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}));
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }

    #[test]
    fn guide_math() {
        // developer guide, Intrinsic functions, States.MathRandom
        for _ in 0..200 {
            let n = ok(
                "States.MathRandom($.start, $.end)",
                json!({"start": 1, "end": 999}),
            )
            .as_i64()
            .unwrap();
            assert!((1..999).contains(&n), "{n}");
        }
        // developer guide, Intrinsic functions, States.MathAdd
        assert_eq!(
            ok(
                "States.MathAdd($.value1, $.step)",
                json!({"value1": 111, "step": -1})
            ),
            json!(110)
        );
    }

    #[test]
    fn guide_string_split_and_uuid() {
        // developer guide, Intrinsic functions, States.StringSplit (both examples)
        assert_eq!(
            ok(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "1,2,3,4,5", "splitter": ","})
            ),
            json!(["1", "2", "3", "4", "5"])
        );
        assert_eq!(
            ok(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="})
            ),
            json!(["This", "is", "a", "test", "string"])
        );
        // developer guide, Intrinsic functions, States.UUID
        let a = ok("States.UUID()", json!({}));
        let b = ok("States.UUID()", json!({}));
        assert_ne!(a, b);
        let u = uuid::Uuid::parse_str(a.as_str().unwrap()).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(a.as_str().unwrap(), a.as_str().unwrap().to_lowercase());
    }

    #[test]
    fn guide_nine_nested_calls() {
        // developer guide, Intrinsic functions: the `myArn` example with nine nested calls
        let text = "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(\
            States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), \
            States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(\
            $.ImageRecipe.Arn, '/'), 2), '.'), 1))";
        let input = json!({"ImageRecipe": {
            "Arn": "arn:aws:imagebuilder:us-east-1:123:image-recipe/my.recipe.name/1.0.0"}});
        // The example has three `{}` but two values, so it parses and then fails.
        let cause = failure(text, input.clone());
        assert!(
            cause.contains("3 `{}` placeholders but 2 values"),
            "{cause}"
        );
        let fixed = text.replacen("'{}.{}.{}'", "'{}.{}'", 1);
        assert_eq!(ok(&fixed, input), json!("1.0"));
    }

    // --- Further behaviour --------------------------------------------------------------------

    #[test]
    fn format_values_and_escapes() {
        let input = json!({"n": 2.5, "b": true, "z": null, "o": {"k": [1]}, "s": "x"});
        assert_eq!(
            ok(
                "States.Format('{}|{}|{}|{}|{}', $.n, $.b, $.z, $.o, $.s)",
                input
            ),
            json!("2.5|true|null|{\"k\":[1]}|x")
        );
        // Escaped braces are text, not placeholders; \' and \\ are a quote and a backslash.
        assert_eq!(
            ok(r"States.Format('escaped \{\} and {}', 'x')", json!({})),
            json!("escaped {} and x")
        );
        assert_eq!(
            ok(r"States.Format('it\'s a \\ and {}', 1)", json!({})),
            json!(r"it's a \ and 1")
        );
        // An inserted string is not itself a template.
        assert_eq!(ok("States.Format('{}', '{}')", json!({})), json!("{}"));
        assert_eq!(
            ok("States.Format('no holes')", json!({})),
            json!("no holes")
        );
        // A lone brace is text.
        assert_eq!(ok("States.Format('{ {}', 1)", json!({})), json!("{ 1"));
        // Context-object paths and whitespace between arguments.
        assert_eq!(
            ok(
                "States.Format( '{}/{}' ,  $$.Execution.Name , $ )",
                json!("in")
            ),
            json!("e1/in")
        );
    }

    #[test]
    fn format_failures() {
        assert!(failure("States.Format($.t, 1, 2)", json!({"t": "only {}"}))
            .contains("1 `{}` placeholder but 2 values"));
        assert!(failure("States.Format($.t)", json!({"t": 5}))
            .starts_with("States.Format: the template (first argument) must be a string"));
        assert!(failure("States.Format('{} {}', 1)", json!({}))
            .contains("2 `{}` placeholders but 1 value"));
        assert!(parse_err("States.Format(5)").contains("must be a string"));
    }

    #[test]
    fn nested_calls() {
        let input = json!({"a": [1, 2, 3]});
        assert_eq!(
            ok(
                "States.Format('{}', States.ArrayLength($.a))",
                input.clone()
            ),
            json!("3")
        );
        assert_eq!(
            ok(
                "States.ArrayGetItem(States.ArrayPartition(States.ArrayRange(0, 9, 1), 4), 2)",
                input.clone()
            ),
            json!([8, 9])
        );
        assert_eq!(
            ok("States.StringToJson(States.JsonToString($))", input.clone()),
            input
        );
        assert_eq!(
            ok(
                "States.Base64Decode(States.Base64Encode('héllo wörld'))",
                json!({})
            ),
            json!("héllo wörld")
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            ok(
                "States.Array(1, -2, 3.5, -0.25, 1e3, true, false, null, 'x', '')",
                json!({})
            ),
            json!([1, -2, 3.5, -0.25, 1000.0, true, false, null, "x", ""])
        );
        assert_eq!(ok("States.Array()", json!({})), json!([]));
        assert_eq!(ok("  States.Array( )  ", json!({})), json!([]));
        // Unescaped braces and commas inside strings are plain text outside Format templates.
        assert_eq!(
            ok("States.StringToJson('{\"a\": [1, 2]}')", json!({})),
            json!({"a": [1, 2]})
        );
    }

    #[test]
    fn path_arguments() {
        let input = json!({"a b": {"c": 1}, "l": [{"v": 1}, {"v": 2}], "x": {"y": 7}});
        assert_eq!(ok("States.Array($['a b'].c)", input.clone()), json!([1]));
        // The guide's spelling `$.abc.['def ghi']`.
        assert_eq!(ok("States.Array($.['a b'].c)", input.clone()), json!([1]));
        assert_eq!(ok("States.Array($.l[*].v)", input.clone()), json!([[1, 2]]));
        assert_eq!(
            ok("States.ArrayLength($.l[?(@.v > 1)])", input.clone()),
            json!(1)
        );
        assert_eq!(
            ok("States.Array($.l[1].v,$.x.y)", input.clone()),
            json!([2, 7])
        );
        assert_eq!(
            ok("States.Array($$.Execution.Name)", input.clone()),
            json!(["e1"])
        );
        // A path that matches nothing fails and says which.
        let cause = failure("States.ArrayLength($.missing)", input.clone());
        assert_eq!(
            cause,
            "States.ArrayLength: the path '$.missing' matched nothing in the input"
        );
        let cause = failure("States.Array($$.Nope)", input);
        assert!(
            cause.contains("'$$.Nope' matched nothing in the context object"),
            "{cause}"
        );
    }

    #[test]
    fn array_functions_edge_cases() {
        assert_eq!(
            ok("States.ArrayPartition(States.Array(), 3)", json!({})),
            json!([])
        );
        assert_eq!(
            ok(
                "States.ArrayPartition(States.Array(1, 2, 3), 2.4)",
                json!({})
            ),
            json!([[1, 2], [3]])
        );
        assert!(
            failure("States.ArrayPartition(States.Array(1), 0)", json!({}))
                .contains("chunk size must be a positive integer")
        );
        assert!(
            failure("States.ArrayPartition(States.Array(1), 0.4)", json!({}))
                .contains("positive integer, got 0")
        );
        assert!(failure("States.ArrayPartition('x', 1)", json!({}))
            .starts_with("States.ArrayPartition: the first argument must be an array"));

        assert_eq!(
            ok(
                "States.ArrayContains($.a, $.b)",
                json!({"a": [{"x": 1, "y": [2]}], "b": {"y": [2.0], "x": 1}})
            ),
            json!(true)
        );
        assert_eq!(
            ok("States.ArrayContains(States.Array(1, 2), 3)", json!({})),
            json!(false)
        );
        assert_eq!(
            ok("States.ArrayContains(States.Array(null), null)", json!({})),
            json!(true)
        );

        assert_eq!(
            ok("States.ArrayRange(5, 1, -2)", json!({})),
            json!([5, 3, 1])
        );
        assert_eq!(ok("States.ArrayRange(1, 1, 1)", json!({})), json!([1]));
        assert_eq!(ok("States.ArrayRange(5, 1, 1)", json!({})), json!([]));
        assert_eq!(
            ok("States.ArrayRange(0.5, 2.4, 1)", json!({})),
            json!([1, 2])
        );
        assert_eq!(
            ok("States.ArrayRange(1, 1000, 1)", json!({}))
                .as_array()
                .unwrap()
                .len(),
            1000
        );
        assert!(failure("States.ArrayRange(0, 1000, 1)", json!({}))
            .contains("1001 items; at most 1000"));
        assert!(failure("States.ArrayRange(1, 5, 0)", json!({})).contains("must not be zero"));
        assert!(failure("States.ArrayRange(1, 5, 0.2)", json!({})).contains("must not be zero"));
        assert!(failure("States.ArrayRange('1', 5, 1)", json!({})).contains("must be an integer"));

        let nine = json!({"a": [1, 2, 3]});
        assert_eq!(ok("States.ArrayGetItem($.a, 0)", nine.clone()), json!(1));
        assert_eq!(ok("States.ArrayGetItem($.a, 2.0)", nine.clone()), json!(3));
        assert_eq!(
            failure("States.ArrayGetItem($.a, 3)", nine.clone()),
            "States.ArrayGetItem: index 3 is out of range for an array of 3 items"
        );
        assert!(failure("States.ArrayGetItem($.a, -1)", nine.clone()).contains("out of range"));
        assert!(
            failure("States.ArrayGetItem($.a, 1.5)", nine.clone()).contains("must be an integer")
        );

        assert_eq!(
            failure("States.ArrayLength('abc')", json!({})),
            "States.ArrayLength: the argument must be an array, got the string \"abc\""
        );
        assert_eq!(
            ok("States.ArrayLength(States.Array())", json!({})),
            json!(0)
        );

        assert_eq!(
            ok(
                "States.ArrayUnique($.a)",
                json!({"a": [{"x": 1, "y": 2}, "1", 1, {"y": 2, "x": 1}, 1.0, "1", [1], [1.0], null, null]})
            ),
            json!([{"x": 1, "y": 2}, "1", 1, [1], null])
        );
        assert!(failure("States.ArrayUnique(1)", json!({})).contains("must be an array"));
    }

    #[test]
    fn encoding_edge_cases() {
        assert_eq!(ok("States.Base64Encode('')", json!({})), json!(""));
        // Missing padding and MIME line breaks are tolerated.
        assert_eq!(ok("States.Base64Decode('aGk')", json!({})), json!("hi"));
        assert_eq!(
            ok(
                "States.Base64Decode($.s)",
                json!({"s": "RGF0YSB0\r\nbyBlbmNvZGU="})
            ),
            json!("Data to encode")
        );
        assert!(failure("States.Base64Decode('***')", json!({})).contains("not valid Base64"));
        assert!(failure("States.Base64Decode('/w==')", json!({})).contains("not valid UTF-8"));
        assert!(failure("States.Base64Encode(1)", json!({})).contains("must be a string"));
        let long = "x".repeat(MAX_ENCODE_CHARS + 1);
        assert!(failure("States.Base64Encode($)", json!(long.clone()))
            .contains("10001 characters; at most 10000"));
        assert!(failure("States.Base64Decode($)", json!(long.clone())).contains("at most 10000"));
        assert!(failure("States.Hash($, 'MD5')", json!(long)).contains("at most 10000"));
        let ok_len = "x".repeat(MAX_ENCODE_CHARS);
        assert!(eval("States.Base64Encode($)", json!(ok_len)).is_ok());
    }

    #[test]
    fn hash_algorithms() {
        let cases = [
            ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
            ("SHA-1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                "SHA-256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (alg, want) in cases {
            assert_eq!(
                ok(&format!("States.Hash('abc', '{alg}')"), json!({})),
                json!(want)
            );
        }
        assert_eq!(
            ok("States.Hash('abc', 'SHA-384')", json!({}))
                .as_str()
                .unwrap()
                .len(),
            96
        );
        assert_eq!(
            ok("States.Hash('abc', 'SHA-512')", json!({}))
                .as_str()
                .unwrap()
                .len(),
            128
        );
        assert!(failure("States.Hash('abc', $.a)", json!({"a": "sha-1"}))
            .contains("unknown algorithm the string \"sha-1\""));
        assert!(failure("States.Hash($.a, 'MD5')", json!({"a": 1})).contains("must be a string"));
        assert!(parse_err("States.Hash('abc', 'SHA256')").contains("use one of MD5, SHA-1"));
    }

    #[test]
    fn json_functions_edge_cases() {
        assert!(failure("States.StringToJson('{')", json!({})).contains("not valid JSON"));
        assert!(failure("States.StringToJson(1)", json!({})).contains("must be a string"));
        assert_eq!(
            ok("States.StringToJson('[1, \"a\"]')", json!({})),
            json!([1, "a"])
        );
        assert_eq!(
            ok("States.JsonToString('a\"b')", json!({})),
            json!("\"a\\\"b\"")
        );
        assert!(failure(
            "States.JsonMerge($.a, $.b, $.deep)",
            json!({"a": {}, "b": {}, "deep": true})
        )
        .contains("only shallow merging"));
        assert!(failure(
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": {}, "b": [1]})
        )
        .contains("the second argument must be an object"));
        assert!(
            failure("States.JsonMerge($.a, $.b, $.a)", json!({"a": {}, "b": {}}))
                .contains("must be the boolean false")
        );
        assert!(parse_err("States.JsonMerge($.a, $.b, true)").contains("only shallow merging"));
        assert!(parse_err("States.JsonMerge($.a, $.b, 'false')").contains("boolean false"));
    }

    #[test]
    fn math_edge_cases() {
        // Same seed, same number.
        let a = ok("States.MathRandom(1, 1000000, 42)", json!({}));
        let b = ok("States.MathRandom(1, 1000000, 42)", json!({}));
        assert_eq!(a, b);
        assert_eq!(ok("States.MathRandom(7, 8)", json!({})), json!(7));
        assert!(failure("States.MathRandom(5, 5)", json!({})).contains("less than the end"));
        assert!(failure("States.MathRandom('a', 5)", json!({})).contains("must be an integer"));
        // Non-integers are rounded half up, as Java's Math.round does.
        assert_eq!(ok("States.MathAdd(1.5, 1)", json!({})), json!(3));
        assert_eq!(ok("States.MathAdd(-2.5, 0)", json!({})), json!(-2));
        assert_eq!(ok("States.MathAdd(1.4, 0)", json!({})), json!(1));
        assert_eq!(
            ok("States.MathAdd(2147483647, 2147483647)", json!({})),
            json!(4294967294_i64)
        );
        assert!(failure("States.MathAdd(2147483648, 0)", json!({})).contains("outside the range"));
        assert!(failure("States.MathAdd(0, -2147483649)", json!({})).contains("outside the range"));
        assert!(failure("States.MathAdd('1', 2)", json!({})).contains("must be an integer"));
        assert!(failure("States.MathAdd(null, 2)", json!({})).contains("got null"));
    }

    #[test]
    fn string_split_edge_cases() {
        assert_eq!(ok("States.StringSplit(',,,,', ',')", json!({})), json!([]));
        assert_eq!(
            ok("States.StringSplit(', , ,', ',')", json!({})),
            json!([" ", " "])
        );
        assert_eq!(
            ok("States.StringSplit('abc', '')", json!({})),
            json!(["abc"])
        );
        assert_eq!(ok("States.StringSplit('', ',')", json!({})), json!([]));
        assert_eq!(
            ok("States.StringSplit('a--b', '--')", json!({})),
            json!(["a", "b"])
        );
        assert!(failure("States.StringSplit(1, ',')", json!({})).contains("must be a string"));
    }

    // --- Parser errors ------------------------------------------------------------------------

    #[test]
    fn parse_errors_name_the_problem() {
        assert_eq!(
            parse_err("States.Formatt('x')"),
            "unknown intrinsic function `States.Formatt` at column 1 (did you mean `States.Format`?)"
        );
        assert!(parse_err("States.arraylength($.a)").contains("did you mean `States.ArrayLength`?"));
        assert!(parse_err("States.Uuid()").contains("did you mean `States.UUID`?"));
        assert!(parse_err("States.Frobnicate(1)").starts_with("unknown intrinsic function"));
        assert!(parse_err("States.Array(Foo(1))")
            .contains("unknown intrinsic function `Foo` at column 14"));
        assert_eq!(
            parse_err("States.ArrayLength($.a, $.b)"),
            "`States.ArrayLength` takes exactly 1 argument, got 2"
        );
        assert_eq!(
            parse_err("States.MathRandom(1)"),
            "`States.MathRandom` takes 2 to 3 arguments, got 1"
        );
        assert_eq!(
            parse_err("States.UUID(1)"),
            "`States.UUID` takes no arguments, got 1"
        );
        assert_eq!(
            parse_err("States.Format()"),
            "`States.Format` takes at least 1 argument, got 0"
        );
        assert_eq!(
            parse_err("States.JsonMerge($.a, $.b)"),
            "`States.JsonMerge` takes exactly 3 arguments, got 2"
        );
        assert_eq!(
            parse_err("States.Format('abc)"),
            "unterminated string starting at column 15: missing the closing `'`"
        );
        assert_eq!(
            parse_err("States.Array(1, 2"),
            "missing `)` to close `States.Array(` opened at column 13"
        );
        assert_eq!(
            parse_err("States.Array(1) x"),
            "unexpected text after the closing `)` at column 17: `x`"
        );
        assert_eq!(
            parse_err("States.Array"),
            "expected `(` after `States.Array` at column 13"
        );
        assert!(parse_err("States.Array(1,)")
            .contains("missing argument 2 of `States.Array` at column 16"));
        assert!(parse_err("States.Array(1 2)").contains("expected `,` or `)` after argument 1"));
        assert!(parse_err("States.Array(\"x\")").contains("single quotes"));
        assert!(parse_err(r"States.Format('a\nb')").contains("invalid escape `\\n` at column 17"));
        assert!(
            parse_err("States.Array($.a[)").starts_with("bad path argument `$.a[)` at column 14")
        );
        assert!(parse_err("States.Array($.a[')").contains("is never closed"));
        assert!(parse_err("States.Array($.a..)").starts_with("bad path argument `$.a..`"));
        assert!(parse_err("States.Array(1.)").contains("malformed number `1.`"));
        assert_eq!(
            parse_err("States.Array(-)"),
            "malformed number `-` at column 14"
        );
        assert!(parse_err("States.Array(@)").contains("starts with `@`"));
        assert!(parse_err("").contains("expected an intrinsic function"));
    }

    #[test]
    fn at_most_ten_calls_per_field() {
        let nest = |n: usize| {
            let mut s = "1".to_string();
            for _ in 0..n {
                s = format!("States.Array({s})");
            }
            s
        };
        assert!(Intrinsic::parse(&nest(10)).is_ok());
        assert!(parse_err(&nest(11)).starts_with("too many intrinsic functions: at most 10"));
        // A pathological depth is refused without exhausting the stack.
        assert!(parse_err(&nest(5_000)).starts_with("too many intrinsic functions"));
    }

    #[test]
    fn is_intrinsic_and_display() {
        assert!(is_intrinsic("States.Array()"));
        assert!(is_intrinsic("  States.Array()"));
        assert!(!is_intrinsic("$.States"));
        let i = Intrinsic::parse("States.Array( 1 )").unwrap();
        assert_eq!(i.to_string(), "States.Array( 1 )");
        assert_eq!(i.as_str(), "States.Array( 1 )");
        assert_eq!(i.function(), "States.Array");
    }
}
