//! Files as users bring them, through the real `sluice` binary: directories whose files share
//! a name, paths given twice, a workspace inside the folder being ingested or watched, writers
//! that pause, names no store key can hold, symbolic links, and the temporary copies a killed
//! ingest leaves behind. Each test is the regression test of one defect of issue 15: every
//! file given lands exactly once or is named as refused, and nothing else is taken.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> PathBuf {
    repo().join("examples/orders/data").join(name)
}

/// The example's 20 valid orders, one JSON object per line.
fn orders() -> Vec<String> {
    std::fs::read_to_string(example("orders-2026-03-01.ndjson"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn sluice(workspace: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("--config")
        .arg(repo().join("examples/orders/sluice.toml"))
        .arg("--workspace")
        .arg(workspace)
        .args(args)
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("RUST_LOG");
    cmd
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Ran {
    let out: Output = cmd.output().expect("run sluice");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let r = run(cmd);
    assert_eq!(r.code, Some(0), "{cmd:?}:\n{}\n{}", r.stdout, r.stderr);
    r.stdout
}

fn summary_line(stdout: &str) -> &str {
    stdout
        .lines()
        .rfind(|l| l.contains(" files: ") || l.contains(" file: "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"))
}

/// Rows in the orders table, as `table show --json` counts them.
fn table_rows(workspace: &Path) -> u64 {
    let show: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        workspace,
        &["table", "show", "orders", "--json"],
    )))
    .unwrap();
    show["total_records"].as_u64().unwrap_or(0)
}

/// Every ledger record, as `files --json` prints them.
fn ledger(workspace: &Path) -> Vec<serde_json::Value> {
    run_ok(&mut sluice(workspace, &["files", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

// See: #15
#[test]
fn files_sharing_a_name_in_different_subdirectories_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rows = orders();
    for (day, chunk) in rows.chunks(5).enumerate() {
        write_lines(
            &data.join(format!("dt=2026-06-0{}/part-0000.ndjson", day + 1)),
            chunk,
        );
    }
    let ws = dir.path().join("ws");
    let out = run_ok(&mut sluice(&ws, &["ingest", p(&data)]));
    assert!(
        summary_line(&out).starts_with(
            "4 files: 4 committed, 0 quarantined, 0 duplicates, 0 filtered; 20 rows committed"
        ),
        "{out}"
    );
    assert_eq!(table_rows(&ws), 20);
    let mut keys: Vec<String> = ledger(&ws)
        .iter()
        .map(|r| r["object"]["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        (1..=4)
            .map(|d| format!("orders/dt=2026-06-0{d}/part-0000.ndjson"))
            .collect::<Vec<_>>()
    );
}

// See: #15
#[test]
fn a_file_given_twice_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_lines(&data.join("x.ndjson"), &orders());
    let ws = dir.path().join("ws");
    let out = run_ok(&mut sluice(
        &ws,
        &["ingest", p(&data), p(&data.join("x.ndjson"))],
    ));
    assert!(
        summary_line(&out).starts_with(
            "1 file: 1 committed, 0 quarantined, 0 duplicates, 0 filtered; 20 rows committed"
        ),
        "{out}"
    );
    assert_eq!(table_rows(&ws), 20);
}

// See: #15
#[test]
fn two_files_for_one_key_are_refused_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let rows = orders();
    write_lines(&dir.path().join("a/x.ndjson"), &rows[..10]);
    write_lines(&dir.path().join("b/x.ndjson"), &rows[10..]);
    let ws = dir.path().join("ws");
    let r = run(&mut sluice(
        &ws,
        &[
            "ingest",
            p(&dir.path().join("a/x.ndjson")),
            p(&dir.path().join("b/x.ndjson")),
        ],
    ));
    assert_eq!(r.code, Some(3), "{}\n{}", r.stdout, r.stderr);
    assert!(
        summary_line(&r.stdout).starts_with("1 file: 1 committed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("refused") && r.stdout.contains("b/x.ndjson"),
        "{}",
        r.stdout
    );
    // The first file's ten rows, not a mix of both.
    assert_eq!(table_rows(&ws), 10);
}

// See: #15
#[test]
fn ingest_of_a_folder_holding_the_workspace_skips_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_lines(&data.join("x.ndjson"), &orders());
    let ws = data.join("lake");
    run_ok(&mut sluice(&ws, &["ingest", p(&data.join("x.ndjson"))]));
    let out = run_ok(&mut sluice(&ws, &["ingest", p(&data)]));
    assert!(
        summary_line(&out).starts_with(
            "1 file: 0 committed, 0 quarantined, 1 duplicates, 0 filtered; 0 rows committed"
        ),
        "{out}"
    );
    assert_eq!(ledger(&ws).len(), 1);
}

/// Starts `sluice watch DIR` with `args`, runs `act`, and waits for it to stop by itself.
fn watch(workspace: &Path, dir: &Path, args: &[&str], act: impl FnOnce()) -> Ran {
    let mut all = vec!["watch", p(dir)];
    all.extend_from_slice(args);
    let child = sluice(workspace, &all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    act();
    let out = child.wait_with_output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

// See: #15
#[test]
fn watch_of_a_folder_holding_the_workspace_takes_only_the_users_files() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let ws = inbox.join("lake");
    // A workspace with everything in it: catalog, executions, ledger, rejects, data files.
    run_ok(&mut sluice(
        &ws,
        &[
            "ingest",
            p(&example("orders-2026-03-02-some-invalid.ndjson")),
        ],
    ));
    write_lines(&inbox.join("x.ndjson"), &orders());
    let r = watch(
        &ws,
        &inbox,
        &["--stop-after", "1", "--settle-ms", "100"],
        || {},
    );
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("orders/x.ndjson → committed"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(ledger(&ws).len(), 2);
}

// See: #15
#[test]
fn watch_waits_for_a_writer_that_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let ws = dir.path().join("ws");
    let rows = orders();
    let r = watch(&ws, &inbox, &["--stop-after", "1"], || {
        let mut f = std::fs::File::create(inbox.join("slow.ndjson")).unwrap();
        f.write_all((rows[..10].join("\n") + "\n").as_bytes())
            .unwrap();
        f.flush().unwrap();
        // A writer that stops for a moment, then goes on: the file is not finished.
        std::thread::sleep(Duration::from_millis(2500));
        f.write_all((rows[10..].join("\n") + "\n").as_bytes())
            .unwrap();
    });
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        summary_line(&r.stdout).starts_with(
            "1 file: 1 committed, 0 quarantined, 0 duplicates, 0 filtered; 20 rows committed"
        ),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

/// Names no object key can hold: a backslash, a control character.
const UNACCEPTABLE: [&str; 2] = ["a\\b.ndjson", "bell\u{7}.ndjson"];

// See: #15
#[test]
fn ingest_names_a_file_it_cannot_take_and_lands_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rows = orders();
    for name in UNACCEPTABLE {
        write_lines(&data.join(name), &rows);
    }
    write_lines(&data.join("ok-1.ndjson"), &rows[..10]);
    write_lines(&data.join("ok-2.ndjson"), &rows[10..]);
    let ws = dir.path().join("ws");
    let r = run(&mut sluice(&ws, &["ingest", p(&data)]));
    assert_eq!(r.code, Some(3), "{}\n{}", r.stdout, r.stderr);
    assert!(
        summary_line(&r.stdout).starts_with("2 files: 2 committed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("2 paths refused"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(table_rows(&ws), 20);
}

// See: #15
#[test]
fn reconcile_quarantines_keys_it_cannot_take_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let landing = ws.join("landing/orders");
    let rows = orders();
    write_lines(&landing.join("good.ndjson"), &rows);
    for name in UNACCEPTABLE {
        write_lines(&landing.join(name), &rows);
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"latin1-\xe9t\xe9.ndjson");
        write_lines(&landing.join(name), &rows);
    }
    let expected: u64 = if cfg!(unix) { 4 } else { 3 };
    let out = run_ok(&mut sluice(&ws, &["reconcile"]));
    assert!(
        out.contains(&format!(
            "orders: {expected} objects listed, {expected} never seen before (ran now), 0 not finished"
        )),
        "{out}"
    );
    let quarantined: Vec<serde_json::Value> =
        run_ok(&mut sluice(&ws, &["quarantine", "list", "--json"]))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(quarantined.len() as u64, expected - 1, "{quarantined:?}");
    assert!(quarantined
        .iter()
        .all(|q| q["reason"] == "unacceptable_key"));
    assert_eq!(ledger(&ws).len() as u64, expected);
    let again = run_ok(&mut sluice(&ws, &["reconcile"]));
    assert!(again.contains("0 never seen before"), "{again}");
    assert_eq!(table_rows(&ws), 20);
}

/// Every byte under `dir`, files only, links not followed.
#[cfg(unix)]
fn tree_contains(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            tree_contains(&e.path(), needle)
        } else if t.is_file() {
            String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).contains(needle)
        } else {
            false
        }
    })
}

// See: #15
#[cfg(unix)]
#[test]
fn symbolic_links_in_a_source_folder_are_not_followed_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_lines(&data.join("x.ndjson"), &orders());
    std::fs::write(dir.path().join("secret.txt"), "password=hunter2\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), data.join("y.ndjson")).unwrap();
    let ws = dir.path().join("ws");
    let r = run(&mut sluice(&ws, &["ingest", p(&data)]));
    assert_eq!(r.code, Some(3), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("y.ndjson") && r.stdout.contains("symbolic link"),
        "{}",
        r.stdout
    );
    assert!(
        summary_line(&r.stdout).starts_with("1 file: 1 committed"),
        "{}",
        r.stdout
    );
    assert!(!tree_contains(&ws, "hunter2"));
    // Asked to, it follows the link: the file lands under the link's name.
    let followed = run(&mut sluice(&ws, &["ingest", "--follow-symlinks", p(&data)]));
    assert!(
        followed.stdout.contains("orders/y.ndjson") || followed.stdout.contains("y.ndjson"),
        "{}\n{}",
        followed.stdout,
        followed.stderr
    );
    assert!(ledger(&ws)
        .iter()
        .any(|r| r["object"]["key"] == "orders/y.ndjson"));
}

// See: #15
#[cfg(unix)]
#[test]
fn a_symbolic_link_loop_does_not_fail_the_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_lines(&data.join("x.ndjson"), &orders());
    std::os::unix::fs::symlink(&data, data.join("loop")).unwrap();
    let ws = dir.path().join("ws");
    let r = run(&mut sluice(&ws, &["ingest", p(&data)]));
    assert_eq!(r.code, Some(3), "{}\n{}", r.stdout, r.stderr);
    assert!(
        summary_line(&r.stdout).starts_with("1 file: 1 committed"),
        "{}",
        r.stdout
    );
    let followed = run(&mut sluice(&ws, &["ingest", "--follow-symlinks", p(&data)]));
    assert_eq!(
        followed.code,
        Some(0),
        "{}\n{}",
        followed.stdout,
        followed.stderr
    );
    assert!(
        summary_line(&followed.stdout)
            .starts_with("1 file: 0 committed, 0 quarantined, 1 duplicates"),
        "{}",
        followed.stdout
    );
}

// See: #15
#[cfg(unix)]
#[test]
fn a_landing_copy_is_no_more_readable_than_its_source() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("private.ndjson");
    write_lines(&source, &orders());
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ws = dir.path().join("ws");
    run_ok(&mut sluice(&ws, &["ingest", p(&source)]));
    let landed = std::fs::metadata(ws.join("landing/orders/private.ndjson")).unwrap();
    assert_eq!(
        landed.permissions().mode() & 0o077,
        0,
        "mode {:o}",
        landed.permissions().mode()
    );
}

// See: #15
#[test]
fn gc_removes_stale_temporary_copies_of_a_killed_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    run_ok(&mut sluice(
        &ws,
        &["ingest", p(&example("orders-2026-03-01.ndjson"))],
    ));
    // What a killed copy leaves: a temporary file two hours old, and one being written now.
    let tmp = ws.join("landing/.sluice/tmp");
    let stale = tmp.join("0b6f1c9e-killed.tmp");
    std::fs::write(&stale, vec![b'x'; 45_000]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let fresh = tmp.join("7d2a4e10-writing.tmp");
    std::fs::write(&fresh, b"partial").unwrap();

    let dry = run_ok(&mut sluice(&ws, &["gc", "--dry-run"]));
    assert!(dry.contains("0b6f1c9e-killed.tmp"), "{dry}");
    assert!(stale.exists());
    let out = run_ok(&mut sluice(&ws, &["gc"]));
    assert!(out.contains("45000"), "{out}");
    assert!(!stale.exists(), "{out}");
    assert!(fresh.exists(), "{out}");
}
