//! Token amounts: `u64` base units with 6 decimals, checked arithmetic, and exact decimal text in both directions (no floats anywhere near money).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Decimals of the AITBC token.
pub const DECIMALS: u32 = 6;
/// Base units in one AITBC.
pub const BASE_UNITS_PER_AITBC: u64 = 1_000_000;

/// An amount of AITBC in base units (1 AITBC = 1,000,000 base units).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(pub u64);

/// Why a decimal text is not an amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("an amount is digits with an optional decimal point, like 12.5")]
    Malformed,
    #[error("AITBC has at most 6 decimals")]
    TooManyDecimals,
    #[error("the amount is too large")]
    Overflow,
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// Whole tokens.
    pub const fn from_aitbc(whole: u64) -> Option<Amount> {
        match whole.checked_mul(BASE_UNITS_PER_AITBC) {
            Some(units) => Some(Amount(units)),
            None => None,
        }
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    pub fn checked_mul(self, factor: u64) -> Option<Amount> {
        self.0.checked_mul(factor).map(Amount)
    }

    /// Parses decimal AITBC text (`"12.5"`, `"0.000001"`, `"3"`).
    pub fn parse_decimal(text: &str) -> Result<Amount, AmountError> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
            return Err(AmountError::Malformed);
        }
        if frac.len() > DECIMALS as usize {
            return Err(AmountError::TooManyDecimals);
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| AmountError::Overflow)?
        };
        let frac_units: u64 = if frac.is_empty() {
            0
        } else {
            // At most 6 digits, so this neither fails nor overflows.
            frac.parse::<u64>().map_err(|_| AmountError::Malformed)?
                * 10u64.pow(DECIMALS - frac.len() as u32)
        };
        whole
            .checked_mul(BASE_UNITS_PER_AITBC)
            .and_then(|u| u.checked_add(frac_units))
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// The amount as decimal AITBC without trailing zeros: `12.5`, `3`, `0.000001`.
    pub fn to_decimal(self) -> String {
        let whole = self.0 / BASE_UNITS_PER_AITBC;
        let frac = self.0 % BASE_UNITS_PER_AITBC;
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:06}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }

    /// The amount with all 6 decimals and grouped thousands, for tables: `1,234.500000`.
    pub fn to_grouped(self) -> String {
        let whole = (self.0 / BASE_UNITS_PER_AITBC).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{grouped}.{:06}", self.0 % BASE_UNITS_PER_AITBC)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} AITBC", self.to_decimal())
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse_decimal(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_round_trips() {
        let cases = [
            ("0", Ok(0)),
            ("1", Ok(1_000_000)),
            ("1.5", Ok(1_500_000)),
            (".5", Ok(500_000)),
            ("2.", Ok(2_000_000)),
            ("0.000001", Ok(1)),
            ("18446744073709.551615", Ok(u64::MAX)),
            ("18446744073709.551616", Err(AmountError::Overflow)),
            ("99999999999999999999", Err(AmountError::Overflow)),
            ("0.0000001", Err(AmountError::TooManyDecimals)),
            ("", Err(AmountError::Malformed)),
            (".", Err(AmountError::Malformed)),
            ("-1", Err(AmountError::Malformed)),
            ("1e6", Err(AmountError::Malformed)),
            ("1.2.3", Err(AmountError::Malformed)),
        ];
        for (text, want) in cases {
            let got = Amount::parse_decimal(text).map(|a| a.0);
            assert_eq!(got, want, "parsing {text:?}");
            if let Ok(units) = got {
                let back = Amount(units).to_decimal();
                assert_eq!(
                    Amount::parse_decimal(&back),
                    Ok(Amount(units)),
                    "{text:?} -> {back:?}"
                );
            }
        }
    }

    #[test]
    fn display_forms() {
        assert_eq!(Amount(1_500_000).to_decimal(), "1.5");
        assert_eq!(Amount(1).to_decimal(), "0.000001");
        assert_eq!(Amount(0).to_decimal(), "0");
        assert_eq!(Amount(1_234_500_000).to_grouped(), "1,234.500000");
        assert_eq!(Amount(999_000_000).to_grouped(), "999.000000");
        assert_eq!(Amount(1_000_000_000_000).to_grouped(), "1,000,000.000000");
        assert_eq!(Amount(2_000_000).to_string(), "2 AITBC");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Amount(u64::MAX).checked_add(Amount(1)), None);
        assert_eq!(Amount(1).checked_sub(Amount(2)), None);
        assert_eq!(Amount(5).checked_sub(Amount(2)), Some(Amount(3)));
        assert_eq!(Amount::from_aitbc(u64::MAX), None);
    }
}
