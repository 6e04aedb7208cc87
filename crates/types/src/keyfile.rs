//! Secret keys on disk, for every program that keeps one (node, coordinator, miner): the 32-byte seed in hex, in a file only its owner may read (mode 0600), refused when others could read it.

use std::{fs, io::Write, path::Path};

use crate::SecretKey;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not a 64-digit hex seed")]
    Malformed(String),
    #[error("{0} can be read by other users; run `chmod 600` on it")]
    TooOpen(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `key`'s seed to a new file with mode 0600; fails if the file exists.
pub fn write(path: &Path, key: &SecretKey) -> Result<(), KeyFileError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(format!("{}\n", hex::encode(key.seed())).as_bytes())
        .map_err(io(path))
}

/// Reads a seed written by [`write`].
pub fn read(path: &Path) -> Result<SecretKey, KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(io(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen(path.display().to_string()));
        }
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed)
        .map_err(|_| KeyFileError::Malformed(path.display().to_string()))?;
    Ok(SecretKey::from_seed(&seed))
}
