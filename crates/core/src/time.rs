//! Time is UTC. The store keeps instants as milliseconds since the Unix epoch.

use chrono::{DateTime, TimeZone, Utc};

pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// Serializes an instant exactly as chrono's own `Serialize` does (RFC 3339, `Z`, the fraction
/// only as long as needed: none, 3, 6 or 9 digits), without going through `Display`: that path
/// writes one character at a time through the formatting machinery, which was 7% of `serve`'s
/// CPU on a page of 50 clients (bench/platform). Use with `#[serde(serialize_with = …)]`.
pub fn serialize<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return s.collect_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    // "YYYY-MM-DDTHH:MM:SS" first, then the fraction and "Z".
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    digits(&mut b[0..4], year.unsigned_abs());
    digits(&mut b[5..7], t.month());
    digits(&mut b[8..10], t.day());
    digits(&mut b[11..13], t.hour());
    digits(&mut b[14..16], t.minute());
    digits(&mut b[17..19], t.second());
    let mut n = 19;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        // A leap second: rare enough for the general path.
        return s.collect_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    if nanos != 0 {
        let (value, width) = if nanos.is_multiple_of(1_000_000) {
            (nanos / 1_000_000, 3)
        } else if nanos.is_multiple_of(1_000) {
            (nanos / 1_000, 6)
        } else {
            (nanos, 9)
        };
        b[19] = b'.';
        digits(&mut b[20..20 + width], value);
        n = 20 + width;
    }
    b[n] = b'Z';
    s.serialize_str(std::str::from_utf8(&b[..=n]).unwrap_or_default())
}

/// Writes `v` as decimal digits filling `out` (zero-padded on the left).
fn digits(out: &mut [u8], mut v: u32) {
    for d in out.iter_mut().rev() {
        *d = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialize_writes_what_chrono_writes() {
        let cases = [
            from_millis(0),
            from_millis(1_795_793_039_211),
            from_millis(1_795_793_039_000),
            from_millis(-86_400_001),
            Utc.timestamp_opt(1_700_000_000, 123_456_000).unwrap(),
            Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap(),
            Utc.timestamp_opt(1_700_000_000, 5).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            DateTime::<Utc>::MIN_UTC,
        ];
        for t in cases {
            let mut ours = serde_json::Serializer::new(Vec::new());
            serialize(&t, &mut ours).unwrap();
            assert_eq!(
                String::from_utf8(ours.into_inner()).unwrap(),
                serde_json::to_string(&t).unwrap(),
                "{t:?}"
            );
        }
    }
}
