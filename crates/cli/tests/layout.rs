//! The CLI's modules form no import cycle: each file's `crate::module` references (outside
//! its tests) are edges, and a depth-first walk finds no way back to where it started. The
//! local and `--aws` commands meet at the `port` module, never in each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") && name != "main" {
            let text = std::fs::read_to_string(&path).unwrap();
            // A module's own tests may reach anywhere.
            let code = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_string();
            modules.insert(name, code);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, code)| {
            let refs = code
                .match_indices("crate::")
                .map(|(i, _)| {
                    code[i + 7..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .filter(|r| names.contains(r) && r != name)
                .collect();
            (name.clone(), refs)
        })
        .collect()
}

fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    let last = path.last().unwrap().clone();
    for next in &graph[&last] {
        if *next == path[0] {
            let mut found = path.clone();
            found.push(next.clone());
            return Some(found);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn the_cli_modules_import_each_other_without_a_cycle() {
    let graph = edges();
    assert!(
        graph.contains_key("aws") && graph.contains_key("executions"),
        "{graph:?}"
    );
    assert!(graph["executions"].contains("port"), "{graph:?}");
    for start in graph.keys() {
        let mut path = vec![start.clone()];
        if let Some(cycle) = cycle_from(&graph, &mut path) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}
