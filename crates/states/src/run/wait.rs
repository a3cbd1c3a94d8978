//! Wait states: how long, from Seconds, Timestamp, their paths and expressions.

use super::*;

impl Inner {
    pub(super) fn wait_duration(
        &self,
        w: &Wait,
        input: &Value,
        ctx: &Bindings,
    ) -> Result<Duration, StatesError> {
        let until = |t: DateTime<Utc>| -> Result<Duration, StatesError> {
            Ok((t - self.services.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO))
        };
        match w {
            Wait::Seconds(s) => Ok(Duration::from_secs(*s)),
            Wait::Timestamp(t) => until(t.with_timezone(&Utc)),
            Wait::SecondsPath(p) => {
                let v = p
                    .select(input, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                // AWS's causes, as recorded (test_wait[test_base_wait_seconds_path]).
                match (v.as_u64(), v.as_i64()) {
                    (Some(s), _) => Ok(Duration::from_secs(s)),
                    (None, Some(_)) => Err(StatesError::runtime(format!(
                        "The SecondsPath parameter references a negative value: {} == {v}",
                        p.as_str()
                    ))),
                    (None, None) => Err(StatesError::runtime(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                        p.as_str(),
                        raw_text(&v)
                    ))),
                }
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
                let t = v
                    .as_str()
                    .and_then(crate::choice::parse_timestamp)
                    .ok_or_else(|| {
                        StatesError::new(
                            names::QUERY_EVALUATION_ERROR,
                            format!(
                                "Timestamp '{}' returned {v}, not an RFC 3339 timestamp",
                                e.as_str()
                            ),
                        )
                    })?;
                until(t.with_timezone(&Utc))
            }
            Wait::TimestampPath(p) => {
                let v = p
                    .select(input, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                let t = v
                    .as_str()
                    .and_then(crate::choice::parse_timestamp)
                    .ok_or_else(|| {
                        StatesError::runtime(format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 \
                         extended offset date-time format string: {} == {}",
                            p.as_str(),
                            raw_text(&v)
                        ))
                    })?;
                until(t.with_timezone(&Utc))
            }
        }
        .and_then(|d| match d.as_secs() > MAX_WAIT_SECONDS {
            true => Err(StatesError::runtime("Wait state delay is too long.")),
            false => Ok(d),
        })
    }
}

/// The longest wait AWS accepts: 2^31 - 1 seconds (recorded, test_wait
/// [test_timestamp_too_far_in_future_boundary]: 24,855 days wait, 24,856 fail).
const MAX_WAIT_SECONDS: u64 = i32::MAX as u64;
