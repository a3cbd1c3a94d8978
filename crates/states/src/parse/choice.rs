//! The checks of a Choice state: its `Choices`, each rule's single operator, `Variable`
//! and operand type, nested `And`/`Or`/`Not`, `Next` only at the top, and `Default`.

use super::*;

impl Checker {
    pub(super) fn choice(&mut self, o: Obj) -> Choice {
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
}
