//! Money: integer minor units and an ISO 4217 currency. No floating point anywhere.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validate::ValidationError;

/// An ISO 4217 currency code (`USD`, `EUR`, `JPY`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn parse(s: &str) -> Result<Currency, ValidationError> {
        let t = s.trim().to_ascii_uppercase();
        let b = t.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([b[0], b[1], b[2]]))
        } else {
            Err(ValidationError::field(
                "",
                "format",
                "must be a three-letter ISO 4217 currency code such as USD or EUR",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point (ISO 4217 minor units).
    pub fn minor_units(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s)
            .map_err(|e| serde::de::Error::custom(e.summary().trim_start_matches(": ").to_owned()))
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .examples([serde_json::json!("USD")])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

/// An amount of money in minor units (cents).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Minor units: 1234 USD is 12.34 USD.
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }

    /// Parses a decimal amount (`12.34`, `12`, `0.5`) in `currency`, refusing more decimals than
    /// the currency has and negative values.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Money, ValidationError> {
        let t = text.trim();
        let digits = currency.minor_units();
        let bad = || {
            ValidationError::field(
                "",
                "format",
                format!("must be an amount like 12.50 with at most {digits} decimals"),
            )
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() as u32 > digits
        {
            return Err(bad());
        }
        let scale = 10i64.pow(digits);
        let int: i64 = int.parse().map_err(|_| bad())?;
        let frac_val: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<width$}", width = digits as usize)
                .parse()
                .map_err(|_| bad())?
        };
        let amount = int
            .checked_mul(scale)
            .and_then(|v| v.checked_add(frac_val))
            .ok_or_else(bad)?;
        Ok(Money { amount, currency })
    }

    /// The decimal form without the currency (`12.34`).
    pub fn decimal(&self) -> String {
        let digits = self.currency.minor_units();
        if digits == 0 {
            return self.amount.to_string();
        }
        let scale = 10i64.pow(digits);
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale as u64,
            abs % scale as u64,
            width = digits as usize
        )
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        (self.currency == other.currency).then_some(())?;
        Some(Money {
            amount: self.amount.checked_add(other.amount)?,
            currency: self.currency,
        })
    }

    pub fn checked_mul(self, n: i64) -> Option<Money> {
        Some(Money {
            amount: self.amount.checked_mul(n)?,
            currency: self.currency,
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// How a sale price is derived from a cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Markup {
    /// Add a percentage, in basis points (2000 = 20 %).
    Percent { basis_points: i64 },
    /// Add a fixed amount in minor units.
    Fixed { amount: i64 },
}

impl Markup {
    /// The price for `cost`: the markup, then rounded up to the next amount whose last two
    /// minor digits are `ending` (e.g. 99 for x.99), when given.
    pub fn apply(&self, cost: Money, ending: Option<i64>) -> Money {
        let raw = match *self {
            // Round half up, in i128 so large amounts cannot overflow.
            Markup::Percent { basis_points } => {
                let v = i128::from(cost.amount) * i128::from(10_000 + basis_points);
                i64::try_from((v + 5_000) / 10_000).unwrap_or(i64::MAX)
            }
            Markup::Fixed { amount } => cost.amount.saturating_add(amount),
        };
        Money {
            amount: ending.map_or(raw, |e| round_up_to_ending(raw, e)),
            currency: cost.currency,
        }
    }
}

/// The smallest amount ≥ `amount` whose value modulo 100 is `ending` (0–99).
pub fn round_up_to_ending(amount: i64, ending: i64) -> i64 {
    let e = ending.rem_euclid(100);
    let base = amount - amount.rem_euclid(100) + e;
    if base >= amount { base } else { base + 100 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_format() {
        let m = Money::parse_decimal("12.5", Currency::USD).unwrap();
        assert_eq!(m.amount, 1250);
        assert_eq!(m.to_string(), "12.50 USD");
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(Money::parse_decimal("1200", jpy).unwrap().amount, 1200);
        assert!(
            Money::parse_decimal("12.5", jpy).is_err(),
            "yen have no decimals"
        );
        assert!(Money::parse_decimal("-1", Currency::USD).is_err());
        assert!(Money::parse_decimal("1.234", Currency::USD).is_err());
        assert!(Currency::parse("US").is_err());
        assert_eq!(Money::new(-5, Currency::EUR).to_string(), "-0.05 EUR");
    }

    #[test]
    fn markup_and_endings() {
        let cost = Money::new(1000, Currency::USD);
        assert_eq!(
            Markup::Percent { basis_points: 2000 }
                .apply(cost, None)
                .amount,
            1200
        );
        assert_eq!(
            Markup::Percent { basis_points: 2000 }
                .apply(cost, Some(99))
                .amount,
            1299
        );
        assert_eq!(
            Markup::Fixed { amount: 250 }.apply(cost, Some(0)).amount,
            1300
        );
        assert_eq!(round_up_to_ending(1299, 99), 1299);
        assert_eq!(round_up_to_ending(1300, 99), 1399);
        assert_eq!(
            Markup::Percent { basis_points: 1500 }
                .apply(Money::new(333, Currency::USD), None)
                .amount,
            383,
            "half up"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = Money::parse_decimal(&s, Currency::USD);
        }

        #[test]
        fn decimal_round_trips(amount in 0i64..1_000_000_000_000) {
            let m = Money::new(amount, Currency::USD);
            prop_assert_eq!(Money::parse_decimal(&m.decimal(), Currency::USD).unwrap(), m);
        }

        #[test]
        fn ending_is_the_next_at_or_above(amount in 0i64..10_000_000, ending in 0i64..100) {
            let r = round_up_to_ending(amount, ending);
            prop_assert!(r >= amount && r - amount < 100 && r % 100 == ending);
        }
    }
}
