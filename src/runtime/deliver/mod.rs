//! Writing to a keyed target through the state: each record is created, updated, linked to a
//! record the target already has, deleted, left alone because it did not change, or rejected.
//!
//! The order of the work keeps every write safe against a process killed at any point:
//! 1. decide each record's operation from the ID map and its fingerprint;
//! 2. record the writes of a window in the outbox, one entry a window, and flush it (one fsync
//!    a window), with what earlier windows acknowledged;
//! 3. hand the window to the senders, which send while the next window is decided and
//!    recorded (a pipeline: the state's work overlaps the network's);
//! 4. ids, fingerprints and the removal of answered windows reach the state with the next
//!    durable write; the checkpoint moves only once every write before it was answered.
//!
//! A write found in the outbox at the next run may or may not have been applied: an update is
//! sent again (updates are idempotent); a create is looked up with the `resolve` rules before
//! it is sent again, so it is never duplicated.

pub mod decide;
pub mod link_reader;
mod outbox;
mod pool;
pub mod sender;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::runtime::Handle;

use super::dry::{KeyedChange, Recorder};
use crate::connectors::KeyedTarget;
use crate::plan::KeyedPlan;
use crate::record::path::CompiledPath;
use crate::record::{Record, text_of};
use crate::runtime::quarantine::OpenQuarantine;
use crate::state::{Change, Link, Pending, StateError, StateStore, now};
use crate::steps::Rejection;
use decide::{Decided, Decision, Delivered, DeliveryError, Prepared, decide};
use link_reader::LinkReader;
use outbox::Outbox;
use pool::{MAX_IN_FLIGHT, SenderPool};
use sender::{Outcome, Refusal, Sender, Sent};

/// Creates sent per durable outbox write when no `resolve` rule can find them again after a
/// crash: at most this many records need a person's check.
const UNVERIFIABLE_WINDOW: usize = 8;

/// How long acknowledgements wait for the next durable write at most: a process killed
/// loses at most this much of them (those are checked again through the outbox).
const ACKNOWLEDGED_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Delivery<'a> {
    plan: &'a KeyedPlan,
    key: &'a CompiledPath,
    senders: SenderPool,
    state: &'a dyn StateStore,
    /// Writes left in the outbox by earlier runs and not answered in this one, by source key.
    left_over: HashMap<String, Pending>,
    outbox: Outbox,
    /// Changes waiting for the next durable write.
    changes: Vec<Change>,
    /// When the last durable write was.
    stored_at: std::time::Instant,
    /// Keys of this batch whose write, left over by an earlier run, was acknowledged.
    acknowledged_earlier: Vec<String>,
    /// Where payloads are serialised to be fingerprinted, reused.
    buffer: Vec<u8>,
    links: LinkReader<'a>,
    /// Writes per request when the target takes batches.
    batch_size: Option<usize>,
    /// Rejections answered since the caller last took them.
    rejected: Vec<(Record, Rejection)>,
    /// The first failure that stops the job; nothing more is sent after it.
    failed: Option<DeliveryError>,
    /// Ctrl-C: no window is handed out after it, and the senders send nothing more.
    cancel: &'a AtomicBool,
    /// Some writes were left unsent (Ctrl-C, or a failure): no checkpoint may pass them.
    unsent: bool,
    open_quarantine: OpenQuarantine,
    pub delivered: Delivered,
    /// A dry run: each record's outcome is told to the recorder.
    recorder: Option<Recording<'a>>,
}

/// A dry run's recorder, and the job's name.
pub type Recording<'a> = (&'a dyn Recorder, &'a str);

/// What a delivery shares with its job.
pub struct Shared<'a> {
    pub state: &'a dyn StateStore,
    /// Ctrl-C.
    pub cancel: &'a Arc<AtomicBool>,
    pub recorder: Option<Recording<'a>>,
    /// The job's runtime, where the senders run.
    pub runtime: &'a Handle,
}

impl<'a> Delivery<'a> {
    pub fn new(
        plan: &'a Arc<KeyedPlan>,
        key: &'a CompiledPath,
        target: Box<dyn KeyedTarget>,
        open_quarantine: OpenQuarantine,
        shared: Shared<'a>,
    ) -> Result<Self, StateError> {
        let Shared {
            state,
            cancel,
            recorder,
            runtime,
        } = shared;
        let (outbox, left_over) = Outbox::load(state, &plan.ns)?;
        if !left_over.is_empty() {
            tracing::warn!(
                entity = %plan.ns,
                count = left_over.len(),
                "writes of an earlier run were never acknowledged: they are checked before being sent again"
            );
        }
        let batch_size = target.batch_size();
        let senders = SenderPool::start(
            runtime,
            Sender::new(plan.clone(), target),
            // A dry run's writes are not sent: one sender keeps its plan in the records' order.
            if recorder.is_some() {
                1
            } else {
                plan.concurrency
            },
            batch_size.is_some(),
            cancel.clone(),
        );
        Ok(Delivery {
            plan,
            key,
            senders,
            state,
            left_over,
            outbox,
            changes: Vec::new(),
            stored_at: std::time::Instant::now(),
            acknowledged_earlier: Vec::new(),
            buffer: Vec::new(),
            links: LinkReader::new(state, &plan.ns),
            batch_size,
            rejected: Vec::new(),
            failed: None,
            cancel,
            unsent: false,
            open_quarantine,
            delivered: Delivered::default(),
            recorder,
        })
    }

    /// Decides a batch's writes and hands them to the senders; returns the records rejected
    /// so far (by the target, a resolve rule, or for want of a key), this batch's or earlier.
    pub fn deliver(
        &mut self,
        batch: Vec<Record>,
    ) -> Result<Vec<(Record, Rejection)>, DeliveryError> {
        let mut writes = Vec::new();
        let mut keys = HashSet::new();
        for record in batch {
            let key = self.key.get(&record).and_then(text_of);
            if let Some(k) = &key {
                // A key written twice (a replayed record and its newer version) is decided only
                // once the first write was answered, or both would be creates.
                if keys.contains(k) {
                    self.send_all(std::mem::take(&mut writes))?;
                    keys.clear();
                }
                if self.senders.keys.contains(k) {
                    self.wait_for_all()?;
                }
            }
            match self.prepare(key, record)? {
                Decided::Prepared(p) if p.decision.writes() => {
                    keys.insert(p.key.clone());
                    writes.push(p);
                }
                Decided::Prepared(_) => {}
                Decided::Rejected(record, rejection) => self.rejected.push((record, rejection)),
            }
        }
        let settled = self.outbox.acknowledged_earlier(&self.acknowledged_earlier);
        self.acknowledged_earlier.clear();
        self.changes.extend(settled);
        self.send_all(writes)?;
        self.take_answers(false)?;
        Ok(std::mem::take(&mut self.rejected))
    }

    /// Sends the writes through the outbox, window by window.
    fn send_all(&mut self, prepared: Vec<Prepared>) -> Result<(), DeliveryError> {
        // A create that stays in the outbox after a crash can be checked only through the
        // `resolve` rules; without them it is quarantined, so a window holds at most a few
        // such creates (updates, sent again safely, do not count), and such a window is sent
        // alone: the others are answered first.
        let unverifiable = self.plan.resolve.is_empty();
        let creates_per_window = if unverifiable {
            UNVERIFIABLE_WINDOW
        } else {
            usize::MAX
        };
        let mut prepared = prepared.into_iter().peekable();
        while prepared.peek().is_some() {
            if self.cancel.load(Ordering::Relaxed) {
                self.unsent = true;
                return Ok(());
            }
            let mut window = Vec::new();
            let mut creates = 0;
            while creates < creates_per_window
                && let Some(p) = prepared.next()
            {
                creates += usize::from(matches!(p.decision, Decision::Create { .. }));
                window.push(p);
            }
            if unverifiable && creates > 0 {
                self.wait_for_all()?;
            }
            while self.senders.in_flight > MAX_IN_FLIGHT.saturating_sub(window.len()) {
                self.take_answers(true)?;
            }
            self.record_in_outbox(&mut window)?;
            let per_request = self.batch_size.unwrap_or(1);
            let mut window = window.into_iter().peekable();
            while window.peek().is_some() {
                self.senders
                    .hand_out(window.by_ref().take(per_request).collect());
            }
        }
        Ok(())
    }

    /// Accounts for the answered writes: waits for one answer when `wait`, else takes only
    /// what is ready. After a failure, waits for every write in flight, keeps what was
    /// acknowledged, and fails.
    fn take_answers(&mut self, wait: bool) -> Result<(), DeliveryError> {
        let mut wait = wait;
        while let Some(done) = self.senders.next_done(wait || self.failed.is_some()) {
            for (p, outcome) in done?.0 {
                match outcome {
                    Some(Outcome::Sent(sent)) => self.account(p, Ok(sent)),
                    Some(Outcome::Refused(refusal)) => self.account(p, Err(refusal)),
                    Some(Outcome::Failed(e)) => {
                        self.failed.get_or_insert(e);
                        self.answered(&p, true);
                    }
                    // Not sent (Ctrl-C, or a failure): nothing is in doubt but what an earlier
                    // run left so.
                    None => {
                        self.unsent = true;
                        let in_doubt = self.left_over.contains_key(&p.key);
                        self.answered(&p, in_doubt);
                    }
                }
            }
            wait = false;
        }
        if self.stored_at.elapsed() >= ACKNOWLEDGED_WITHIN && !self.changes.is_empty() {
            let changes = std::mem::take(&mut self.changes);
            self.store(changes)?;
        }
        match self.failed.take() {
            Some(e) => {
                // What the target acknowledged is kept before the job stops.
                let changes = std::mem::take(&mut self.changes);
                self.store(changes)?;
                Err(e)
            }
            None => Ok(()),
        }
    }

    fn wait_for_all(&mut self) -> Result<(), DeliveryError> {
        while self.senders.in_flight > 0 {
            self.take_answers(true)?;
        }
        Ok(())
    }

    /// Every write of `chunk` goes to the outbox, durably, before the first is sent; the
    /// acknowledgements gathered so far are stored with it.
    fn record_in_outbox(&mut self, chunk: &mut [Prepared]) -> Result<(), StateError> {
        let mut changes = std::mem::take(&mut self.changes);
        changes.extend(self.outbox.record(self.state, chunk, now())?);
        self.store(changes)
    }

    /// Waits until every write was answered, then stores what was acknowledged (and the
    /// checkpoint with what goes with it, when given and no write before it was left unsent)
    /// in one atomic, durable write. Returns the records rejected since the last call.
    pub fn commit(
        &mut self,
        checkpoint: impl IntoIterator<Item = Change>,
    ) -> Result<Vec<(Record, Rejection)>, DeliveryError> {
        self.wait_for_all()?;
        if !self.unsent {
            self.changes.extend(checkpoint);
        }
        let changes = std::mem::take(&mut self.changes);
        self.store(changes)?;
        Ok(std::mem::take(&mut self.rejected))
    }

    /// One atomic, durable write; the ID-map reader learns what changed.
    fn store(&mut self, changes: Vec<Change>) -> Result<(), StateError> {
        if changes.is_empty() {
            return Ok(());
        }
        // Before the write: when it fails, the job stops and the reader with it.
        self.links.committed(&changes);
        self.state.apply(changes)?;
        self.stored_at = std::time::Instant::now();
        self.state.flush()
    }

    fn prepare(&mut self, key: Option<String>, record: Record) -> Result<Decided, StateError> {
        let decided = decide(
            self.plan,
            key,
            &mut self.links,
            &self.left_over,
            record,
            &mut self.buffer,
        )?;
        match &decided {
            Decided::Prepared(Prepared {
                decision: Decision::Skipped,
                ..
            }) => {
                self.delivered.skipped += 1;
                self.record(KeyedChange::Skip);
            }
            Decided::Prepared(Prepared {
                decision: Decision::Unchanged,
                key,
                ..
            }) => {
                self.delivered.unchanged += 1;
                self.record(KeyedChange::Unchanged);
                // Left over by a run killed after its acknowledgement was stored.
                if self.left_over.remove(key).is_some() {
                    self.acknowledged_earlier.push(key.clone());
                }
                // The target already holds it as it is now: it went through.
                if let Some(settled) = self.open_quarantine.settle(key) {
                    self.changes.push(settled);
                }
            }
            _ => {}
        }
        Ok(decided)
    }

    /// Keeps what one write did: its id, fingerprint and acknowledgement, or its rejection.
    fn account(&mut self, mut p: Prepared, result: Result<Sent, Refusal>) {
        if let Ok(sent) = &result {
            let (key, record) = (p.key.as_str(), &p.payload);
            self.record(match sent {
                Sent::Created(_) => KeyedChange::Create { key, record },
                Sent::Updated(target_id) => KeyedChange::Update {
                    key,
                    target_id,
                    record,
                },
                Sent::Linked(target_id) => KeyedChange::Link {
                    key,
                    target_id,
                    record,
                },
                Sent::Deleted => KeyedChange::Delete {
                    key,
                    target_id: match &p.decision {
                        Decision::Delete { target_id } => target_id,
                        _ => "",
                    },
                    record,
                },
            });
        }
        let target_id = match result {
            Ok(Sent::Created(id)) => {
                self.delivered.created += 1;
                id
            }
            Ok(Sent::Updated(id)) => {
                self.delivered.updated += 1;
                id
            }
            Ok(Sent::Linked(id)) => {
                self.delivered.linked += 1;
                id
            }
            Ok(Sent::Deleted) => {
                self.delivered.deleted += 1;
                self.keep(Change::Unlink {
                    ns: self.plan.ns.clone(),
                    key: p.key.clone(),
                });
                self.answered(&p, false);
                return;
            }
            Err(refusal) => {
                // Nothing was applied, nothing is pending; except for a create that may have
                // been applied and could not be checked: it stays in the outbox so that no
                // later run creates it blindly.
                self.answered(&p, refusal.still_pending);
                self.rejected.push((p.payload, refusal.rejection));
                return;
            }
        };
        if let Some(settled) = self.open_quarantine.settle(&p.key) {
            self.changes.push(settled);
        }
        let same_id = p.at_stored_id
            && matches!(&p.decision, Decision::Update { target_id: stored } if *stored == target_id);
        self.keep(Change::Link {
            ns: self.plan.ns.clone(),
            key: p.key.clone(),
            same_id,
            link: Link {
                target_id: Some(target_id),
                fingerprint: Some(p.fingerprint),
                synced_at: now(),
            },
            fields: std::mem::take(&mut p.fields),
        });
        self.answered(&p, false);
    }

    fn record(&self, change: KeyedChange) {
        if let Some((recorder, job)) = self.recorder {
            recorder.keyed(job, change);
        }
    }

    /// A change of the ID map, for the next durable write; decisions see it at once.
    fn keep(&mut self, change: Change) {
        self.links.acknowledged(&change);
        self.changes.push(change);
    }

    /// The write was answered (`stays`: it remains in doubt, or was never sent); its window's
    /// entry changes once all its writes were.
    fn answered(&mut self, p: &Prepared, stays: bool) {
        if !stays {
            self.left_over.remove(&p.key);
        }
        self.changes.extend(self.outbox.answered(p, stays));
    }
}
