//! The canonical binary encoding that signatures and hashes cover: fixed-width big-endian integers, length-prefixed byte strings, and a domain tag with a version in front, so a signature for one kind of message can never be replayed as another.

/// Builds canonical bytes. There is exactly one encoding of each value.
#[derive(Debug, Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    /// Starts a message with its domain tag (for example `b"AITBC/tx"`) and encoding version.
    pub fn new(domain: &[u8], version: u8) -> Self {
        let mut writer = Writer {
            bytes: Vec::with_capacity(192),
        };
        writer.bytes_prefixed(domain);
        writer.u8(version);
        writer
    }

    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Bytes whose length is fixed by their type (keys, hashes, addresses).
    pub fn fixed(&mut self, value: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(value);
        self
    }

    /// Bytes of variable length, preceded by their length as a `u32`.
    pub fn bytes_prefixed(&mut self, value: &[u8]) -> &mut Self {
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(&value[..len as usize]);
        self
    }

    pub fn str(&mut self, value: &str) -> &mut Self {
        self.bytes_prefixed(value.as_bytes())
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_as_documented() {
        let mut w = Writer::new(b"T", 1);
        w.u64(0x0102).str("ab").fixed(&[9, 9]).u8(7);
        assert_eq!(
            w.finish(),
            vec![
                0, 0, 0, 1, b'T', 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 2, b'a', b'b', 9, 9, 7
            ]
        );
    }
}
