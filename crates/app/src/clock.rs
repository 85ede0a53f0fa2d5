//! Panel1's clock for domain automation: the real time in production; tests move it forward
//! together with the sandbox registry's clock to reach reminder days, expiry, grace and
//! redemption without waiting for them.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// The current time plus an offset that only tests change.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Real time.
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (tests).
    pub fn advance(&self, by: chrono::Duration) -> DateTime<Utc> {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
        self.now()
    }

    /// The offset from real time.
    pub fn offset(&self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now() {
        let c = Clock::system();
        let before = c.now();
        let after = c.advance(chrono::Duration::days(30));
        assert!(after - before >= chrono::Duration::days(30));
        assert!(after - before < chrono::Duration::days(30) + chrono::Duration::seconds(5));
        assert_eq!(c.offset(), chrono::Duration::days(30));
    }
}
