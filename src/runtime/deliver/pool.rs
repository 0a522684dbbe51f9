//! The connection's `concurrency` senders, each on a thread of its own for the whole job, fed
//! windows of prepared writes and answering each write's outcome.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender as Channel, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

use super::decide::{DeliveryError, Prepared};
use super::sender::{Outcome, Sender};

/// Writes handed to one sender: one record, or a batch request's records.
pub struct Work(Vec<Prepared>);

/// What a sender did with a [`Work`]: each write's outcome, `None` when it was not sent.
pub struct Done(pub Vec<(Prepared, Option<Outcome>)>);

/// The connection's `concurrency` senders, each on a thread of its own for the whole job.
pub struct SenderPool {
    work: Option<Channel<Work>>,
    done: Receiver<Done>,
    /// Set on a failure that stops the job: what is queued is returned unsent.
    stop: Arc<AtomicBool>,
    /// Records handed out and not answered yet, and their keys.
    pub in_flight: usize,
    pub keys: HashSet<String>,
}

/// Records in flight beyond which the next window waits: two windows of the runtime's batches.
pub const MAX_IN_FLIGHT: usize = 2048;

impl SenderPool {
    pub fn start<'scope, 'a: 'scope>(
        scope: &'scope Scope<'scope, '_>,
        first: Sender<'a>,
        concurrency: usize,
        batched: bool,
        cancel: &'a AtomicBool,
    ) -> SenderPool {
        let (work_tx, work_rx) = channel::<Work>();
        let (done_tx, done_rx) = channel::<Done>();
        let work_rx = Arc::new(Mutex::new(work_rx));
        let stop = Arc::new(AtomicBool::new(false));
        let mut senders: Vec<Sender> = (1..concurrency.max(1)).map(|_| first.fork()).collect();
        senders.push(first);
        for mut sender in senders {
            let (work_rx, done_tx, stop) = (work_rx.clone(), done_tx.clone(), stop.clone());
            scope.spawn(move || {
                loop {
                    let next = match work_rx.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(Work(writes)) = next else {
                        return;
                    };
                    let stopped = stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed);
                    let outcomes: Vec<Option<Outcome>> = if stopped {
                        writes.iter().map(|_| None).collect()
                    } else if batched {
                        sender.send_batch(&writes).into_iter().map(Some).collect()
                    } else {
                        writes.iter().map(|p| Some(sender.send(p))).collect()
                    };
                    if outcomes
                        .iter()
                        .any(|o| matches!(o, Some(Outcome::Failed(_))))
                    {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if done_tx
                        .send(Done(writes.into_iter().zip(outcomes).collect()))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        SenderPool {
            work: Some(work_tx),
            done: done_rx,
            stop,
            in_flight: 0,
            keys: HashSet::new(),
        }
    }

    pub fn hand_out(&mut self, writes: Vec<Prepared>) {
        self.in_flight += writes.len();
        self.keys.extend(writes.iter().map(|p| p.key.clone()));
        if let Some(work) = &self.work {
            // The senders live as long as the pool: a send fails only if they all panicked,
            // and then `next_done` reports it.
            let _ = work.send(Work(writes));
        }
    }

    /// The next answered work, waiting for it when `wait`; `None` when nothing is in flight
    /// (or nothing is ready and `wait` is false).
    pub fn next_done(&mut self, wait: bool) -> Option<Result<Done, DeliveryError>> {
        if self.in_flight == 0 {
            return None;
        }
        let done = if wait {
            self.done.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            self.done.try_recv()
        };
        let done = match done {
            Ok(done) => done,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => {
                return Some(Err(DeliveryError::Target("the senders stopped".into())));
            }
        };
        self.in_flight -= done.0.len();
        for (p, _) in &done.0 {
            self.keys.remove(&p.key);
        }
        Some(Ok(done))
    }
}

impl Drop for SenderPool {
    fn drop(&mut self) {
        // Closing the queue ends the senders' threads.
        self.stop.store(true, Ordering::Relaxed);
        self.work = None;
    }
}
