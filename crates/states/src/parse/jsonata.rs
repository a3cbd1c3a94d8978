//! The static checks of JSONata states: which fields each state type takes in that query
//! language, and the checks of `{% … %}` expressions, so a definition that mixes the two
//! languages in one state, or whose expression does not parse, is refused at load naming
//! the state and the field (developer guide, "Transforming data with JSONata in Step
//! Functions": JSONata states use `Arguments` and `Output`, not the five JSONPath fields).

use serde_json::Value;

use super::{join_path, kind, member_path, Checker, Obj};
use crate::choice::ChoiceRule;
use crate::jsonata::{is_expression, Expression, Template};
use crate::model::{Assign, JsonataIo, Text, Wait};

/// Fields allowed per state type in a JSONata state.
pub(super) fn allowed_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "Output",
            "Next",
            "End",
        ],
        "Task" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "Output",
            "Arguments",
            "Next",
            "End",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "HeartbeatSeconds",
        ],
        "Choice" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "Output",
            "Choices",
            "Default",
        ],
        "Wait" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "Output",
            "Next",
            "End",
            "Seconds",
            "Timestamp",
        ],
        "Succeed" => &["Type", "Comment", "QueryLanguage", "Output"],
        "Fail" => &["Type", "Comment", "QueryLanguage", "Error", "Cause"],
        "Parallel" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "Output",
            "Arguments",
            "Next",
            "End",
            "Retry",
            "Catch",
            "Branches",
        ],
        "Map" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "Output",
            "Next",
            "End",
            "Retry",
            "Catch",
            "ItemProcessor",
            "Items",
            "ItemSelector",
            "MaxConcurrency",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "Label",
        ],
        _ => &["Type", "Comment"],
    }
}

/// Why a field a JSONata state does not take is refused.
pub(super) fn refused(key: &str) -> Option<String> {
    const JSONPATH: &[&str] = &[
        "InputPath",
        "OutputPath",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Result",
        "ItemsPath",
        "Iterator",
        "SecondsPath",
        "TimestampPath",
        "ErrorPath",
        "CausePath",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
        "MaxConcurrencyPath",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentagePath",
    ];
    if JSONPATH.contains(&key) {
        return Some(format!(
            "`{key}` is a JSONPath field and cannot be used in a JSONata state: use \
             `Arguments`, `Output`, `Items` or a `{{% … %}}` expression"
        ));
    }
    match key {
        "ItemReader" | "ItemBatcher" | "ResultWriter" => Some(format!(
            "`{key}` in a JSONata state is not supported by this engine"
        )),
        "Credentials" => {
            Some("`Credentials` (cross-account tasks) is not supported by this engine".into())
        }
        _ => None,
    }
}

impl Checker {
    /// A value with `{% … %}` expressions anywhere in it.
    pub(super) fn jsonata_template(
        &mut self,
        v: &Value,
        at: &str,
        field: &str,
    ) -> Option<Template> {
        match Template::compile(v, field) {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    self.report(join_path(at, &e.at), e.message);
                }
                None
            }
        }
    }

    /// One `{% … %}` expression.
    pub(super) fn jsonata_expression(
        &mut self,
        v: &Value,
        at: &str,
        key: &str,
    ) -> Option<Expression> {
        let Value::String(s) = v else {
            self.report(
                at,
                format!(
                    "`{key}` must be a `{{% … %}}` JSONata expression, not {}",
                    kind(v)
                ),
            );
            return None;
        };
        match Expression::parse(s) {
            Ok(e) => Some(e.for_field(key)),
            Err(message) => {
                self.report(at, message);
                None
            }
        }
    }

    /// `Arguments` and `Output` of a JSONata state.
    pub(super) fn jsonata_io(&mut self, o: Obj) -> JsonataIo {
        JsonataIo {
            arguments: o
                .get("Arguments")
                .and_then(|v| self.jsonata_template(v, &o.at("Arguments"), "Arguments")),
            output: o
                .get("Output")
                .and_then(|v| self.jsonata_template(v, &o.at("Output"), "Output")),
        }
    }

    /// `Assign` of a JSONata state, rule or catcher: an object of variable names.
    pub(super) fn jsonata_assign(&mut self, v: &Value, at: &str) -> Option<Assign> {
        let Value::Object(m) = v else {
            self.report(
                at,
                format!(
                    "`Assign` must be a JSON object of variables, not {}",
                    kind(v)
                ),
            );
            return None;
        };
        for key in m.keys() {
            if let Some(message) = crate::variables::bad_name(key) {
                self.report(member_path(at, key), message);
            }
        }
        self.jsonata_template(v, at, "Assign").map(Assign::Jsonata)
    }

    /// A JSONata choice rule: `Condition`, with `Next`, `Assign` and `Comment`.
    pub(super) fn jsonata_rule(&mut self, o: Obj) -> ChoiceRule {
        self.fields(
            o,
            &["Condition", "Next", "Assign", "Comment"],
            "a JSONata choice rule",
        );
        let condition = self
            .required(o, "Condition")
            .and_then(|v| self.jsonata_expression(v, &o.at("Condition"), "Condition"));
        match condition {
            Some(e) => ChoiceRule::Condition(e),
            None => ChoiceRule::And(Vec::new()),
        }
    }

    /// `Seconds` or `Timestamp` of a JSONata Wait state, given as an expression.
    pub(super) fn jsonata_wait(&mut self, v: &Value, at: &str, key: &str) -> Option<Wait> {
        let e = self.jsonata_expression(v, at, key)?;
        Some(if key == "Seconds" {
            Wait::SecondsExpression(e)
        } else {
            Wait::TimestampExpression(e)
        })
    }

    /// `Error`/`Cause` of a JSONata Fail state: a literal string or an expression.
    pub(super) fn jsonata_text(&mut self, o: Obj, key: &str) -> Option<Text> {
        match o.get(key)? {
            Value::String(s) if is_expression(s) => self
                .jsonata_expression(&Value::String(s.clone()), &o.at(key), key)
                .map(Text::Jsonata),
            Value::String(s) => Some(Text::Literal(s.clone())),
            other => {
                self.report(
                    o.at(key),
                    format!("`{key}` must be a string, not {}", kind(other)),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::parse::parse_definition;

    fn problems(def: Value) -> Vec<(String, String)> {
        match parse_definition(&def.to_string()) {
            Ok(_) => Vec::new(),
            Err(p) => p.0.into_iter().map(|p| (p.path, p.message)).collect(),
        }
    }

    fn jsonata_state(state: Value) -> Value {
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": state}})
    }

    fn has(found: &[(String, String)], path: &str, text: &str) -> bool {
        found.iter().any(|(p, m)| p == path && m.contains(text))
    }

    // See: #22
    #[test]
    fn an_expression_that_does_not_parse_names_the_state_and_the_field() {
        let found = problems(jsonata_state(json!({
            "Type": "Task", "Resource": "r", "End": true,
            "Arguments": {"order": {"id": "{% $states.input.( %}"}}
        })));
        assert!(
            has(&found, "$.States.A.Arguments.order.id", "does not parse"),
            "{found:?}"
        );
        let found = problems(jsonata_state(json!({
            "Type": "Choice", "Default": "B",
            "Choices": [{"Condition": "{% $states.input.n > %}", "Next": "B"}]
        })));
        assert!(
            has(&found, "$.States.A.Choices[0].Condition", "does not parse"),
            "{found:?}"
        );
    }

    // See: #22
    #[test]
    fn jsonpath_fields_in_a_jsonata_state_are_refused() {
        for field in [
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
        ] {
            let mut state = json!({"Type": "Task", "Resource": "r", "End": true});
            state[field] = json!("$.x");
            let found = problems(jsonata_state(state));
            assert!(
                has(&found, &format!("$.States.A.{field}"), "JSONPath field"),
                "{field}: {found:?}"
            );
        }
        let found = problems(jsonata_state(json!({
            "Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "A"}]
        })));
        assert!(
            has(&found, "$.States.A.Catch[0].ResultPath", "does not belong"),
            "{found:?}"
        );
    }

    // See: #22
    #[test]
    fn jsonata_fields_in_a_jsonpath_state_are_refused() {
        let found = problems(json!({"StartAt": "A", "States": {"A": {
            "Type": "Pass", "Output": "{% 1 %}", "End": true
        }}}));
        assert!(
            has(&found, "$.States.A.Output", "QueryLanguage"),
            "{found:?}"
        );
        let found = problems(
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
                "Type": "Pass", "QueryLanguage": "JSONPath", "End": true
            }}}),
        );
        assert!(
            has(&found, "$.States.A.QueryLanguage", "cannot use JSONPath"),
            "{found:?}"
        );
    }

    #[test]
    fn a_per_state_jsonata_state_parses_in_a_jsonpath_definition() {
        let found = problems(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"n": "{% 1 + 1 %}"}, "Assign": {"x": "{% $states.input %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": true}
        }}));
        assert!(found.is_empty(), "{found:?}");
    }
}
