//! What `syncline serve` needs of a plan's webhook jobs: the endpoints to route, and for a
//! `then:` job the job it triggers and the keys each notification names.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Plan, SourcePlan, TargetPlan};
use crate::config::model::Then;
use crate::connectors::webhook::WebhookEndpoint;
use crate::connectors::webhook::source::keys;
use crate::record::path::CompiledPath;
use crate::state::Notification;

/// A webhook job's `then`: the job (its index in [`Plan::jobs`]) that pulls the records a
/// notification names, by the keys `key` finds in it.
#[derive(Debug)]
pub struct Trigger {
    pub job: usize,
    /// That job's name, for reports.
    pub job_name: String,
    pub key: CompiledPath,
}

/// A route for the HTTP server: `POST path` is received by `endpoint`, for the job at index
/// `job`.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRoute<'a> {
    pub path: &'a str,
    pub endpoint: &'a Arc<WebhookEndpoint>,
    pub job: usize,
}

impl Plan {
    /// Every webhook endpoint of the plan, in job order (paths are unique: `validate`
    /// refuses two jobs on one).
    pub fn webhooks(&self) -> Vec<WebhookRoute<'_>> {
        self.jobs
            .iter()
            .enumerate()
            .filter_map(|(job, plan)| match &plan.source {
                SourcePlan::Webhook(source) => Some(WebhookRoute {
                    path: &source.endpoint.path,
                    endpoint: &source.endpoint,
                    job,
                }),
                _ => None,
            })
            .collect()
    }

    /// For a `then:` job (`job`, its index): the job to run and the keys `notification`
    /// names for it (empty when it names none). `None` for any other job.
    pub fn trigger_keys(
        &self,
        job: usize,
        notification: &Notification,
    ) -> Option<(usize, Vec<String>)> {
        let plan = self.jobs.get(job)?;
        let (SourcePlan::Webhook(source), TargetPlan::Trigger(trigger)) =
            (&plan.source, &plan.target)
        else {
            return None;
        };
        Some((
            trigger.job,
            keys(source.records.as_ref(), &trigger.key, &notification.body),
        ))
    }
}

/// The target of a job without `to`: its `then`, on a webhook source.
pub(super) fn trigger(
    then: Option<&Then>,
    source: &SourcePlan,
    position: &HashMap<&str, usize>,
) -> Result<TargetPlan, String> {
    let Some(then) = then else {
        return Err("has neither `to` nor `then`".to_string());
    };
    if !matches!(source, SourcePlan::Webhook(_)) {
        return Err("`then` follows a webhook source only".to_string());
    }
    let job = position
        .get(then.run.as_str())
        .copied()
        .ok_or_else(|| format!("`then` runs `{}`, which is not a job", then.run))?;
    Ok(TargetPlan::Trigger(Trigger {
        job,
        job_name: then.run.clone(),
        key: CompiledPath::compile(&then.key)?,
    }))
}
