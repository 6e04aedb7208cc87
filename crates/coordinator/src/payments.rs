//! Payments on chain: a paid job comes with an escrow lock its client signed; the coordinator puts it on chain and hands the job out only once it is in a block, then settles it: a release against the receipt when the job completed, or was canceled while running and its miner reported the usage so far (the miner gets the price, the coordinator its fee, the client the rest, and the receipt's hash is anchored), a refund otherwise. Every settlement is written down before it is sent, and the chain pays an escrow out only once, so a crash or a retry never pays twice.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use types::{Address, Amount, SignedTransaction, Transaction, TxBody, tx::EscrowTerms};

use crate::{
    Coordinator, Error, Job, JobState,
    ledger::{LedgerError, TxState},
};

/// How a paid job's escrow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The lock is sent, not yet in a block: the job waits.
    Locking,
    /// The money is in escrow: the job may run.
    Locked,
    Releasing,
    Released,
    Refunding,
    Refunded,
    /// The lock never made it on chain (the job failed with it), or the escrow was settled by
    /// someone else.
    Failed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Locking => "locking",
            PaymentStatus::Locked => "locked",
            PaymentStatus::Releasing => "releasing",
            PaymentStatus::Released => "released",
            PaymentStatus::Refunding => "refunding",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<PaymentStatus> {
        [
            PaymentStatus::Locking,
            PaymentStatus::Locked,
            PaymentStatus::Releasing,
            PaymentStatus::Released,
            PaymentStatus::Refunding,
            PaymentStatus::Refunded,
            PaymentStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A paid job's escrow as the coordinator keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub terms: EscrowTerms,
    pub amount: u64,
    /// The lock, as the client signed it.
    pub lock_tx: SignedTransaction,
    /// The release or refund, once built (written before it is sent).
    pub settle_tx: Option<SignedTransaction>,
    /// When the lock or the settlement was last sent, in milliseconds.
    pub sent_ms: i64,
}

/// What a client sends to pay for a job: its signed escrow lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub escrow_lock: SignedTransaction,
}

/// A transaction that has waited this long without reaching the mempool or a block is sent
/// again.
const RESEND_MS: i64 = 10_000;

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

impl Coordinator {
    /// Checks a client's escrow lock for job `job_id`; returns what to store with the job.
    pub(crate) async fn check_payment(
        &self,
        job_id: &str,
        request: &PaymentRequest,
    ) -> Result<Payment, Error> {
        let ledger = self
            .ledger
            .as_ref()
            .ok_or_else(|| invalid("payment", "this coordinator runs without a chain"))?;
        let lock = &request.escrow_lock;
        let TxBody::EscrowLock { terms, amount } = &lock.tx.body else {
            return Err(invalid(
                "payment.escrow_lock",
                "must be an escrow_lock transaction",
            ));
        };
        if terms.job_id != job_id {
            return Err(invalid(
                "payment.escrow_lock",
                "its job id is not the job's",
            ));
        }
        if terms.coordinator != self.key.public_key() {
            return Err(invalid(
                "payment.escrow_lock",
                format!("must name this coordinator's key {}", self.key.public_key()),
            ));
        }
        let head = ledger.head_height().await.map_err(unavailable)?;
        if terms.expiry_height < head + self.config.min_escrow_blocks {
            return Err(invalid(
                "payment.escrow_lock",
                format!(
                    "its expiry height must be at least {} (the head is {head})",
                    head + self.config.min_escrow_blocks
                ),
            ));
        }
        Ok(Payment {
            terms: terms.clone(),
            amount: amount.0,
            lock_tx: lock.clone(),
            settle_tx: None,
            sent_ms: self.now(),
        })
    }

    /// Sends a stored job's escrow lock to the chain. A lock the chain refuses takes its job with
    /// it (the job was never acknowledged); one the chain cannot take now is sent again by
    /// [`Coordinator::settle`].
    pub(crate) async fn send_lock(&self, job: &Job) -> Result<(), Error> {
        let (Some(ledger), Some(payment)) = (&self.ledger, &job.payment) else {
            return Ok(());
        };
        match ledger.submit(payment.lock_tx.clone()).await {
            Ok(()) => Ok(()),
            Err(LedgerError::Refused { code, message }) => {
                self.store.delete_unsent(&job.id).await?;
                Err(invalid(
                    "payment.escrow_lock",
                    format!("{message} ({code})"),
                ))
            }
            Err(error) => {
                tracing::warn!(job = %job.id, %error, "could not send an escrow lock; trying again later");
                Ok(())
            }
        }
    }

    /// Sends the lock of a job the chain has not heard of: a retried submission of a job stored
    /// just before the process stopped (before its lock went out) sends it now, so the client's
    /// later locks do not wait behind a gap in its nonces until the next resend.
    pub(crate) async fn resend_unseen_lock(&self, job: &Job) {
        let (Some(ledger), Some(payment)) = (&self.ledger, &job.payment) else {
            return;
        };
        if job.payment_status != Some(PaymentStatus::Locking) {
            return;
        }
        if let Ok(TxState::Unknown) = ledger.status(payment.lock_tx.hash()).await
            && let Err(error) = ledger.submit(payment.lock_tx.clone()).await
        {
            tracing::warn!(job = %job.id, %error, "could not send an escrow lock; trying again later");
        }
    }

    /// One round of settlement: locks that reached a block free their jobs, finished jobs get
    /// their release or refund, and settlements that reached a block are recorded.
    pub async fn settle(&self) -> Result<usize, Error> {
        let Some(ledger) = self.ledger.clone() else {
            return Ok(0);
        };
        // One round at a time: settlements take consecutive nonces of the coordinator's key.
        let _turn = self.settling.lock().await;
        let mut changed = 0;
        for job in self.store.paid_jobs_to_watch().await? {
            let (Some(status), Some(mut payment)) = (job.payment_status, job.payment.clone())
            else {
                continue;
            };
            let now = self.now();
            match status {
                PaymentStatus::Locking => {
                    match ledger
                        .status(payment.lock_tx.hash())
                        .await
                        .map_err(unavailable)?
                    {
                        TxState::Included { .. } => {
                            if self
                                .store
                                .set_payment(&job.id, status, PaymentStatus::Locked, &payment)
                                .await?
                            {
                                changed += 1;
                                // Ready now: offered to the waiting miners, known to polls.
                                let ready = Job {
                                    payment_status: Some(PaymentStatus::Locked),
                                    ..job.clone()
                                };
                                if let Err(error) = self.offer(ready).await {
                                    tracing::warn!(%error, "could not offer a paid job");
                                }
                            }
                        }
                        TxState::Pending => {}
                        TxState::Unknown if now - payment.sent_ms > RESEND_MS => {
                            match ledger.submit(payment.lock_tx.clone()).await {
                                Ok(()) => {
                                    payment.sent_ms = now;
                                    self.store
                                        .set_payment(&job.id, status, status, &payment)
                                        .await?;
                                }
                                Err(LedgerError::Refused { message, .. }) => {
                                    self.store
                                        .set_payment(
                                            &job.id,
                                            status,
                                            PaymentStatus::Failed,
                                            &payment,
                                        )
                                        .await?;
                                    self.store
                                        .fail_queued(
                                            &job.id,
                                            &format!("the escrow lock was refused: {message}"),
                                            now,
                                        )
                                        .await?;
                                    changed += 1;
                                }
                                Err(_) => {}
                            }
                        }
                        TxState::Unknown => {}
                    }
                }
                PaymentStatus::Locked
                    if job.state.is_terminal() && !self.awaits_usage(&job, now) =>
                {
                    let settle = self.settlement(&job, &payment, &*ledger).await?;
                    let next = if matches!(settle.tx.body, TxBody::EscrowRelease { .. }) {
                        PaymentStatus::Releasing
                    } else {
                        PaymentStatus::Refunding
                    };
                    payment.settle_tx = Some(settle.clone());
                    payment.sent_ms = now;
                    // Written down first: after a crash the same transaction is sent again.
                    // A refund only while the job has no receipt: a usage report stored meanwhile
                    // (which needs the escrow still locked) and a refund exclude each other.
                    let moved = if next == PaymentStatus::Refunding {
                        self.store.start_refund(&job.id, &payment).await?
                    } else {
                        self.store
                            .set_payment(&job.id, status, next, &payment)
                            .await?
                    };
                    if moved {
                        changed += 1;
                        if let Err(error) = ledger.submit(settle).await {
                            tracing::warn!(job = %job.id, %error, "could not send a settlement; trying again later");
                        }
                    }
                }
                PaymentStatus::Releasing | PaymentStatus::Refunding => {
                    let Some(settle) = payment.settle_tx.clone() else {
                        continue;
                    };
                    match ledger.status(settle.hash()).await.map_err(unavailable)? {
                        TxState::Included { .. } => {
                            let done = if status == PaymentStatus::Releasing {
                                PaymentStatus::Released
                            } else {
                                PaymentStatus::Refunded
                            };
                            if self
                                .store
                                .set_payment(&job.id, status, done, &payment)
                                .await?
                            {
                                changed += 1;
                            }
                        }
                        TxState::Pending => {}
                        TxState::Unknown if now - payment.sent_ms > RESEND_MS => {
                            match ledger.submit(settle).await {
                                Ok(()) => {}
                                Err(LedgerError::Refused { code, .. })
                                    if code == "stale_nonce" || code == "future_nonce" =>
                                {
                                    // The nonce went to another transaction: the same settlement
                                    // with the next nonce.
                                    let again = self.settlement(&job, &payment, &*ledger).await?;
                                    payment.settle_tx = Some(again.clone());
                                    let _ = ledger.submit(again).await;
                                }
                                Err(LedgerError::Refused { code, message }) => {
                                    // The escrow is empty: it was settled already (by an earlier
                                    // send of ours, or refunded by its client after expiry).
                                    tracing::warn!(job = %job.id, %code, %message, "settlement refused");
                                    self.store
                                        .set_payment(
                                            &job.id,
                                            status,
                                            PaymentStatus::Failed,
                                            &payment,
                                        )
                                        .await?;
                                    continue;
                                }
                                Err(_) => continue,
                            }
                            payment.sent_ms = now;
                            self.store
                                .set_payment(&job.id, status, status, &payment)
                                .await?;
                        }
                        TxState::Unknown => {}
                    }
                }
                _ => {}
            }
        }
        Ok(changed)
    }

    /// The release (completed job: the receipt's price to the miner's payout address, the fee to
    /// the coordinator, the rest back) or refund (any other end) of `job`, signed with the next
    /// nonce of the coordinator's key.
    async fn settlement(
        &self,
        job: &Job,
        payment: &Payment,
        ledger: &dyn crate::ledger::Ledger,
    ) -> Result<SignedTransaction, Error> {
        let body = match self.release_of(job, payment).await? {
            Some(body) => body,
            None => TxBody::EscrowRefund {
                terms: payment.terms.clone(),
            },
        };
        let sender = self.key.public_key();
        let nonce = ledger
            .next_nonce(Address::of(&sender))
            .await
            .map_err(unavailable)?;
        let mut tx = Transaction {
            chain_id: ledger.chain_id(),
            sender,
            nonce,
            fee: Amount::ZERO,
            body,
        };
        // The fee does not change the length: it is a fixed-width field.
        tx.fee = ledger.required_fee(tx.clone().sign(&self.key).encoded_len());
        Ok(tx.sign(&self.key))
    }

    /// Whether `job` was canceled while it ran and its miner may still report the usage so far.
    fn awaits_usage(&self, job: &Job, now: i64) -> bool {
        job.state == JobState::Canceled
            && job.started_at.is_some()
            && job.receipt_id.is_none()
            && job
                .finished_at
                .is_some_and(|at| now - at <= self.config.usage_grace_ms)
    }

    /// The release of a completed job, or of a canceled one whose miner reported its usage.
    async fn release_of(&self, job: &Job, payment: &Payment) -> Result<Option<TxBody>, Error> {
        if !matches!(job.state, JobState::Completed | JobState::Canceled) {
            return Ok(None);
        }
        let Some(receipt) = self.store.receipts_of(&job.id).await?.pop() else {
            return Ok(None);
        };
        let miner = match &job.assigned_miner_id {
            Some(id) => self.store.miner(id).await?,
            None => None,
        };
        let Some(payout) = miner
            .and_then(|m| m.payout_address)
            .and_then(|a| Address::parse(&a).ok())
        else {
            return Ok(None);
        };
        let price = receipt
            .get("price_base_units")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let (miner_amount, fee_amount) = split(price, payment.amount, self.config.fee_bps);
        Ok(Some(TxBody::EscrowRelease {
            terms: payment.terms.clone(),
            receipt_hash: types::receipt::receipt_hash(&receipt),
            miner: payout,
            miner_amount: Amount(miner_amount),
            fee_amount: Amount(fee_amount),
        }))
    }
}

/// How `price` is paid out of an escrow of `held`: the miner's share (the price, at most what is
/// held) and the coordinator's fee (`fee_bps` hundredths of a percent of the price, at most what
/// is left). The client gets the rest.
pub fn split(price: u64, held: u64, fee_bps: u64) -> (u64, u64) {
    let miner = price.min(held);
    let fee = u64::try_from(u128::from(price) * u128::from(fee_bps) / 10_000).unwrap_or(u64::MAX);
    (miner, fee.min(held - miner))
}

fn unavailable(error: LedgerError) -> Error {
    Error::Unavailable(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_never_exceeds_the_escrow() {
        assert_eq!(split(1_000_000, 2_000_000, 500), (1_000_000, 50_000));
        assert_eq!(split(3_000_000, 2_000_000, 500), (2_000_000, 0));
        assert_eq!(split(1_990_000, 2_000_000, 500), (1_990_000, 10_000));
        assert_eq!(split(0, 2_000_000, 500), (0, 0));
    }
}
