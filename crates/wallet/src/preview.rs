//! Transfers checked and shown before they are signed: the recipient and amount as a person typed them are read strictly (a malformed address, more than six decimals, nothing to send, more than the balance: each refused with its reason), and the preview states what the transaction will do to the sender's balance, fee included. Only a preview can be signed, so nothing unchecked is.

use serde::Serialize;
use types::{
    Address, Amount, PublicKey, SecretKey, SignedTransaction, Transaction, TxBody,
    amount::AmountError,
};

/// The chain's fee rule: a base fee plus a price per encoded byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FeeSchedule {
    pub base_fee: u64,
    pub fee_per_byte: u64,
}

impl FeeSchedule {
    /// The least fee for a transaction of `len` bytes.
    pub fn fee_for(&self, len: usize) -> Amount {
        Amount(
            self.base_fee
                .saturating_add(self.fee_per_byte.saturating_mul(len as u64)),
        )
    }
}

/// What a transfer will do, for the person to confirm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub chain_id: String,
    pub from: Address,
    pub to: Address,
    pub amount: Amount,
    pub fee: Amount,
    /// Amount and fee: what leaves the sender's account.
    pub total: Amount,
    pub balance_before: Amount,
    pub balance_after: Amount,
    pub nonce: u64,
    #[serde(skip)]
    transaction: Transaction,
}

/// Why a transfer was refused before anything was signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    #[error("the recipient is not an AITBC address (ait1…): {0}")]
    Recipient(String),
    #[error("the amount: {0}")]
    Amount(AmountError),
    #[error("the amount must be more than zero")]
    Zero,
    #[error("{needed} needed (amount and fee), {available} available")]
    InsufficientFunds { needed: Amount, available: Amount },
    #[error("this key does not hold the account the preview is for")]
    WrongKey,
}

/// Checks a transfer of `amount` (decimal AITBC text) to `to` (address text) from `sender`,
/// whose account holds `balance` and whose next nonce is `nonce`, and previews it.
pub fn transfer(
    chain_id: &str,
    sender: PublicKey,
    balance: Amount,
    nonce: u64,
    to: &str,
    amount: &str,
    fees: FeeSchedule,
) -> Result<Preview, PreviewError> {
    let to = Address::parse(to.trim()).map_err(|e| PreviewError::Recipient(e.to_string()))?;
    let amount = Amount::parse_decimal(amount.trim()).map_err(PreviewError::Amount)?;
    if amount == Amount::ZERO {
        return Err(PreviewError::Zero);
    }
    let mut transaction = Transaction {
        chain_id: chain_id.to_owned(),
        sender,
        nonce,
        fee: Amount::ZERO,
        body: TxBody::Transfer { to, amount },
    };
    // The fee is a fixed-width field: setting it does not change the length it is priced on.
    let fee = fees.fee_for(transaction.signing_bytes().len() + 64);
    transaction.fee = fee;
    let total = amount
        .checked_add(fee)
        .ok_or(PreviewError::Amount(AmountError::Overflow))?;
    let balance_after = balance
        .checked_sub(total)
        .ok_or(PreviewError::InsufficientFunds {
            needed: total,
            available: balance,
        })?;
    Ok(Preview {
        chain_id: chain_id.to_owned(),
        from: Address::of(&sender),
        to,
        amount,
        fee,
        total,
        balance_before: balance,
        balance_after,
        nonce,
        transaction,
    })
}

impl Preview {
    /// Signs the previewed transaction with the sender's key.
    pub fn sign(&self, key: &SecretKey) -> Result<SignedTransaction, PreviewError> {
        if key.public_key() != self.transaction.sender {
            return Err(PreviewError::WrongKey);
        }
        Ok(self.transaction.clone().sign(key))
    }
}
