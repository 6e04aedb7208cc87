//! The transaction page (`/explorer/tx/{hash}`): who sent what to whom, its fee and nonce, its status from pending to included to final (live), and its inclusion in the block verified in the browser from the signed header and the Merkle proof.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use types::{Block, MerkleProof, SignedTransaction};

/// Everything the page shows, and what the browser needs to check inclusion itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxInfo {
    pub tx: SignedTransaction,
    pub status: String,
    /// The including block without its transactions: the signed header is what the proof is
    /// checked against.
    pub block: Option<Block>,
    pub proof: Option<MerkleProof>,
}

/// The transaction `hash`, pending or included, with its proof when included.
#[server(prefix = "/ui")]
pub async fn fetch_tx(hash: String) -> Result<Option<TxInfo>, ServerFnError> {
    let node = crate::node()?;
    let Some(hash) = types::Hash::from_hex(&hash) else {
        return Ok(None);
    };
    let failed = crate::failed;
    let pending = |tx| TxInfo {
        tx,
        status: "pending".into(),
        block: None,
        proof: None,
    };
    match node.find_tx(&hash).await.map_err(failed)? {
        None => return Ok(None),
        Some(chain::node::Located::Pending(tx)) => return Ok(Some(pending(tx))),
        Some(chain::node::Located::Included(_)) => {}
    }
    if let Some(inclusion) = node.inclusion(&hash).await.map_err(failed)? {
        return Ok(Some(TxInfo {
            tx: inclusion.tx.tx,
            status: if inclusion.is_final {
                "final"
            } else {
                "included"
            }
            .into(),
            block: Some(Block {
                transactions: Vec::new(),
                ..inclusion.block
            }),
            proof: Some(inclusion.proof),
        }));
    }
    // A reorganization took it out of its block since; it may be waiting again.
    Ok(node.pending_tx(&hash).await.map(pending))
}

/// The outcome of checking inclusion in the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    Verified,
    Failed(&'static str),
}

/// Checks that `tx` is in `block`: the header is signed by its proposer, and the Merkle proof
/// leads from the transaction's hash to the header's transaction root.
pub fn check_inclusion(tx: &SignedTransaction, block: &Block, proof: &MerkleProof) -> Check {
    if block.verify_signature().is_err() {
        return Check::Failed("the block header's signature does not verify");
    }
    if !proof.verify(&tx.hash(), &block.header.tx_root) {
        return Check::Failed("the Merkle proof does not lead to the block's transaction root");
    }
    Check::Verified
}

/// The page.
#[component]
pub fn TxPage() -> impl IntoView {
    let params = use_params_map();
    let hash = move || params.with(|p| p.get("hash").unwrap_or_default());
    // Bumped by every new block, which may include the transaction or deepen it towards final.
    let blocks_seen = RwSignal::new(0u64);
    let detail = Resource::new(
        move || (hash(), blocks_seen.get()),
        |(hash, _)| fetch_tx(hash),
    );
    #[cfg(feature = "hydrate")]
    crate::live::on_feed(move |_| blocks_seen.update(|n| *n += 1));
    view! {
        <crate::Frame title="Transaction">
            <h1 class="text-2xl font-bold">"Transaction"</h1>
            <p class="mt-1 break-all font-mono text-sm text-muted">{hash} {move || view! { <crate::Copy text=hash() /> }}</p>
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Looking it up…"</p> }>
                {move || detail.get().map(|result| match result {
                    Ok(Some(detail)) => view! { <TxView detail /> }.into_any(),
                    Ok(None) => view! { <crate::NotFound what="transaction" /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Transition>
        </crate::Frame>
    }
}

#[component]
fn TxView(detail: TxInfo) -> impl IntoView {
    let tx = detail.tx.clone();
    let kind = tx.tx.body.kind();
    let to = match &tx.tx.body {
        types::TxBody::ReceiptAnchor { job_id, .. } => {
            view! { <span>{format!("job {job_id}")}</span> }.into_any()
        }
        body => {
            let to = body.recipient().map(|a| a.to_string()).unwrap_or_default();
            view! { <a class="underline" href=format!("/explorer/address/{to}")>{to.clone()}</a> <crate::Copy text=to /> }.into_any()
        }
    };
    let amount = tx.tx.body.amount().to_grouped();
    let from = tx.tx.sender_address().to_string();
    let check = RwSignal::new(None::<Check>);
    let query = use_query_map();
    let included_in = detail
        .block
        .as_ref()
        .map(|b| (b.header.height, b.header.timestamp_ms));
    let block_link = included_in.map(|(height, ms)| {
        view! {
            <a class="underline" href=format!("/explorer/block/{height}")>{crate::grouped(height)}</a>
            " (" <crate::Ago ms /> ")"
        }
    });
    // Runs in the browser only, after hydration: the server's word is not the proof.
    Effect::new(move |_| {
        if let (Some(block), Some(proof)) = (&detail.block, &detail.proof) {
            let mut proof = proof.clone();
            // Test hook: `?tamper=proof` corrupts the proof before checking, to show a failure.
            if query.with_untracked(|q| q.get("tamper").as_deref() == Some("proof")) {
                match proof.siblings.first_mut() {
                    Some((_, hash)) => hash.0[0] ^= 1,
                    None => proof.leaf_count += 1,
                }
            }
            check.set(Some(check_inclusion(&detail.tx, block, &proof)));
        }
    });
    view! {
        <dl id="tx-detail" class="mt-6 grid grid-cols-[8rem_1fr] gap-x-4 gap-y-2 text-sm sm:grid-cols-[10rem_1fr]">
            <dt class="text-muted">"Status"</dt>
            <dd id="tx-status" data-status=detail.status.clone()>{detail.status.clone()}</dd>
            <dt class="text-muted">"Type"</dt>
            <dd>{kind}</dd>
            <dt class="text-muted">"From"</dt>
            <dd class="break-all font-mono"><a class="underline" href=format!("/explorer/address/{from}")>{from.clone()}</a> <crate::Copy text=from /></dd>
            <dt class="text-muted">"To"</dt>
            <dd class="break-all font-mono">{to}</dd>
            <dt class="text-muted">"Amount"</dt>
            <dd>{amount} " AITBC"</dd>
            <dt class="text-muted">"Fee"</dt>
            <dd>{tx.tx.fee.to_grouped()} " AITBC"</dd>
            <dt class="text-muted">"Nonce"</dt>
            <dd>{tx.tx.nonce}</dd>
            <dt class="text-muted">"Block"</dt>
            <dd>{block_link}</dd>
            <dt class="text-muted">"Inclusion"</dt>
            <dd id="tx-proof">
                {move || match check.get() {
                    Some(Check::Verified) => view! { <span data-proof="verified" class="text-green-600">"verified locally"</span> }.into_any(),
                    Some(Check::Failed(why)) => view! { <span data-proof="failed" class="text-red-600">"verification failed: " {why}</span> }.into_any(),
                    None => view! { <span data-proof="none" class="text-muted">"not in a block yet"</span> }.into_any(),
                }}
            </dd>
        </dl>
    }
}

#[cfg(test)]
mod tests {
    use types::{Amount, BlockHeader, Hash, SecretKey, Transaction, TxBody, merkle_root};

    use super::*;

    #[test]
    fn inclusion_checks_signature_and_path() {
        let key = SecretKey::from_seed(&[3; 32]);
        let txs: Vec<SignedTransaction> = (0..5)
            .map(|n| {
                Transaction {
                    chain_id: "t".into(),
                    sender: key.public_key(),
                    nonce: n,
                    fee: Amount(1),
                    body: TxBody::Transfer {
                        to: types::Address([1; 20]),
                        amount: Amount(1),
                    },
                }
                .sign(&key)
            })
            .collect();
        let leaves: Vec<Hash> = txs.iter().map(SignedTransaction::hash).collect();
        let header = BlockHeader {
            chain_id: "t".into(),
            height: 1,
            parent_hash: Hash::ZERO,
            timestamp_ms: 1,
            proposer: key.public_key(),
            tx_root: merkle_root(&leaves),
            state_root: Hash::ZERO,
        };
        let block = Block::seal(header, Vec::new(), &key);
        let proof = MerkleProof::build(&leaves, 3).expect("proof");
        assert_eq!(check_inclusion(&txs[3], &block, &proof), Check::Verified);
        assert!(matches!(
            check_inclusion(&txs[2], &block, &proof),
            Check::Failed(_)
        ));
        let mut forged = block.clone();
        forged.header.tx_root = Hash::ZERO;
        assert!(matches!(
            check_inclusion(&txs[3], &forged, &proof),
            Check::Failed(_)
        ));
    }
}
