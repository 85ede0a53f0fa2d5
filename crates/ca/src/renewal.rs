//! When to renew a certificate: a pure function of its validity, the CA's ACME Renewal
//! Information window (RFC 9773) when offered, the current time, and a random draw.
//!
//! - With an ARI window: a uniformly random point inside it (RFC 9773 §4.2); a point already
//!   in the past means "now".
//! - Otherwise: two thirds of the lifetime after `not_before`, or half of it for lifetimes
//!   under 10 days (Let's Encrypt's ~6-day profile), moved by a jitter of up to ±1/60 of the
//!   lifetime (±1.5 days for 90 days, ±2.4 hours for 6 days) so that certificates issued
//!   together do not all renew in the same minute.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A renewal window suggested by the CA (RFC 9773 `suggestedWindow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Why a renewal time was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenewalBasis {
    /// Inside the CA's ARI window.
    AriWindow,
    /// Two thirds (or half) of the lifetime, with jitter.
    Lifetime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalTime {
    pub at: DateTime<Utc>,
    pub basis: RenewalBasis,
}

/// Lifetimes shorter than this renew at half instead of two thirds.
pub const SHORT_LIFETIME: Duration = Duration::days(10);

/// Picks the renewal time with the thread's random generator.
pub fn renewal_time(
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    ari: Option<&RenewalWindow>,
    now: DateTime<Utc>,
) -> RenewalTime {
    renewal_time_with(not_before, not_after, ari, now, rand::rng().random::<f64>())
}

/// The deterministic core: `draw` is a number in `[0, 1)` that places the time inside the
/// ARI window or inside the jitter interval.
pub fn renewal_time_with(
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    ari: Option<&RenewalWindow>,
    now: DateTime<Utc>,
    draw: f64,
) -> RenewalTime {
    let draw = if draw.is_finite() {
        draw.clamp(0.0, 1.0)
    } else {
        0.5
    };
    if let Some(w) = ari.filter(|w| w.end > w.start) {
        let span = (w.end - w.start).num_milliseconds() as f64;
        let at = w.start + Duration::milliseconds((span * draw) as i64);
        return RenewalTime {
            at: at.max(now),
            basis: RenewalBasis::AriWindow,
        };
    }
    let lifetime = (not_after - not_before).max(Duration::zero());
    let ms = lifetime.num_milliseconds() as f64;
    let fraction = if lifetime < SHORT_LIFETIME {
        1.0 / 2.0
    } else {
        2.0 / 3.0
    };
    let jitter = ms / 60.0 * (2.0 * draw - 1.0);
    let at = not_before + Duration::milliseconds((ms * fraction + jitter) as i64);
    RenewalTime {
        at: at.max(now),
        basis: RenewalBasis::Lifetime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn ninety_days_renews_around_day_sixty() {
        let nb = t("2026-01-01T00:00:00Z");
        let na = nb + Duration::days(90);
        let now = nb;
        let mid = renewal_time_with(nb, na, None, now, 0.5);
        assert_eq!(mid.at, nb + Duration::days(60));
        assert_eq!(mid.basis, RenewalBasis::Lifetime);
        let early = renewal_time_with(nb, na, None, now, 0.0).at;
        let late = renewal_time_with(nb, na, None, now, 1.0).at;
        assert_eq!(early, nb + Duration::days(60) - Duration::hours(36));
        assert_eq!(late, nb + Duration::days(60) + Duration::hours(36));
    }

    #[test]
    fn short_lifetimes_renew_at_half() {
        let nb = t("2026-01-01T00:00:00Z");
        let na = nb + Duration::days(6);
        let r = renewal_time_with(nb, na, None, nb, 0.5);
        assert_eq!(r.at, nb + Duration::days(3));
        let spread = renewal_time_with(nb, na, None, nb, 1.0).at - r.at;
        assert_eq!(spread, Duration::minutes(144));
    }

    #[test]
    fn ari_window_wins_and_past_points_mean_now() {
        let nb = t("2026-01-01T00:00:00Z");
        let na = nb + Duration::days(90);
        let w = RenewalWindow {
            start: t("2026-02-01T00:00:00Z"),
            end: t("2026-02-03T00:00:00Z"),
        };
        let r = renewal_time_with(nb, na, Some(&w), nb, 0.25);
        assert_eq!(r.at, t("2026-02-01T12:00:00Z"));
        assert_eq!(r.basis, RenewalBasis::AriWindow);
        // A window already passed (e.g. the CA revokes soon): renew now.
        let now = t("2026-03-01T00:00:00Z");
        assert_eq!(renewal_time_with(nb, na, Some(&w), now, 0.9).at, now);
        // A nonsense window (end before start) is ignored.
        let bad = RenewalWindow {
            start: w.end,
            end: w.start,
        };
        assert_eq!(
            renewal_time_with(nb, na, Some(&bad), nb, 0.5).basis,
            RenewalBasis::Lifetime
        );
    }

    #[test]
    fn random_draws_stay_inside_the_bounds() {
        let nb = t("2026-01-01T00:00:00Z");
        let na = nb + Duration::days(45);
        for _ in 0..1000 {
            let r = renewal_time(nb, na, None, nb);
            assert!(r.at >= nb + Duration::days(30) - Duration::hours(18));
            assert!(r.at <= nb + Duration::days(30) + Duration::hours(18));
        }
        assert_eq!(
            renewal_time_with(nb, na, None, nb, f64::NAN).at,
            nb + Duration::days(30)
        );
    }
}
