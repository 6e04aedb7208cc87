//! Job receipts in the earlier system's format: canonical JSON (sorted keys, no nulls, no whitespace, ASCII only, Python-style floats) signed with Ed25519 over the canonical bytes themselves, the signature object `{alg, key_id, sig}` in unpadded base64url, and the receipt hash that goes on chain.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{Hash, PublicKey, SecretKey, Signature};

/// The only algorithm receipts are signed with.
pub const ALG: &str = "Ed25519";

/// A signature over a receipt: who signed (`key_id`, the public key) and the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSignature {
    pub alg: String,
    pub key_id: String,
    pub sig: String,
}

impl ReceiptSignature {
    /// The signer's public key, if `key_id` is one.
    pub fn key(&self) -> Option<PublicKey> {
        let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(&self.key_id).ok()?.try_into().ok()?;
        Some(PublicKey(bytes))
    }

    /// Whether this signs `message` with its own key.
    pub fn verifies(&self, message: &[u8]) -> bool {
        let Some(key) = self.key() else {
            return false;
        };
        let Some(sig) = URL_SAFE_NO_PAD
            .decode(&self.sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        self.alg == ALG && key.verify(message, &Signature(sig)).is_ok()
    }
}

/// The canonical JSON text of `value`: object keys sorted, null members and null array
/// elements dropped (recursively), no whitespace, non-ASCII escaped as `\uXXXX`, and floats as
/// Python writes them (`1.9`, `0.0`, `1e-05`), so receipts signed by the earlier system verify.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            let mut first = true;
            for item in items.iter().filter(|v| !v.is_null()) {
                if !first {
                    out.push(',');
                }
                first = false;
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut keys: Vec<&String> = members
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_canonical(out, &members[key]);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Integers as written; floats in Python's `repr` form: the shortest digits that round-trip,
/// positional for exponents from -4 to 15 (always with a fraction), otherwise `d.ddde±XX`.
fn write_number(out: &mut String, n: &serde_json::Number) {
    if n.is_i64() || n.is_u64() {
        out.push_str(&n.to_string());
        return;
    }
    let Some(f) = n.as_f64() else {
        out.push_str(&n.to_string());
        return;
    };
    write_python_float(out, f);
}

/// `f` as Python's `repr(float)` writes it.
pub fn python_float(f: f64) -> String {
    let mut out = String::new();
    write_python_float(&mut out, f);
    out
}

/// Appends `f` as Python's `repr(float)` writes it: the shortest digits that round-trip (ryu's),
/// positional for decimal exponents from -4 to 15 (always with a fraction), otherwise
/// `d.ddde±XX`. Written straight into `out`: an embedding's hash formats thousands of floats.
fn write_python_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        // Not a JSON number; Python's words for it.
        out.push_str(if f.is_nan() {
            "nan"
        } else if f < 0.0 {
            "-inf"
        } else {
            "inf"
        });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // ryu writes `1.9`, `0.0001`, `1e-5`, `1.2345678901234568e17`: read back its digits and the
    // decimal exponent of the first one.
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(f);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut exp = int.len() as i32 - 1 + exp;
    // At most 17 significant digits; the zeros around them are not kept.
    let mut digits = [0u8; 24];
    let mut n = 0;
    for b in int.bytes().chain(frac.bytes()) {
        if n == 0 && b == b'0' {
            exp -= 1;
        } else if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = std::str::from_utf8(&digits[..n]).unwrap_or("0");
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(digits);
        } else if point as usize >= digits.len() {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            out.push_str(".0");
        } else {
            let (int, frac) = digits.split_at(point as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let exp = exp.unsigned_abs();
        if exp < 10 {
            out.push('0');
        }
        out.push_str(&exp.to_string());
    }
}

/// What a miner claims for a finished job; with the job's facts it determines the receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobReceipt {
    pub receipt_id: String,
    pub job_id: String,
    /// The miner's id.
    pub provider: String,
    /// The client's id.
    pub client: String,
    /// GPU seconds, to the millisecond.
    pub units_ms: u64,
    /// AITBC base units per GPU second.
    pub unit_price: u64,
    /// Unix seconds.
    pub started_at: u64,
    pub completed_at: u64,
    /// SHA-256 (hex) of the canonical JSON of the job's result.
    pub result_hash: String,
    /// The chain the payment settles on.
    pub chain_id: String,
}

impl JobReceipt {
    /// What the job costs in base units: `units × unit_price`, rounded down.
    pub fn price(&self) -> u64 {
        let price = u128::from(self.units_ms) * u128::from(self.unit_price) / 1_000;
        u64::try_from(price).unwrap_or(u64::MAX)
    }

    /// The receipt payload in the earlier format (`units`, `unit_price` and `price` as decimal
    /// numbers, in GPU seconds and AITBC), with the exact base-unit price beside it
    /// (`price_base_units`), which is what the chain pays.
    pub fn payload(&self) -> Value {
        let aitbc = |base: u64| base as f64 / 1_000_000.0;
        serde_json::json!({
            "version": "1.0",
            "receipt_id": self.receipt_id,
            "job_id": self.job_id,
            "provider": self.provider,
            "client": self.client,
            "status": "COMPLETED",
            "units": self.units_ms as f64 / 1_000.0,
            "unit_type": "gpu_seconds",
            "unit_price": aitbc(self.unit_price),
            "price": aitbc(self.price()),
            "price_base_units": self.price(),
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "chain_id": self.chain_id,
            "metadata": { "result_hash": self.result_hash },
        })
    }
}

/// SHA-256 (hex) of the canonical JSON of `value`.
pub fn value_hash(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(value).as_bytes()))
}

/// The part of a receipt that is signed: everything but `signature` and `attestations`.
pub fn signed_part(receipt: &Value) -> Value {
    match receipt {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(k, _)| *k != "signature" && *k != "attestations")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// The canonical JSON of a receipt's signed part: the text its signatures sign and its hash
/// hashes.
pub fn signed_text(receipt: &Value) -> String {
    canonical_json(&signed_part(receipt))
}

/// SHA-256 of the canonical payload: what is anchored on chain.
pub fn receipt_hash(receipt: &Value) -> Hash {
    hash_of_signed_text(&signed_text(receipt))
}

/// The receipt hash of the receipt whose [`signed_text`] is `text`.
pub fn hash_of_signed_text(text: &str) -> Hash {
    Hash(Sha256::digest(text.as_bytes()).into())
}

/// Signs the receipt's payload (its signed part) with `key`.
pub fn sign(receipt: &Value, key: &SecretKey) -> ReceiptSignature {
    sign_signed_text(&signed_text(receipt), key)
}

/// Signs the receipt whose [`signed_text`] is `text` with `key`.
pub fn sign_signed_text(text: &str, key: &SecretKey) -> ReceiptSignature {
    ReceiptSignature {
        alg: ALG.into(),
        key_id: URL_SAFE_NO_PAD.encode(key.public_key().0),
        sig: URL_SAFE_NO_PAD.encode(key.sign(text.as_bytes()).0),
    }
}

/// What checking a receipt found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptCheck {
    /// The `signature` (the miner's) verifies over the payload.
    pub miner_signature: bool,
    /// Each attestation (the coordinator's) verifies over the payload, in order.
    pub attestations: Vec<bool>,
    /// The miner's key, if the signature names one.
    pub signer: Option<PublicKey>,
    /// Everything present verifies, and there is a signature.
    pub verified: bool,
}

/// Checks a receipt's signature and attestations against its payload.
pub fn verify(receipt: &Value) -> ReceiptCheck {
    let message = signed_text(receipt);
    let parse = |v: &Value| serde_json::from_value::<ReceiptSignature>(v.clone()).ok();
    let signature = receipt.get("signature").and_then(parse);
    let miner_signature = signature
        .as_ref()
        .is_some_and(|s| s.verifies(message.as_bytes()));
    let attestations: Vec<bool> = receipt
        .get("attestations")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|a| parse(a).is_some_and(|s| s.verifies(message.as_bytes())))
                .collect()
        })
        .unwrap_or_default();
    ReceiptCheck {
        miner_signature,
        verified: miner_signature && attestations.iter().all(|ok| *ok),
        attestations,
        signer: signature.and_then(|s| s.key()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_result_hashes_the_same_after_a_trip_through_json_text() {
        // Embeddings: floats whose shortest text needs all 17 digits, where a parser that is
        // not exact reads back a neighbouring value and the miner's hash would not match.
        let floats: Vec<Vec<f32>> = (1..400u32)
            .map(|i| {
                (0..8)
                    .map(|j| ((i * 7919 + j) as f32).sin() / 3.0)
                    .collect()
            })
            .collect();
        let result = json!({ "embeddings": floats });
        let again: Value = serde_json::from_str(&result.to_string()).expect("parses");
        assert_eq!(value_hash(&again), value_hash(&result));
    }

    /// The first implementation (through `{:e}`), kept to check the one above against.
    fn python_float_by_formatting(f: f64) -> String {
        if f == 0.0 {
            return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
        }
        // Rust's `{:e}` gives the shortest round-trip digits, e.g. `1.9e0`, `-1e-5`.
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let (sign, mantissa) = match mantissa.strip_prefix('-') {
            Some(m) => ("-", m),
            None => ("", mantissa),
        };
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        if (-4..16).contains(&exp) {
            let point = exp + 1; // digits before the decimal point
            let text = if point <= 0 {
                format!("0.{}{digits}", "0".repeat((-point) as usize))
            } else if point as usize >= digits.len() {
                format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
            } else {
                let (int, frac) = digits.split_at(point as usize);
                format!("{int}.{frac}")
            };
            format!("{sign}{text}")
        } else {
            let (first, rest) = digits.split_at(1);
            let mantissa = if rest.is_empty() {
                first.to_owned()
            } else {
                format!("{first}.{rest}")
            };
            let exp_sign = if exp < 0 { '-' } else { '+' };
            format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
        }
    }

    #[test]
    fn python_floats_are_what_python_writes() {
        // (bits of the f64, Python 3.11's repr of it), from CPython: random values, and ties
        // (17 digits, exactly halfway between two last digits), where Python rounds to even.
        for (bits, text) in [
            (0x43179085685d83c9, "1658206780088562.2"),
            (0x431ca2649a7834dd, "2014963079974199.2"),
            (0x4313031e24be40af, "1337863139463211.8"),
            (0x4311db2254c66175, "1256503775434845.2"),
            (0x4312c01426654363, "1319435589210328.8"),
            (0x43123c41ac35526d, "1283200585127067.2"),
            (0x4311e439b2b52899, "1259002766641702.2"),
            (0x431724c7ca304175, "1628591243399261.2"),
            (0x4311963d96336851, "1237566465301012.2"),
            (0x8e81973e0becd7b0, "-8.441872792105456e-239"),
            (0x2217beaddbc496cb, "1.9015657400796622e-144"),
            (0x6b4cb2424a23d596, "7.370437700706684e+208"),
            (0x8a6a63ec24ede6a4, "-1.7163996725272777e-258"),
            (0x922766581e27a1c0, "-3.2367190832119987e-221"),
            (0x8f6d05584ef8aa38, "-2.2818334634712625e-234"),
            (0xae97ba94d0eda82f, "-3.0536383926309363e-84"),
            (0x1a61dbe22e44158b, "1.3449551894627777e-181"),
            (0x923a736994e3bf91, "-7.317495976062606e-221"),
            (0x301850c5a38fd547, "5.249822308814304e-77"),
            (0x3fd3333333333334, "0.30000000000000004"),
            (0x3ee4f8b588e368f1, "1e-05"),
            (0x437b69b4ba630f35, "1.2345678901234568e+17"),
            (0x0000000000000001, "5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0x0010000000000000, "2.2250738585072014e-308"),
            (0x3f1a36e2eb1c432d, "0.0001"),
            (0x4341c37937e07fff, "9999999999999998.0"),
        ] {
            assert_eq!(python_float(f64::from_bits(bits)), text);
        }
    }

    #[test]
    fn python_floats_round_trip_shortest_on_a_million_values() {
        // A xorshift generator over bit patterns: every exponent and mantissa shape, subnormals
        // included; non-finite patterns are skipped (they are not JSON numbers).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut checked = 0;
        while checked < 1_000_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let f = f64::from_bits(state);
            if !f.is_finite() {
                continue;
            }
            checked += 1;
            let text = python_float(f);
            let first = python_float_by_formatting(f);
            assert_eq!(
                text.parse::<f64>().ok(),
                Some(f),
                "{text} does not read back"
            );
            if text != first {
                // Only a tie may differ: both read back exactly, and they differ in one
                // character, the last digit of the digits, by one.
                assert_eq!(first.parse::<f64>().ok(), Some(f), "{first}");
                let (ours, theirs) = (text.as_bytes(), first.as_bytes());
                assert_eq!(ours.len(), theirs.len(), "{text} against {first}");
                let differing: Vec<usize> =
                    (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
                let &[at] = differing.as_slice() else {
                    panic!("{text} against {first}: more than one character differs");
                };
                let last_digit = text.find('e').unwrap_or(text.len()) - 1;
                assert_eq!(at, last_digit, "{text} against {first}");
                assert_eq!(ours[at].abs_diff(theirs[at]), 1, "{text} against {first}");
            }
        }
    }

    #[test]
    fn python_floats() {
        for (f, text) in [
            (1.9, "1.9"),
            (4.2, "4.2"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1234567890123456.0, "1234567890123456.0"),
            (-2.5, "-2.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0, "0.0"),
        ] {
            assert_eq!(python_float(f), text, "{f}");
        }
    }

    #[test]
    fn canonical_form_sorts_drops_nulls_and_escapes() {
        let value = json!({"b": [1, null, {"z": null, "y": "é😀\n"}], "a": 2.0, "c": null});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":2.0,"b":[1,{"y":"\u00e9\ud83d\ude00\n"}]}"#
        );
    }

    #[test]
    fn own_signatures_and_attestations_verify_and_tampering_fails() {
        let miner = SecretKey::from_seed(&[1; 32]);
        let coordinator = SecretKey::from_seed(&[2; 32]);
        let mut receipt = json!({"version": "1.0", "job_id": "j", "units": 2.5, "price": 0.05});
        let signature = sign(&receipt, &miner);
        let attestation = sign(&receipt, &coordinator);
        receipt["signature"] = serde_json::to_value(&signature).expect("json");
        receipt["attestations"] = json!([attestation]);
        let check = verify(&receipt);
        assert!(check.verified && check.miner_signature);
        assert_eq!(check.attestations, vec![true]);
        assert_eq!(check.signer, Some(miner.public_key()));
        receipt["price"] = json!(5.0);
        let check = verify(&receipt);
        assert!(!check.verified && !check.miner_signature);
        assert_eq!(check.attestations, vec![false]);
    }
}
