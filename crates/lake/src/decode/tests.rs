//! The compiled path against the value-based one (serde_json, the `jsonschema` contract, then
//! arrow-json): a row the plan accepts must be one the value-based path accepts, with the same
//! Arrow values; a row written plainly that the value-based path accepts, the plan accepts too.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use proptest::prelude::*;
use serde_json::{json, Value};
use sluice_core::contract::Contract;

use super::{Plan, RowDecoder};

/// A contract with every keyword the plan checks natively, and some it hands to `jsonschema`.
fn contract() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["order_id", "ordered_at", "customer", "items", "status", "amount"],
        "properties": {
            "order_id": { "type": "integer", "minimum": 1 },
            "ordered_at": { "type": "string", "format": "date-time" },
            "shipped_on": { "type": ["string", "null"], "format": "date" },
            "customer": {
                "type": "object",
                "required": ["id", "email", "tier"],
                "properties": {
                    "id": { "type": "integer", "minimum": 1, "exclusiveMaximum": 1000000 },
                    "email": { "type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]+$" },
                    "name": { "type": "string", "minLength": 1, "maxLength": 12 },
                    "tier": { "type": "string", "enum": ["bronze", "silver", "gold"] }
                }
            },
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": 4,
                "items": {
                    "type": "object",
                    "required": ["sku", "qty"],
                    "additionalProperties": false,
                    "properties": {
                        "sku": { "type": "string", "pattern": "^SKU-[0-9]{3}$" },
                        "qty": { "type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 1 },
                        "unit_price": { "type": "number", "exclusiveMinimum": 0 }
                    }
                }
            },
            "status": { "type": "string", "enum": ["placed", "paid"] },
            "amount": { "type": "number", "minimum": 0, "maximum": 1e6 },
            "gift": { "type": "boolean" },
            "tags": { "type": "array", "items": { "type": "string", "maxLength": 5 } },
            "note": { "type": ["string", "null"], "maxLength": 8 }
        }
    })
}

fn arrow_schema(contract: &Contract) -> SchemaRef {
    let iceberg = crate::schema::to_iceberg_schema(&contract.table_schema).unwrap();
    Arc::new(iceberg::arrow::schema_to_arrow_schema(&iceberg).unwrap())
}

/// The value-based path's answer: the row's batch when it is accepted.
fn value_based(contract: &Contract, schema: &SchemaRef, row: &str) -> Option<RecordBatch> {
    let value: Value = serde_json::from_str(row).ok()?;
    if !value.is_object() || !contract.validate(&value).is_empty() {
        return None;
    }
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .build_decoder()
        .ok()?;
    decoder.decode(row.as_bytes()).ok()?;
    decoder.flush().ok()?
}

fn compiled(plan: &Arc<Plan>, row: &str) -> Option<RecordBatch> {
    let mut decoder = RowDecoder::new(plan.clone());
    if !decoder.push(row.as_bytes()) {
        assert!(decoder.is_empty());
        return None;
    }
    decoder.flush().unwrap()
}

struct Fixture {
    contract: Contract,
    schema: SchemaRef,
    plan: Arc<Plan>,
}

fn fixture() -> Fixture {
    let contract = Contract::from_value(contract(), "contract.json").unwrap();
    let schema = arrow_schema(&contract);
    let plan = Arc::new(Plan::compile(&contract.schema_json, schema.clone()).unwrap());
    Fixture {
        contract,
        schema,
        plan,
    }
}

/// Checks one row; `plain`: written the ordinary way, so the plan must decide it itself.
fn check(f: &Fixture, row: &str, plain: bool) {
    let expected = value_based(&f.contract, &f.schema, row);
    let got = compiled(&f.plan, row);
    match (&got, &expected) {
        (Some(got), Some(expected)) => assert_eq!(got, expected, "different values for {row}"),
        (Some(_), None) => panic!("the plan accepted a row the contract path rejects: {row}"),
        (None, Some(_)) if plain => panic!("the plan sent a plain valid row the slow way: {row}"),
        _ => {}
    }
}

/// Sets the member or element at `pointer` (its parent must exist).
fn set(row: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match row.pointer_mut(parent).unwrap() {
        Value::Object(o) => {
            o.insert(key.to_string(), value);
        }
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        other => panic!("{pointer}: {other}"),
    }
}

fn valid() -> Value {
    json!({
        "order_id": 7,
        "ordered_at": "2026-03-01T10:00:00Z",
        "shipped_on": "2026-03-02",
        "customer": { "id": 3, "email": "ann@example.com", "name": "Ann", "tier": "gold" },
        "items": [
            { "sku": "SKU-001", "qty": 2, "unit_price": 1.25 },
            { "sku": "SKU-002", "qty": 1 }
        ],
        "status": "paid",
        "amount": 3.75,
        "gift": false,
        "tags": ["a", "b"],
        "note": null
    })
}

#[test]
fn a_valid_row_is_decoded_once_with_the_values_arrow_json_gives() {
    let f = fixture();
    check(&f, &valid().to_string(), true);
    let pretty = serde_json::to_string_pretty(&valid()).unwrap();
    check(&f, &pretty, true);
    assert!(compiled(&f.plan, &pretty).is_some());
}

#[test]
fn rows_breaking_each_keyword_are_left_to_the_contract_path() {
    let f = fixture();
    let broken: Vec<(&str, Value)> = vec![
        ("/order_id", json!(0)),
        ("/order_id", json!("7")),
        ("/order_id", json!(2.5)),
        ("/ordered_at", json!("yesterday")),
        ("/shipped_on", json!("2026-02-30")),
        ("/customer/id", json!(1000000)),
        ("/customer/email", json!("no-at-sign")),
        ("/customer/name", json!("")),
        ("/customer/name", json!("a name far too long")),
        ("/customer/tier", json!("tin")),
        ("/customer/tier", json!(3)),
        ("/items", json!([])),
        (
            "/items",
            json!([{"sku": "SKU-001", "qty": 1}, {"sku": "SKU-001", "qty": 1}, {"sku": "SKU-001", "qty": 1}, {"sku": "SKU-001", "qty": 1}, {"sku": "SKU-001", "qty": 1}]),
        ),
        ("/items/0/sku", json!("SKU-1")),
        ("/items/0/qty", json!(101)),
        ("/items/0/unit_price", json!(0)),
        ("/items/0/extra", json!(1)),
        ("/status", json!(null)),
        ("/amount", json!(-0.5)),
        ("/amount", json!(2e6)),
        ("/gift", json!("yes")),
        ("/tags/0", json!("toolong")),
        ("/note", json!("longer than eight")),
        ("/customer", json!("ann")),
        ("/items", json!({"sku": "SKU-001"})),
    ];
    let refused = |row: Value| {
        let text = row.to_string();
        assert!(compiled(&f.plan, &text).is_none(), "accepted: {text}");
        check(&f, &text, true);
    };
    for (pointer, value) in broken {
        let mut row = valid();
        set(&mut row, pointer, value);
        refused(row);
    }
    for missing in ["/order_id", "/customer/email", "/items/0/qty"] {
        let mut row = valid();
        let (parent, key) = missing.rsplit_once('/').unwrap();
        row.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        refused(row);
    }
}

#[test]
fn hostile_text_is_never_accepted_where_the_contract_path_refuses_it() {
    let f = fixture();
    let base = valid().to_string();
    let rows = [
        base.replacen("\"Ann\"", "\"\\ud800\"", 1),
        base.replacen("\"Ann\"", "\"A\\u0000n\"", 1),
        base.replacen("\"Ann\"", "\"A\tn\"", 1),
        base.replacen("\"order_id\":7", "\"order_id\":7,\"order_id\":8", 1),
        base.replacen("\"order_id\":7", "\"order_id\":1e400", 1),
        base.replacen("\"order_id\":7", "\"order_id\":99999999999999999999", 1),
        base.replacen("\"order_id\":7", "\"order_id\":7.0", 1),
        base.replacen("\"order_id\":7", "\"order_id\":07", 1),
        base.replacen("\"amount\":3.75", "\"amount\":3.", 1),
        base.replacen("\"amount\":3.75", "\"amount\":NaN", 1),
        base.replacen("\"gift\":false", "\"gift\":False", 1),
        base.replacen("\"tags\":[\"a\",\"b\"]", "\"tags\":[\"a\",]", 1),
        base.replacen(
            "\"tags\":[\"a\",\"b\"]",
            &format!("\"tags\":{}", "[".repeat(200) + &"]".repeat(200)),
            1,
        ),
        format!("{base} trailing"),
        format!("[{base}]"),
        base[..base.len() - 1].to_string(),
        base.replacen(
            "{",
            "{\"extra\":{\"deep\":[1,2,{\"x\":\"\\ud83d\\ude00\"}]},",
            1,
        ),
        "{}".to_string(),
        "null".to_string(),
        String::new(),
    ];
    for row in &rows {
        check(&f, row, false);
    }
    // An unknown member is skipped (the contract allows members it does not declare).
    let extra = base.replacen(
        "{",
        "{\"extra\":{\"deep\":[1,2,{\"x\":\"\\ud83d\\ude00\"}]},",
        1,
    );
    assert!(compiled(&f.plan, &extra).is_some());
    // Invalid UTF-8 is the contract path's to report.
    let mut bytes = base.clone().into_bytes();
    let at = base.find("Ann").unwrap();
    bytes[at] = 0xff;
    assert!(!RowDecoder::new(f.plan.clone()).push(&bytes));
}

#[test]
fn a_refused_row_leaves_nothing_behind() {
    let f = fixture();
    let mut decoder = RowDecoder::new(f.plan.clone());
    let good = valid().to_string();
    // Fails on its second item, after the first item's columns were appended.
    let bad = good.replacen("\"SKU-002\"", "\"bad\"", 1);
    assert!(decoder.push(good.as_bytes()));
    assert!(!decoder.push(bad.as_bytes()));
    assert!(decoder.push(good.as_bytes()));
    let batch = decoder.flush().unwrap().unwrap();
    let mut arrow_json = arrow_json::ReaderBuilder::new(f.schema.clone())
        .build_decoder()
        .unwrap();
    arrow_json
        .decode(format!("{good}\n{good}").as_bytes())
        .unwrap();
    assert_eq!(batch, arrow_json.flush().unwrap().unwrap());
    assert!(decoder.flush().unwrap().is_none());
}

#[test]
fn contracts_the_plan_cannot_express_have_no_plan() {
    let f = fixture();
    for (contract, why) in [
        (
            json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"type": "string"}}}),
            "reference",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "object", "oneOf": [{"required": ["x"]}, {"required": ["y"]}]}}}),
            "oneOf",
        ),
        (
            json!({"type": "object", "minProperties": 2}),
            "minProperties",
        ),
        (
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            "additionalProperties",
        ),
    ] {
        let err = Plan::compile(&contract, f.schema.clone())
            .err()
            .unwrap_or_default();
        assert!(err.contains(why), "{contract}: {err}");
    }
}

/// Values a row's members take in the property test: right, wrong and awkward.
fn member() -> impl Strategy<Value = (usize, Value)> {
    let values = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-5i64..2000).prop_map(Value::from),
        (-10.0f64..2e6).prop_map(|x| json!((x * 4.0).round() / 4.0 + 0.125)),
        "[a-zA-Z0-9@._ -]{0,14}".prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
        Just(json!("SKU-123")),
        Just(json!("bronze")),
        Just(json!("paid")),
        Just(json!("2026-01-02T03:04:05.678+01:00")),
        Just(json!("2026-01-02")),
        Just(json!("x@y.com")),
        Just(json!([])),
        Just(json!({})),
        Just(json!(["abc", "de"])),
        Just(json!([{"sku": "SKU-001", "qty": 3}])),
    ];
    (0usize..17, values)
}

const PATHS: [&str; 17] = [
    "/order_id",
    "/ordered_at",
    "/shipped_on",
    "/customer/id",
    "/customer/email",
    "/customer/name",
    "/customer/tier",
    "/items",
    "/items/0/sku",
    "/items/0/qty",
    "/items/0/unit_price",
    "/status",
    "/amount",
    "/gift",
    "/tags",
    "/note",
    "/unknown",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn the_plan_and_the_contract_path_agree(changes in proptest::collection::vec(member(), 0..4), drop in proptest::option::of(0usize..17)) {
        let f = fixture();
        let mut row = valid();
        for (at, value) in changes {
            let (parent, key) = PATHS[at].rsplit_once('/').unwrap();
            let parent = if parent.is_empty() { Some(&mut row) } else { row.pointer_mut(parent) };
            if let Some(Value::Object(o)) = parent {
                o.insert(key.to_string(), value);
            }
        }
        if let Some(at) = drop {
            let (parent, key) = PATHS[at].rsplit_once('/').unwrap();
            let parent = if parent.is_empty() { Some(&mut row) } else { row.pointer_mut(parent) };
            if let Some(Value::Object(o)) = parent {
                o.remove(key);
            }
        }
        check(&f, &row.to_string(), true);
    }
}

/// The benchmark's generator, valid and broken orders alike, against its own contract: the
/// plan decides every valid row itself, with arrow-json's values, and accepts no broken one.
#[test]
fn the_generators_orders_are_decided_alike() {
    use rand::SeedableRng;
    let path = sluice_bench::fixtures().join("orders.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let contract = Contract::from_value(schema, "orders.schema.json").unwrap();
    let arrow = arrow_schema(&contract);
    let f = Fixture {
        plan: Arc::new(Plan::compile(&contract.schema_json, arrow.clone()).unwrap()),
        contract,
        schema: arrow,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(19);
    let (mut valid, mut broken) = (0, 0);
    for id in 1..=3000u64 {
        let order = sluice_bench::Order::random(&mut rng, id, id % 10 == 0);
        let mut line = vec![];
        order.write_ndjson(&mut line).unwrap();
        let row = String::from_utf8(line).unwrap();
        let row = row.trim_end();
        check(&f, row, true);
        match compiled(&f.plan, row) {
            Some(_) => {
                assert!(order.is_valid(), "accepted a broken order: {row}");
                valid += 1;
            }
            None => {
                assert!(!order.is_valid(), "refused a valid order: {row}");
                broken += 1;
            }
        }
    }
    assert_eq!((valid, broken), (2700, 300));
}

/// Wide rows (members found by hashing) and rows whose members come in any order.
#[test]
fn members_are_found_in_any_order_in_wide_and_narrow_objects() {
    for width in [3usize, 40] {
        let properties: serde_json::Map<String, Value> = (0..width)
            .map(|i| (format!("c{i}"), json!({"type": "integer", "maximum": 100})))
            .collect();
        let contract = Contract::from_value(
            json!({"type": "object", "required": ["c0"], "properties": properties}),
            "wide.json",
        )
        .unwrap();
        let schema = arrow_schema(&contract);
        let f = Fixture {
            plan: Arc::new(Plan::compile(&contract.schema_json, schema.clone()).unwrap()),
            contract,
            schema,
        };
        for rotate in [0, 1, width / 2] {
            let mut names: Vec<usize> = (0..width).collect();
            names.rotate_left(rotate);
            let members: Vec<String> = names.iter().map(|i| format!("\"c{i}\":{i}")).collect();
            let row = format!("{{{}}}", members.join(","));
            assert!(compiled(&f.plan, &row).is_some(), "{row}");
            check(&f, &row, true);
            let row = format!("{{{}}}", members[..members.len() - 1].join(","));
            check(&f, &row, true);
        }
        let over = format!("{{\"c0\":1,\"c{}\":101}}", width - 1);
        assert!(compiled(&f.plan, &over).is_none());
    }
}

/// A flat contract for CSV: every column type a CSV cell is typed to, and keywords both
/// native and handed to `jsonschema`.
fn flat_contract() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["id", "at"],
        "properties": {
            "id": { "type": "integer", "minimum": 1 },
            "at": { "type": "string", "format": "date-time" },
            "day": { "type": ["string", "null"], "format": "date" },
            "price": { "type": "number", "exclusiveMinimum": 0, "maximum": 1e6 },
            "count": { "type": "integer", "multipleOf": 2 },
            "paid": { "type": "boolean" },
            "tier": { "type": "string", "enum": ["bronze", "silver"] },
            "email": { "type": "string", "pattern": "^[^@]+@[^@]+$" },
            "note": { "type": ["string", "null"], "maxLength": 8 }
        }
    })
}

/// Reads `csv` with the reader the validate step uses and decides each record twice: from
/// its cells ([`RowDecoder::push_cells`]) and from the JSON text its typed value serialises
/// to ([`RowDecoder::push`], held to the contract path by the tests above). Both must accept
/// the same records and build the same columns. Returns how many records the cells took.
fn cells_and_text_agree(csv: &str, contract: &Contract, new_members_slow: bool) -> usize {
    use sluice_core::config::{Format, Limits};
    use sluice_core::reader::{Compression, Next, RowReader};
    let plan = Arc::new(Plan::compile(&contract.schema_json, arrow_schema(contract)).unwrap());
    let mut reader = RowReader::new(
        Box::new(std::io::Cursor::new(csv.as_bytes().to_vec())),
        Compression::None,
        Format::Csv,
        &Limits::default(),
        &contract.table_schema,
        csv.len() as u64,
    )
    .unwrap();
    let mut by_cells = RowDecoder::new(plan.clone());
    by_cells.new_members_slow = new_members_slow;
    by_cells.bind_headers(reader.csv_headers().unwrap());
    let mut by_text = RowDecoder::new(plan);
    by_text.new_members_slow = new_members_slow;
    let mut accepted = 0;
    while let Some(next) = reader.next_text().unwrap() {
        let Next::Text { line } = next else { continue };
        let record = reader.csv_record().unwrap();
        let (cells, types) = (record.cells.to_vec(), record.types.to_vec());
        let cells_took = by_cells.push_cells(&cells, &types);
        let text = String::from_utf8(reader.row_text().unwrap().to_vec()).unwrap();
        let text_took = by_text.push(text.as_bytes());
        assert_eq!(cells_took, text_took, "line {line}: {text}");
        accepted += usize::from(cells_took);
    }
    assert_eq!(by_cells.flush().unwrap(), by_text.flush().unwrap());
    accepted
}

/// Cells typed, mistyped and awkward, in every column of the flat contract and in one it
/// does not declare: the cells path and the text path agree on every record.
#[test]
fn csv_cells_are_decided_as_their_json_text_is() {
    let contract = Contract::from_value(flat_contract(), "flat.json").unwrap();
    let awkward = prop_oneof![
        Just(String::new()),
        Just(" 12 ".to_string()),
        Just("-0".to_string()),
        Just("+8".to_string()),
        Just("1e400".to_string()),
        Just("NaN".to_string()),
        Just("2.0".to_string()),
        Just("TRUE".to_string()),
        Just(" false".to_string()),
        Just("9223372036854775808".to_string()),
        Just("0.1".to_string()),
        Just("gold".to_string()),
        Just("\u{2028}\"\\\u{1}".to_string()),
        "[a-z0-9 .eE+-]{0,12}",
        any::<f64>().prop_map(|x| x.to_string()),
        any::<i64>().prop_map(|x| x.to_string()),
        "\\PC{0,9}",
    ]
    .boxed();
    // Per column, a value it takes, most of the time, so that most records are valid and
    // one awkward cell decides.
    let fits: Vec<BoxedStrategy<String>> = vec![
        (1i64..1000).prop_map(|x| x.to_string()).boxed(),
        Just("2026-01-02T03:04:05Z".to_string()).boxed(),
        prop_oneof![Just("2026-01-02".to_string()), Just(String::new())].boxed(),
        (0.5f64..1e5).prop_map(|x| x.to_string()).boxed(),
        (-20i64..20).prop_map(|x| (2 * x).to_string()).boxed(),
        prop_oneof![Just("true".to_string()), Just("False".to_string())].boxed(),
        prop_oneof![Just("bronze".to_string()), Just(" silver".to_string())].boxed(),
        Just("a@b".to_string()).boxed(),
        "[a-z]{0,9}".boxed(),
        prop_oneof![Just("x".to_string()), Just(String::new())].boxed(),
    ];
    let row: Vec<BoxedStrategy<String>> = fits
        .into_iter()
        .map(|fit| prop_oneof![6 => fit, 1 => awkward.clone()].boxed())
        .collect();
    let quoted = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
    let header = "id,at,day,price,count,paid,tier,email,note,extra";
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
    runner
        .run(
            &(proptest::collection::vec(row, 1..12), any::<bool>()),
            |(rows, slow)| {
                let mut csv = format!("{header}\n");
                for row in &rows {
                    let cells: Vec<String> = row.iter().map(|c| quoted(c)).collect();
                    csv.push_str(&cells.join(","));
                    csv.push('\n');
                }
                cells_and_text_agree(&csv, &contract, slow);
                Ok(())
            },
        )
        .unwrap();
    // Valid records are taken from their cells, not sent the slow way.
    let valid = format!(
        "{header}\n1,2026-01-02T03:04:05Z,2026-01-02,9.5,4,true,bronze,a@b,hi,x\n\
         2,2026-01-02T03:04:05+01:00,,1,,FALSE,silver,,,\n"
    );
    assert_eq!(cells_and_text_agree(&valid, &contract, false), 2);
}

/// The benchmark generator's flat orders, valid and broken, as `orders.csv` holds them: the
/// cells path takes exactly the valid ones, as the text path does.
#[test]
fn the_generators_csv_orders_are_decided_alike() {
    use rand::SeedableRng;
    let path = sluice_bench::fixtures().join("orders_flat.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let contract = Contract::from_value(schema, "orders_flat.schema.json").unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(23);
    let mut csv = format!("{}\n", sluice_bench::Order::CSV_HEADER).into_bytes();
    let mut valid = 0;
    for id in 1..=3000u64 {
        let order = sluice_bench::Order::random(&mut rng, id, id % 10 == 0);
        order.write_csv(&mut csv).unwrap();
        valid += usize::from(order.is_valid());
    }
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(cells_and_text_agree(&csv, &contract, false), valid);
}
