//! The checks of a Map state: the item processor and its mode, which fields only a
//! distributed Map takes, `ItemsPath`/`Items`, `ItemSelector`, concurrency and tolerated
//! failures, and the distributed Map's ItemReader, ItemBatcher and ResultWriter.

use super::*;

impl Checker {
    pub(super) fn map(&mut self, o: Obj) -> Map {
        // The processor first: its mode decides which other fields are allowed.
        let processor = match (o.get("ItemProcessor"), o.get("Iterator")) {
            (Some(v), iterator) => {
                if iterator.is_some() {
                    self.report(
                        o.path,
                        "`ItemProcessor` and `Iterator` (its deprecated name) are mutually exclusive",
                    );
                }
                Some(("ItemProcessor", v))
            }
            (None, Some(v)) => Some(("Iterator", v)),
            (None, None) => {
                self.report(o.path, "a Map state needs `ItemProcessor`");
                None
            }
        };
        let mut mode = MapMode::Inline;
        let processor = match processor {
            Some((key, v)) => {
                let at = o.at(key);
                let extra: &[&str] = if key == "ItemProcessor" {
                    if let Some(config) = v.get("ProcessorConfig") {
                        mode = self.processor_config(config, &member_path(&at, "ProcessorConfig"));
                    }
                    &["ProcessorConfig"]
                } else {
                    &[]
                };
                let what = if key == "ItemProcessor" {
                    "an ItemProcessor"
                } else {
                    "an Iterator"
                };
                self.machine(v, &at, what, extra)
            }
            None => placeholder_machine(),
        };
        let (items, item_selector_jsonata) = if self.jsonata {
            (
                o.get("Items")
                    .and_then(|v| self.jsonata_template(v, &o.at("Items"), "Items")),
                o.get("ItemSelector")
                    .and_then(|v| self.jsonata_template(v, &o.at("ItemSelector"), "ItemSelector")),
            )
        } else {
            (None, None)
        };
        let item_selector = match (o.get("ItemSelector"), o.get("Parameters")) {
            _ if self.jsonata => None,
            (Some(_), Some(_)) => {
                self.report(
                    o.path,
                    "`ItemSelector` and `Parameters` (its deprecated name on a Map) are mutually \
                     exclusive",
                );
                None
            }
            (Some(v), None) => self.template(v, &o.at("ItemSelector"), "ItemSelector"),
            (None, Some(v)) => self.template(v, &o.at("Parameters"), "Parameters"),
            (None, None) => None,
        };
        let items_path = o
            .get("ItemsPath")
            .and_then(|v| self.path(v, &o.at("ItemsPath"), "ItemsPath"));
        let max_concurrency = self.count(o, "MaxConcurrency", 0);
        let tolerated_failure_count = self.count(o, "ToleratedFailureCount", 0);
        let tolerated_failure_percentage = self.percentage(o);
        let label = self.string(o, "Label");
        if let Some(l) = &label {
            let n = l.chars().count();
            if n > MAX_LABEL_CHARS {
                self.report(
                    o.at("Label"),
                    format!("`Label` is {n} characters long; the limit is {MAX_LABEL_CHARS}"),
                );
            }
        }
        let item_reader = o
            .get("ItemReader")
            .and_then(|v| self.item_reader(v, &o.at("ItemReader")));
        let item_batcher = o
            .get("ItemBatcher")
            .and_then(|v| self.item_batcher(v, &o.at("ItemBatcher")));
        let result_writer = o
            .get("ResultWriter")
            .and_then(|v| self.result_writer(v, &o.at("ResultWriter")));
        // AWS accepts the tolerated-failure fields on an inline Map in a JSONata state (its
        // recorded behaviour; the guide lists them for distributed Maps only).
        let recorded_inline: &[&str] = if self.jsonata {
            &["ToleratedFailureCount", "ToleratedFailurePercentage"]
        } else {
            &[]
        };
        if mode == MapMode::Inline {
            for key in [
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "Label",
            ] {
                if o.has(key) && !recorded_inline.contains(&key) {
                    self.report(
                        o.at(key),
                        format!(
                            "`{key}` applies only to a distributed Map \
                             (ItemProcessor.ProcessorConfig.Mode DISTRIBUTED)"
                        ),
                    );
                }
            }
        }
        if o.has("ItemReader") && o.has("ItemsPath") {
            self.report(
                o.at("ItemsPath"),
                "`ItemsPath` cannot be used with `ItemReader`: the reader supplies the items",
            );
        }
        Map {
            items_path,
            items,
            item_selector_jsonata,
            item_selector,
            processor: Arc::new(processor),
            mode,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            item_reader,
            item_batcher,
            result_writer,
            label,
        }
    }

    fn processor_config(&mut self, v: &Value, at: &str) -> MapMode {
        let Some(m) = self.object(v, at, "`ProcessorConfig`") else {
            return MapMode::Inline;
        };
        let c = Obj { map: m, path: at };
        self.fields(c, &["Mode", "ExecutionType"], "`ProcessorConfig`");
        let mode = match c.get("Mode") {
            None => MapMode::Inline,
            Some(Value::String(s)) if s == "INLINE" => MapMode::Inline,
            Some(Value::String(s)) if s == "DISTRIBUTED" => MapMode::Distributed,
            Some(other) => {
                self.report(
                    c.at("Mode"),
                    format!(
                        "`Mode` must be \"INLINE\" or \"DISTRIBUTED\", not {}",
                        show(other)
                    ),
                );
                MapMode::Inline
            }
        };
        match c.get("ExecutionType") {
            None if mode == MapMode::Distributed => self.report(
                at,
                "`ExecutionType` (STANDARD or EXPRESS) is required when `Mode` is DISTRIBUTED",
            ),
            None => {}
            Some(v) => {
                if !matches!(v.as_str(), Some("STANDARD" | "EXPRESS")) {
                    self.report(
                        c.at("ExecutionType"),
                        format!(
                            "`ExecutionType` must be \"STANDARD\" or \"EXPRESS\", not {}",
                            show(v)
                        ),
                    );
                } else if mode == MapMode::Inline {
                    self.report(
                        c.at("ExecutionType"),
                        "`ExecutionType` applies only when `Mode` is DISTRIBUTED",
                    );
                }
            }
        }
        mode
    }

    fn percentage(&mut self, o: Obj) -> Option<Percentage> {
        let (key, path_key) = (
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        );
        match (o.get(key), o.get(path_key)) {
            (Some(_), Some(_)) => {
                self.report(
                    o.path,
                    format!("`{key}` and `{path_key}` are mutually exclusive"),
                );
                None
            }
            (Some(Value::String(s)), None) if self.jsonata && crate::jsonata::is_expression(s) => {
                let v = Value::String(s.clone());
                self.jsonata_expression(&v, &o.at(key), key)
                    .map(Percentage::Expression)
            }
            (Some(v), None) => match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(Percentage::Literal(p)),
                _ => {
                    self.report(
                        o.at(key),
                        format!("`{key}` must be a number from 0 to 100, not {}", show(v)),
                    );
                    None
                }
            },
            (None, Some(v)) => self
                .path(v, &o.at(path_key), path_key)
                .map(Percentage::Path),
            (None, None) => None,
        }
    }

    fn item_reader(&mut self, v: &Value, at: &str) -> Option<ItemReader> {
        let m = self.object(v, at, "`ItemReader`")?;
        let o = Obj { map: m, path: at };
        self.fields(
            o,
            &["Resource", "ReaderConfig", "Parameters"],
            "`ItemReader`",
        );
        let listing = match self.required_string(o, "Resource").as_deref() {
            Some(GET_OBJECT) => Some(false),
            Some(LIST_OBJECTS) => Some(true),
            Some(other) => {
                self.report(
                    o.at("Resource"),
                    format!(
                        "ItemReader resource `{other}` is not supported: use `{GET_OBJECT}` or \
                         `{LIST_OBJECTS}`"
                    ),
                );
                None
            }
            None => None,
        };
        let mut input = if listing == Some(true) {
            ItemInput::Listing
        } else {
            ItemInput::Json
        };
        let mut csv_headers = None;
        let mut max_items = None;
        if let Some(rc) = o.get("ReaderConfig") {
            let rat = o.at("ReaderConfig");
            if let Some(rm) = self.object(rc, &rat, "`ReaderConfig`") {
                let r = Obj {
                    map: rm,
                    path: &rat,
                };
                self.fields(
                    r,
                    &[
                        "InputType",
                        "CSVHeaderLocation",
                        "CSVHeaders",
                        "MaxItems",
                        "MaxItemsPath",
                    ],
                    "`ReaderConfig`",
                );
                match r.get("InputType") {
                    None => {}
                    Some(_) if listing == Some(true) => self.report(
                        r.at("InputType"),
                        format!("`InputType` does not apply to `{LIST_OBJECTS}`"),
                    ),
                    Some(v) => match v.as_str() {
                        Some("JSON") => input = ItemInput::Json,
                        Some("JSONL") => input = ItemInput::Jsonl,
                        Some("CSV") => input = ItemInput::Csv,
                        Some(other @ ("MANIFEST" | "PARQUET")) => self.report(
                            r.at("InputType"),
                            format!("InputType `{other}` is not supported by this engine"),
                        ),
                        _ => self.report(
                            r.at("InputType"),
                            format!(
                                "`InputType` must be \"JSON\", \"JSONL\" or \"CSV\", not {}",
                                show(v)
                            ),
                        ),
                    },
                }
                let csv = input == ItemInput::Csv;
                for key in ["CSVHeaderLocation", "CSVHeaders"] {
                    if r.has(key) && !csv {
                        self.report(r.at(key), format!("`{key}` applies only to InputType CSV"));
                    }
                }
                let given = match r.get("CSVHeaderLocation") {
                    None => false,
                    Some(Value::String(s)) if s == "FIRST_ROW" => false,
                    Some(Value::String(s)) if s == "GIVEN" => true,
                    Some(other) => {
                        self.report(
                            r.at("CSVHeaderLocation"),
                            format!(
                                "`CSVHeaderLocation` must be \"FIRST_ROW\" or \"GIVEN\", not {}",
                                show(other)
                            ),
                        );
                        false
                    }
                };
                match r.get("CSVHeaders") {
                    None if given => self.report(
                        &rat,
                        "`CSVHeaders` is required when `CSVHeaderLocation` is GIVEN",
                    ),
                    None => {}
                    Some(_) if !given && csv => self.report(
                        r.at("CSVHeaders"),
                        "`CSVHeaders` applies only when `CSVHeaderLocation` is GIVEN",
                    ),
                    Some(v) => {
                        let headers: Option<Vec<String>> = match v {
                            Value::Array(a) if !a.is_empty() => {
                                a.iter().map(|h| h.as_str().map(str::to_string)).collect()
                            }
                            _ => None,
                        };
                        match headers {
                            Some(h) => csv_headers = Some(h).filter(|_| given),
                            None => self.report(
                                r.at("CSVHeaders"),
                                "`CSVHeaders` must be a non-empty array of strings",
                            ),
                        }
                    }
                }
                max_items = self.count(r, "MaxItems", 1);
            }
        }
        let parameters = match o.get("Parameters") {
            None => {
                self.report(
                    at,
                    "the field `Parameters` is required (the `Bucket` and `Key`, or `Prefix`, to read)",
                );
                None
            }
            Some(v) => self.template(v, &o.at("Parameters"), "Parameters"),
        };
        Some(ItemReader {
            input,
            parameters: parameters?,
            csv_headers,
            max_items,
        })
    }

    fn item_batcher(&mut self, v: &Value, at: &str) -> Option<ItemBatcher> {
        let m = self.object(v, at, "`ItemBatcher`")?;
        let o = Obj { map: m, path: at };
        self.fields(
            o,
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ],
            "`ItemBatcher`",
        );
        let max_items_per_batch = self.count(o, "MaxItemsPerBatch", 1);
        let max_input_bytes_per_batch = self.count(o, "MaxInputBytesPerBatch", 1);
        if let Some(Count::Literal(n)) = max_input_bytes_per_batch {
            if n > MAX_INPUT_BYTES_PER_BATCH {
                self.report(
                    o.at("MaxInputBytesPerBatch"),
                    format!(
                        "`MaxInputBytesPerBatch` is {n}; the limit is {MAX_INPUT_BYTES_PER_BATCH} (256 KiB)"
                    ),
                );
            }
        }
        let limits = [
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        ];
        if !limits.iter().any(|k| o.has(k)) {
            self.report(
                at,
                "`ItemBatcher` needs `MaxItemsPerBatch` or `MaxInputBytesPerBatch` (or a `…Path` form)",
            );
        }
        let batch_input = o
            .get("BatchInput")
            .and_then(|v| self.template(v, &o.at("BatchInput"), "BatchInput"));
        Some(ItemBatcher {
            max_items_per_batch,
            max_input_bytes_per_batch,
            batch_input,
        })
    }

    fn result_writer(&mut self, v: &Value, at: &str) -> Option<ResultWriter> {
        let m = self.object(v, at, "`ResultWriter`")?;
        let o = Obj { map: m, path: at };
        self.fields(o, &["Resource", "Parameters"], "`ResultWriter`");
        if let Some(resource) = self.required_string(o, "Resource") {
            if resource != PUT_OBJECT {
                self.report(
                    o.at("Resource"),
                    format!(
                        "ResultWriter resource `{resource}` is not supported: use `{PUT_OBJECT}`"
                    ),
                );
            }
        }
        let parameters = match o.get("Parameters") {
            None => {
                self.report(
                    at,
                    "the field `Parameters` is required (the `Bucket` and `Prefix` to write to)",
                );
                None
            }
            Some(v) => self.template(v, &o.at("Parameters"), "Parameters"),
        };
        Some(ResultWriter {
            parameters: parameters?,
        })
    }
}
