//! Map states: the items (ItemsPath, Items, an ItemReader), ItemSelector, concurrency,
//! tolerated failures, ItemBatcher and ResultWriter.

use super::*;

impl Inner {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn map(
        self: Arc<Self>,
        scope: &str,
        state: &State,
        m: &Map,
        entered: u64,
        effective: &Value,
        ctx: &Bindings,
        resume: Option<Children>,
    ) -> Result<Value, StatesError> {
        let items = self.map_items(m, effective, ctx).await?;
        let mut resume = resume.unwrap_or_default();
        let total = items.len();
        self.push(
            scope,
            kinds::MAP_STATE_STARTED,
            json!({"length": total}),
            reused(&resume.done),
        );
        let limit = match &m.max_concurrency {
            Some(c) => count(c, effective, ctx, "MaxConcurrencyPath")?,
            None => 0,
        };
        let limit = if limit == 0 {
            total.max(1)
        } else {
            limit as usize
        };
        let tolerated = self.tolerated(m, effective, ctx, total)?;
        let name = state.name.clone();
        // Shared, not copied per iteration: the input may hold every item.
        let shared = Arc::new(effective.clone());
        let iterations = items.into_iter().enumerate().map(|(i, item)| {
            let this = self.clone();
            let child = child_scope(scope, &name, entered, i);
            let done = resume.done.remove(&i);
            let partial = resume.partial.remove(&i);
            let processor = m.processor.clone();
            let selector = m.item_selector.clone();
            let selector_jsonata = m.item_selector_jsonata.clone();
            let effective = shared.clone();
            let scope = scope.to_string();
            let name = name.clone();
            let outer = ctx.variables.clone();
            let sees_outer = m.mode != MapMode::Distributed;
            async move {
                if let Some(out) = done {
                    return (i, Ok(out));
                }
                let input = match (&selector, &selector_jsonata) {
                    (Some(t), _) => {
                        let now = this.services.clock.now();
                        let ctx = this.context(&name, now, Some(0), Some((i, &item)), &outer);
                        match t.render(&effective, &ctx) {
                            Ok(v) => v,
                            Err(e) => return (i, Err(e)),
                        }
                    }
                    (None, Some(t)) => {
                        let now = this.services.clock.now();
                        let ctx = this.context(&name, now, Some(0), Some((i, &item)), &outer);
                        match t.render(States::input(&effective), &ctx) {
                            Ok(v) => v,
                            Err(e) => return (i, Err(e)),
                        }
                    }
                    (None, None) => item,
                };
                this.push(
                    &scope,
                    kinds::MAP_ITERATION_STARTED,
                    json!({"name": name, "index": i}),
                    None,
                );
                let variables = outer.nested(sees_outer);
                let result = match partial {
                    Some(Resume::At {
                        state,
                        input,
                        children,
                        variables: assigned,
                    }) => {
                        let variables = variables.with(&assigned);
                        this.clone()
                            .run_machine(child, processor, state, input, Some(children), variables)
                            .await
                    }
                    Some(Resume::Done(out)) => Ok(out),
                    None => {
                        let start = processor.start_at.clone();
                        this.clone()
                            .run_machine(child, processor, start, input, None, variables)
                            .await
                    }
                };
                let kind = if result.is_ok() {
                    kinds::MAP_ITERATION_SUCCEEDED
                } else {
                    kinds::MAP_ITERATION_FAILED
                };
                this.push(&scope, kind, json!({"name": name, "index": i}), None);
                (i, result)
            }
        });
        let mut stream = futures::stream::iter(iterations).buffer_unordered(limit);
        let mut results: Vec<Option<Result<Value, StatesError>>> = vec![None; total];
        let mut failures = 0usize;
        let mut first_error: Option<StatesError> = None;
        while let Some((i, r)) = stream.next().await {
            if let Err(e) = &r {
                failures += 1;
                first_error.get_or_insert_with(|| e.clone());
                if failures > tolerated {
                    break;
                }
            }
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        }
        drop(stream);
        if failures > tolerated {
            let e = if m.mode == MapMode::Distributed {
                StatesError::new(
                    names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    format!(
                        "{failures} of {total} items failed, more than the {tolerated} tolerated"
                    ),
                )
            } else {
                first_error.unwrap_or_else(|| StatesError::runtime("a Map iteration failed"))
            };
            self.push(
                scope,
                kinds::MAP_STATE_FAILED,
                json!({"error": e.error, "cause": e.cause}),
                None,
            );
            return Err(e);
        }
        self.push(scope, kinds::MAP_STATE_SUCCEEDED, Value::Null, None);
        let outputs: Vec<Value> = results
            .into_iter()
            .map(|r| match r {
                Some(Ok(v)) => v,
                Some(Err(e)) => e.to_output(),
                None => Value::Null,
            })
            .collect();
        match &m.result_writer {
            Some(w) => self.write_results(state, w, effective, ctx, outputs).await,
            None => Ok(Value::Array(outputs)),
        }
    }

    pub(super) async fn map_items(
        &self,
        m: &Map,
        effective: &Value,
        ctx: &Bindings,
    ) -> Result<Vec<Value>, StatesError> {
        let items = match &m.item_reader {
            Some(reader) => {
                let objects = self.services.objects.as_ref().ok_or_else(|| {
                    StatesError::new(
                        names::ITEM_READER_FAILED,
                        "this engine has no bucket access bound for ItemReader",
                    )
                })?;
                let params = reader.parameters.render(effective, ctx)?;
                let max = reader
                    .max_items
                    .as_ref()
                    .map(|c| count(c, effective, ctx, "MaxItemsPath"))
                    .transpose()?;
                items::read_items(
                    objects.as_ref(),
                    reader.input,
                    &params,
                    reader.csv_headers.as_deref(),
                    max,
                )
                .await?
            }
            None if m.items.is_some() => {
                let items = m
                    .items
                    .as_ref()
                    .map(|t| t.render(States::input(effective), ctx));
                match items.transpose()? {
                    Some(Value::Array(items)) => items,
                    other => {
                        return Err(StatesError::new(
                            names::QUERY_EVALUATION_ERROR,
                            format!(
                                "Map's Items must be an array, it is {}",
                                other.as_ref().map(kind_of).unwrap_or("nothing")
                            ),
                        ))
                    }
                }
            }
            None => {
                let selected = match &m.items_path {
                    Some(p) if !p.is_root() => p.select(effective, ctx).map_err(|e| {
                        StatesError::runtime(format!("ItemsPath '{}': {}", p.as_str(), e.message))
                    })?,
                    _ => effective.clone(),
                };
                match selected {
                    Value::Array(items) => items,
                    other => {
                        return Err(StatesError::runtime(format!(
                            "Map's ItemsPath must select an array, it selected {}",
                            kind_of(&other)
                        )))
                    }
                }
            }
        };
        Ok(match &m.item_batcher {
            Some(b) => {
                let max_items = b
                    .max_items_per_batch
                    .as_ref()
                    .map(|c| count(c, effective, ctx, "MaxItemsPerBatchPath"))
                    .transpose()?;
                let max_bytes = b
                    .max_input_bytes_per_batch
                    .as_ref()
                    .map(|c| count(c, effective, ctx, "MaxInputBytesPerBatchPath"))
                    .transpose()?;
                let batch_input = b
                    .batch_input
                    .as_ref()
                    .map(|t| t.render(effective, ctx))
                    .transpose()?;
                items::batch_items(items, max_items, max_bytes, batch_input.as_ref())
            }
            None => items,
        })
    }

    pub(super) fn tolerated(
        &self,
        m: &Map,
        effective: &Value,
        ctx: &Bindings,
        total: usize,
    ) -> Result<usize, StatesError> {
        let by_count = m
            .tolerated_failure_count
            .as_ref()
            .map(|c| count(c, effective, ctx, "ToleratedFailureCountPath"))
            .transpose()?
            .map(|c| c as usize);
        let by_percentage = match &m.tolerated_failure_percentage {
            Some(Percentage::Literal(p)) => Some(*p),
            Some(Percentage::Path(path)) => {
                let v = path
                    .select(effective, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                // AWS's causes, as recorded
                // (test_base_scenarios[test_map_state_tolerated_failure_percentage_path]).
                let p = v.as_f64().ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which \
                         is not a valid float: {}",
                        raw_text(&v),
                        path.as_str()
                    ))
                })?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(StatesError::runtime(
                        "ToleratedFailurePercentage must be between 0 and 100.",
                    ));
                }
                Some(p)
            }
            Some(Percentage::Expression(e)) => {
                let v = e.eval(States::input(effective), ctx)?;
                match v.as_f64() {
                    Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                    _ => {
                        return Err(StatesError::new(
                            names::QUERY_EVALUATION_ERROR,
                            format!(
                                "ToleratedFailurePercentage '{}' returned {v}, not a number \
                                 from 0 to 100",
                                e.as_str()
                            ),
                        ))
                    }
                }
            }
            None => None,
        }
        .map(|p| ((p / 100.0) * total as f64).floor() as usize);
        Ok(match (by_count, by_percentage) {
            (None, None) => 0,
            (Some(c), None) => c,
            (None, Some(p)) => p,
            (Some(c), Some(p)) => c.max(p),
        })
    }

    pub(super) async fn write_results(
        &self,
        state: &State,
        writer: &crate::model::ResultWriter,
        effective: &Value,
        ctx: &Bindings,
        outputs: Vec<Value>,
    ) -> Result<Value, StatesError> {
        let failed = |cause: String| StatesError::new(names::RESULT_WRITER_FAILED, cause);
        let objects = self.services.objects.as_ref().ok_or_else(|| {
            failed("this engine has no bucket access bound for ResultWriter".into())
        })?;
        let params = writer.parameters.render(effective, ctx)?;
        let bucket = params
            .get("Bucket")
            .and_then(Value::as_str)
            .ok_or_else(|| failed("ResultWriter Parameters need a string Bucket".into()))?;
        let prefix = params.get("Prefix").and_then(Value::as_str).unwrap_or("");
        let run_id = uuid::Uuid::new_v4();
        let base = format!(
            "{}{run_id}",
            if prefix.is_empty() || prefix.ends_with('/') {
                prefix.to_string()
            } else {
                format!("{prefix}/")
            }
        );
        let (ok, bad): (Vec<_>, Vec<_>) = outputs
            .into_iter()
            .enumerate()
            .partition(|(_, v)| v.get("Error").is_none() || v.get("Cause").is_none());
        let record = |(i, v): (usize, Value), status: &str| json!({"Index": i, "Status": status, "Output": v.to_string()});
        let succeeded: Vec<Value> = ok.into_iter().map(|x| record(x, "SUCCEEDED")).collect();
        let failed_items: Vec<Value> = bad.into_iter().map(|x| record(x, "FAILED")).collect();
        let mut manifest_files = Vec::new();
        for (name, rows) in [
            ("SUCCEEDED_0.json", &succeeded),
            ("FAILED_0.json", &failed_items),
        ] {
            if rows.is_empty() {
                continue;
            }
            let key = format!("{base}/{name}");
            objects
                .put(
                    bucket,
                    &key,
                    Value::Array(rows.clone()).to_string().into_bytes(),
                )
                .await
                .map_err(failed)?;
            manifest_files.push(key);
        }
        let map_run_arn = format!(
            "arn:aws:states:local:000000000000:mapRun:{}/{}:{run_id}",
            self.definition_name(),
            state.name
        );
        let manifest_key = format!("{base}/manifest.json");
        let manifest = json!({
            "DestinationBucket": bucket,
            "MapRunArn": map_run_arn,
            "ResultFiles": {
                "SUCCEEDED": manifest_files.iter().filter(|k| k.ends_with("SUCCEEDED_0.json")).map(|k| json!({"Key": k, "Size": 0})).collect::<Vec<_>>(),
                "FAILED": manifest_files.iter().filter(|k| k.ends_with("FAILED_0.json")).map(|k| json!({"Key": k, "Size": 0})).collect::<Vec<_>>(),
            }
        });
        objects
            .put(bucket, &manifest_key, manifest.to_string().into_bytes())
            .await
            .map_err(failed)?;
        Ok(json!({
            "MapRunArn": map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
        }))
    }

    pub(super) fn definition_name(&self) -> String {
        self.state_machine_ctx
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("local")
            .to_string()
    }
}
