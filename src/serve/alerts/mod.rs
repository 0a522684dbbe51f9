//! Alerts (`alerts:`): after a run, a message to people about each job that failed or
//! quarantined records, to a chat webhook and by e-mail; at most one per job and channel in the
//! `repeat_interval`, remembered in the state so that it holds across `syncline run` processes.
//! A send that fails is logged, never fails the run, and is tried again after the next run.

mod chat;
mod email;
pub mod message;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::config::model::{AlertOn, Alerts, Pipeline};
use crate::config::secrets::{Secrets, redact};
use crate::runtime::report::{JobReport, JobStatus, RunReport};
use crate::state::{Alerted, Change, JobId, StateStore};
use chat::Chat;
use email::Email;
pub use message::Message;

/// Without `repeat_interval`: one alert an hour per job and channel.
const DEFAULT_REPEAT: Duration = Duration::from_secs(3600);

/// A pipeline's `alerts:`, ready to send. Its credentials are [`SecretString`]s: `Debug`
/// shows none of them.
#[derive(Debug)]
pub struct AlertPlan {
    on_failure: bool,
    on_quarantine: bool,
    repeat_interval: Duration,
    page_url: Option<String>,
    /// A channel that could not be built (a secret not set) says why each time it is used.
    chat: Option<Result<Chat, String>>,
    email: Option<Result<Email, String>>,
}

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Chat,
    Email,
}

impl Channel {
    /// As the state remembers it, and as logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Chat => "chat",
            Channel::Email => "email",
        }
    }
}

/// An alert through one channel: the jobs it was about, and whether it went out.
#[derive(Debug)]
pub struct Sent {
    pub channel: Channel,
    pub jobs: Vec<String>,
    /// Why it did not go out (redacted).
    pub result: Result<(), String>,
}

impl AlertPlan {
    /// The alerts of a pipeline, or `None` when it has none. Never fails on a validated
    /// pipeline: a channel whose secret is not set fails when it sends, logged.
    pub fn compile(pipeline: &Pipeline, secrets: &Secrets) -> Option<AlertPlan> {
        let alerts = pipeline.alerts.as_ref()?;
        let on = |kind| alerts.on.as_ref().is_none_or(|on| on.contains(&kind));
        Some(AlertPlan {
            on_failure: on(AlertOn::Failure),
            on_quarantine: on(AlertOn::Quarantine),
            repeat_interval: alerts.repeat_interval.map_or(DEFAULT_REPEAT, |d| d.0),
            page_url: alerts.page_url.clone(),
            chat: alerts.chat.as_ref().map(|chat| {
                Ok(Chat {
                    url: resolve(secrets, &chat.url, "chat.url")?,
                })
            }),
            email: email(alerts, secrets),
        })
    }

    /// Whether `job`'s run is worth telling people about.
    fn wants(&self, job: &JobReport) -> bool {
        (self.on_failure && matches!(job.status, JobStatus::Failed(_)))
            || (self.on_quarantine && job.rejected > 0)
    }

    /// The channels, each built or with why not.
    fn channels(&self) -> Vec<(Channel, Result<Sender<'_>, &str>)> {
        let mut channels = Vec::new();
        if let Some(chat) = &self.chat {
            channels.push((
                Channel::Chat,
                chat.as_ref().map(Sender::Chat).map_err(String::as_str),
            ));
        }
        if let Some(email) = &self.email {
            channels.push((
                Channel::Email,
                email.as_ref().map(Sender::Email).map_err(String::as_str),
            ));
        }
        channels
    }
}

enum Sender<'a> {
    Chat(&'a Chat),
    Email(&'a Email),
}

impl Sender<'_> {
    async fn send(&self, message: &Message) -> Result<(), String> {
        match self {
            Sender::Chat(chat) => chat.send(message).await,
            Sender::Email(email) => email.send(message).await,
        }
    }
}

/// Sends the alerts `report` calls for: through each channel, one message about the jobs that
/// failed or quarantined records and were not alerted about through it in the last
/// `repeat_interval` (`now` is Unix seconds, as the state's times). What went out is
/// remembered in `state`; what did not is logged, and tried again after the next run. A dry
/// run alerts nobody.
pub async fn send_alerts(
    plan: &AlertPlan,
    report: &RunReport,
    state: &dyn StateStore,
    now: i64,
) -> Vec<Sent> {
    if report.dry_run {
        return Vec::new();
    }
    let wanted: Vec<&JobReport> = report.jobs.iter().filter(|j| plan.wants(j)).collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut sends = plan.channels().into_iter().filter_map(|(channel, sender)| {
        let due: Vec<&JobReport> = wanted
            .iter()
            .copied()
            .filter(|job| !recently_alerted(plan, state, &report.pipeline, job, channel, now))
            .collect();
        (!due.is_empty()).then(|| send(plan, report, state, now, channel, sender, due))
    });
    // The two channels (chat, e-mail) side by side: a chat service that does not answer does
    // not hold the e-mail back.
    let (first, second) = tokio::join!(maybe(sends.next()), maybe(sends.next()));
    first.into_iter().chain(second).collect()
}

async fn maybe<F: Future<Output = Sent>>(send: Option<F>) -> Option<Sent> {
    match send {
        Some(send) => Some(send.await),
        None => None,
    }
}

async fn send(
    plan: &AlertPlan,
    report: &RunReport,
    state: &dyn StateStore,
    now: i64,
    channel: Channel,
    sender: Result<Sender<'_>, &str>,
    due: Vec<&JobReport>,
) -> Sent {
    let jobs: Vec<String> = due.iter().map(|j| j.job.clone()).collect();
    let message = Message::new(&report.pipeline, &due, plan.page_url.as_deref());
    let result = match sender {
        Ok(sender) => sender.send(&message).await,
        Err(why) => Err(why.to_string()),
    };
    match &result {
        Ok(()) => {
            tracing::info!(channel = channel.name(), jobs = ?jobs, "alert sent");
            let changes = jobs
                .iter()
                .map(|job| Change::Alerted {
                    job: JobId {
                        pipeline: report.pipeline.clone(),
                        job: job.clone(),
                    },
                    channel: channel.name().to_string(),
                    alerted: Alerted { at: now },
                })
                .collect();
            if let Err(e) = state.apply(changes).and_then(|()| state.flush()) {
                tracing::warn!(
                    channel = channel.name(),
                    "the alert was sent, but not remembered (the next run may send it again): {e}"
                );
            }
        }
        Err(why) => tracing::warn!(
            channel = channel.name(),
            "the alert about {} was not sent: {}",
            jobs.join(", "),
            redact(why)
        ),
    }
    Sent {
        channel,
        jobs,
        result,
    }
}

/// Whether `job` was alerted about through `channel` less than `repeat_interval` ago. A time
/// ahead of `now` (a clock set back) does not hold alerts back; nor does a state that cannot be
/// read (an alert too many beats none).
fn recently_alerted(
    plan: &AlertPlan,
    state: &dyn StateStore,
    pipeline: &str,
    job: &JobReport,
    channel: Channel,
    now: i64,
) -> bool {
    let id = JobId {
        pipeline: pipeline.to_string(),
        job: job.job.clone(),
    };
    match state.alerted(&id, channel.name()) {
        Ok(Some(last)) => {
            let interval = i64::try_from(plan.repeat_interval.as_secs()).unwrap_or(i64::MAX);
            last.at <= now && now - last.at < interval
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(job = %id, "when the last alert was sent cannot be read: {e}");
            false
        }
    }
}

fn email(alerts: &Alerts, secrets: &Secrets) -> Option<Result<Email, String>> {
    let email = alerts.email.as_ref()?;
    Some((|| {
        let smtp = &email.smtp;
        let host = resolve(secrets, &smtp.host, "email.smtp.host")?
            .expose_secret()
            .to_string();
        let login = match (&smtp.user, &smtp.password) {
            (Some(user), Some(password)) => Some((
                resolve(secrets, user, "email.smtp.user")?,
                resolve(secrets, password, "email.smtp.password")?,
            )),
            _ => None,
        };
        let mailbox = |text: &str| {
            text.parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("`{text}` is not an e-mail address: {e}"))
        };
        Ok(Email {
            port: smtp.port.unwrap_or_else(|| smtp.tls.default_port()),
            tls: smtp.tls,
            host,
            login,
            from: mailbox(&email.from.0)?,
            to: email
                .to
                .iter()
                .map(|to| mailbox(&to.0))
                .collect::<Result<_, _>>()?,
        })
    })())
}

/// `text` with its secrets filled in; a secret not set is named, never shown.
fn resolve(secrets: &Secrets, text: &str, at: &str) -> Result<SecretString, String> {
    secrets
        .resolve(text)
        .map_err(|e| format!("alerts.{at}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;

    fn plan(repeat: u64) -> AlertPlan {
        AlertPlan {
            on_failure: true,
            on_quarantine: true,
            repeat_interval: Duration::from_secs(repeat),
            page_url: None,
            chat: Some(Err("not needed".into())),
            email: None,
        }
    }

    #[test]
    fn a_job_is_held_back_for_the_interval_after_its_last_alert_and_no_longer() {
        let state = MemoryStore::empty();
        let job = JobReport::new("orders", JobStatus::Failed("down".into()));
        let at = 1_000_000;
        let held =
            |plan: &AlertPlan, now| recently_alerted(plan, &state, "p", &job, Channel::Chat, now);
        assert!(!held(&plan(3600), at), "never alerted");
        state
            .apply(vec![Change::Alerted {
                job: JobId {
                    pipeline: "p".into(),
                    job: "orders".into(),
                },
                channel: "chat".into(),
                alerted: Alerted { at },
            }])
            .unwrap();
        assert!(held(&plan(3600), at + 3599));
        assert!(!held(&plan(3600), at + 3600));
        assert!(!held(&plan(0), at), "`0s`: every run");
        assert!(
            !held(&plan(3600), at - 60),
            "a clock set back holds nothing back"
        );
        assert!(
            !recently_alerted(&plan(3600), &state, "p", &job, Channel::Email, at + 1),
            "each channel on its own"
        );
    }

    #[test]
    fn a_run_with_nothing_to_tell_sends_nothing_from_a_task_of_serve() {
        let state = MemoryStore::empty();
        let mut clean = JobReport::new("orders", JobStatus::Succeeded);
        clean.read = 10;
        clean.written = 10;
        let report = RunReport {
            pipeline: "p".into(),
            dry_run: false,
            jobs: vec![clean, JobReport::new("lines", JobStatus::Cancelled)],
            seconds: 0.0,
        };
        let plan = plan(0);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Spawned, as `serve` runs it: the future must be `Send`.
        let sent = runtime
            .block_on(async move {
                tokio::spawn(async move { send_alerts(&plan, &report, &state, 0).await }).await
            })
            .unwrap();
        assert!(sent.is_empty(), "{sent:?}");
    }
}
