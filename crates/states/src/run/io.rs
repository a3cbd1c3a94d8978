//! A state's input and output processing, as the developer guide's "Processing input and
//! output" orders it (InputPath, Parameters or Arguments, ResultSelector, Assign, ResultPath,
//! OutputPath, JSONata Output), and the small evaluations states share (counts, texts, sizes).

use super::*;

/// A state's input or output over the 256 KiB payload quota is `States.DataLimitExceeded`.
pub(super) fn check_size(bytes: usize, state: &str, what: &str) -> Result<(), StatesError> {
    if bytes <= MAX_PAYLOAD_BYTES {
        return Ok(());
    }
    Err(StatesError::new(
        names::DATA_LIMIT_EXCEEDED,
        format!(
            "The state/task '{state}' {what} has a size of {bytes} bytes, exceeding the maximum \
             number of bytes service limit ({MAX_PAYLOAD_BYTES})."
        ),
    ))
}

/// The outputs reused from an earlier attempt, recorded for the next redrive.
pub(super) fn reused(done: &HashMap<usize, Value>) -> Option<Value> {
    if done.is_empty() {
        return None;
    }
    let map: JsonMap<String, Value> = done
        .iter()
        .map(|(i, v)| (i.to_string(), v.clone()))
        .collect();
    Some(json!({ "reused": map }))
}

/// Whether a state reads the context object anywhere (it is built only then).
pub(super) fn needs_context(state: &State) -> bool {
    state.parameters.is_some()
        || state.jsonata.is_some()
        || state.assign.is_some()
        || state.result_selector.is_some()
        || state.input_path.as_ref().is_some_and(|p| p.is_context())
        || state.output_path.as_ref().is_some_and(|p| p.is_context())
        || matches!(
            state.body,
            Body::Choice(_) | Body::Wait(_) | Body::Fail(_) | Body::Map(_) | Body::Task(_)
        )
}

/// ResultSelector → Assign → ResultPath → OutputPath: the output and the assigned variables.
/// `Assign` reads the result as ResultSelector left it (the developer guide's "Processing
/// input and output" diagram for JSONPath states).
pub(super) fn process_result(
    state: &State,
    raw: &Value,
    result: Value,
    ctx: &Bindings,
) -> Result<(Value, Assigned), StatesError> {
    if let Some(io) = &state.jsonata {
        let states = States {
            input: raw,
            result: Some(&result),
            error_output: None,
        };
        let assigned = assign(&state.assign, &result, states, ctx)?;
        let output = match &io.output {
            Some(t) => t.render(states, ctx)?,
            None => result,
        };
        return Ok((output, assigned));
    }
    let result = match &state.result_selector {
        Some(t) => t.render(&result, ctx)?,
        None => result,
    };
    let assigned = assign(&state.assign, &result, States::input(raw), ctx)?;
    let combined = place_result(&state.result_path, raw, result)?;
    Ok((output_path(state, combined, ctx)?, assigned))
}

/// A `States.QueryEvaluationError` or `States.Runtime` cause with the state and its entry
/// event in front, as AWS words it: "An error occurred while executing the state 'S' (entered at the event id
/// #2). The JSONata expression …".
pub(super) fn located(mut e: StatesError, state: &str, entered: u64) -> StatesError {
    let engine_error = e.error == names::QUERY_EVALUATION_ERROR || e.error == names::RUNTIME;
    if engine_error && !e.cause.starts_with("An error occurred") {
        e.cause = format!(
            "An error occurred while executing the state '{state}' (entered at the event id \
             #{entered}). {}",
            e.cause
        );
    }
    e
}

/// The output of a state without a result (Pass in JSONata, Choice, Wait, Succeed): JSONata
/// `Output` (absent: the input), or JSONPath `OutputPath` over the effective input.
pub(super) fn plain_output(
    state: &State,
    effective: Value,
    raw: &Value,
    ctx: &Bindings,
) -> Result<Value, StatesError> {
    match &state.jsonata {
        Some(io) => match &io.output {
            Some(t) => t.render(States::input(raw), ctx),
            None => Ok(raw.clone()),
        },
        None => output_path(state, effective, ctx),
    }
}

/// What a Task or the branches of a Parallel get: JSONata `Arguments` or JSONPath
/// `Parameters`, else the effective input.
pub(super) fn arguments(
    state: &State,
    effective: &Value,
    ctx: &Bindings,
) -> Result<Value, StatesError> {
    match (&state.jsonata, &state.parameters) {
        (Some(io), _) => match &io.arguments {
            Some(t) => t.render(States::input(effective), ctx),
            None => Ok(effective.clone()),
        },
        (None, Some(t)) => t.render(effective, ctx),
        (None, None) => Ok(effective.clone()),
    }
}

/// Evaluates an `Assign` with the variables as they were when the state was entered: no
/// assignment of the same state is visible to another. A JSONPath `Assign` reads `dollar` as
/// `$`; a JSONata one reads `states` as `$states`.
pub(super) fn assign(
    template: &Option<Assign>,
    dollar: &Value,
    states: States,
    ctx: &Bindings,
) -> Result<Assigned, StatesError> {
    let rendered = match template {
        None => return Ok(Assigned::new()),
        Some(Assign::Paths(t)) => t.render(dollar, ctx)?,
        Some(Assign::Jsonata(t)) => t.render(states, ctx)?,
    };
    let size = rendered.to_string().len();
    if size > crate::variables::MAX_ASSIGN_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "the variables assigned are {size} bytes, over the {}-byte limit of one Assign",
                crate::variables::MAX_ASSIGN_BYTES
            ),
        ));
    }
    match rendered {
        Value::Object(m) => Ok(m),
        other => Err(StatesError::runtime(format!(
            "Assign must produce an object of variables, it produced {}",
            kind_of(&other)
        ))),
    }
}

/// `assignedVariables` of a `…StateExited` event: each value as its JSON text, as
/// `GetExecutionHistory` shows it.
pub(super) fn assigned_details(assigned: &Assigned) -> Value {
    Value::Object(
        assigned
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect(),
    )
}

pub(super) fn place_result(
    path: &ResultPath,
    raw: &Value,
    result: Value,
) -> Result<Value, StatesError> {
    match path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw.clone()),
        ResultPath::At(p) => p.set(raw.clone(), result).map_err(|e| {
            StatesError::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!(
                    "Unable to apply ResultPath \"{}\" to input {}: {}",
                    p.as_str(),
                    truncated(raw),
                    e.message
                ),
            )
        }),
    }
}

pub(super) fn output_path(
    state: &State,
    value: Value,
    ctx: &Bindings,
) -> Result<Value, StatesError> {
    match &state.output_path {
        None => Ok(json!({})),
        Some(p) if p.is_root() => Ok(value),
        Some(p) => p.select(&value, ctx).map_err(|e| {
            StatesError::runtime(format!("Invalid path '{}' : {}", p.as_str(), e.message))
        }),
    }
}

pub(super) fn text(t: &Option<Text>, input: &Value, ctx: &Bindings) -> Result<String, StatesError> {
    Ok(match t {
        None => String::new(),
        Some(Text::Literal(s)) => s.clone(),
        Some(Text::Dynamic(tpl)) => match tpl.render(input, ctx)? {
            Value::String(s) => s,
            other => other.to_string(),
        },
        Some(Text::Jsonata(e)) => match e.eval(States::input(input), ctx)? {
            Value::String(s) => s,
            other => other.to_string(),
        },
    })
}

pub(super) fn count(
    c: &Count,
    input: &Value,
    ctx: &Bindings,
    field: &str,
) -> Result<u64, StatesError> {
    match c {
        Count::Literal(n) => Ok(*n),
        Count::Expression(e) => {
            let v = e.eval(States::input(input), ctx)?;
            v.as_u64().ok_or_else(|| {
                StatesError::new(
                    names::QUERY_EVALUATION_ERROR,
                    format!(
                        "{} '{}' returned {v}, not a non-negative integer",
                        field.strip_suffix("Path").unwrap_or(field),
                        e.as_str()
                    ),
                )
            })
        }
        Count::Path(p) => {
            let v = p
                .select(input, ctx)
                .map_err(|e| StatesError::runtime(format!("{field}: {e}")))?;
            // AWS's causes, as recorded (test_base_scenarios[test_max_concurrency_path],
            // [test_map_state_tolerated_failure_count_path]).
            match (v.as_u64(), v.as_i64()) {
                (Some(n), _) => Ok(n),
                (None, Some(_)) => Err(StatesError::runtime(format!(
                    "{} cannot be negative.",
                    field.strip_suffix("Path").unwrap_or(field)
                ))),
                (None, None) => Err(StatesError::runtime(format!(
                    "The {field} field refers to value \"{}\" which is not a valid integer: {}",
                    raw_text(&v),
                    p.as_str()
                ))),
            }
        }
    }
}

/// A value as AWS's causes quote it: a string without its quotes, anything else as JSON.
pub(super) fn raw_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn truncated(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 1024 {
        return s;
    }
    let mut end = 1024;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
