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
//!
//! # Layout
//!
//! - this file: the functions, the parsed call and [`Intrinsic`];
//! - `parse`: the call syntax and the static checks of each call's arguments;
//! - `eval`: evaluation, each function's rules, `States.Format`'s rendering of values.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::StatesError;
use crate::path::Path;
use crate::variables::Bindings;

mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub use eval::hash_hex;
use eval::*;
use parse::*;

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
        let call = parse_call(text)?;
        Ok(Intrinsic {
            text: text.to_string(),
            call,
        })
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
