//! The checks of `Retry` and `Catch`: `ErrorEquals` lists (with `States.ALL` alone and
//! last), retrier numbers and jitter, catcher targets, `ResultPath`, and in JSONata states
//! the catcher's `Output` and `Assign`.

use super::*;

impl Checker {
    /// `ErrorEquals` of a retrier or catcher: a non-empty array of error names, with
    /// `States.ALL` alone. Returns the names and whether `States.ALL` is among them.
    fn error_equals(&mut self, o: Obj) -> (Vec<String>, bool) {
        let Some(v) = self.required(o, "ErrorEquals") else {
            return (Vec::new(), false);
        };
        let at = o.at("ErrorEquals");
        let items = match v {
            Value::Array(items) if !items.is_empty() => items,
            _ => {
                self.report(
                    &at,
                    "`ErrorEquals` must be a non-empty array of error names",
                );
                return (Vec::new(), false);
            }
        };
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => names.push(s.clone()),
                other => self.report(
                    index_path(&at, i),
                    format!("an error name must be a string, not {}", kind(other)),
                ),
            }
        }
        let all = names.iter().any(|n| n == crate::error::names::ALL);
        if all && items.len() > 1 {
            self.report(&at, "`States.ALL` must appear alone in `ErrorEquals`");
        }
        (names, all)
    }

    pub(super) fn retry(&mut self, o: Obj) -> Vec<Retrier> {
        let Some(v) = o.get("Retry") else {
            return Vec::new();
        };
        let at = o.at("Retry");
        let Value::Array(items) = v else {
            self.report(
                &at,
                format!("`Retry` must be an array of retriers, not {}", kind(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = index_path(&at, i);
            let Some(m) = self.object(item, &ip, "a retrier") else {
                continue;
            };
            let r = Obj { map: m, path: &ip };
            self.fields(
                r,
                &[
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ],
                "a retrier",
            );
            self.string(r, "Comment");
            let (error_equals, all) = self.error_equals(r);
            if all && i + 1 < items.len() {
                self.report(
                    r.at("ErrorEquals"),
                    "a retrier matching `States.ALL` must be the last in `Retry`",
                );
            }
            let mut retrier = Retrier {
                error_equals,
                ..Retrier::default()
            };
            if let Some(v) = r.get("IntervalSeconds") {
                if let Some(n) = self.integer(v, &r.at("IntervalSeconds"), "IntervalSeconds", 1) {
                    retrier.interval_seconds = n;
                }
            }
            if let Some(v) = r.get("MaxAttempts") {
                match v.as_u64().map(u32::try_from) {
                    Some(Ok(n)) => retrier.max_attempts = n,
                    _ => self.report(
                        r.at("MaxAttempts"),
                        format!(
                            "`MaxAttempts` must be a non-negative integer, not {}",
                            show(v)
                        ),
                    ),
                }
            }
            if let Some(v) = r.get("BackoffRate") {
                match v.as_f64() {
                    Some(rate) if rate >= 1.0 => retrier.backoff_rate = rate,
                    _ => self.report(
                        r.at("BackoffRate"),
                        format!(
                            "`BackoffRate` must be a number of at least 1.0, not {}",
                            show(v)
                        ),
                    ),
                }
            }
            if let Some(v) = r.get("MaxDelaySeconds") {
                retrier.max_delay_seconds =
                    self.integer(v, &r.at("MaxDelaySeconds"), "MaxDelaySeconds", 1);
            }
            match r.get("JitterStrategy") {
                None => {}
                Some(Value::String(s)) if s == "FULL" => retrier.jitter = Jitter::Full,
                Some(Value::String(s)) if s == "NONE" => retrier.jitter = Jitter::None,
                Some(v) => self.report(
                    r.at("JitterStrategy"),
                    format!(
                        "`JitterStrategy` must be \"FULL\" or \"NONE\", not {}",
                        show(v)
                    ),
                ),
            }
            out.push(retrier);
        }
        out
    }

    pub(super) fn catch(&mut self, o: Obj) -> Vec<Catcher> {
        let Some(v) = o.get("Catch") else {
            return Vec::new();
        };
        let at = o.at("Catch");
        let Value::Array(items) = v else {
            self.report(
                &at,
                format!("`Catch` must be an array of catchers, not {}", kind(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = index_path(&at, i);
            let Some(m) = self.object(item, &ip, "a catcher") else {
                continue;
            };
            let c = Obj { map: m, path: &ip };
            let allowed: &[&str] = if self.jsonata {
                &["ErrorEquals", "Next", "Output", "Comment", "Assign"]
            } else {
                &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"]
            };
            self.fields(c, allowed, "a catcher");
            self.string(c, "Comment");
            let (error_equals, all) = self.error_equals(c);
            if all && i + 1 < items.len() {
                self.report(
                    c.at("ErrorEquals"),
                    "a catcher matching `States.ALL` must be the last in `Catch`",
                );
            }
            let next = self
                .required(c, "Next")
                .and_then(|v| self.target(v, &c.at("Next"), "Next"));
            let result_path = self.result_path(c);
            let assign = self.assign(c);
            let output = match c.get("Output") {
                Some(v) if self.jsonata => self.jsonata_template(v, &c.at("Output"), "Output"),
                _ => None,
            };
            out.push(Catcher {
                error_equals,
                result_path,
                assign,
                output,
                next: next.unwrap_or_default(),
            });
        }
        out
    }
}
