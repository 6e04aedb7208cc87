//! Exact decimal arithmetic for the order form: amounts and prices are parsed into integers, never floats.

/// Decimals of an AITBC amount (base units per token = 10^6).
const AITBC_DECIMALS: u32 = 6;
/// Decimals of a BTC price (satoshis per BTC = 10^8).
const BTC_DECIMALS: u32 = 8;

/// Parses a non-negative decimal with at most `decimals` fractional digits into units of
/// 10^-decimals. Returns `None` for anything else, including too many decimals.
pub fn parse_fixed(input: &str, decimals: u32) -> Option<u128> {
    let input = input.trim();
    let (whole, frac) = input.split_once('.').unwrap_or((input, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || frac.len() > decimals as usize {
        return None;
    }
    let scale = 10u128.checked_pow(decimals)?;
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_units: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>().ok()? * 10u128.pow(decimals - frac.len() as u32)
    };
    whole.checked_mul(scale)?.checked_add(frac_units)
}

/// The BTC cost, in satoshis rounded down, of `amount` AITBC at `price` BTC per AITBC.
pub fn order_total_sats(amount: &str, price: &str) -> Option<u128> {
    let amount = parse_fixed(amount, AITBC_DECIMALS)?;
    let price = parse_fixed(price, BTC_DECIMALS)?;
    // amount is in 1e-6 AITBC and price in 1e-8 BTC per AITBC, so the product is in 1e-14 BTC.
    Some(amount.checked_mul(price)? / 10u128.pow(AITBC_DECIMALS))
}

/// Formats satoshis as BTC with all eight decimals.
pub fn format_sats(sats: u128) -> String {
    let scale = 10u128.pow(BTC_DECIMALS);
    format!("{}.{:08}", sats / scale, sats % scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fixed_point_decimals() {
        let cases = [
            ("1", 6, Some(1_000_000)),
            ("1.5", 6, Some(1_500_000)),
            (".25", 6, Some(250_000)),
            ("3.", 6, Some(3_000_000)),
            ("0.000001", 6, Some(1)),
            ("0.0000001", 6, None),
            ("", 6, None),
            (".", 6, None),
            ("-1", 6, None),
            ("1e3", 6, None),
            ("1,5", 6, None),
            ("340282366920938463463374607431768211455", 6, None),
        ];
        for (input, decimals, want) in cases {
            assert_eq!(parse_fixed(input, decimals), want, "input {input:?}");
        }
    }

    #[test]
    fn totals_are_exact_and_round_down() {
        assert_eq!(order_total_sats("100", "0.00001"), Some(100_000));
        assert_eq!(order_total_sats("1.5", "0.00000003"), Some(4));
        assert_eq!(order_total_sats("abc", "1"), None);
        assert_eq!(format_sats(123_456_789), "1.23456789");
        assert_eq!(format_sats(5), "0.00000005");
    }
}
