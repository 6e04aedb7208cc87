//! Transfer previews: the balance change and fee shown before signing, and every bad input refused before anything is signed.

use types::{Address, Amount, AmountError, SecretKey, TxBody};
use wallet::{FeeSchedule, PreviewError, preview};

const FEES: FeeSchedule = FeeSchedule {
    base_fee: 1_000,
    fee_per_byte: 10,
};

#[test]
fn a_preview_shows_the_balance_change_and_signs_exactly_that() -> anyhow::Result<()> {
    let key = SecretKey::from_seed(&[1; 32]);
    let to = Address::of(&SecretKey::from_seed(&[2; 32]).public_key());
    let preview = preview::transfer(
        "aitbc-devnet",
        key.public_key(),
        Amount(5_000_000),
        3,
        &format!(" {to} "),
        "1.25",
        FEES,
    )?;
    assert_eq!(preview.amount, Amount(1_250_000));
    assert_eq!(preview.to, to);
    assert_eq!(preview.from, Address::of(&key.public_key()));
    let signed = preview.sign(&key)?;
    // The fee is the chain's rule applied to the signed transaction's size.
    assert_eq!(preview.fee, FEES.fee_for(signed.encoded_len()));
    assert_eq!(preview.total, Amount(1_250_000 + preview.fee.0));
    assert_eq!(
        preview.balance_after,
        Amount(5_000_000 - 1_250_000 - preview.fee.0)
    );
    assert_eq!(signed.tx.nonce, 3);
    assert_eq!(signed.tx.fee, preview.fee);
    assert_eq!(
        signed.tx.body,
        TxBody::Transfer {
            to,
            amount: Amount(1_250_000)
        }
    );
    signed.verify("aitbc-devnet")?;
    // Another key cannot sign it.
    assert_eq!(
        preview.sign(&SecretKey::from_seed(&[3; 32])).map(|_| ()),
        Err(PreviewError::WrongKey)
    );
    Ok(())
}

#[test]
fn bad_transfers_are_refused_before_signing_with_the_reason() {
    let key = SecretKey::from_seed(&[1; 32]);
    let to = Address::of(&SecretKey::from_seed(&[2; 32]).public_key()).to_string();
    let try_send = |to: &str, amount: &str| {
        preview::transfer(
            "aitbc-devnet",
            key.public_key(),
            Amount(2_000_000),
            0,
            to,
            amount,
            FEES,
        )
        .map(|_| ())
    };
    // A malformed address: a typo breaks its checksum; another format entirely.
    let mut typo = to.clone();
    let last = typo.pop().unwrap_or('q');
    typo.push(if last == 'q' { 'p' } else { 'q' });
    for bad in [typo.as_str(), "aitbc1deadbeef", ""] {
        assert!(
            matches!(try_send(bad, "1"), Err(PreviewError::Recipient(_))),
            "{bad:?} taken as an address"
        );
    }
    assert_eq!(
        try_send(&to, "0.0000001"),
        Err(PreviewError::Amount(AmountError::TooManyDecimals))
    );
    assert_eq!(
        try_send(&to, "1,5"),
        Err(PreviewError::Amount(AmountError::Malformed))
    );
    assert_eq!(
        try_send(&to, "-1"),
        Err(PreviewError::Amount(AmountError::Malformed))
    );
    assert_eq!(try_send(&to, "0"), Err(PreviewError::Zero));
    let above = try_send(&to, "2");
    assert!(
        matches!(
            above,
            Err(PreviewError::InsufficientFunds { needed, available })
                if needed.0 > 2_000_000 && available == Amount(2_000_000)
        ),
        "{above:?}"
    );
    let message = above.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("2 AITBC available"), "{message}");
    assert!(try_send(&to, "1.9").is_ok());
}
