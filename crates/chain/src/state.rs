//! The account state machine: balances and nonces, the rules every transaction must pass (checked at admission and again in every block), and the state root that commits to all accounts so a balance can be proven against a block header.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use types::{
    Address, Amount, Hash, MerkleProof, PublicKey, SignedTransaction, TxBody, TxError, merkle_root,
};

use crate::genesis::Genesis;

/// One account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub balance: Amount,
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
}

impl Account {
    /// The Merkle leaf of this account in the state tree.
    pub fn leaf(&self, address: &Address) -> Hash {
        types::account_leaf(address, self.balance, self.nonce)
    }
}

/// Why a transaction cannot be applied. Each has a stable code for APIs and metrics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the transaction is for chain `{got}`, this chain is `{want}`")]
    WrongChain { want: String, got: String },
    #[error("the signature does not verify against the sender's key")]
    BadSignature,
    #[error("nonce {got} was already used; the account's next nonce is {expected}")]
    StaleNonce { expected: u64, got: u64 },
    #[error("nonce {got} is ahead of the account's next nonce {expected}")]
    FutureNonce { expected: u64, got: u64 },
    #[error("the account holds {balance} but amount plus fee is {needed}")]
    InsufficientFunds { balance: Amount, needed: Amount },
    #[error("the fee {got} is below the required {required}")]
    FeeTooLow { required: Amount, got: Amount },
    #[error("the transaction is {len} bytes, more than the limit of {max}")]
    Oversized { len: usize, max: u64 },
    #[error("only the genesis faucet key may mint, and at most {max} per transaction")]
    FaucetNotAllowed { max: Amount },
    #[error("the amount must be greater than zero")]
    ZeroAmount,
    #[error("a job id is 1 to 128 bytes")]
    BadJobId,
    #[error("an escrow is locked by its own client")]
    NotEscrowClient,
    #[error("only the escrow's coordinator may release it")]
    NotCoordinator,
    #[error("only the escrow's coordinator or its client may refund it")]
    NotEscrowParty,
    #[error("this escrow already holds money")]
    EscrowInUse,
    #[error("there is no money in this escrow")]
    NoEscrow,
    #[error("the escrow holds {held}; the miner's share and the fee add up to more")]
    ShareExceedsEscrow { held: Amount },
    #[error("the client may refund the escrow from height {expiry_height} on")]
    EscrowNotExpired { expiry_height: u64 },
    #[error("the balance would overflow")]
    Overflow,
}

impl Rejection {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::WrongChain { .. } => "wrong_chain",
            Rejection::BadSignature => "bad_signature",
            Rejection::StaleNonce { .. } => "stale_nonce",
            Rejection::FutureNonce { .. } => "future_nonce",
            Rejection::InsufficientFunds { .. } => "insufficient_funds",
            Rejection::FeeTooLow { .. } => "fee_too_low",
            Rejection::Oversized { .. } => "oversized",
            Rejection::FaucetNotAllowed { .. } => "faucet_not_allowed",
            Rejection::ZeroAmount => "zero_amount",
            Rejection::BadJobId => "bad_job_id",
            Rejection::NotEscrowClient => "not_escrow_client",
            Rejection::NotCoordinator => "not_coordinator",
            Rejection::NotEscrowParty => "not_escrow_party",
            Rejection::EscrowInUse => "escrow_in_use",
            Rejection::NoEscrow => "no_escrow",
            Rejection::ShareExceedsEscrow { .. } => "share_exceeds_escrow",
            Rejection::EscrowNotExpired { .. } => "escrow_not_expired",
            Rejection::Overflow => "overflow",
        }
    }
}

fn check_job_id(job_id: &str) -> Result<(), Rejection> {
    if job_id.is_empty() || job_id.len() > types::tx::MAX_JOB_ID_LEN {
        return Err(Rejection::BadJobId);
    }
    Ok(())
}

/// What `tx` takes from its sender: the fee, plus the amount of a transfer or escrow lock.
/// `None` on overflow.
pub fn spend(tx: &SignedTransaction) -> Option<Amount> {
    match &tx.tx.body {
        TxBody::Transfer { amount, .. } | TxBody::EscrowLock { amount, .. } => {
            amount.checked_add(tx.tx.fee)
        }
        TxBody::Faucet { .. }
        | TxBody::ReceiptAnchor { .. }
        | TxBody::EscrowRelease { .. }
        | TxBody::EscrowRefund { .. } => Some(tx.tx.fee),
    }
}

/// Every account, ordered by address so the state root is deterministic.
#[derive(Clone, Debug, Default)]
pub struct State {
    accounts: BTreeMap<Address, Account>,
    /// The root of `accounts`, computed on first use after a change; an empty block leaves the
    /// state unchanged, so its root costs nothing.
    root: std::sync::OnceLock<Hash>,
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.accounts == other.accounts
    }
}

impl Eq for State {}

impl State {
    pub fn from_balances(balances: impl IntoIterator<Item = (Address, Amount)>) -> State {
        let accounts = balances
            .into_iter()
            .map(|(a, balance)| (a, Account { balance, nonce: 0 }))
            .collect();
        State {
            accounts,
            root: Default::default(),
        }
    }

    /// Accounts as stored: address, balance, nonce.
    pub fn from_accounts(accounts: impl IntoIterator<Item = (Address, Amount, u64)>) -> State {
        let accounts = accounts
            .into_iter()
            .map(|(a, balance, nonce)| (a, Account { balance, nonce }))
            .collect();
        State {
            accounts,
            root: Default::default(),
        }
    }

    /// The account at `address`; an unknown address is an empty account.
    pub fn account(&self, address: &Address) -> Account {
        self.accounts.get(address).copied().unwrap_or_default()
    }

    /// The account at `address` if it exists.
    pub fn get(&self, address: &Address) -> Option<Account> {
        self.accounts.get(address).copied()
    }

    /// Puts back an account as it was (`None`: it did not exist); used when undoing blocks.
    pub fn set(&mut self, address: Address, account: Option<Account>) {
        self.root = Default::default();
        match account {
            Some(account) => self.accounts.insert(address, account),
            None => self.accounts.remove(&address),
        };
    }

    /// How many accounts exist.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Account)> {
        self.accounts.iter()
    }

    /// The sum of all balances, or `None` if it would not fit (which the rules prevent).
    pub fn supply(&self) -> Option<Amount> {
        self.accounts
            .values()
            .try_fold(Amount::ZERO, |sum, a| sum.checked_add(a.balance))
    }

    fn leaves(&self) -> Vec<Hash> {
        self.accounts
            .iter()
            .map(|(address, account)| account.leaf(address))
            .collect()
    }

    /// The Merkle root over all accounts in address order.
    pub fn root(&self) -> Hash {
        *self.root.get_or_init(|| merkle_root(&self.leaves()))
    }

    /// A proof that `address` holds its account in the state with root [`State::root`]; `None`
    /// for an account that does not exist yet.
    pub fn proof(&self, address: &Address) -> Option<MerkleProof> {
        let index = self.accounts.keys().position(|a| a == address)?;
        MerkleProof::build(&self.leaves(), index)
    }

    /// The stateless checks: chain, signature, size, fee floor, and the faucet's authority.
    pub fn check_standalone(tx: &SignedTransaction, genesis: &Genesis) -> Result<(), Rejection> {
        let len = tx.encoded_len();
        if len as u64 > genesis.params.max_tx_bytes {
            return Err(Rejection::Oversized {
                len,
                max: genesis.params.max_tx_bytes,
            });
        }
        match tx.verify(&genesis.chain_id) {
            Ok(()) => {}
            Err(TxError::WrongChain { want, got }) => {
                return Err(Rejection::WrongChain { want, got });
            }
            Err(TxError::BadSignature(_)) => return Err(Rejection::BadSignature),
        }
        let required = genesis.params.required_fee(len);
        let fee_too_low = || Rejection::FeeTooLow {
            required,
            got: tx.tx.fee,
        };
        match &tx.tx.body {
            TxBody::Transfer { amount, .. } => {
                if amount.0 == 0 {
                    return Err(Rejection::ZeroAmount);
                }
                if tx.tx.fee < required {
                    return Err(fee_too_low());
                }
            }
            TxBody::ReceiptAnchor { job_id, .. } => {
                check_job_id(job_id)?;
                if tx.tx.fee < required {
                    return Err(fee_too_low());
                }
            }
            TxBody::EscrowLock { terms, amount } => {
                check_job_id(&terms.job_id)?;
                if terms.client != tx.tx.sender_address() {
                    return Err(Rejection::NotEscrowClient);
                }
                if amount.0 == 0 {
                    return Err(Rejection::ZeroAmount);
                }
                if tx.tx.fee < required {
                    return Err(fee_too_low());
                }
            }
            TxBody::EscrowRelease { terms, .. } => {
                check_job_id(&terms.job_id)?;
                if terms.coordinator != tx.tx.sender {
                    return Err(Rejection::NotCoordinator);
                }
                if tx.tx.fee < required {
                    return Err(fee_too_low());
                }
            }
            TxBody::EscrowRefund { terms } => {
                check_job_id(&terms.job_id)?;
                if terms.coordinator != tx.tx.sender && terms.client != tx.tx.sender_address() {
                    return Err(Rejection::NotEscrowParty);
                }
                if tx.tx.fee < required {
                    return Err(fee_too_low());
                }
            }
            TxBody::Faucet { amount, .. } => {
                let allowed = genesis
                    .faucet
                    .as_ref()
                    .filter(|f| f.key == tx.tx.sender && *amount <= f.max_per_tx && amount.0 > 0);
                if allowed.is_none() {
                    let max = genesis
                        .faucet
                        .as_ref()
                        .map_or(Amount::ZERO, |f| f.max_per_tx);
                    return Err(Rejection::FaucetNotAllowed { max });
                }
            }
        }
        Ok(())
    }

    /// What an escrow transaction needs of the escrow in this state, for a block at `height`:
    /// a lock an empty escrow, a release enough in it, a client's refund the expiry height.
    /// Other transactions pass.
    pub fn check_escrow(&self, tx: &SignedTransaction, height: u64) -> Result<(), Rejection> {
        match &tx.tx.body {
            TxBody::EscrowLock { terms, .. } => {
                if self.account(&terms.address()).balance.0 > 0 {
                    return Err(Rejection::EscrowInUse);
                }
            }
            TxBody::EscrowRelease {
                terms,
                miner_amount,
                fee_amount,
                ..
            } => {
                let held = self.account(&terms.address()).balance;
                if held.0 == 0 {
                    return Err(Rejection::NoEscrow);
                }
                let paid = miner_amount
                    .checked_add(*fee_amount)
                    .ok_or(Rejection::Overflow)?;
                if paid > held {
                    return Err(Rejection::ShareExceedsEscrow { held });
                }
            }
            TxBody::EscrowRefund { terms } => {
                if self.account(&terms.address()).balance.0 == 0 {
                    return Err(Rejection::NoEscrow);
                }
                if terms.coordinator != tx.tx.sender && height < terms.expiry_height {
                    return Err(Rejection::EscrowNotExpired {
                        expiry_height: terms.expiry_height,
                    });
                }
            }
            TxBody::Transfer { .. } | TxBody::ReceiptAnchor { .. } | TxBody::Faucet { .. } => {}
        }
        Ok(())
    }

    /// Checks `tx` against this state (after [`State::check_standalone`]) without changing it,
    /// for a block at `height`.
    pub fn check(&self, tx: &SignedTransaction, height: u64) -> Result<(), Rejection> {
        let sender = self.account(&tx.tx.sender_address());
        if tx.tx.nonce < sender.nonce {
            return Err(Rejection::StaleNonce {
                expected: sender.nonce,
                got: tx.tx.nonce,
            });
        }
        if tx.tx.nonce > sender.nonce {
            return Err(Rejection::FutureNonce {
                expected: sender.nonce,
                got: tx.tx.nonce,
            });
        }
        self.check_escrow(tx, height)?;
        let needed = spend(tx).ok_or(Rejection::Overflow)?;
        if sender.balance < needed {
            return Err(Rejection::InsufficientFunds {
                balance: sender.balance,
                needed,
            });
        }
        Ok(())
    }

    /// Applies `tx` in a block at `height`, paying its fee to `proposer`. On error nothing
    /// changes.
    pub fn apply(
        &mut self,
        tx: &SignedTransaction,
        proposer: &PublicKey,
        height: u64,
    ) -> Result<(), Rejection> {
        self.check(tx, height)?;
        let from = tx.tx.sender_address();
        let fee_to = Address::of(proposer);
        // Who gets what besides the proposer's fee; an emptied escrow is removed.
        let mut credits: Vec<(Address, Amount)> = Vec::new();
        let mut emptied = None;
        match &tx.tx.body {
            TxBody::Transfer { to, amount } | TxBody::Faucet { to, amount } => {
                credits.push((*to, *amount));
            }
            TxBody::EscrowLock { terms, amount } => credits.push((terms.address(), *amount)),
            TxBody::EscrowRelease {
                terms,
                miner,
                miner_amount,
                fee_amount,
                ..
            } => {
                let held = self.account(&terms.address()).balance;
                let rest = held
                    .checked_sub(*miner_amount)
                    .and_then(|r| r.checked_sub(*fee_amount))
                    .ok_or(Rejection::Overflow)?;
                credits.extend([
                    (*miner, *miner_amount),
                    (from, *fee_amount),
                    (terms.client, rest),
                ]);
                emptied = Some(terms.address());
            }
            TxBody::EscrowRefund { terms } => {
                credits.push((terms.client, self.account(&terms.address()).balance));
                emptied = Some(terms.address());
            }
            TxBody::ReceiptAnchor { .. } => {}
        }
        // Compute every new balance first, so an overflow leaves the state untouched.
        let mut sender = self.account(&from);
        sender.balance = sender
            .balance
            .checked_sub(tx.tx.fee)
            .ok_or(Rejection::Overflow)?;
        let spent = match &tx.tx.body {
            TxBody::Transfer { amount, .. } | TxBody::EscrowLock { amount, .. } => *amount,
            _ => Amount::ZERO,
        };
        sender.balance = sender
            .balance
            .checked_sub(spent)
            .ok_or(Rejection::Overflow)?;
        sender.nonce += 1;
        let mut updates = BTreeMap::from([(from, sender)]);
        let credit = |address: Address, value: Amount, updates: &mut BTreeMap<Address, Account>| {
            let mut account = updates
                .get(&address)
                .copied()
                .unwrap_or_else(|| self.account(&address));
            account.balance = account
                .balance
                .checked_add(value)
                .ok_or(Rejection::Overflow)?;
            updates.insert(address, account);
            Ok::<(), Rejection>(())
        };
        for (to, amount) in credits {
            credit(to, amount, &mut updates)?;
        }
        credit(fee_to, tx.tx.fee, &mut updates)?;
        self.root = Default::default();
        self.accounts.extend(updates);
        if let Some(escrow) = emptied {
            self.accounts.remove(&escrow);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use types::{SecretKey, Transaction};

    use super::*;
    use crate::genesis::{Faucet, Params};

    fn key(b: u8) -> SecretKey {
        SecretKey::from_seed(&[b; 32])
    }

    fn addr(b: u8) -> Address {
        Address::of(&key(b).public_key())
    }

    fn genesis() -> Genesis {
        Genesis {
            chain_id: "test".into(),
            timestamp_ms: 0,
            authorities: vec![key(9).public_key()],
            balances: [(addr(1), Amount(10_000_000))].into(),
            params: Params::default(),
            faucet: Some(Faucet {
                key: key(0xfa).public_key(),
                max_per_tx: Amount(5_000_000),
            }),
        }
    }

    fn transfer(from: u8, nonce: u64, to: u8, amount: u64, fee: u64) -> SignedTransaction {
        Transaction {
            chain_id: "test".into(),
            sender: key(from).public_key(),
            nonce,
            fee: Amount(fee),
            body: TxBody::Transfer {
                to: addr(to),
                amount: Amount(amount),
            },
        }
        .sign(&key(from))
    }

    #[test]
    fn transfers_move_balances_pay_fees_and_keep_supply() {
        let g = genesis();
        let mut state = g.initial_state();
        let proposer = key(9).public_key();
        let tx = transfer(1, 0, 2, 1_000_000, 5_000);
        State::check_standalone(&tx, &g).expect("valid");
        state.apply(&tx, &proposer, 1).expect("applies");
        assert_eq!(
            state.account(&addr(1)),
            Account {
                balance: Amount(8_995_000),
                nonce: 1
            }
        );
        assert_eq!(state.account(&addr(2)).balance, Amount(1_000_000));
        assert_eq!(state.account(&addr(9)).balance, Amount(5_000));
        assert_eq!(state.supply(), g.supply());
    }

    #[test]
    fn every_rule_has_its_reason() {
        let g = genesis();
        let state = g.initial_state();
        let mut wrong_chain = transfer(1, 0, 2, 1, 5_000);
        wrong_chain.tx.chain_id = "other".into();
        let wrong_chain = wrong_chain.tx.sign(&key(1));
        let mut bad_sig = transfer(1, 0, 2, 1, 5_000);
        bad_sig.signature = transfer(1, 0, 2, 2, 5_000).signature;
        let stateless = [
            (wrong_chain, "wrong_chain"),
            (bad_sig, "bad_signature"),
            (transfer(1, 0, 2, 1, 1), "fee_too_low"),
            (transfer(1, 0, 2, 0, 5_000), "zero_amount"),
        ];
        for (tx, code) in stateless {
            assert_eq!(
                State::check_standalone(&tx, &g).map_err(|r| r.code()),
                Err(code)
            );
        }
        let stateful = [
            (transfer(1, 1, 2, 1, 5_000), "future_nonce"),
            (transfer(1, 0, 2, 9_999_000, 5_000), "insufficient_funds"),
            (transfer(3, 0, 2, 1, 5_000), "insufficient_funds"),
        ];
        for (tx, code) in stateful {
            assert_eq!(state.check(&tx, 1).map_err(|r| r.code()), Err(code));
        }
        let mut state = state;
        state
            .apply(&transfer(1, 0, 2, 1, 5_000), &key(9).public_key(), 1)
            .expect("first");
        assert_eq!(
            state
                .check(&transfer(1, 0, 2, 1, 5_000), 1)
                .map_err(|r| r.code()),
            Err("stale_nonce")
        );
    }

    #[test]
    fn only_the_faucet_key_mints_and_within_its_limit() {
        let g = genesis();
        let mint = |signer: u8, amount: u64| {
            Transaction {
                chain_id: "test".into(),
                sender: key(signer).public_key(),
                nonce: 0,
                fee: Amount(0),
                body: TxBody::Faucet {
                    to: addr(4),
                    amount: Amount(amount),
                },
            }
            .sign(&key(signer))
        };
        assert!(State::check_standalone(&mint(0xfa, 5_000_000), &g).is_ok());
        assert_eq!(
            State::check_standalone(&mint(0xfa, 5_000_001), &g).map_err(|r| r.code()),
            Err("faucet_not_allowed")
        );
        assert_eq!(
            State::check_standalone(&mint(1, 1), &g).map_err(|r| r.code()),
            Err("faucet_not_allowed")
        );
        let mut state = g.initial_state();
        state
            .apply(&mint(0xfa, 5_000_000), &key(9).public_key(), 1)
            .expect("mint");
        assert_eq!(state.account(&addr(4)).balance, Amount(5_000_000));
        assert_eq!(
            state.supply(),
            g.supply().and_then(|s| s.checked_add(Amount(5_000_000)))
        );
    }

    #[test]
    fn a_receipt_anchor_costs_its_fee_and_nothing_else() {
        let g = genesis();
        let mut state = g.initial_state();
        let anchor = |job_id: &str, fee: u64| {
            Transaction {
                chain_id: "test".into(),
                sender: key(1).public_key(),
                nonce: 0,
                fee: Amount(fee),
                body: TxBody::ReceiptAnchor {
                    receipt_hash: types::Hash::of(&[b"receipt"]),
                    job_id: job_id.into(),
                },
            }
            .sign(&key(1))
        };
        assert_eq!(
            State::check_standalone(&anchor("", 5_000), &g).map_err(|r| r.code()),
            Err("bad_job_id")
        );
        assert_eq!(
            State::check_standalone(&anchor(&"j".repeat(129), 5_000), &g).map_err(|r| r.code()),
            Err("bad_job_id")
        );
        assert_eq!(
            State::check_standalone(&anchor("job-1", 10), &g).map_err(|r| r.code()),
            Err("fee_too_low")
        );
        let tx = anchor("job-1", 5_000);
        State::check_standalone(&tx, &g).expect("valid");
        state.apply(&tx, &key(9).public_key(), 1).expect("applies");
        assert_eq!(
            state.account(&addr(1)),
            Account {
                balance: Amount(9_995_000),
                nonce: 1
            }
        );
        assert_eq!(state.account(&addr(9)).balance, Amount(5_000));
        assert_eq!(state.supply(), g.supply());
    }

    #[test]
    fn balance_proofs_verify_against_the_state_root() {
        let g = genesis();
        let mut state = g.initial_state();
        for n in 0..5 {
            state
                .apply(
                    &transfer(1, n, 10 + n as u8, 1_000, 5_000),
                    &key(9).public_key(),
                    1,
                )
                .expect("apply");
        }
        let root = state.root();
        for (address, account) in state.accounts() {
            let proof = state.proof(address).expect("proof");
            assert!(proof.verify(&account.leaf(address), &root));
            let forged = Account {
                balance: Amount(account.balance.0 + 1),
                ..*account
            };
            assert!(
                !proof.verify(&forged.leaf(address), &root),
                "inflated balance accepted"
            );
        }
        assert!(state.proof(&addr(200)).is_none());
    }

    fn escrow_tx(from: u8, nonce: u64, body: TxBody) -> SignedTransaction {
        Transaction {
            chain_id: "test".into(),
            sender: key(from).public_key(),
            nonce,
            fee: Amount(5_000),
            body,
        }
        .sign(&key(from))
    }

    fn terms(expiry_height: u64) -> types::tx::EscrowTerms {
        types::tx::EscrowTerms {
            client: addr(1),
            job_id: "job-1".into(),
            coordinator: key(7).public_key(),
            expiry_height,
        }
    }

    #[test]
    fn an_escrow_locks_then_pays_miner_coordinator_and_client_once() {
        let g = genesis();
        let mut state = g.initial_state();
        let proposer = key(9).public_key();
        let lock = escrow_tx(
            1,
            0,
            TxBody::EscrowLock {
                terms: terms(100),
                amount: Amount(1_000_000),
            },
        );
        State::check_standalone(&lock, &g).expect("valid");
        state.apply(&lock, &proposer, 1).expect("locks");
        let escrow = terms(100).address();
        assert_eq!(state.account(&escrow).balance, Amount(1_000_000));
        assert_eq!(state.supply(), g.supply(), "locked money is still money");
        // A second lock of the same escrow is refused.
        let again = escrow_tx(
            1,
            1,
            TxBody::EscrowLock {
                terms: terms(100),
                amount: Amount(1),
            },
        );
        assert_eq!(
            state.check(&again, 2).map_err(|r| r.code()),
            Err("escrow_in_use")
        );
        let release = |from: u8, miner_amount: u64, fee: u64| {
            escrow_tx(
                from,
                0,
                TxBody::EscrowRelease {
                    terms: terms(100),
                    receipt_hash: types::Hash([3; 32]),
                    miner: addr(4),
                    miner_amount: Amount(miner_amount),
                    fee_amount: Amount(fee),
                },
            )
        };
        // Only the coordinator releases, and never more than the escrow holds.
        assert_eq!(
            State::check_standalone(&release(1, 1, 0), &g).map_err(|r| r.code()),
            Err("not_coordinator")
        );
        state
            .apply(&transfer(1, 1, 7, 100_000, 5_000), &proposer, 2)
            .expect("funds the coordinator's fees");
        assert_eq!(
            state
                .check(&release(7, 990_000, 20_000), 3)
                .map_err(|r| r.code()),
            Err("share_exceeds_escrow")
        );
        let coordinator_before = state.account(&addr(7)).balance;
        let client_before = state.account(&addr(1)).balance;
        state
            .apply(&release(7, 600_000, 50_000), &proposer, 3)
            .expect("releases");
        assert_eq!(state.account(&addr(4)).balance, Amount(600_000));
        assert_eq!(
            state.account(&addr(7)).balance,
            Amount(coordinator_before.0 + 50_000 - 5_000)
        );
        assert_eq!(
            state.account(&addr(1)).balance,
            Amount(client_before.0 + 350_000)
        );
        assert_eq!(state.get(&escrow), None, "a settled escrow is gone");
        assert_eq!(state.supply(), g.supply());
        // Paying twice is impossible: the escrow is empty.
        let twice = escrow_tx(
            7,
            1,
            TxBody::EscrowRelease {
                terms: terms(100),
                receipt_hash: types::Hash([3; 32]),
                miner: addr(4),
                miner_amount: Amount(1),
                fee_amount: Amount(0),
            },
        );
        assert_eq!(
            state.check(&twice, 4).map_err(|r| r.code()),
            Err("no_escrow")
        );
    }

    #[test]
    fn refunds_come_from_the_coordinator_or_after_expiry_from_the_client() {
        let g = genesis();
        let mut state = g.initial_state();
        let proposer = key(9).public_key();
        state
            .apply(
                &escrow_tx(
                    1,
                    0,
                    TxBody::EscrowLock {
                        terms: terms(10),
                        amount: Amount(2_000_000),
                    },
                ),
                &proposer,
                1,
            )
            .expect("locks");
        let balance = state.account(&addr(1)).balance;
        let refund = escrow_tx(1, 1, TxBody::EscrowRefund { terms: terms(10) });
        assert_eq!(
            state.check(&refund, 9).map_err(|r| r.code()),
            Err("escrow_not_expired")
        );
        let stranger = escrow_tx(2, 0, TxBody::EscrowRefund { terms: terms(10) });
        assert_eq!(
            State::check_standalone(&stranger, &g).map_err(|r| r.code()),
            Err("not_escrow_party")
        );
        state
            .apply(&refund, &proposer, 10)
            .expect("refunds at the expiry height");
        assert_eq!(
            state.account(&addr(1)).balance,
            Amount(balance.0 + 2_000_000 - 5_000)
        );
        assert_eq!(state.get(&terms(10).address()), None);
        assert_eq!(state.supply(), g.supply());
        // Someone else's escrow cannot be locked in the client's name.
        let forged = escrow_tx(
            2,
            0,
            TxBody::EscrowLock {
                terms: terms(10),
                amount: Amount(1),
            },
        );
        assert_eq!(
            State::check_standalone(&forged, &g).map_err(|r| r.code()),
            Err("not_escrow_client")
        );
    }
}
