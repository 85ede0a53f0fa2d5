//! Cron expressions for recurring schedules (five fields, or six with seconds), in UTC.

use chrono::{DateTime, Utc};

/// A parsed cron expression.
#[derive(Clone, Debug)]
pub struct CronExpr {
    text: String,
    inner: croner::Cron,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{text}` is not a cron expression ({reason}); use five fields like `0 3 * * *` (03:00 UTC daily) or six with seconds"
)]
pub struct CronError {
    pub text: String,
    pub reason: String,
}

impl CronExpr {
    pub fn parse(text: &str) -> Result<Self, CronError> {
        let inner = croner::parser::CronParser::new()
            .parse(text)
            .map_err(|e| CronError {
                text: text.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            text: text.to_owned(),
            inner,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner.find_next_occurrence(&t, false).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn next_tick_is_strictly_after() {
        let c = CronExpr::parse("0 3 * * *").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 0).unwrap();
        assert_eq!(
            c.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 0, 0).unwrap()
        );
        let s = CronExpr::parse("*/2 * * * * *").unwrap();
        assert_eq!(
            s.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 2).unwrap()
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(CronExpr::parse("every day").is_err());
        assert!(CronExpr::parse("61 * * * *").is_err());
    }
}
