//! The chain node of this process as the coordinator's [`Ledger`]: the one-process server hands its `chain::Node` to the coordinator, so settlements go straight into the node's mempool.

use types::{Address, Amount, Hash, SignedTransaction};

use crate::ledger::{Ledger, LedgerError, Pending, TxState};

impl Ledger for chain::Node {
    fn chain_id(&self) -> String {
        self.genesis().chain_id.clone()
    }

    fn submit(&self, tx: SignedTransaction) -> Pending<'_, ()> {
        Box::pin(async move {
            match chain::Node::submit(self, tx).await {
                Ok(_) => Ok(()),
                Err(chain::node::SubmitError::Refused(error)) => Err(LedgerError::Refused {
                    code: error.code().to_owned(),
                    message: error.to_string(),
                }),
                Err(chain::node::SubmitError::Store(error)) => {
                    Err(LedgerError::Unavailable(error.to_string()))
                }
            }
        })
    }

    fn status(&self, hash: Hash) -> Pending<'_, TxState> {
        Box::pin(async move {
            match self.find_tx(&hash).await {
                Ok(Some(chain::node::Located::Pending(_))) => Ok(TxState::Pending),
                Ok(Some(chain::node::Located::Included(stored))) => Ok(TxState::Included {
                    height: stored.block_height,
                }),
                Ok(None) => Ok(TxState::Unknown),
                Err(error) => Err(LedgerError::Unavailable(error.to_string())),
            }
        })
    }

    fn head_height(&self) -> Pending<'_, u64> {
        Box::pin(async move { Ok(self.head().await.header.height) })
    }

    fn next_nonce(&self, address: Address) -> Pending<'_, u64> {
        Box::pin(async move { Ok(chain::Node::next_nonce(self, &address).await) })
    }

    fn required_fee(&self, len: usize) -> Amount {
        self.genesis().params.required_fee(len)
    }
}
