//! Account addresses: bech32m with human part `ait` over the first 20 bytes of SHA-256 of the Ed25519 public key, the one format every AITBC part uses.

use std::{fmt, str::FromStr};

use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{hash::Hash, keys::PublicKey};

/// The human-readable part of every address.
pub const HRP: &str = "ait";

/// A 20-byte account address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 20]);

/// Why a text is not an address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("not a bech32m string (wrong characters, mixed case or bad checksum)")]
    NotBech32m,
    #[error("an AITBC address starts with `ait1`")]
    WrongPrefix,
    #[error("an address carries 20 bytes")]
    WrongLength,
}

impl Address {
    /// The address of `key`.
    pub fn of(key: &PublicKey) -> Address {
        let digest = Hash::of(&[&key.0]);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&digest.0[..20]);
        Address(bytes)
    }

    /// Parses `ait1…` text; upper case is accepted as bech32m allows, mixed case is not.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let checked =
            CheckedHrpstring::new::<Bech32m>(text.trim()).map_err(|_| AddressError::NotBech32m)?;
        if !checked.hrp().as_str().eq_ignore_ascii_case(HRP) {
            return Err(AddressError::WrongPrefix);
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let bytes: [u8; 20] = bytes.try_into().map_err(|_| AddressError::WrongLength)?;
        Ok(Address(bytes))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(HRP);
        bech32::encode_lower_to_fmt::<Bech32m, _>(f, hrp, &self.0).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Address::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_what_is_not_an_address() {
        let good = Address([3; 20]).to_string();
        assert!(good.starts_with("ait1") && good.len() == 42, "{good}");
        assert_eq!(Address::parse(&good), Ok(Address([3; 20])));
        assert_eq!(Address::parse(&good.to_uppercase()), Ok(Address([3; 20])));
        let mut flipped = good.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'q' { b'p' } else { b'q' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        let mixed = format!("AIT1{}", &good[4..]);
        let bech32_not_m = bech32::encode::<bech32::Bech32>(Hrp::parse_unchecked("ait"), &[3; 20])
            .expect("encode");
        let other_hrp =
            bech32::encode::<Bech32m>(Hrp::parse_unchecked("btc"), &[3; 20]).expect("encode");
        let short =
            bech32::encode::<Bech32m>(Hrp::parse_unchecked("ait"), &[3; 19]).expect("encode");
        let cases = [
            (flipped.as_str(), AddressError::NotBech32m),
            (mixed.as_str(), AddressError::NotBech32m),
            (bech32_not_m.as_str(), AddressError::NotBech32m),
            ("hello", AddressError::NotBech32m),
            ("", AddressError::NotBech32m),
            (other_hrp.as_str(), AddressError::WrongPrefix),
            (short.as_str(), AddressError::WrongLength),
        ];
        for (text, want) in cases {
            assert_eq!(Address::parse(text), Err(want), "{text:?}");
        }
    }
}
