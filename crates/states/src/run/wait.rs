//! Wait states: how long, from Seconds, Timestamp, their paths and expressions.

use super::*;

impl Inner {
    pub(super) fn wait_duration(
        &self,
        w: &Wait,
        input: &Value,
        ctx: &Bindings,
    ) -> Result<Duration, StatesError> {
        let until = |t: DateTime<Utc>| {
            (t - self.services.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
        };
        match w {
            Wait::Seconds(s) => Ok(Duration::from_secs(*s)),
            Wait::Timestamp(t) => Ok(until(t.with_timezone(&Utc))),
            Wait::SecondsPath(p) => {
                let v = p
                    .select(input, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                v.as_u64().map(Duration::from_secs).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "SecondsPath '{}' selected {v}, not a non-negative integer",
                        p.as_str()
                    ))
                })
            }
            Wait::SecondsExpression(e) => {
                let v = e.eval(States::input(input), ctx)?;
                v.as_u64().map(Duration::from_secs).ok_or_else(|| {
                    StatesError::new(
                        names::QUERY_EVALUATION_ERROR,
                        format!(
                            "Seconds '{}' returned {v}, not a non-negative integer",
                            e.as_str()
                        ),
                    )
                })
            }
            Wait::TimestampExpression(e) => {
                let v = e.eval(States::input(input), ctx)?;
                v.as_str()
                    .and_then(crate::choice::parse_timestamp)
                    .map(|t| until(t.with_timezone(&Utc)))
                    .ok_or_else(|| {
                        StatesError::new(
                            names::QUERY_EVALUATION_ERROR,
                            format!(
                                "Timestamp '{}' returned {v}, not an RFC 3339 timestamp",
                                e.as_str()
                            ),
                        )
                    })
            }
            Wait::TimestampPath(p) => {
                let v = p
                    .select(input, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                v.as_str()
                    .and_then(crate::choice::parse_timestamp)
                    .map(|t| until(t.with_timezone(&Utc)))
                    .ok_or_else(|| {
                        StatesError::runtime(format!(
                            "TimestampPath '{}' selected {v}, not an RFC 3339 timestamp",
                            p.as_str()
                        ))
                    })
            }
        }
    }
}
