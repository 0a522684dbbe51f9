//! Reads the ID map for a run of lookups, cheaper than one tree descent each (about 2 us in
//! sled at 1M entries):
//! - keys in increasing order (an export sorted by code): one range read of the next entries
//!   serves the lookups that follow;
//! - keys in any other order: the namespace is copied into a compact in-memory index as the
//!   run goes: nothing for the first [`FREE_READS`] plain reads, then [`LOAD_RATIO`] entries
//!   for each plain read. A short incremental run pays nothing or little for it; a full pass
//!   ends with its lookups answered from memory. An index that
//!   outgrows [`MAX_INDEX_BYTES`] is dropped and plain reads go on.
//!
//! The run's own writes reach the reader through [`LinkReader::committed`].

use std::collections::HashMap;

use hashbrown::HashTable;

use crate::state::{Change, FieldHashes, Link, Namespace, StateError, StateStore, codec};

/// Entries per range read.
const WINDOW: usize = 512;
/// Plain reads (about 2 ms) before the index starts to load.
const FREE_READS: usize = 1024;
/// Index entries loaded per plain read after that (in steps of one [`WINDOW`]); loading an
/// entry costs about a third of a plain read.
const LOAD_RATIO: usize = 4;
/// Keys in increasing order before a range read is worth it: in random order, eight in a row
/// come once in 40,320 lookups.
const ASCENDING_RUN: usize = 8;
/// About 4M entries: beyond, the memory is worth more than the lookups saved.
const MAX_INDEX_BYTES: usize = 256 << 20;

pub struct LinkReader<'a> {
    state: &'a dyn StateStore,
    ns: &'a Namespace,
    window: Window,
    /// `None` once dropped for its size.
    index: Option<LinkIndex>,
    /// Every key up to this one (in byte order) is in the index if it is in the map; `None`:
    /// nothing loaded yet.
    loaded_through: Option<String>,
    loaded_all: bool,
    /// Plain reads made.
    plain_reads: usize,
    last_key: Option<String>,
    /// Lookups in a row whose key was greater than the one before.
    ascending: usize,
    /// Links the target acknowledged that are not stored yet (they go with the next durable
    /// write); an entry without an id stands for one forgotten.
    unstored: HashMap<String, Link>,
}

/// An entry without an id: reads as no entry.
fn forgotten() -> Link {
    Link {
        target_id: None,
        fingerprint: None,
        synced_at: 0,
    }
}

impl<'a> LinkReader<'a> {
    pub fn new(state: &'a dyn StateStore, ns: &'a Namespace) -> Self {
        LinkReader {
            state,
            ns,
            window: Window::default(),
            index: Some(LinkIndex::default()),
            loaded_through: None,
            loaded_all: false,
            plain_reads: 0,
            last_key: None,
            ascending: 0,
            unstored: HashMap::new(),
        }
    }

    /// The target acknowledged this change; it will be stored later, but lookups see it now.
    pub fn acknowledged(&mut self, change: &Change) {
        match change {
            Change::Link { ns, key, link, .. } if ns == self.ns => {
                self.unstored.insert(key.clone(), link.clone());
            }
            Change::Unlink { ns, key } if ns == self.ns => {
                self.unstored.insert(key.clone(), forgotten());
            }
            _ => {}
        }
    }

    pub fn link(&mut self, key: &str) -> Result<Option<Link>, StateError> {
        // Checked for emptiness first: a rerun with nothing sent does not hash every key.
        if !self.unstored.is_empty()
            && let Some(link) = self.unstored.get(key)
        {
            return Ok(Some(link.clone()));
        }
        if self.last_key.as_deref().is_some_and(|last| key > last) {
            self.ascending += 1;
        } else {
            self.ascending = 0;
        }
        // The buffer is reused: no allocation a lookup.
        match &mut self.last_key {
            Some(last) => {
                last.clear();
                last.push_str(key);
            }
            None => self.last_key = Some(key.to_string()),
        }
        if let Some(index) = self.index.as_ref().filter(|_| self.index_covers(key)) {
            return index.get(key);
        }
        if self.ascending >= ASCENDING_RUN {
            if !self.window.covers(key) {
                self.window = Window::read(self.state, self.ns, key)?;
            }
            return Ok(self.window.get(key));
        }
        let found = self.state.link(self.ns, key)?;
        self.plain_reads += 1;
        if self.plain_reads >= FREE_READS && self.plain_reads.is_multiple_of(WINDOW / LOAD_RATIO) {
            self.grow_index()?;
        }
        Ok(found)
    }

    /// The run stored these changes: the index follows them; what was read ahead may be stale.
    pub fn committed(&mut self, changes: &[Change]) {
        self.window = Window::default();
        self.unstored.clear();
        let forgotten = forgotten();
        for change in changes {
            let (ns, key, link) = match change {
                Change::Link { ns, key, link, .. } => (ns, key, link),
                // An entry without an id reads as no entry.
                Change::Unlink { ns, key } => (ns, key, &forgotten),
                _ => continue,
            };
            if ns == self.ns
                && self.index_covers(key)
                && let Some(index) = &mut self.index
            {
                index.insert(key, link);
            }
        }
    }

    fn index_covers(&self, key: &str) -> bool {
        self.loaded_all
            || self
                .loaded_through
                .as_deref()
                .is_some_and(|through| key <= through)
    }

    /// Loads the next entries of the namespace into the index.
    fn grow_index(&mut self) -> Result<(), StateError> {
        let Some(index) = &mut self.index else {
            return Ok(());
        };
        if self.loaded_all {
            return Ok(());
        }
        // The smallest key after `through` is `through` followed by a NUL byte.
        let from = self
            .loaded_through
            .as_ref()
            .map(|through| format!("{through}\0"))
            .unwrap_or_default();
        let entries = self.state.links_from(self.ns, &from, WINDOW)?;
        self.loaded_all = entries.len() < WINDOW;
        for (key, link) in &entries {
            index.insert(key, link);
        }
        if let Some((last, _)) = entries.last() {
            self.loaded_through = Some(last.clone());
        }
        if index.bytes.len() > MAX_INDEX_BYTES {
            tracing::debug!(namespace = ?self.ns, "the ID map is too large to index in memory");
            self.index = None;
        }
        Ok(())
    }
}

/// Consecutive entries of the map, from `from`.
#[derive(Default)]
struct Window {
    entries: Vec<(String, Link)>,
    from: String,
    /// The window holds every entry from `from` to its last key (to the end when the range read
    /// came back short).
    to_end: bool,
}

impl Window {
    fn read(state: &dyn StateStore, ns: &Namespace, from: &str) -> Result<Self, StateError> {
        let entries = state.links_from(ns, from, WINDOW)?;
        Ok(Window {
            to_end: entries.len() < WINDOW,
            entries,
            from: from.to_string(),
        })
    }

    fn covers(&self, key: &str) -> bool {
        key >= self.from.as_str()
            && (self.to_end
                || self
                    .entries
                    .last()
                    .is_some_and(|(last, _)| key <= last.as_str()))
    }

    fn get(&self, key: &str) -> Option<Link> {
        self.entries
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.entries[i].1.clone())
    }
}

/// ID-map entries packed in one buffer (key, then the entry as the state encodes it: about 45
/// bytes each), found through a table of their places (13 bytes each).
#[derive(Default)]
struct LinkIndex {
    bytes: Vec<u8>,
    table: HashTable<Span>,
}

/// Where an entry is in the buffer.
#[derive(Clone, Copy)]
struct Span {
    at: u32,
    key_len: u32,
    len: u32,
}

impl Span {
    fn key(self, bytes: &[u8]) -> &[u8] {
        &bytes[self.at as usize..(self.at + self.key_len) as usize]
    }

    fn value(self, bytes: &[u8]) -> &[u8] {
        &bytes[(self.at + self.key_len) as usize..(self.at + self.len) as usize]
    }
}

fn hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

impl LinkIndex {
    fn get(&self, key: &str) -> Result<Option<Link>, StateError> {
        let key = key.as_bytes();
        match self
            .table
            .find(hash(key), |span| span.key(&self.bytes) == key)
        {
            Some(span) => codec::decode_link(span.value(&self.bytes)).map(Some),
            None => Ok(None),
        }
    }

    /// Adds or replaces the entry of `key`. A replaced entry's bytes stay until the run ends.
    fn insert(&mut self, key: &str, link: &Link) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(key.as_bytes());
        codec::encode_link_into(link, &FieldHashes::default(), &mut self.bytes);
        // Offsets fit: the index is dropped past MAX_INDEX_BYTES, far below 4 GiB.
        let span = Span {
            at: at as u32,
            key_len: key.len() as u32,
            len: (self.bytes.len() - at) as u32,
        };
        let LinkIndex { bytes, table } = self;
        let key = key.as_bytes();
        let key_hash = hash(key);
        match table.find_mut(key_hash, |old| old.key(bytes) == key) {
            Some(old) => *old = span,
            None => {
                table.insert_unique(key_hash, span, |span| hash(span.key(bytes)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;

    fn ns() -> Namespace {
        Namespace {
            pipeline: "p".into(),
            connection: "c".into(),
            entity: "e".into(),
        }
    }

    fn link(id: usize) -> Link {
        Link {
            target_id: Some(id.to_string()),
            fingerprint: None,
            synced_at: 0,
        }
    }

    /// Every third key of 0..3000 is in the map.
    fn store() -> MemoryStore {
        let store = MemoryStore::empty();
        let changes = (0..3000)
            .step_by(3)
            .map(|i| Change::Link {
                ns: ns(),
                key: format!("K{i:05}"),
                same_id: false,
                link: link(i),
                fields: FieldHashes::default(),
            })
            .collect();
        store.apply(changes).unwrap();
        store
    }

    #[test]
    fn answers_like_plain_reads_in_any_order() {
        let store = store();
        let ns = ns();
        let mut reader = LinkReader::new(&store, &ns);
        let ascending = (0..3100).map(|i| format!("K{i:05}"));
        let shuffled = (0..3100).map(|i| format!("K{:05}", (i * 7919) % 3100));
        for key in ascending.chain(shuffled.clone()).chain(shuffled) {
            let expected = store.link(&ns, &key).unwrap();
            assert_eq!(reader.link(&key).unwrap(), expected, "{key}");
        }
        assert!(
            reader.loaded_all,
            "a full random pass loads the whole index"
        );
    }

    #[test]
    fn follows_the_runs_own_commits() {
        let store = store();
        let ns = ns();
        let mut reader = LinkReader::new(&store, &ns);
        for i in 0..3000 {
            reader.link(&format!("K{:05}", (i * 7919) % 3000)).unwrap();
        }
        assert!(reader.loaded_all);
        // A created key (new to the index) and an updated one.
        let changes = vec![
            Change::Link {
                ns: ns.clone(),
                key: "K00001".into(),
                same_id: false,
                fields: FieldHashes::default(),
                link: link(77),
            },
            Change::Link {
                ns: ns.clone(),
                key: "K00003".into(),
                same_id: false,
                fields: FieldHashes::default(),
                link: link(78),
            },
        ];
        store.apply(changes.clone()).unwrap();
        reader.committed(&changes);
        for key in ["K00003", "K00001", "K00002"] {
            assert_eq!(reader.link(key).unwrap(), store.link(&ns, key).unwrap());
        }
    }
}
