//! BIP-39 recovery phrases (12 or 24 English words with a checksum) on the bip39 crate: made from the caller's entropy, read back with errors a person can act on, and turned into the 64-byte seed that accounts derive from.

use zeroize::Zeroizing;

/// A checked recovery phrase.
#[derive(Clone)]
pub struct Mnemonic(bip39::Mnemonic);

impl std::fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mnemonic({} words)", self.word_count())
    }
}

/// Why a text is not a recovery phrase.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MnemonicError {
    #[error("a recovery phrase has 12 or 24 words; this one has {0}")]
    WordCount(usize),
    #[error("word {position} (\"{word}\") is not in the BIP-39 English word list")]
    UnknownWord { position: usize, word: String },
    #[error(
        "the words do not belong together (their checksum fails): check each word and the order"
    )]
    Checksum,
    #[error("a new phrase needs 16 or 32 bytes of entropy")]
    Entropy,
}

impl Mnemonic {
    /// The phrase for 16 (12 words) or 32 (24 words) bytes of entropy.
    pub fn from_entropy(entropy: &[u8]) -> Result<Mnemonic, MnemonicError> {
        if entropy.len() != 16 && entropy.len() != 32 {
            return Err(MnemonicError::Entropy);
        }
        bip39::Mnemonic::from_entropy(entropy)
            .map(Mnemonic)
            .map_err(|_| MnemonicError::Entropy)
    }

    /// Reads a phrase as people type it: any spacing, any letter case.
    pub fn parse(text: &str) -> Result<Mnemonic, MnemonicError> {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        if words.len() != 12 && words.len() != 24 {
            return Err(MnemonicError::WordCount(words.len()));
        }
        let list = bip39::Language::English;
        if let Some((i, word)) = words
            .iter()
            .enumerate()
            .find(|(_, w)| list.find_word(w).is_none())
        {
            return Err(MnemonicError::UnknownWord {
                position: i + 1,
                word: word.clone(),
            });
        }
        bip39::Mnemonic::parse_in_normalized(list, &words.join(" "))
            .map(Mnemonic)
            .map_err(|e| match e {
                bip39::Error::BadWordCount(n) => MnemonicError::WordCount(n),
                _ => MnemonicError::Checksum,
            })
    }

    /// The words, separated by single spaces.
    pub fn phrase(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string())
    }

    pub fn word_count(&self) -> usize {
        self.0.word_count()
    }

    /// The BIP-39 seed: PBKDF2-HMAC-SHA512 of the phrase, salted with "mnemonic" and the
    /// optional passphrase, 2048 rounds.
    pub fn seed(&self, passphrase: &str) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.0.to_seed(passphrase))
    }
}
