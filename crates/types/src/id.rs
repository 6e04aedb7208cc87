//! Time-ordered identifiers (UUID version 7, written as 32 hex digits like the earlier system's uuid4 hex) for what the coordinator and the miner name: ids made in order sit side by side in the indexes that hold them, so a new one lands on the index's last page rather than on a random one.

/// A UUID version 7 (RFC 9562) in 32 lowercase hex digits: `unix_ms`'s low 48 bits, then
/// `random`, of whose 80 bits the version and the variant replace 6. Ids of later milliseconds
/// sort after earlier ones, as text as well as bytes; within one millisecond they are in random
/// order.
pub fn uuid_v7_hex(unix_ms: u64, random: [u8; 10]) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::uuid_v7_hex;

    #[test]
    fn ids_carry_their_version_and_variant_and_sort_by_time() {
        let id = uuid_v7_hex(0x0190_1234_5678, [0xff; 10]);
        assert_eq!(id, "0190123456787fffbfffffffffffffff");
        assert_eq!(id.len(), 32);
        let earlier = uuid_v7_hex(1_000, [0xff; 10]);
        let later = uuid_v7_hex(1_001, [0x00; 10]);
        assert!(earlier < later, "{earlier} sorts before {later}");
        assert_eq!(&later[12..13], "7", "version 7");
        assert_eq!(&later[16..17], "8", "variant 10 in its top bits");
    }
}
