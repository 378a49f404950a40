//! Appending to a published log without reading it all again: the new entries' hashes need
//! only the right edge of the published tree, read from its tiles (each checked against the
//! signed checkpoint by `tlog_tiles::TileHashReader`), so an append costs the same at entry
//! 100,000 as at entry 1.
//!
//! Pure: the tiles come from a [`TileCache`]; when some are missing, [`append`] says which,
//! and the caller reads them from the site and calls again.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tlog_tiles::{Hash, HashReader, Tile, TileHashReader, TileReader};

use super::tree::{TILE_HEIGHT, TILE_WIDTH, entries_path, tile_path};
use super::{TransparencyError, TreeHead};

/// Tiles read so far, and the ones a computation asked for but lacked.
#[derive(Default)]
pub struct TileCache {
    tiles: BTreeMap<String, Vec<u8>>,
    wanted: Mutex<BTreeMap<String, Tile>>,
}

impl TileCache {
    pub fn insert(&mut self, tile: &Tile, bytes: Vec<u8>) {
        self.tiles.insert(tile_path(tile), bytes);
    }

    pub(crate) fn take_wanted(&self) -> Vec<Tile> {
        let mut wanted = self.wanted.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *wanted).into_values().collect()
    }
}

impl TileReader for TileCache {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(tiles.len());
        let mut missing = false;
        for tile in tiles {
            match self.tiles.get(&tile_path(tile)) {
                Some(bytes) => out.push(bytes.clone()),
                None => {
                    missing = true;
                    self.wanted
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(tile_path(tile), *tile);
                }
            }
        }
        if missing {
            Err(tlog_tiles::Error::InvalidTile)
        } else {
            Ok(out)
        }
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// What an append publishes: the new root and size, and the new tiles and entry bundles
/// (paths relative to the log's folder).
#[derive(Debug)]
pub struct Appended {
    pub root: Hash,
    pub size: u64,
    pub files: Vec<(String, Vec<u8>)>,
}

#[derive(Debug)]
pub enum AppendStep {
    Done(Appended),
    /// Read these tiles of the published log into the cache and call again.
    NeedTiles(Vec<Tile>),
}

/// The entry bundle holding the published tree's last entries when it does not end on a full
/// bundle: the new bundle repeats them. `None` when the tree ends on a bundle boundary.
pub fn tail_bundle_path(old_size: u64) -> Option<String> {
    let width = old_size % TILE_WIDTH;
    (width != 0).then(|| entries_path(old_size / TILE_WIDTH, width as u32))
}

/// Appends `entries` to the published tree `old`. `tail` holds the entries of its last
/// partial bundle (see [`tail_bundle_path`]); they are checked against the signed tree.
pub fn append(
    old: &TreeHead,
    tail: &[Vec<u8>],
    entries: &[Vec<u8>],
    cache: &TileCache,
) -> Result<AppendStep, TransparencyError> {
    let tail_start = old.size - old.size % TILE_WIDTH;
    if tail.len() as u64 != old.size - tail_start {
        return Err(TransparencyError::TamperedBundle(tail_start));
    }
    let signed = TileHashReader::new(old.size, old.root, cache);
    let mut edge = Edge {
        old: &signed,
        base: tlog_tiles::stored_hash_index(0, old.size),
        new: Vec::new(),
    };
    let computed = (|| -> Result<Appended, TransparencyError> {
        if !tail.is_empty() {
            let indexes: Vec<u64> = (tail_start..old.size)
                .map(|i| tlog_tiles::stored_hash_index(0, i))
                .collect();
            let leaves = signed.read_hashes(&indexes)?;
            for (k, (entry, leaf)) in tail.iter().zip(&leaves).enumerate() {
                if tlog_tiles::record_hash(entry) != *leaf {
                    return Err(TransparencyError::TamperedBundle(tail_start + k as u64));
                }
            }
        }
        for (i, entry) in entries.iter().enumerate() {
            let n = old.size + i as u64;
            let hashes = tlog_tiles::stored_hashes_for_record_hash(
                n,
                tlog_tiles::record_hash(entry),
                &edge,
            )?;
            edge.new.extend(hashes);
        }
        let size = old.size + entries.len() as u64;
        let root = tlog_tiles::tree_hash(size, &edge)?;
        let mut files = Vec::new();
        for tile in Tile::new_tiles(TILE_HEIGHT, old.size, size) {
            files.push((tile_path(&tile), tile.read_data(&edge)?));
            if tile.level() == 0 {
                let start = tile.level_index() * TILE_WIDTH;
                let mut bundle = Vec::new();
                for j in start..start + u64::from(tile.width()) {
                    let entry = if j < old.size {
                        &tail[(j - tail_start) as usize]
                    } else {
                        &entries[(j - old.size) as usize]
                    };
                    bundle.extend_from_slice(&(entry.len() as u16).to_be_bytes());
                    bundle.extend_from_slice(entry);
                }
                files.push((entries_path(tile.level_index(), tile.width()), bundle));
            }
        }
        Ok(Appended { root, size, files })
    })();
    match computed {
        Ok(appended) => Ok(AppendStep::Done(appended)),
        Err(e) => {
            let wanted = cache.take_wanted();
            if wanted.is_empty() {
                Err(e)
            } else {
                Ok(AppendStep::NeedTiles(wanted))
            }
        }
    }
}

/// The stored hashes of the published tree (from its tiles) followed by the new ones.
struct Edge<'a> {
    old: &'a TileHashReader<'a>,
    base: u64,
    new: Vec<Hash>,
}

impl HashReader for Edge<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let old: Vec<u64> = indexes.iter().copied().filter(|&i| i < self.base).collect();
        let mut old_hashes = if old.is_empty() {
            Vec::new()
        } else {
            self.old.read_hashes(&old)?
        }
        .into_iter();
        indexes
            .iter()
            .map(|&i| {
                if i < self.base {
                    old_hashes.next().ok_or(tlog_tiles::Error::IndexesNotInTree)
                } else {
                    usize::try_from(i - self.base)
                        .ok()
                        .and_then(|k| self.new.get(k).copied())
                        .ok_or(tlog_tiles::Error::IndexesNotInTree)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::MemoryTree;
    use crate::transparency::tree::split_entry_bundle;

    fn entry(i: u64) -> Vec<u8> {
        format!("entry {i}").into_bytes()
    }

    fn tree(size: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..size {
            t.push(entry(i)).unwrap();
        }
        t
    }

    /// Appends as the publisher does, reading tiles from `published` on demand.
    fn run(
        old: &MemoryTree,
        published: &BTreeMap<String, Vec<u8>>,
        new: u64,
    ) -> Result<(Appended, usize), TransparencyError> {
        let head = TreeHead {
            origin: "o".to_owned(),
            size: old.size(),
            root: old.root(),
        };
        let tail = match tail_bundle_path(old.size()) {
            Some(path) => split_entry_bundle(&published[&path])
                .unwrap()
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect(),
            None => Vec::new(),
        };
        let entries: Vec<Vec<u8>> = (old.size()..new).map(entry).collect();
        let mut cache = TileCache::default();
        let mut reads = 0;
        loop {
            match append(&head, &tail, &entries, &cache)? {
                AppendStep::Done(done) => return Ok((done, reads)),
                AppendStep::NeedTiles(tiles) => {
                    for t in tiles {
                        reads += 1;
                        cache.insert(&t, published[&tile_path(&t)].clone());
                    }
                }
            }
        }
    }

    #[test]
    fn appends_give_the_tiles_a_full_rebuild_gives() {
        for (old, new) in [
            (1u64, 2u64),
            (2, 3),
            (255, 256),
            (256, 257),
            (257, 600),
            (1000, 1001),
            (65_536, 65_537),
        ] {
            let before = tree(old);
            let after = tree(new);
            let published: BTreeMap<String, Vec<u8>> = before.all_tiles().into_iter().collect();
            let (appended, reads) = run(&before, &published, new).unwrap();
            assert_eq!(appended.root, after.root(), "{old}→{new}");
            assert_eq!(appended.size, new);
            assert_eq!(appended.files, after.tiles_since(old), "{old}→{new}");
            // Only the right edge is read: at most a few tiles per level.
            assert!(reads <= 6, "{old}→{new}: {reads} tiles read");
        }
    }

    #[test]
    fn a_published_log_that_does_not_match_its_checkpoint_is_refused() {
        let before = tree(300);
        let mut published: BTreeMap<String, Vec<u8>> = before.all_tiles().into_iter().collect();
        // A tampered tail bundle.
        let path = tail_bundle_path(300).unwrap();
        let mut bundle = published[&path].clone();
        let last = bundle.len() - 1;
        bundle[last] ^= 1;
        published.insert(path, bundle);
        assert!(matches!(
            run(&before, &published, 301),
            Err(TransparencyError::TamperedBundle(_))
        ));
        // A tampered hash tile.
        let mut published: BTreeMap<String, Vec<u8>> = before.all_tiles().into_iter().collect();
        let tile = published.get_mut("tile/0/001.p/44").unwrap();
        tile[0] ^= 1;
        assert!(run(&before, &published, 301).is_err());
    }
}
