//! The connection's `concurrency` senders, each a task of the job's runtime for the whole job,
//! fed windows of prepared writes and answering each write's outcome. A sender waits only for
//! its own answers: a request and its connection stay on one worker of the runtime. Answers
//! are reported a few at a time, so the delivery's thread is not woken for each.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender as Reporter, TryRecvError, channel};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{Mutex, mpsc};

use super::decide::{DeliveryError, Prepared};
use super::sender::{Outcome, Sender};

/// Writes handed to one sender: one record, or a batch request's records.
pub struct Work(Vec<Prepared>);

/// What a sender did with a [`Work`]: each write's outcome, `None` when it was not sent.
pub struct Done(pub Vec<(Prepared, Option<Outcome>)>);

/// The connection's `concurrency` senders, each a task for the whole job.
pub struct SenderPool {
    work: Option<mpsc::UnboundedSender<Work>>,
    /// The delivery's thread waits here; it ends once every sender ended.
    done: Receiver<Done>,
    /// Set on a failure that stops the job: what is queued is returned unsent.
    stop: Arc<AtomicBool>,
    /// Records handed out and not answered yet, and their keys.
    pub in_flight: usize,
    pub keys: HashSet<String>,
}

/// Records in flight beyond which the next window waits: two windows of the runtime's batches.
pub const MAX_IN_FLIGHT: usize = 2048;

/// A sender reports its answers once it has this many, once the oldest waited this long, once
/// its queue is empty (the delivery may be waiting for them), and at once when one failed or
/// when its writes take longer than that (a slow API: no answer waits for the next write).
const REPORT_EVERY: usize = 32;
const REPORT_WITHIN: Duration = Duration::from_millis(10);

impl SenderPool {
    /// `cancel`: Ctrl-C; a sender checks it before each work.
    pub fn start(
        runtime: &Handle,
        first: Sender,
        concurrency: usize,
        batched: bool,
        cancel: Arc<AtomicBool>,
    ) -> SenderPool {
        let (work_tx, work_rx) = mpsc::unbounded_channel::<Work>();
        let (done_tx, done_rx) = channel::<Done>();
        let work_rx = Arc::new(Mutex::new(work_rx));
        let stop = Arc::new(AtomicBool::new(false));
        let mut senders: Vec<Sender> = (1..concurrency.max(1)).map(|_| first.fork()).collect();
        senders.push(first);
        for mut sender in senders {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            let (stop, cancel) = (stop.clone(), cancel.clone());
            runtime.spawn(async move {
                let mut answers = Answers::new(done_tx);
                loop {
                    // Before waiting for work, the held answers go: the delivery may be
                    // waiting for them. A queue locked by another sender is one it waits on.
                    let next = match work_rx.try_lock().map(|mut q| q.try_recv()) {
                        Ok(Ok(work)) => Some(work),
                        _ if !answers.report() => return,
                        _ => work_rx.lock().await.recv().await,
                    };
                    let Some(Work(writes)) = next else {
                        answers.report();
                        return;
                    };
                    let started = Instant::now();
                    let stopped = stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed);
                    let outcomes: Vec<Option<Outcome>> = if stopped {
                        writes.iter().map(|_| None).collect()
                    } else if batched {
                        let outcomes = sender.send_batch(&writes).await;
                        outcomes.into_iter().map(Some).collect()
                    } else {
                        let mut outcomes = Vec::with_capacity(writes.len());
                        for p in &writes {
                            outcomes.push(Some(sender.send(p).await));
                        }
                        outcomes
                    };
                    let failed = outcomes
                        .iter()
                        .any(|o| matches!(o, Some(Outcome::Failed(_))));
                    if failed {
                        stop.store(true, Ordering::Relaxed);
                    }
                    answers.add(writes.into_iter().zip(outcomes));
                    let slow = started.elapsed() >= REPORT_WITHIN;
                    if (failed || slow || answers.due()) && !answers.report() {
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
            // The senders live as long as the pool: a send fails only if they all ended
            // unexpectedly (the runtime stopped), and then `next_done` reports it.
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

/// A sender's answers not reported yet.
struct Answers {
    to: Reporter<Done>,
    held: Vec<(Prepared, Option<Outcome>)>,
    /// When the oldest held answer came.
    since: Instant,
}

impl Answers {
    fn new(to: Reporter<Done>) -> Answers {
        Answers {
            to,
            held: Vec::new(),
            since: Instant::now(),
        }
    }

    fn add(&mut self, answered: impl Iterator<Item = (Prepared, Option<Outcome>)>) {
        if self.held.is_empty() {
            self.since = Instant::now();
        }
        self.held.extend(answered);
    }

    fn due(&self) -> bool {
        self.held.len() >= REPORT_EVERY || self.since.elapsed() >= REPORT_WITHIN
    }

    /// Hands the held answers to the delivery; false when it is gone.
    fn report(&mut self) -> bool {
        self.held.is_empty() || self.to.send(Done(std::mem::take(&mut self.held))).is_ok()
    }
}

impl Drop for SenderPool {
    /// Closes the queue and waits until every sender ended: no write of this delivery is in
    /// flight once it is gone. What they still answer is dropped, left in the outbox.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.work = None;
        while self.done.recv().is_ok() {}
    }
}
