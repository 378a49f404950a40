//! The Merkle tree of one log, in memory, with its C2SP tlog-tiles form: RFC 6962 hashing,
//! tiles of height 8 (`tile/<L>/<N>[.p/<W>]`) and entry bundles (`tile/entries/<N>[.p/<W>]`).
//!
//! The tree arithmetic, proofs and tile coordinates are the `tlog_tiles` crate (a port of Go's
//! `golang.org/x/mod/sumdb/tlog`, with its tests); this module adds the C2SP paths, the entry
//! bundles, and the whole-log build that publishing and `verbatim verify` share.

use tlog_tiles::{Hash, HashReader, Tile};

use super::TransparencyError;
use super::entry::MAX_ENTRY_BYTES;

/// C2SP tlog-tiles fixes the tile height at 8: 256 hashes (or entries) per full tile.
pub const TILE_HEIGHT: u8 = 8;
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// A whole log: every entry and every stored hash (Go's "stored hash index" order).
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    entries: Vec<Vec<u8>>,
    hashes: Vec<Hash>,
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one canonical entry; returns its leaf hash.
    pub fn push(&mut self, entry: Vec<u8>) -> Result<Hash, TransparencyError> {
        if entry.len() > MAX_ENTRY_BYTES {
            return Err(TransparencyError::EntryTooLarge(entry.len()));
        }
        let n = self.size();
        let leaf = tlog_tiles::record_hash(&entry);
        let new = tlog_tiles::stored_hashes_for_record_hash(n, leaf, self)?;
        self.hashes.extend(new);
        self.entries.push(entry);
        Ok(leaf)
    }

    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn entry(&self, index: u64) -> Option<&[u8]> {
        self.entries
            .get(usize::try_from(index).ok()?)
            .map(Vec::as_slice)
    }

    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        (index < self.size()).then(|| self.hashes[tlog_tiles::stored_hash_index(0, index) as usize])
    }

    /// The root hash (RFC 6962 Merkle tree hash; SHA-256 of nothing for an empty tree).
    pub fn root(&self) -> Hash {
        tlog_tiles::tree_hash(self.size(), self).expect("every stored hash is in memory")
    }

    /// Proof that leaf `index` is in this tree.
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>, TransparencyError> {
        Ok(tlog_tiles::prove_record(self.size(), index, self)?)
    }

    /// Proof that the tree of `old_size` is a prefix of this one.
    pub fn consistency_proof(&self, old_size: u64) -> Result<Vec<Hash>, TransparencyError> {
        Ok(tlog_tiles::prove_tree(self.size(), old_size, self)?)
    }

    /// Every file of the tiled log that growing from `old_size` to this size adds (full tiles,
    /// and the new partial tiles), each with its bytes, as paths under the log's prefix.
    /// Tiles are immutable: a path always holds the same bytes in every honest copy.
    pub fn tiles_since(&self, old_size: u64) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for tile in Tile::new_tiles(TILE_HEIGHT, old_size.min(self.size()), self.size()) {
            let data = tile
                .read_data(self)
                .expect("every stored hash is in memory");
            files.push((tile_path(&tile), data));
            if tile.level() == 0 {
                files.push((
                    entries_path(tile.level_index(), tile.width()),
                    self.entry_bundle(tile.level_index(), tile.width()),
                ));
            }
        }
        files
    }

    /// Every file of the tiled log at this size (what a full rebuild writes).
    pub fn all_tiles(&self) -> Vec<(String, Vec<u8>)> {
        self.tiles_since(0)
    }

    /// Entry bundle `n` of width `w`: each entry as a big-endian 16-bit length and its bytes.
    fn entry_bundle(&self, n: u64, width: u32) -> Vec<u8> {
        let start = (n * TILE_WIDTH) as usize;
        let mut bundle = Vec::new();
        for entry in &self.entries[start..start + width as usize] {
            bundle.extend_from_slice(&(entry.len() as u16).to_be_bytes());
            bundle.extend_from_slice(entry);
        }
        bundle
    }
}

/// Splits an entry bundle into its entries; `None` if it is malformed.
pub fn split_entry_bundle(mut bundle: &[u8]) -> Option<Vec<&[u8]>> {
    let mut entries = Vec::new();
    while !bundle.is_empty() {
        let (len, rest) = bundle.split_at_checked(2)?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        let (entry, rest) = rest.split_at_checked(len)?;
        entries.push(entry);
        bundle = rest;
    }
    Some(entries)
}

/// `N` as C2SP writes it: groups of three digits, all but the last prefixed with `x`.
fn index_path(mut n: u64) -> String {
    let mut path = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        path = format!("x{:03}/{path}", n % 1000);
    }
    path
}

fn partial_suffix(width: u32) -> String {
    if u64::from(width) == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// `tile/<L>/<N>[.p/<W>]`
pub fn tile_path(tile: &Tile) -> String {
    format!(
        "tile/{}/{}{}",
        tile.level(),
        index_path(tile.level_index()),
        partial_suffix(tile.width())
    )
}

/// `tile/entries/<N>[.p/<W>]`
pub fn entries_path(n: u64, width: u32) -> String {
    format!("tile/entries/{}{}", index_path(n), partial_suffix(width))
}

/// The level-0 tiles and entry bundles covering a tree of `size` entries, as (index, width).
pub fn bundles_of(size: u64) -> impl Iterator<Item = (u64, u32)> {
    (0..size.div_ceil(TILE_WIDTH)).map(move |n| {
        let width = (size - n * TILE_WIDTH).min(TILE_WIDTH) as u32;
        (n, width)
    })
}

/// Checks an inclusion proof against a tree head.
pub fn check_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    index: u64,
    leaf: Hash,
) -> Result<(), TransparencyError> {
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf)
        .map_err(|_| TransparencyError::BadInclusionProof { index, size })
}

/// Checks a consistency proof between two tree heads.
pub fn check_consistency(
    proof: &[Hash],
    new_size: u64,
    new_root: Hash,
    old_size: u64,
    old_root: Hash,
) -> Result<(), TransparencyError> {
    tlog_tiles::check_tree(&proof.to_vec(), new_size, new_root, old_size, old_root)
        .map_err(|_| TransparencyError::BadConsistencyProof { old_size, new_size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(size: u64) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for i in 0..size {
            tree.push(format!("entry {i}").into_bytes()).unwrap();
        }
        tree
    }

    /// RFC 6962's reference definition, computed recursively and independently of tlog_tiles.
    fn reference_root(leaves: &[Vec<u8>]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => super::super::entry::leaf_hash(&leaves[0]),
            n => {
                // The largest power of two smaller than n.
                let k = n.next_power_of_two() / 2;
                let mut h = Sha256::new();
                h.update([1u8]);
                h.update(reference_root(&leaves[..k]));
                h.update(reference_root(&leaves[k..]));
                h.finalize().into()
            }
        }
    }

    #[test]
    fn roots_match_rfc_6962_at_the_edges_of_tiles() {
        for size in [0u64, 1, 2, 3, 7, 8, 255, 256, 257, 513] {
            let t = tree(size);
            let leaves: Vec<Vec<u8>> = (0..size)
                .map(|i| format!("entry {i}").into_bytes())
                .collect();
            assert_eq!(t.root().0, reference_root(&leaves), "size {size}");
        }
    }

    #[test]
    fn rfc_6962_empty_tree_and_known_root() {
        // The empty tree hashes to SHA-256 of the empty string (RFC 6962 §2.1).
        assert_eq!(
            hex::encode(MemoryTree::new().root().0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // Leaf hash of the empty entry: SHA-256(0x00), the RFC 6962 test vector used by
        // Certificate Transparency implementations.
        let mut t = MemoryTree::new();
        t.push(Vec::new()).unwrap();
        assert_eq!(
            hex::encode(t.root().0),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn inclusion_and_consistency_proofs_at_many_sizes() {
        let big = tree(65_537);
        for size in [1u64, 2, 255, 256, 257, 65_537] {
            let t = if size == 65_537 {
                big.clone()
            } else {
                tree(size)
            };
            let root = t.root();
            let mut indexes = vec![0, size / 2, size - 1];
            indexes.dedup();
            for index in indexes {
                let proof = t.inclusion_proof(index).unwrap();
                let leaf = t.leaf_hash(index).unwrap();
                check_inclusion(&proof, size, root, index, leaf).unwrap();
                // A proof for the wrong leaf, index or root fails.
                let other = tlog_tiles::record_hash(b"forged");
                assert!(check_inclusion(&proof, size, root, index, other).is_err());
                assert!(check_inclusion(&proof, size, other, index, leaf).is_err());
                if size > 1 {
                    let wrong = (index + 1) % size;
                    assert!(check_inclusion(&proof, size, root, wrong, leaf).is_err());
                }
            }
            for old in [1u64, 2, 255, 256, 257, size - 1, size] {
                if old == 0 || old > size {
                    continue;
                }
                let old_root = if size == 65_537 {
                    sized_root(&big, old)
                } else {
                    tree(old).root()
                };
                let proof = t.consistency_proof(old).unwrap();
                check_consistency(&proof, size, root, old, old_root).unwrap();
                let forged = tlog_tiles::record_hash(b"forged");
                if old < size {
                    assert!(check_consistency(&proof, size, root, old, forged).is_err());
                }
            }
        }
    }

    fn sized_root(t: &MemoryTree, size: u64) -> Hash {
        tlog_tiles::tree_hash(size, t).unwrap()
    }

    #[test]
    fn tile_paths_follow_c2sp() {
        assert_eq!(entries_path(1_234_067, 256), "tile/entries/x001/x234/067");
        assert_eq!(entries_path(0, 1), "tile/entries/000.p/1");
        let paths: Vec<String> = tree(257).all_tiles().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "tile/0/000",
                "tile/entries/000",
                "tile/0/001.p/1",
                "tile/entries/001.p/1",
                "tile/1/000.p/1"
            ]
        );
        let paths: Vec<String> = tree(257)
            .tiles_since(256)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        // The level-1 tile of width 1 was published at size 256 already.
        assert_eq!(paths, ["tile/0/001.p/1", "tile/entries/001.p/1"]);
        let paths: Vec<String> = tree(65_537)
            .tiles_since(65_536)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(paths, ["tile/0/256.p/1", "tile/entries/256.p/1"]);
        let paths: Vec<String> = tree(65_537)
            .all_tiles()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        // 257 level-0 tiles and bundles, one full level-1 tile, one level-2 tile of width 1.
        assert_eq!(paths.len(), 2 * 257 + 2);
        assert_eq!(paths[paths.len() - 2..], ["tile/1/000", "tile/2/000.p/1"]);
    }

    #[test]
    fn tiles_hold_the_hashes_and_bundles_the_entries() {
        let t = tree(300);
        let files: std::collections::BTreeMap<String, Vec<u8>> =
            t.all_tiles().into_iter().collect();
        let level0 = &files["tile/0/000"];
        assert_eq!(level0.len(), 256 * 32);
        assert_eq!(&level0[32..64], &t.leaf_hash(1).unwrap().0);
        let bundle = split_entry_bundle(&files["tile/entries/001.p/44"]).unwrap();
        assert_eq!(bundle.len(), 44);
        assert_eq!(bundle[0], b"entry 256");
        assert!(split_entry_bundle(&[0, 5, b'a']).is_none());
        assert_eq!(bundles_of(300).collect::<Vec<_>>(), [(0, 256), (1, 44)]);
        assert_eq!(bundles_of(0).count(), 0);
    }
}
