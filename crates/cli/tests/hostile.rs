//! The hostile-input corpus through the real `sluice` binary.
//!
//! `tests/fixtures/hostile/generate.py` writes one small project per case (config, contract,
//! data, `expect.json`); this test runs each in a fresh workspace and checks every
//! expectation: each run's exit code, the files it names as refused, each file's outcome with
//! its reason and row counts, the rejected rows' lines and reasons in line order, the table's
//! rows and columns afterwards, that pyiceberg reads the same number of rows, and that text a
//! case must keep out of the workspace (a linked secret) is in none of its files. Every case
//! runs whatever the others did, and the failure lists every difference of every case.
//!
//! pyiceberg comes from `SLUICE_TEST_PYTHON` (`make test` sets it up); the generator needs
//! only the standard library.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("SLUICE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_PYTHON is not set: run `make test`, which installs pyiceberg in .venv")
    })
}

struct Case {
    name: String,
    dir: PathBuf,
    workspace: PathBuf,
    expect: Value,
}

impl Case {
    fn sluice(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.current_dir(&self.dir)
            .args(args)
            .arg("--config")
            .arg(self.dir.join("sluice.toml"))
            .arg("--workspace")
            .arg(&self.workspace)
            .env_remove("SLUICE_FAILPOINTS")
            .env_remove("RUST_LOG");
        cmd
    }
}

/// What one case got wrong, one line per difference.
struct Diffs(Vec<String>);

impl Diffs {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Runs the case's `sluice` invocations and compares what each printed with its expectation.
fn check_runs(case: &Case, diffs: &mut Diffs) {
    for (i, run) in case.expect["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .enumerate()
    {
        let args = strs(&run["args"]);
        let out = case.sluice(&args).output().expect("run sluice");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let at = format!("run {} ({})", i + 1, args.join(" "));
        diffs.check(
            out.status.code() == run["exit"].as_i64().map(|c| c as i32),
            || {
                format!(
                    "{at}: exit {:?}, expected {}\n    stderr: {}",
                    out.status.code(),
                    run["exit"],
                    stderr.trim()
                )
            },
        );
        for needle in strs(&run["refused"]) {
            diffs.check(stderr.contains(needle) || stdout.contains(needle), || {
                format!(
                    "{at}: {needle:?} is not named as refused\n    stderr: {}",
                    stderr.trim()
                )
            });
        }
        let results: Vec<Value> = stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let expected = run["files"].as_object().expect("files");
        let mut got_keys: Vec<&str> = results.iter().filter_map(|r| r["key"].as_str()).collect();
        got_keys.sort_unstable();
        let mut want_keys: Vec<&str> = expected.keys().map(String::as_str).collect();
        want_keys.sort_unstable();
        diffs.check(got_keys == want_keys, || {
            format!("{at}: files {got_keys:?}, expected {want_keys:?}")
        });
        for (key, want) in expected {
            let Some(got) = results.iter().find(|r| r["key"] == key.as_str()) else {
                continue;
            };
            for field in ["outcome", "reason"] {
                if want.get(field).is_some() {
                    diffs.check(got[field] == want[field], || {
                        format!(
                            "{at}: {key}: {field} {}, expected {} (detail: {})",
                            got[field], want[field], got["detail"]
                        )
                    });
                }
            }
            for field in ["valid", "rejected"] {
                if want.get(field).is_some() {
                    diffs.check(got["rows"][field] == want[field], || {
                        format!(
                            "{at}: {key}: {} rows {field}, expected {}",
                            got["rows"][field], want[field]
                        )
                    });
                }
            }
        }
    }
}

/// `sluice rejects KEY`: each listed line with its reason, in the order printed.
fn check_rejects(case: &Case, diffs: &mut Diffs) {
    for (key, want) in case.expect["rejects"].as_object().expect("rejects") {
        let out = case
            .sluice(&["rejects", "--json", "--rows", "0", key])
            .output()
            .expect("run sluice rejects");
        let got: Vec<(u64, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|r| {
                (
                    r["line"].as_u64().unwrap_or(0),
                    r["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let want: Vec<(u64, String)> = want
            .as_array()
            .expect("reject list")
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().expect("line"),
                    p[1].as_str().expect("reason").to_string(),
                )
            })
            .collect();
        diffs.check(got == want, || {
            format!(
                "rejects {key}: {got:?}, expected {want:?}\n    stderr: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        });
    }
}

/// The table afterwards: its rows and top-level columns. Returns whether it exists.
fn check_table(case: &Case, diffs: &mut Diffs) -> bool {
    let want_rows = case.expect["total_records"]
        .as_u64()
        .expect("total_records");
    let out = case
        .sluice(&["table", "show", "orders", "--json"])
        .output()
        .expect("run sluice table show");
    let Ok(table) = serde_json::from_slice::<Value>(&out.stdout) else {
        // No table is right only when nothing was to land in it.
        diffs.check(want_rows == 0, || {
            format!(
                "table show: no table, expected {want_rows} rows\n    stderr: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        });
        return false;
    };
    let rows = table["total_records"].as_u64().unwrap_or(0);
    diffs.check(rows == want_rows, || {
        format!("table: {rows} rows, expected {want_rows}")
    });
    let columns: Vec<&str> = table["schema"]["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let want_columns = strs(&case.expect["columns"]);
    diffs.check(columns == want_columns, || {
        format!("table: columns {columns:?}, expected {want_columns:?}")
    });
    true
}

/// No file of the workspace holds any of the case's `absent` texts.
fn check_absent(case: &Case, diffs: &mut Diffs) {
    let needles = strs(&case.expect["absent"]);
    if needles.is_empty() {
        return;
    }
    let mut stack = vec![case.workspace.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                for needle in &needles {
                    let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
                    diffs.check(!found, || format!("{needle:?} reached {}", path.display()));
                }
            }
        }
    }
}

/// pyiceberg's row count and order ids of each case's table, in one Python process for all.
fn pyiceberg_reads(cases: &[&Case]) -> Vec<Result<(u64, Vec<i64>), String>> {
    let script = r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
for root in sys.argv[1:]:
    try:
        catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
        rows = catalog.load_table("shop.orders").scan().to_arrow()
        print(json.dumps({"rows": rows.num_rows, "ids": sorted(rows.column("order_id").to_pylist())}))
    except Exception as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"[:300]}))
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(cases.iter().map(|c| &c.workspace))
        .output()
        .expect("run pyiceberg");
    assert!(
        out.status.success(),
        "pyiceberg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("pyiceberg line");
            match v["rows"].as_u64() {
                Some(rows) => Ok((
                    rows,
                    v["ids"].as_array().map_or_else(Vec::new, |ids| {
                        ids.iter().filter_map(Value::as_i64).collect()
                    }),
                )),
                None => Err(v["error"].as_str().unwrap_or("?").to_string()),
            }
        })
        .collect()
}

#[test]
fn every_hostile_input_ends_as_its_case_says() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let generator = repo().join("tests/fixtures/hostile/generate.py");
    let out = Command::new(python())
        .arg(&generator)
        .arg(&corpus)
        .output()
        .expect("run the corpus generator");
    assert!(
        out.status.success(),
        "{}: {}",
        generator.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    let mut names: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the corpus has only {names:?}");

    let mut failed = Vec::new();
    let mut with_table = Vec::new();
    let cases: Vec<Case> = names
        .into_iter()
        .map(|name| {
            let dir = corpus.join(&name);
            let expect: Value =
                serde_json::from_slice(&std::fs::read(dir.join("expect.json")).unwrap()).unwrap();
            let workspace = dir.join(expect["workspace"].as_str().unwrap_or("lake"));
            Case {
                name,
                dir,
                workspace,
                expect,
            }
        })
        .collect();
    for case in &cases {
        let mut diffs = Diffs(Vec::new());
        check_runs(case, &mut diffs);
        check_rejects(case, &mut diffs);
        if check_table(case, &mut diffs) {
            with_table.push(case);
        }
        check_absent(case, &mut diffs);
        if !diffs.0.is_empty() {
            failed.push((case.name.clone(), diffs.0));
        }
    }
    // Another engine reads what sluice says the table holds.
    for (case, read) in with_table.iter().zip(pyiceberg_reads(&with_table)) {
        let want = case.expect["total_records"].as_u64().unwrap_or(0);
        let mut lines = Vec::new();
        match &read {
            Ok((rows, ids)) => {
                if *rows != want {
                    lines.push(format!("pyiceberg read {rows} rows, expected {want}"));
                }
                if let Some(want_ids) = case.expect["ids"].as_array() {
                    let want_ids: Vec<i64> = want_ids.iter().filter_map(Value::as_i64).collect();
                    if *ids != want_ids {
                        lines.push(format!("pyiceberg read ids {ids:?}, expected {want_ids:?}"));
                    }
                }
            }
            Err(e) => lines.push(format!("pyiceberg could not read the table: {e}")),
        }
        if !lines.is_empty() {
            match failed.iter_mut().find(|(n, _)| *n == case.name) {
                Some((_, diffs)) => diffs.extend(lines),
                None => failed.push((case.name.clone(), lines)),
            }
        }
    }
    let summary = format!(
        "hostile corpus: {} cases, {} as expected",
        cases.len(),
        cases.len() - failed.len()
    );
    println!("{summary}");
    // `make test` prints this line after the totals, beside the fault suites' lines.
    if let Ok(path) = std::env::var("CHAOS_SUMMARY") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("opening CHAOS_SUMMARY");
        writeln!(file, "{summary}").expect("writing CHAOS_SUMMARY");
    }
    let report: Vec<String> = failed
        .iter()
        .map(|(name, diffs)| format!("{name}:\n  {}", diffs.join("\n  ")))
        .collect();
    assert!(failed.is_empty(), "{}", report.join("\n"));
}
