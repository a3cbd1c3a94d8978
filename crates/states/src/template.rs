//! Payload templates (`Parameters`, `ItemSelector`, `ResultSelector`, `ItemReader.Parameters`,
//! `ResultWriter.Parameters`, `ItemBatcher.BatchInput`): JSON whose keys ending in `.$` take
//! their value from a path or an intrinsic function call.
//!
//! A template is compiled once into a tree whose fully literal parts are kept as ready JSON,
//! so rendering walks only the dynamic fields and never reparses a path or a call.

use crate::error::json_kind as kind;
use serde_json::{Map, Value};

use crate::error::StatesError;
use crate::intrinsic::{is_intrinsic, Intrinsic};
use crate::path::Path;
use crate::variables::Bindings;

/// A problem found while compiling a template; `at` is the JSON path of the offending field
/// relative to the template (for example `.Payload.$` or `.items[2].x.$`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct TemplateError {
    pub at: String,
    pub message: String,
}

/// How much of the input the cause of a path that matches nothing quotes.
pub const CAUSE_INPUT_LIMIT: usize = 1024;

#[derive(Debug, Clone)]
enum Node {
    /// A subtree with no `.$` fields, emitted as is.
    Literal(Value),
    /// Members in template order; dynamic members have lost their `.$` suffix.
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// `field` is the key as written (`y.$`), or empty for a bare expression.
    Path {
        field: String,
        path: Path,
    },
    Call {
        field: String,
        call: Intrinsic,
    },
}

#[derive(Debug, Clone)]
pub struct Template {
    source: Value,
    root: Node,
}

impl Template {
    /// Compiles a template, reporting every bad `.$` value (not a path, not a known
    /// intrinsic, wrong argument count, a `.$` key whose value is not a string).
    pub fn compile(value: &Value) -> Result<Template, Vec<TemplateError>> {
        let mut errors = Vec::new();
        let root = compile_node(value, "", &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Template {
            source: value.clone(),
            root: root.unwrap_or_else(|| Node::Literal(value.clone())),
        })
    }

    /// Compiles one dynamic expression: a path or an intrinsic call (the value of a `.$` key,
    /// or of `ErrorPath`/`CausePath`). Errors have an empty `at`: the expression itself.
    /// A single path or intrinsic call (`ErrorPath`, `CausePath`, …); `field` names it in
    /// the causes of its failures.
    pub fn expression(text: &str, field: &str) -> Result<Template, Vec<TemplateError>> {
        match dynamic(text, field) {
            Ok(root) => Ok(Template {
                source: Value::String(text.to_string()),
                root,
            }),
            Err(message) => Err(vec![TemplateError {
                at: String::new(),
                message,
            }]),
        }
    }

    /// Renders against the effective input and the context object. A path that matches
    /// nothing fails with `States.Runtime` (not the `States.ParameterPathFailure` the guide
    /// names: AWS's recording of test_invalid_jsonpath shows `States.Runtime`, which no
    /// Catch handles); a failing intrinsic with `States.IntrinsicFailure`; the causes name the
    /// field and the path in AWS's words.
    pub fn render(&self, input: &Value, context: &Bindings) -> Result<Value, StatesError> {
        render_node(&self.root, input, context)
    }

    pub fn source(&self) -> &Value {
        &self.source
    }

    /// Whether the template has no `.$` fields (rendering returns [`Template::source`]).
    pub fn is_literal(&self) -> bool {
        matches!(self.root, Node::Literal(_))
    }
}

/// `parent` plus one member step: `.key` for plain names (a trailing `.$` kept as written),
/// `['key']` otherwise.
fn member_at(parent: &str, key: &str) -> String {
    let base = key.strip_suffix(".$").unwrap_or(key);
    let plain = !base.is_empty()
        && base
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{parent}.{key}")
    } else {
        let escaped = key.replace('\\', "\\\\").replace('\'', "\\'");
        format!("{parent}['{escaped}']")
    }
}

/// Compiles the value of a `.$` field (or a bare expression).
fn dynamic(text: &str, field: &str) -> Result<Node, String> {
    if is_intrinsic(text) {
        Intrinsic::parse(text)
            .map(|call| Node::Call {
                field: field.to_string(),
                call,
            })
            .map_err(|e| format!("invalid intrinsic function call `{text}`: {e}"))
    } else if text.starts_with('$') {
        Path::parse(text)
            .map(|path| Node::Path {
                field: field.to_string(),
                path,
            })
            .map_err(|e| format!("invalid path `{text}`: {}", e.message))
    } else {
        Err(format!(
            "`{text}` is neither a path (starting with `$`) nor an intrinsic function call \
             (`States.Name(…)`)"
        ))
    }
}

/// `None` when the subtree is fully literal (the caller keeps the source value).
fn compile_node(value: &Value, at: &str, errors: &mut Vec<TemplateError>) -> Option<Node> {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(String, Option<Node>)> = Vec::with_capacity(map.len());
            let mut any_dynamic = false;
            for (key, v) in map {
                let here = member_at(at, key);
                if let Some(base) = key.strip_suffix(".$") {
                    any_dynamic = true;
                    if map.contains_key(base) {
                        errors.push(TemplateError {
                            at: here.clone(),
                            message: format!(
                                "the field `{base}` is given both literally and as `{key}`"
                            ),
                        });
                    }
                    match v {
                        Value::String(text) => match dynamic(text, key) {
                            Ok(node) => members.push((base.to_string(), Some(node))),
                            Err(message) => errors.push(TemplateError { at: here, message }),
                        },
                        other => errors.push(TemplateError {
                            at: here,
                            message: format!(
                                "a field ending in `.$` needs a string (a path or an intrinsic \
                                 function call), got {}",
                                kind(other)
                            ),
                        }),
                    }
                } else {
                    let node = compile_node(v, &here, errors);
                    any_dynamic |= node.is_some();
                    members.push((key.clone(), node));
                }
            }
            if !any_dynamic {
                return None;
            }
            Some(Node::Object(
                members
                    .into_iter()
                    .map(|(k, n)| {
                        let n = n.unwrap_or_else(|| Node::Literal(map[&k].clone()));
                        (k, n)
                    })
                    .collect(),
            ))
        }
        Value::Array(items) => {
            let nodes: Vec<Option<Node>> = items
                .iter()
                .enumerate()
                .map(|(i, v)| compile_node(v, &format!("{at}[{i}]"), errors))
                .collect();
            if nodes.iter().all(Option::is_none) {
                return None;
            }
            Some(Node::Array(
                nodes
                    .into_iter()
                    .zip(items)
                    .map(|(n, v)| n.unwrap_or_else(|| Node::Literal(v.clone())))
                    .collect(),
            ))
        }
        _ => None,
    }
}

/// JSON text of `v`, cut to about [`CAUSE_INPUT_LIMIT`] bytes.
fn quoted(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > CAUSE_INPUT_LIMIT {
        let mut cut = CAUSE_INPUT_LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

fn path_failure(field: &str, path: &Path, input: &Value, context: &Bindings) -> StatesError {
    if let Some(name) = path.variable() {
        return StatesError::runtime(format!(
            "The JSONPath '{}'{} could not be found in the variable '${name}'",
            path.as_str(),
            if field.is_empty() {
                String::new()
            } else {
                format!(" specified for the field '{field}'")
            }
        ));
    }
    let (source, what) = if path.is_context() {
        (&context.context, "context object")
    } else {
        (input, "input")
    };
    let for_field = if field.is_empty() {
        String::new()
    } else {
        format!(" specified for the field '{field}'")
    };
    StatesError::runtime(format!(
        "The JSONPath '{}'{for_field} could not be found in the {what} '{}'",
        path.as_str(),
        quoted(source)
    ))
}

fn render_node(node: &Node, input: &Value, context: &Bindings) -> Result<Value, StatesError> {
    match node {
        Node::Literal(v) => Ok(v.clone()),
        Node::Object(members) => {
            let mut out = Map::with_capacity(members.len());
            for (key, n) in members {
                out.insert(key.clone(), render_node(n, input, context)?);
            }
            Ok(Value::Object(out))
        }
        Node::Array(items) => items
            .iter()
            .map(|n| render_node(n, input, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Path { field, path } => path
            .select(input, context)
            .map_err(|_| path_failure(field, path, input, context)),
        Node::Call { field, call } => call.eval(input, context).map_err(|mut e| {
            if !field.is_empty() {
                e.cause = format!("{} (in the field '{field}')", e.cause);
            }
            e
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Bindings {
        Bindings::from(
            json!({"Execution": {"Id": "exec-1", "Input": {"k": 1}}, "State": {"Name": "S"}}),
        )
    }

    fn render(template: Value, input: Value) -> Result<Value, StatesError> {
        Template::compile(&template)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .render(&input, &ctx())
    }

    fn errors(template: Value) -> Vec<TemplateError> {
        Template::compile(&template).expect_err("should not compile")
    }

    #[test]
    fn paths_and_literals() {
        // developer guide, "Parameters" example shape: static values next to `.$` paths.
        let t = json!({
            "comment": "Example for Parameters.",
            "product": {
                "details": {"color.$": "$.product.details.color", "size.$": "$.product.details.size"},
                "availability.$": "$.product.availability"
            },
            "StaticValue": "foo",
            "executionId.$": "$$.Execution.Id",
            "whole.$": "$"
        });
        let input = json!({"product": {"details": {"color": "blue", "size": "small"}, "availability": "in stock"}});
        let out = render(t, input.clone()).unwrap();
        assert_eq!(
            out,
            json!({
                "comment": "Example for Parameters.",
                "product": {"details": {"color": "blue", "size": "small"}, "availability": "in stock"},
                "StaticValue": "foo",
                "executionId": "exec-1",
                "whole": input
            })
        );
        // Member order is the template's.
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["comment", "product", "StaticValue", "executionId", "whole"]
        );
    }

    #[test]
    fn arrays_and_nesting() {
        let t = json!({
            "items": [1, {"x.$": "$.a", "y": [true, {"z.$": "States.Array($.a)"}]}, "lit"],
            "deep": [[{"w.$": "$.b[1]"}]]
        });
        let out = render(t, json!({"a": "A", "b": [0, 9]})).unwrap();
        assert_eq!(
            out,
            json!({
                "items": [1, {"x": "A", "y": [true, {"z": ["A"]}]}, "lit"],
                "deep": [[{"w": 9}]]
            })
        );
    }

    #[test]
    fn literal_templates_and_scalars() {
        let t = json!({"a": {"b": [1, 2, {"c": "$.not-a-path"}]}});
        let compiled = Template::compile(&t).unwrap();
        assert!(compiled.is_literal());
        assert_eq!(compiled.render(&json!({}), &ctx()).unwrap(), t);
        assert_eq!(compiled.source(), &t);
        for v in [json!("x"), json!(3), json!(null), json!([])] {
            assert_eq!(render(v.clone(), json!({})).unwrap(), v);
        }
        assert!(!Template::compile(&json!({"a.$": "$"}))
            .unwrap()
            .is_literal());
    }

    #[test]
    fn intrinsics_in_templates() {
        let t = json!({
            "greeting.$": "States.Format('Hello, {}', $.name)",
            "n.$": "States.ArrayLength($.list)",
            "dollarKey": "States.Format('not evaluated')"
        });
        let out = render(t, json!({"name": "Ann", "list": [1, 2]})).unwrap();
        assert_eq!(
            out,
            json!({"greeting": "Hello, Ann", "n": 2, "dollarKey": "States.Format('not evaluated')"})
        );
    }

    #[test]
    fn indefinite_paths_yield_arrays() {
        let t = json!({"ids.$": "$.items[*].id", "none.$": "$.items[?(@.id > 5)].id"});
        let out = render(t, json!({"items": [{"id": 1}, {"id": 2}]})).unwrap();
        assert_eq!(out, json!({"ids": [1, 2], "none": []}));
    }

    #[test]
    fn missing_path_is_a_runtime_error() {
        let e = render(json!({"y.$": "$.x"}), json!({"a": 1})).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "The JSONPath '$.x' specified for the field 'y.$' could not be found in the input '{\"a\":1}'"
        );
        let e = render(json!({"y.$": "$$.Nope"}), json!({})).unwrap_err();
        assert!(
            e.cause.contains("could not be found in the context object"),
            "{}",
            e.cause
        );
        // Long inputs are cut short in the cause.
        let big = json!({"s": "x".repeat(5000)});
        let e = render(json!({"y.$": "$.x"}), big).unwrap_err();
        assert!(e.cause.len() < CAUSE_INPUT_LIMIT + 200, "{}", e.cause.len());
        assert!(e.cause.ends_with("...'"));
        // Multi-byte text is cut on a character boundary.
        let wide = json!({"s": "é".repeat(3000)});
        assert!(render(json!({"y.$": "$.x"}), wide).is_err());
    }

    #[test]
    fn intrinsic_failure_names_the_field() {
        let e = render(
            json!({"len.$": "States.ArrayLength($.s)"}),
            json!({"s": "abc"}),
        )
        .unwrap_err();
        assert_eq!(e.error, "States.IntrinsicFailure");
        assert_eq!(
            e.cause,
            "States.ArrayLength: the argument must be an array, got the string \"abc\" (in the field 'len.$')"
        );
        let e = render(json!({"len.$": "States.ArrayLength($.nope)"}), json!({})).unwrap_err();
        assert_eq!(e.error, "States.IntrinsicFailure");
        assert!(e.cause.contains("'$.nope' matched nothing"), "{}", e.cause);
    }

    #[test]
    fn all_errors_are_reported_with_locations() {
        let errs = errors(json!({
            "Payload.$": "not a path",
            "ok.$": "$.fine",
            "items": [0, 1, {"x.$": 5}],
            "nested": {"call.$": "States.Nope(1)", "arity.$": "States.ArrayLength()"},
            "odd key.$": "$.a[",
            "both": 1,
            "both.$": "$.b"
        }));
        let at: Vec<&str> = errs.iter().map(|e| e.at.as_str()).collect();
        assert_eq!(
            at,
            [
                ".Payload.$",
                ".items[2].x.$",
                ".nested.call.$",
                ".nested.arity.$",
                "['odd key.$']",
                ".both.$"
            ]
        );
        assert!(
            errs[0].message.contains("neither a path"),
            "{}",
            errs[0].message
        );
        assert!(
            errs[1].message.contains("got a number"),
            "{}",
            errs[1].message
        );
        assert!(errs[2]
            .message
            .contains("unknown intrinsic function `States.Nope`"));
        assert!(errs[3].message.contains("takes exactly 1 argument, got 0"));
        assert!(errs[4].message.starts_with("invalid path `$.a[`"));
        assert!(errs[5].message.contains("both literally and as `both.$`"));
        assert_eq!(
            errs[1].to_string(),
            ".items[2].x.$: a field ending in `.$` needs a string (a path or an intrinsic function call), got a number"
        );
        // A top-level array template uses an index path.
        let errs = errors(json!([{"a.$": "x"}]));
        assert_eq!(errs[0].at, "[0].a.$");
    }

    #[test]
    fn expressions() {
        let input = json!({"err": "Boom", "n": [1, 2]});
        let e = Template::expression("$.err", "").unwrap();
        assert_eq!(e.render(&input, &ctx()).unwrap(), json!("Boom"));
        assert_eq!(e.source(), &json!("$.err"));
        let c =
            Template::expression("States.Format('{} items', States.ArrayLength($.n))", "").unwrap();
        assert_eq!(c.render(&input, &ctx()).unwrap(), json!("2 items"));
        let f = Template::expression("$.missing", "").unwrap();
        let err = f.render(&input, &ctx()).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err
            .cause
            .starts_with("The JSONPath '$.missing' could not be found in the input"));
        let bad = Template::expression("nope", "").unwrap_err();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].at, "");
        assert!(Template::expression("States.Array(", "").is_err());
    }
}
