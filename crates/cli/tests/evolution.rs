//! Schema evolution as a hostile or careless file meets it, through the real `sluice` binary:
//! nothing a file brings may break the table, evolve it from rejected rows, or drop a field
//! silently. Each test writes its own files into a fresh workspace with the orders contract.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A workspace, a config directory with the orders contract and `settings` in front of the
/// table, and a data directory.
struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    workspace: PathBuf,
    data: PathBuf,
}

impl Setup {
    fn new(drift: &str, limits: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::copy(
            repo().join("examples/orders/orders.schema.json"),
            conf.join("orders.schema.json"),
        )
        .unwrap();
        let config = conf.join("sluice.toml");
        std::fs::write(
            &config,
            format!(
                "{limits}\n[[table]]\nname = \"orders\"\nnamespace = \"shop\"\nprefix = \"orders/\"\n\
                 format = \"ndjson\"\ncontract = \"orders.schema.json\"\nmax_invalid_ratio = 0.2\n\
                 [table.drift]\n{drift}\n"
            ),
        )
        .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        Setup {
            workspace: dir.path().join("ws"),
            config,
            data,
            _dir: dir,
        }
    }

    fn sluice(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("--config")
            .arg(&self.config)
            .arg("--workspace")
            .arg(&self.workspace)
            .args(args)
            .env_remove("SLUICE_FAILPOINTS")
            .env_remove("RUST_LOG")
            .output()
            .expect("run sluice")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.data.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn ingest(&self, path: &Path) -> String {
        let out = self.sluice(&["ingest", path.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "ingest failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `table show orders --json`, which must succeed.
    fn table(&self) -> Value {
        let out = self.sluice(&["table", "show", "orders", "--json"]);
        assert!(
            out.status.success(),
            "table show failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn columns(&self) -> Vec<String> {
        self.table()["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// The quarantine records, as `quarantine list --json` gives them (one a line).
    fn quarantined(&self) -> Vec<Value> {
        let out = self.sluice(&["quarantine", "list", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn order(id: u64) -> Value {
    json!({
        "order_id": id,
        "ordered_at": "2026-06-01T10:00:00Z",
        "customer_email": format!("c{id}@example.com"),
        "status": "paid",
        "quantity": 1,
        "amount": 10.5,
    })
}

fn lines(rows: impl IntoIterator<Item = Value>) -> String {
    rows.into_iter().map(|r| format!("{r}\n")).collect()
}

const CONTRACT_COLUMNS: [&str; 8] = [
    "order_id",
    "ordered_at",
    "customer_email",
    "status",
    "quantity",
    "amount",
    "note",
    "shipping",
];

/// A record in `quarantined` for `file` with `reason`, whose detail contains `needle`.
fn assert_quarantined(quarantined: &[Value], file: &str, reason: &str, needle: &str) {
    let found = quarantined
        .iter()
        .find(|q| q["object"]["key"].as_str().unwrap_or("").ends_with(file))
        .unwrap_or_else(|| panic!("{file} is not quarantined: {quarantined:?}"));
    assert_eq!(found["reason"], reason, "{found}");
    assert!(
        found["detail"].as_str().unwrap().contains(needle),
        "{found}"
    );
}

/// A new field nested 42 objects deep, or a list 50 deep, in a 2 KB file used to evolve the
/// table into metadata iceberg-rust cannot parse (or Parquet pyarrow refuses): every later
/// valid file was quarantined and `table show` failed. See: #15
#[test]
fn a_deeply_nested_new_field_is_refused_and_the_table_stays_usable() {
    let s = Setup::new("additive = \"evolve\"", "");
    s.ingest(&s.write("a.ndjson", &lines([order(1)])));

    let mut deep = json!(1);
    for _ in 0..42 {
        deep = json!({ "n": deep });
    }
    let mut row = order(2);
    row["deep"] = deep;
    s.ingest(&s.write("deep-objects.ndjson", &lines([row])));
    let mut list = json!(1);
    for _ in 0..50 {
        list = json!([list]);
    }
    let mut row = order(3);
    row["deep_list"] = list;
    s.ingest(&s.write("deep-lists.ndjson", &lines([row])));

    let q = s.quarantined();
    assert_quarantined(
        &q,
        "deep-objects.ndjson",
        "drift_blocked",
        "max_nesting_depth",
    );
    assert_quarantined(
        &q,
        "deep-lists.ndjson",
        "drift_blocked",
        "max_nesting_depth",
    );
    // The table is as it was, and the next valid file lands.
    s.ingest(&s.write("b.ndjson", &lines([order(4), order(5)])));
    let t = s.table();
    assert_eq!(t["total_records"], 3, "{t}");
    assert_eq!(s.columns(), CONTRACT_COLUMNS);
}

/// A foreign CSV whose every row breaks the contract used to add its columns (`invoice_no`,
/// `iban`, ...) to the table before validation quarantined it. See: #15
#[test]
fn a_file_that_ends_in_quarantine_never_changes_the_table() {
    let s = Setup::new("additive = \"evolve\"", "");
    s.ingest(&s.write("a.ndjson", &lines([order(1)])));
    let foreign: String =
        std::iter::once("invoice_no,customer,vat_id,total_eur,iban\n".to_string())
            .chain((0..50).map(|i| format!("INV-{i},ACME,ATU{i},{i}.50,AT61190\n")))
            .collect();
    let out = s.ingest(&s.write("invoices.csv", &foreign));
    assert!(out.contains("too_many_invalid_rows"), "{out}");
    // Rows that the contract rejects within the allowed ratio do not add columns either.
    let mut rows: Vec<Value> = (10..30).map(order).collect();
    rows.push(json!({"order_id": "not a number", "rogue": "x"}));
    s.ingest(&s.write("mostly-good.ndjson", &lines(rows)));
    assert_eq!(s.columns(), CONTRACT_COLUMNS);
    assert_eq!(s.table()["total_records"], 21);
}

/// One 329 KB row with 20,000 fields used to add 20,000 columns (2.2 GB of metadata writes,
/// and every later file paid for them); empty and NUL-containing names were accepted.
/// See: #15
#[test]
fn a_file_adding_too_many_or_unnamable_columns_is_refused_with_the_reason() {
    let s = Setup::new("additive = \"evolve\"", "");
    let mut wide = order(1);
    for i in 0..20_000 {
        wide[format!("field_{i:05}")] = json!(i);
    }
    s.ingest(&s.write("wide.ndjson", &lines([wide])));
    let mut empty = order(2);
    empty[""] = json!("x");
    s.ingest(&s.write("empty-name.ndjson", &lines([empty])));
    let mut nul = order(3);
    nul["a\u{0}b"] = json!("x");
    s.ingest(&s.write("nul-name.ndjson", &lines([nul])));

    let q = s.quarantined();
    assert_quarantined(
        &q,
        "wide.ndjson",
        "drift_blocked",
        "max_new_columns_per_file = 100",
    );
    assert_quarantined(&q, "empty-name.ndjson", "drift_blocked", "empty name");
    assert_quarantined(&q, "nul-name.ndjson", "drift_blocked", "control character");
    assert_eq!(s.columns(), CONTRACT_COLUMNS);

    // Within the limit, a wide file evolves the table.
    let mut fine = order(4);
    for i in 0..5 {
        fine[format!("extra_{i}")] = json!(i);
    }
    s.ingest(&s.write("fine.ndjson", &lines([fine])));
    assert_eq!(s.columns().len(), CONTRACT_COLUMNS.len() + 5);
}

/// A field first seen after the drift sample (row 1,001 on) used to be dropped silently,
/// while the same field in the first 1,000 rows added a column. See: #15
#[test]
fn a_new_field_after_the_drift_sample_adds_its_column_and_keeps_its_values() {
    let s = Setup::new("additive = \"evolve\"", "");
    let rows = (1..=1200).map(|i| {
        let mut r = order(i);
        if i > 1000 {
            r["coupon"] = json!(format!("C{i}"));
        }
        r
    });
    s.ingest(&s.write("late-coupon.ndjson", &lines(rows)));
    let t = s.table();
    assert_eq!(t["total_records"], 1200, "{t}");
    assert!(s.columns().contains(&"coupon".to_string()), "{t}");

    // Under additive = "quarantine", the same file is blocked, not loaded without it.
    let s = Setup::new("additive = \"quarantine\"", "");
    let rows = (1..=1200).map(|i| {
        let mut r = order(i);
        if i > 1000 {
            r["coupon"] = json!(format!("C{i}"));
        }
        r
    });
    s.ingest(&s.write("late-coupon.ndjson", &lines(rows)));
    assert_quarantined(
        &s.quarantined(),
        "late-coupon.ndjson",
        "drift_blocked",
        "coupon",
    );
}

/// Integers written as `2.0` in the drift sample used to block the whole file as a
/// long → double widening, though JSON Schema counts them as integers. See: #15
#[test]
fn integral_doubles_in_a_long_column_are_not_drift() {
    let s = Setup::new("widening = \"quarantine\"", "");
    let rows = (1..=20).map(|i| {
        let mut r = order(i);
        r["quantity"] = json!(2.0);
        r
    });
    let out = s.ingest(&s.write("two-point-zero.ndjson", &lines(rows)));
    assert!(out.contains("20 rows committed"), "{out}");
    assert_eq!(s.table()["total_records"], 20);
}

/// A field named `utm.source` used to quarantine a valid file as `contract_violation` with
/// iceberg-rust's "ambiguous name" message: an internal error disguised as bad data. Now the
/// name is refused by the evolution gate with a reason a person can act on. See: #15
#[test]
fn a_dotted_field_name_is_refused_by_the_gate_not_by_the_library() {
    let s = Setup::new("additive = \"evolve\"", "");
    let rows = (1..=3).map(|i| {
        let mut r = order(i);
        r["utm.source"] = json!("newsletter");
        r
    });
    s.ingest(&s.write("utm.ndjson", &lines(rows)));
    let q = s.quarantined();
    assert_quarantined(&q, "utm.ndjson", "drift_blocked", "contains `.`");
    let found = &q[0];
    assert!(
        !found["detail"].as_str().unwrap().contains("ambiguous"),
        "{found}"
    );
}

/// The rejects of a committed file used to come out of line order: the writer's conversion
/// failures were appended after the contract's rejects of the same chunk. See: #15
#[test]
fn rejected_rows_are_listed_in_line_order() {
    let s = Setup::new("additive = \"evolve\"", "");
    let mut rows: Vec<Value> = (1..=20).map(order).collect();
    // Line 3: an integer JSON Schema accepts and a long column cannot hold (rejected by the
    // writer); line 5: a contract violation (rejected by the reader).
    rows[2]["order_id"] = json!(u64::MAX);
    rows[4]["quantity"] = json!(0);
    let out = s.ingest(&s.write("two-bad.ndjson", &lines(rows)));
    assert!(out.contains("18 rows committed"), "{out}");
    let dir = s.workspace.join("landing/.sluice/rejects/shop.orders");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let lines: Vec<u64> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(lines, vec![3, 5]);
}

/// The limits are settings: a deployment may lower them.
#[test]
fn limits_in_sluice_toml_are_applied() {
    let s = Setup::new(
        "additive = \"evolve\"",
        "[limits]\nmax_new_columns_per_file = 2\nmax_nesting_depth = 2\n",
    );
    let mut three = order(1);
    for name in ["a", "b", "c"] {
        three[name] = json!(1);
    }
    s.ingest(&s.write("three.ndjson", &lines([three])));
    let mut nested = order(2);
    nested["s"] = json!({"t": {"u": 1}});
    s.ingest(&s.write("nested.ndjson", &lines([nested])));
    let q = s.quarantined();
    assert_quarantined(
        &q,
        "three.ndjson",
        "drift_blocked",
        "max_new_columns_per_file = 2",
    );
    assert_quarantined(
        &q,
        "nested.ndjson",
        "drift_blocked",
        "max_nesting_depth = 2",
    );
}

/// A contract edited so that it contradicts the table (`quantity` made a string while the
/// table has `long`) is refused before anything lands, naming
/// the contract file, each pointer and why; put back, the same command lands the file.
#[test]
fn a_contract_that_contradicts_the_table_is_refused_before_any_file_lands() {
    let s = Setup::new("", "");
    s.ingest(&s.write("first.ndjson", &lines([order(1)])));
    let contract_path = s.config.parent().unwrap().join("orders.schema.json");
    let original = std::fs::read_to_string(&contract_path).unwrap();
    let mut contract: Value = serde_json::from_str(&original).unwrap();
    contract["properties"]["quantity"] = json!({"type": "string"});
    std::fs::write(&contract_path, contract.to_string()).unwrap();

    let second = s.write("second.ndjson", &lines([order(2)]));
    let out = s.sluice(&["ingest", second.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("orders.schema.json contradicts table shop.orders")
            && stderr
                .contains("/properties/quantity: string in the contract, but long in the table"),
        "{stderr}"
    );
    assert!(s.quarantined().is_empty());
    let files = s.sluice(&["files", "--json"]);
    assert!(
        !String::from_utf8_lossy(&files.stdout).contains("second.ndjson"),
        "nothing was landed or claimed"
    );

    std::fs::write(&contract_path, original).unwrap();
    let stdout = s.ingest(&second);
    assert!(stdout.contains("1 committed"), "{stdout}");
}

/// A data team's loop around a contract change: `contract diff` and `check` say what the
/// edited contract changes and whether it (and a file under it) would pass, before anything
/// is judged by it; the first ingest records it as version 2; `history` and `show` tell the
/// versions apart; a change that breaks backward compatibility is refused by `check` and by
/// `ingest` alike, naming the field.
#[test]
fn contract_diff_check_and_history_tell_what_changed_before_anything_is_judged() {
    let s = Setup::new("", "");
    s.ingest(&s.write("first.ndjson", &lines([order(1)])));
    let contract_path = s.config.parent().unwrap().join("orders.schema.json");
    let mut contract: Value =
        serde_json::from_str(&std::fs::read_to_string(&contract_path).unwrap()).unwrap();
    contract["properties"]["coupon"] = json!({"type": "string"});
    std::fs::write(&contract_path, contract.to_string()).unwrap();
    let text = |out: &Output| String::from_utf8_lossy(&out.stdout).to_string();

    let diff = s.sluice(&["contract", "diff", "orders"]);
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    assert!(
        text(&diff).contains("version 1 -> the configured contract")
            && text(&diff).contains("+ /properties/coupon  string, optional"),
        "{}",
        text(&diff)
    );
    let check = s.sluice(&["contract", "check", "orders"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        text(&check).contains("backward compatible with version 1: it will be version 2"),
        "{}",
        text(&check)
    );
    // A file with one row in three bad is over the table's max_invalid_ratio (0.2).
    let mut bad = order(3);
    bad["quantity"] = json!("x");
    let file = s.write("check-me.ndjson", &lines([order(2), bad, order(4)]));
    let check = s.sluice(&["contract", "check", "orders", file.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        text(&check).contains("3 rows, 2 valid, 1 rejected")
            && text(&check).contains("would be quarantined (too_many_invalid_rows")
            && text(&check).contains("line 2: /quantity"),
        "{}",
        text(&check)
    );
    assert!(s.quarantined().is_empty(), "check lands nothing");

    s.ingest(&s.write("second.ndjson", &lines([order(5)])));
    let history = s.sluice(&["contract", "history", "orders"]);
    let shown = text(&history);
    assert!(
        shown.contains("v1  ") && shown.contains("v2  ") && shown.contains("(configured)"),
        "{shown}"
    );
    assert!(
        shown.contains("    + /properties/coupon  string, optional"),
        "{shown}"
    );
    let v1: Value = serde_json::from_slice(
        &s.sluice(&["contract", "show", "orders", "--version", "1", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["configured"], false);

    // Required from now on: rows valid under version 2 may lack it.
    contract["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("coupon"));
    std::fs::write(&contract_path, contract.to_string()).unwrap();
    let check = s.sluice(&["contract", "check", "orders"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        text(&check).contains("not backward compatible with version 2")
            && text(&check).contains("/properties/coupon: required in the new contract"),
        "{}",
        text(&check)
    );
    let mut with_coupon = order(6);
    with_coupon["coupon"] = json!("SPRING");
    let refused = s.sluice(&[
        "ingest",
        s.write("third.ndjson", &lines([with_coupon]))
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("is not backward compatible with version 2"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The JSON lines of a command's stdout.
fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A governed table (`additive = "quarantine"`): a new field blocks its files until a person
/// approves the change; approval evolves the table and replays exactly the files waiting on
/// it, once; the approval holds for later files; a rejection keeps its files where they are;
/// an approval made moot, or of a change no column can take, is refused with the reason.
#[test]
fn drift_approval_evolves_the_table_and_replays_the_files_waiting_exactly_once() {
    let s = Setup::new(
        "additive = \"quarantine\"\nincompatible = \"quarantine\"",
        "",
    );
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let with = |id: u64, field: &str, value: Value| {
        let mut o = order(id);
        o[field] = value;
        o
    };
    s.ingest(&s.write("plain.ndjson", &lines([order(1), order(2)])));
    for (name, ids) in [("coupon-a.ndjson", [10, 11]), ("coupon-b.ndjson", [20, 21])] {
        let rows = ids.map(|i| with(i, "coupon", json!("SPRING")));
        s.sluice(&["ingest", s.write(name, &lines(rows)).to_str().unwrap()]);
    }
    s.sluice(&[
        "ingest",
        s.write("gift.ndjson", &lines([with(30, "gift", json!(true))]))
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(s.quarantined().len(), 3);
    assert!(!s.columns().contains(&"coupon".to_string()));

    // One change per set of blocked fields, with every file waiting on it.
    let listed = json_lines(&s.sluice(&["drift", "list", "--json"]));
    assert_eq!(listed.len(), 2, "{listed:?}");
    let coupon = listed
        .iter()
        .find(|c| c["changes"][0]["path"] == "coupon")
        .unwrap();
    let gift = listed
        .iter()
        .find(|c| c["changes"][0]["path"] == "gift")
        .unwrap();
    assert_eq!(coupon["table"], "orders");
    assert_eq!(coupon["changes"][0]["class"], "additive_optional");
    assert_eq!(coupon["files"].as_array().unwrap().len(), 2, "{coupon}");
    let (coupon_id, gift_id) = (
        coupon["id"].as_str().unwrap().to_string(),
        gift["id"].as_str().unwrap().to_string(),
    );
    let shown = text(&s.sluice(&["drift", "list"]));
    assert!(
        shown.contains(&coupon_id) && shown.contains("new column `coupon` (string)"),
        "{shown}"
    );

    // Approve: the column is added, both files replay and commit, the gift file still waits.
    let approved = s.sluice(&["drift", "approve", &coupon_id]);
    assert!(approved.status.success(), "{}", text(&approved));
    assert!(
        text(&approved).contains("approved drift change") && text(&approved).contains("replayed"),
        "{}",
        text(&approved)
    );
    assert!(s.columns().contains(&"coupon".to_string()));
    assert_eq!(s.table()["total_records"], 6, "{}", s.table());
    // The approval is a contract version: the contract file plus `coupon`, optional, named by
    // the change's id; later files are judged under it.
    assert!(
        text(&approved).contains("contract version 2 records it"),
        "{}",
        text(&approved)
    );
    let shown: Value =
        serde_json::from_slice(&s.sluice(&["contract", "show", "orders", "--json"]).stdout)
            .unwrap();
    assert_eq!(shown["version"], 2, "{shown}");
    assert_eq!(shown["approved"], json!([coupon_id]), "{shown}");
    assert_eq!(shown["configured"], true, "{shown}");
    assert_eq!(
        shown["schema"]["properties"]["coupon"],
        json!({"type": ["string", "null"]}),
        "{shown}"
    );
    let history = text(&s.sluice(&["contract", "history", "orders"]));
    assert!(
        history.contains(&format!("approved drift {coupon_id}"))
            && history.contains("+ /properties/coupon  string, optional"),
        "{history}"
    );
    let waiting: Vec<Value> = json_lines(&s.sluice(&["drift", "list", "--json"]));
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["id"], gift_id.as_str());
    // Again: nothing waits on it any more, nothing is added twice.
    let again = s.sluice(&["drift", "approve", &coupon_id]);
    assert_ne!(again.status.code(), Some(0), "{}", text(&again));
    assert!(text(&again).contains("no quarantined file waits on drift change"));
    assert_eq!(s.table()["total_records"], 6);
    // The approval holds for a later file bringing the same field.
    s.ingest(&s.write(
        "coupon-c.ndjson",
        &lines([with(40, "coupon", json!("FALL"))]),
    ));
    assert_eq!(s.table()["total_records"], 7);

    // Reject: needs a reason; the file stays; the change leaves the pending list.
    let no_reason = s.sluice(&["drift", "reject", &gift_id, "--reason", " "]);
    assert_eq!(no_reason.status.code(), Some(1));
    let rejected = s.sluice(&["drift", "reject", &gift_id, "--reason", "gift is not ours"]);
    assert!(rejected.status.success(), "{}", text(&rejected));
    assert!(json_lines(&s.sluice(&["drift", "list", "--json"])).is_empty());
    let all = json_lines(&s.sluice(&["drift", "list", "--all", "--json"]));
    assert_eq!(all[0]["decision"]["verdict"], "rejected");
    assert_eq!(all[0]["decision"]["reason"], "gift is not ours");
    let late = s.sluice(&["drift", "approve", &gift_id]);
    assert!(text(&late).contains("was rejected"), "{}", text(&late));
    assert_eq!(s.quarantined().len(), 1);

    // A change no column can take: listed, never approvable.
    s.sluice(&[
        "ingest",
        s.write(
            "text-quantity.ndjson",
            &lines([
                with(50, "quantity", json!("many")),
                with(51, "quantity", json!("few")),
            ]),
        )
        .to_str()
        .unwrap(),
    ]);
    let incompatible = json_lines(&s.sluice(&["drift", "list", "--json"]));
    assert_eq!(incompatible.len(), 1, "{incompatible:?}");
    let id = incompatible[0]["id"].as_str().unwrap();
    let refused = s.sluice(&["drift", "approve", id]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("cannot be approved")
            && text(&refused).contains("no column type holds both"),
        "{}",
        text(&refused)
    );
}

/// An approval that something else made moot (the table took the column meanwhile) is
/// refused with the reason, and the files are replayed as any quarantined file is.
#[test]
fn an_approval_made_moot_is_refused_with_the_reason() {
    let s = Setup::new("additive = \"quarantine\"", "");
    let mut row = order(1);
    row["coupon"] = json!("SPRING");
    s.sluice(&[
        "ingest",
        s.write("blocked.ndjson", &lines([row.clone()]))
            .to_str()
            .unwrap(),
    ]);
    let id = json_lines(&s.sluice(&["drift", "list", "--json"]))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The team loosens the policy instead; another file brings the column.
    let config = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("additive = \"quarantine\"", "additive = \"evolve\"");
    std::fs::write(&s.config, config).unwrap();
    row["order_id"] = json!(2);
    s.ingest(&s.write("later.ndjson", &lines([row])));
    let moot = s.sluice(&["drift", "approve", &id]);
    assert_eq!(moot.status.code(), Some(1));
    let said = String::from_utf8_lossy(&moot.stderr);
    assert!(
        said.contains("is moot")
            && said.contains("already has coupon")
            && said.contains("sluice replay --table orders"),
        "{said}"
    );
    let replayed = s.sluice(&["replay", "--table", "orders"]);
    assert!(replayed.status.success());
    assert_eq!(s.table()["total_records"], 2);
}
