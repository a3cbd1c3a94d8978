//! Evaluating intrinsic calls against the input and the context object, each function as
//! the developer guide's "Intrinsic functions" chapter defines it.

use super::*;

pub(super) fn fail(func: Func, message: impl fmt::Display) -> StatesError {
    StatesError::intrinsic(format!("{}: {message}", func.name()))
}

/// A short description of a value for error messages.
pub(super) fn describe(v: &Value) -> String {
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

pub(super) fn eval_call(
    call: &Call,
    input: &Value,
    context: &Bindings,
) -> Result<Value, StatesError> {
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

pub(super) fn string_arg(func: Func, what: &str, v: Value) -> Result<String, StatesError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(fail(
            func,
            format!("{what} must be a string, got {}", describe(&other)),
        )),
    }
}

pub(super) fn array_arg(func: Func, what: &str, v: Value) -> Result<Vec<Value>, StatesError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(fail(
            func,
            format!("{what} must be an array, got {}", describe(&other)),
        )),
    }
}

pub(super) fn object_arg(
    func: Func,
    what: &str,
    v: Value,
) -> Result<Map<String, Value>, StatesError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(fail(
            func,
            format!("{what} must be an object, got {}", describe(&other)),
        )),
    }
}

/// An integer argument; a non-integer number is rounded half up (Java `Math.round`).
pub(super) fn rounded_int(func: Func, what: &str, v: &Value) -> Result<i64, StatesError> {
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
pub(super) fn exact_int(func: Func, what: &str, v: &Value) -> Result<i64, StatesError> {
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

pub(super) fn check_length(func: Func, what: &str, s: &str) -> Result<(), StatesError> {
    let n = s.chars().count();
    if n > MAX_ENCODE_CHARS {
        return Err(fail(
            func,
            format!("{what} has {n} characters; at most {MAX_ENCODE_CHARS} are allowed"),
        ));
    }
    Ok(())
}

pub(super) const BASE64_DECODER: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );

pub(super) fn apply(call: &Call, args: Vec<Value>) -> Result<Value, StatesError> {
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
            // As recorded (test_json_manipulation[test_string_to_json]): a blank string is
            // null, and "-0" is 0.
            if s.trim().is_empty() {
                Value::Null
            } else {
                let v: Value = serde_json::from_str(&s)
                    .map_err(|e| fail(func, format!("the argument is not valid JSON: {e}")))?;
                match v.as_f64() {
                    Some(z) if z == 0.0 && z.is_sign_negative() => Value::from(0),
                    _ => v,
                }
            }
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

/// A `States.Format` argument as AWS renders it (recorded, test_generic[test_format_1],
/// [test_format_2]): a string as it is, an object as `{Arg1=1, Arg2=[]}` and an array as
/// `[1, 2]` (the service's Java rendering of maps and lists), anything else as JSON.
fn rendered(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                rendered(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                rendered(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

pub(super) fn format(
    call: &Call,
    template: Value,
    values: Vec<Value>,
) -> Result<Value, StatesError> {
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
            Piece::Hole => {
                if let Some(v) = values.next() {
                    rendered(v, &mut out);
                }
            }
        }
    }
    Ok(Value::String(out))
}

/// Template pieces of a string that came from the input (no escapes: only `{}` is special).
pub(super) fn split_holes(s: &str) -> Vec<Piece> {
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

pub(super) fn hash(func: Func, data: &str, algorithm: &str) -> Result<String, StatesError> {
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
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
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

pub(super) fn number_eq(x: &Number, y: &Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a == b;
    }
    x.as_f64() == y.as_f64()
}

/// A text key such that `json_eq(a, b)` iff the keys of `a` and `b` are equal.
pub(super) fn canonical(v: &Value, out: &mut String) {
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
