//! Binary Merkle trees over hashes, with inclusion proofs that a browser can check against a block header. Leaves and inner nodes are hashed with different prefixes, and an odd node is carried up unchanged (never duplicated), so no two lists share a root.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;

fn leaf(hash: &Hash) -> Hash {
    Hash::of(&[&[0x00], &hash.0])
}

fn node(left: &Hash, right: &Hash) -> Hash {
    Hash::of(&[&[0x01], &left.0, &right.0])
}

/// The level above `level`: pairs hashed together, an odd last node carried up unchanged.
fn parent_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node(left, right),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two"),
        })
        .collect()
}

/// The root over `leaves` in order; the root of no leaves is [`Hash::ZERO`].
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = leaves.iter().map(leaf).collect();
    while level.len() > 1 {
        level = parent_level(&level);
    }
    level[0]
}

/// The state tree's leaf for one account: its address, balance and nonce under their own domain
/// tag. The chain's state root is the Merkle root of these leaves in address order, so a balance
/// can be checked against a signed block header.
pub fn account_leaf(address: &crate::Address, balance: crate::Amount, nonce: u64) -> Hash {
    let mut w = crate::encoding::Writer::new(b"AITBC/account", 1);
    w.fixed(&address.0).u64(balance.0).u64(nonce);
    Hash::of(&[&w.finish()])
}

/// Which side a sibling sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

/// The path from one leaf to the root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    pub index: u64,
    pub leaf_count: u64,
    pub siblings: Vec<(Side, Hash)>,
}

impl MerkleProof {
    /// The proof for the leaf at `index`, or `None` when there is no such leaf.
    pub fn build(leaves: &[Hash], index: usize) -> Option<MerkleProof> {
        if index >= leaves.len() {
            return None;
        }
        let mut siblings = Vec::new();
        let mut level: Vec<Hash> = leaves.iter().map(leaf).collect();
        let mut position = index;
        while level.len() > 1 {
            let sibling = position ^ 1;
            if sibling < level.len() {
                let side = if sibling < position {
                    Side::Left
                } else {
                    Side::Right
                };
                siblings.push((side, level[sibling]));
            }
            level = parent_level(&level);
            position /= 2;
        }
        Some(MerkleProof {
            index: index as u64,
            leaf_count: leaves.len() as u64,
            siblings,
        })
    }

    /// Whether `item` at this proof's position leads to `root`.
    pub fn verify(&self, item: &Hash, root: &Hash) -> bool {
        if self.index >= self.leaf_count {
            return false;
        }
        // The shape of the tree fixes which levels have a sibling and on which side; checking
        // it stops a proof from claiming another position for the same leaf.
        let (mut position, mut width, mut acc) = (self.index, self.leaf_count, leaf(item));
        let mut siblings = self.siblings.iter();
        while width > 1 {
            let sibling = position ^ 1;
            if sibling < width {
                let want = if sibling < position {
                    Side::Left
                } else {
                    Side::Right
                };
                match siblings.next() {
                    Some((side, hash)) if *side == want => {
                        acc = match side {
                            Side::Left => node(hash, &acc),
                            Side::Right => node(&acc, hash),
                        };
                    }
                    _ => return false,
                }
            }
            position /= 2;
            width = width.div_ceil(2);
        }
        siblings.next().is_none() && acc == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u8) -> Vec<Hash> {
        (0..n).map(|i| Hash::of(&[&[i]])).collect()
    }

    #[test]
    fn every_leaf_of_every_size_proves_and_nothing_else_does() {
        for n in 1..=17u8 {
            let items = leaves(n);
            let root = merkle_root(&items);
            for (i, item) in items.iter().enumerate() {
                let proof = MerkleProof::build(&items, i).expect("proof");
                assert!(proof.verify(item, &root), "n={n} i={i}");
                let other = Hash::of(&[b"other"]);
                assert!(
                    !proof.verify(&other, &root),
                    "n={n} i={i}: wrong item accepted"
                );
                let mut moved = proof.clone();
                moved.index = (moved.index + 1) % u64::from(n);
                if n > 1 {
                    assert!(
                        !moved.verify(item, &root),
                        "n={n} i={i}: wrong position accepted"
                    );
                }
            }
            assert!(MerkleProof::build(&items, n as usize).is_none());
        }
    }

    #[test]
    fn duplicating_the_last_leaf_changes_the_root() {
        let three = leaves(3);
        let mut four = three.clone();
        four.push(three[2]);
        assert_ne!(merkle_root(&three), merkle_root(&four));
        assert_eq!(merkle_root(&[]), Hash::ZERO);
    }
}
