//! Where a redriven execution resumes, rebuilt from its history.
//!
//! Within each scope (the top level, a Parallel branch, a Map iteration) states run one after
//! another, so the scope's last `…StateEntered`/`…StateExited` event says where it stopped:
//! an entered state without an exit is the one that failed (or was running when the process
//! died) and resumes with the input it was entered with; an exit names the state that was
//! next. A Map or Parallel state that failed keeps its successful iterations and branches
//! (their outputs are in its `MapIterationSucceeded` events) and resumes each unsuccessful
//! one the same way, recursively — AWS redrive semantics. The workflow variables a scope
//! had assigned come back from the `assignedVariables` of its `…StateExited` events, so a
//! redriven state reads the values it would have read the first time.

use std::collections::HashMap;

use serde_json::{Map as JsonMap, Value};

use crate::history::{self, kinds, Event};

/// How a scope resumes.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// Enter `state` with `input`; for a Map or Parallel state, `children` says which
    /// iterations/branches are done and how the others resume.
    At {
        state: String,
        input: Value,
        children: Children,
        /// The variables this scope had assigned by then (not those of enclosing scopes,
        /// which the enclosing scope's own plan restores).
        variables: JsonMap<String, Value>,
    },
    /// The scope had finished with this output.
    Done(Value),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Children {
    pub done: HashMap<usize, Value>,
    pub partial: HashMap<usize, Resume>,
}

/// The scope id of iteration/branch `index` of the state entered at event `entered_id`.
pub fn child_scope(scope: &str, state: &str, entered_id: u64, index: usize) -> String {
    // The entered event id makes the scope unique even when a loop re-enters the state.
    format!(
        "{scope}/{}@{entered_id}#{index}",
        state.replace(['/', '@', '#'], "_")
    )
}

/// Builds the resume plan of `scope` from the whole history, or `None` if nothing in the
/// scope ever started.
pub fn plan(events: &[Event], scope: &str) -> Option<Resume> {
    let mut by_scope: HashMap<&str, Vec<&Event>> = HashMap::new();
    for e in events {
        by_scope.entry(e.scope.as_str()).or_default().push(e);
    }
    plan_scope(&by_scope, scope)
}

fn plan_scope(by_scope: &HashMap<&str, Vec<&Event>>, scope: &str) -> Option<Resume> {
    let evs = by_scope.get(scope)?;
    let last = evs
        .iter()
        .rposition(|e| history::is_state_entered(&e.kind) || history::is_state_exited(&e.kind))?;
    let e = evs[last];
    let variables = assigned_before(&evs[..=last]);
    let details_text = |field: &str| -> Value {
        e.details
            .get(field)
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null)
    };
    if history::is_state_exited(&e.kind) {
        let output = details_text("output");
        let next = e
            .internal
            .as_ref()
            .and_then(|i| i.get("next"))
            .and_then(Value::as_str);
        return Some(match next {
            Some(next) => Resume::At {
                state: next.to_string(),
                input: output,
                children: Children::default(),
                variables,
            },
            None => Resume::Done(output),
        });
    }
    let state = e.details.get("name").and_then(Value::as_str)?.to_string();
    let input = details_text("input");
    let mut children = Children::default();
    if e.kind == "MapStateEntered" || e.kind == "ParallelStateEntered" {
        // Iterations and branches reused from an earlier attempt have no events of their
        // own in this entry's scopes: their outputs ride on the Map/Parallel Started event.
        for later in &evs[last + 1..] {
            if later.kind != kinds::MAP_STATE_STARTED && later.kind != kinds::PARALLEL_STATE_STARTED
            {
                continue;
            }
            let reused = later.internal.as_ref().and_then(|i| i.get("reused"));
            if let Some(Value::Object(reused)) = reused {
                for (index, output) in reused {
                    if let Ok(index) = index.parse::<usize>() {
                        children.done.insert(index, output.clone());
                    }
                }
            }
        }
        let prefix = child_scope(scope, &state, e.id, 0);
        let prefix = &prefix[..prefix.len() - 1];
        for child in by_scope.keys() {
            let Some(index) = child
                .strip_prefix(prefix)
                .and_then(|rest| rest.parse::<usize>().ok())
            else {
                continue;
            };
            if children.done.contains_key(&index) {
                continue;
            }
            match plan_scope(by_scope, child) {
                Some(Resume::Done(output)) => {
                    children.done.insert(index, output);
                }
                Some(r) => {
                    children.partial.insert(index, r);
                }
                None => {}
            }
        }
    }
    Some(Resume::At {
        state,
        input,
        children,
        variables,
    })
}

/// The variables assigned by the exits among `events`, later assignments winning.
fn assigned_before(events: &[&Event]) -> JsonMap<String, Value> {
    let mut variables = JsonMap::new();
    for e in events.iter().filter(|e| history::is_state_exited(&e.kind)) {
        let Some(Value::Object(assigned)) = e.details.get("assignedVariables") else {
            continue;
        };
        for (name, text) in assigned {
            let value = text
                .as_str()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(Value::Null);
            variables.insert(name.clone(), value);
        }
    }
    variables
}
