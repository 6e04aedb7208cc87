//! The JSON shapes of the RPC, kept apart from the chain's types and converted explicitly.

use chain::Node;
use serde::Serialize;
use types::{Address, Block, SignedTransaction, TxBody};

/// Milliseconds since the epoch as RFC 3339, the form the earlier API used for `timestamp`.
pub fn rfc3339(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A block as the RPC shows it; its transactions by hash.
#[derive(Debug, Serialize)]
pub struct BlockView {
    pub height: u64,
    pub hash: String,
    pub parent_hash: String,
    pub timestamp: String,
    pub timestamp_ms: u64,
    pub proposer: String,
    pub proposer_address: String,
    pub tx_count: usize,
    pub tx_root: String,
    pub state_root: String,
    pub signature: String,
    pub transactions: Vec<String>,
}

impl BlockView {
    pub fn of(block: &Block) -> Self {
        let h = &block.header;
        BlockView {
            height: h.height,
            hash: block.hash().to_hex(),
            parent_hash: h.parent_hash.to_hex(),
            timestamp: rfc3339(h.timestamp_ms),
            timestamp_ms: h.timestamp_ms,
            proposer: h.proposer.to_hex(),
            proposer_address: Address::of(&h.proposer).to_string(),
            tx_count: block.transactions.len(),
            tx_root: h.tx_root.to_hex(),
            state_root: h.state_root.to_hex(),
            signature: block.signature.to_hex(),
            transactions: block
                .transactions
                .iter()
                .map(|t| t.hash().to_hex())
                .collect(),
        }
    }
}

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TxStatus {
    Pending,
    Included,
    /// Deeper than the reorg limit: it can no longer be undone.
    Final,
}

/// A transaction as the RPC shows it.
#[derive(Debug, Serialize)]
pub struct TxView {
    pub tx_hash: String,
    pub status: TxStatus,
    pub block_height: Option<u64>,
    pub index: Option<u32>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub chain_id: String,
    pub sender: String,
    pub sender_public_key: String,
    /// Empty for a receipt anchor, which pays no one.
    pub recipient: String,
    pub amount: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub fee: u64,
    pub nonce: u64,
    pub signature: String,
}

impl TxView {
    pub fn of(
        tx: &SignedTransaction,
        status: TxStatus,
        block_height: Option<u64>,
        index: Option<u32>,
    ) -> Self {
        let (kind, receipt_hash, job_id) = match &tx.tx.body {
            TxBody::Transfer { .. } => ("transfer", None, None),
            TxBody::Faucet { .. } => ("faucet", None, None),
            TxBody::ReceiptAnchor {
                receipt_hash,
                job_id,
            } => (
                "receipt_anchor",
                Some(receipt_hash.to_hex()),
                Some(job_id.clone()),
            ),
            TxBody::EscrowLock { terms, .. } => ("escrow_lock", None, Some(terms.job_id.clone())),
            TxBody::EscrowRelease {
                terms,
                receipt_hash,
                ..
            } => (
                "escrow_release",
                Some(receipt_hash.to_hex()),
                Some(terms.job_id.clone()),
            ),
            TxBody::EscrowRefund { terms } => ("escrow_refund", None, Some(terms.job_id.clone())),
        };
        TxView {
            tx_hash: tx.hash().to_hex(),
            status,
            block_height,
            index,
            kind,
            chain_id: tx.tx.chain_id.clone(),
            sender: tx.tx.sender_address().to_string(),
            sender_public_key: tx.tx.sender.to_hex(),
            recipient: tx
                .tx
                .body
                .recipient()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            amount: tx.tx.body.amount().0,
            receipt_hash,
            job_id,
            fee: tx.tx.fee.0,
            nonce: tx.tx.nonce,
            signature: tx.signature.to_hex(),
        }
    }
}

/// Whether a block at `height` is final with the node's current head.
pub async fn status_at(node: &Node, height: u64) -> TxStatus {
    if node.is_final(height).await {
        TxStatus::Final
    } else {
        TxStatus::Included
    }
}

/// `limit` (1–100) and `offset` as the earlier API took them.
#[derive(Debug, serde::Deserialize)]
pub struct Page {
    #[serde(default = "default_limit")]
    pub limit: u32,
    #[serde(default)]
    pub offset: u64,
}

fn default_limit() -> u32 {
    20
}

impl Page {
    pub fn checked(self) -> Result<Self, crate::ApiError> {
        if (1..=100).contains(&self.limit) {
            Ok(self)
        } else {
            Err(crate::ApiError::bad("limit", "must be between 1 and 100"))
        }
    }
}
