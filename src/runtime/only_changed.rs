//! `only_changed` file targets: a record an earlier run wrote to the file, unchanged since, is
//! left out; what is written is remembered (by key, with its fingerprint) once the file is in
//! place, with the checkpoint.

use crate::record::path::CompiledPath;
use crate::record::{Record, text_of};
use crate::runtime::deliver::decide::Delivered;
use crate::state::{Change, Link, Namespace, StateError, StateStore, fingerprint, now};

pub struct WrittenBefore<'a> {
    ns: Namespace,
    key: &'a CompiledPath,
    state: &'a dyn StateStore,
    /// Links of the records written, stored when the file is.
    written: Vec<Change>,
    pub counts: Delivered,
    buffer: Vec<u8>,
}

impl<'a> WrittenBefore<'a> {
    pub fn new(ns: Namespace, key: &'a CompiledPath, state: &'a dyn StateStore) -> Self {
        WrittenBefore {
            ns,
            key,
            state,
            written: Vec::new(),
            counts: Delivered::default(),
            buffer: Vec::new(),
        }
    }

    /// Whether `record` goes into the file: new, changed, or without a key.
    pub fn wanted(&mut self, record: &Record) -> Result<bool, StateError> {
        let Some(key) = self.key.get(record).and_then(text_of) else {
            return Ok(true);
        };
        let (fingerprint, _) = fingerprint(record, &mut self.buffer);
        let before = self.state.link(&self.ns, &key)?;
        match before.and_then(|l| l.fingerprint) {
            Some(sent) if sent == fingerprint => {
                self.counts.unchanged += 1;
                return Ok(false);
            }
            Some(_) => self.counts.updated += 1,
            None => self.counts.created += 1,
        }
        self.written.push(Change::Link {
            ns: self.ns.clone(),
            key,
            same_id: false,
            link: Link {
                target_id: None,
                fingerprint: Some(fingerprint),
                synced_at: now(),
            },
            fields: Default::default(),
        });
        Ok(true)
    }

    /// What the state keeps once the file is in place.
    pub fn into_changes(self) -> Vec<Change> {
        self.written
    }
}
