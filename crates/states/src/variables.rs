//! Workflow variables (`Assign` and `$name`) and the [`Bindings`] every expression reads.
//!
//! The developer guide's "Passing data between states with variables" defines the scoping
//! this module implements: the top-level states share one scope; each Parallel branch and
//! each Map iteration runs in a scope of its own that reads the scopes around it (except a
//! distributed Map's, which sees none) and whose assignments never leak out. A state's
//! `Assign` takes effect when the state exits, and every expression of that state, the
//! assignments themselves included, reads the values from before it: the assignments of
//! one state are evaluated against its input and result, never against each other.
//!
//! Scopes are immutable and shared (`Arc`): an assignment makes a new innermost scope, so a
//! Map iteration holds its parent's values without copying them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map as JsonMap, Value};

/// A variable name may be this long at most (the developer guide's limit).
pub const MAX_NAME_CHARS: usize = 80;

/// The total size of the values one state assigns, in bytes of JSON: 256 KiB.
pub const MAX_ASSIGN_BYTES: usize = 256 * 1024;

/// The variables visible to a state: its own scope's, then each enclosing scope's.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    innermost: Arc<Scope>,
}

#[derive(Debug, Default)]
struct Scope {
    values: BTreeMap<String, Value>,
    /// The scope of the Map or Parallel state this scope runs inside.
    outer: Option<Arc<Scope>>,
}

impl Variables {
    /// The value of `$name`: the innermost scope that has it wins.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let mut scope = Some(&self.innermost);
        while let Some(s) = scope {
            if let Some(v) = s.values.get(name) {
                return Some(v);
            }
            scope = s.outer.as_ref();
        }
        None
    }

    /// The scope a Parallel branch or a Map iteration starts in: empty, reading this one
    /// (or nothing, for a distributed Map's child workflow).
    pub fn nested(&self, sees_outer: bool) -> Variables {
        Variables {
            innermost: Arc::new(Scope {
                values: BTreeMap::new(),
                outer: sees_outer.then(|| self.innermost.clone()),
            }),
        }
    }

    /// These variables with `assigned` set in the innermost scope.
    pub fn with(&self, assigned: &JsonMap<String, Value>) -> Variables {
        if assigned.is_empty() {
            return self.clone();
        }
        let mut values = self.innermost.values.clone();
        for (name, value) in assigned {
            values.insert(name.clone(), value.clone());
        }
        Variables {
            innermost: Arc::new(Scope {
                values,
                outer: self.innermost.outer.clone(),
            }),
        }
    }

    /// Every visible variable, inner scopes shadowing outer ones (JSONata binds them all).
    pub fn visible(&self) -> BTreeMap<&str, &Value> {
        let mut chain = Vec::new();
        let mut scope = Some(&self.innermost);
        while let Some(s) = scope {
            chain.push(s);
            scope = s.outer.as_ref();
        }
        let mut out = BTreeMap::new();
        for s in chain.into_iter().rev() {
            for (k, v) in &s.values {
                out.insert(k.as_str(), v);
            }
        }
        out
    }
}

/// Why a variable name is refused, or `None` when it is a good one: a letter or `_` first,
/// then letters, digits and `_`, at most [`MAX_NAME_CHARS`], and not the reserved `states`.
pub fn bad_name(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Some("a variable name cannot be empty".into());
    };
    if !(first.is_alphabetic() || first == '_') {
        return Some(format!(
            "the variable name `{name}` must begin with a letter or `_`"
        ));
    }
    if let Some(c) = chars.find(|c| !(c.is_alphanumeric() || *c == '_')) {
        return Some(format!(
            "the variable name `{name}` contains `{c}`: only letters, digits and `_` are allowed"
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!(
            "the variable name `{name}` is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name == "states" {
        return Some("`states` is reserved by Step Functions and cannot be assigned".into());
    }
    None
}

/// What a path, template or expression evaluates against besides the state input: the
/// context object (`$$`, `$states.context`) and the workflow variables (`$name`).
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    pub context: Value,
    pub variables: Variables,
}

impl Bindings {
    pub fn new(context: Value, variables: Variables) -> Self {
        Bindings { context, variables }
    }
}

impl From<Value> for Bindings {
    /// A context object and no variables (tests, and callers outside an execution).
    fn from(context: Value) -> Self {
        Bindings {
            context,
            variables: Variables::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assigned(v: Value) -> JsonMap<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        }
    }

    #[test]
    fn inner_scopes_read_outer_values_and_keep_their_own() {
        let outer = Variables::default().with(&assigned(json!({"x": 1, "y": 2})));
        let inner = outer.nested(true).with(&assigned(json!({"y": 20, "z": 3})));
        assert_eq!(inner.get("x"), Some(&json!(1)));
        assert_eq!(inner.get("y"), Some(&json!(20)));
        assert_eq!(outer.get("y"), Some(&json!(2)));
        assert_eq!(outer.get("z"), None);
        assert_eq!(outer.nested(false).get("x"), None);
        let all = inner.visible();
        assert_eq!(all.get("y"), Some(&&json!(20)));
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn names_follow_the_guide() {
        assert!(bad_name("order_id").is_none());
        assert!(bad_name("_x9").is_none());
        assert!(bad_name("9x").is_some());
        assert!(bad_name("a-b").is_some());
        assert!(bad_name("states").is_some());
        assert!(bad_name(&"a".repeat(81)).is_some());
    }
}
