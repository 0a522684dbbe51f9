//! The `needs` graph: every job named exists, and no job waits on itself through others.

use super::checker::Checker;
use crate::diagnostics::Diagnostic;

pub fn check(c: &mut Checker) {
    let jobs = &c.pipeline.jobs;
    for (name, job) in jobs {
        for (i, need) in job.needs.iter().enumerate() {
            let path = format!("jobs.{name}.needs[{i}]");
            if need == name {
                let d = Diagnostic::error("needs-self", format!("the job `{name}` needs itself"))
                    .at_opt(c.at(&path))
                    .hint("remove it from `needs`");
                c.push(d);
            } else {
                let message =
                    format!("the job `{name}` needs `{need}`, which is not a job of this pipeline");
                c.expect_defined("jobs", need, &path, "unknown-job", message);
            }
        }
    }
    if let Some(cycle) = find_cycle(c) {
        let names: Vec<&str> = cycle.iter().map(|(job, _)| job.as_str()).collect();
        let (first, index) = &cycle[0];
        let mut shown = names.clone();
        shown.push(names[0]);
        let mut d = Diagnostic::error(
            "needs-cycle",
            format!("these jobs wait on each other: {}", shown.join(" -> ")),
        )
        .at_opt(c.at(&format!("jobs.{first}.needs[{index}]")))
        .label("starts the cycle")
        .hint("a job can only need jobs that run before it; remove one of these `needs`");
        for (job, i) in cycle.iter().skip(1) {
            if let Some(span) = c.at(&format!("jobs.{job}.needs[{i}]")) {
                d = d.related(span, format!("`{job}` waits here"));
            }
        }
        c.push(d);
    }
}

/// The first cycle found, as (job, index of the `needs` entry that continues it).
fn find_cycle(c: &Checker) -> Option<Vec<(String, usize)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let jobs = &c.pipeline.jobs;
    let mut marks = vec![Mark::New; jobs.len()];
    for start in 0..jobs.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (job, next needs entry to follow).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Open;
        while let Some(&mut (job, ref mut next)) = stack.last_mut() {
            let needs = &jobs[job].needs;
            if *next >= needs.len() {
                marks[job] = Mark::Done;
                stack.pop();
                continue;
            }
            let entry = *next;
            *next += 1;
            let Some(target) = jobs.get_index_of(&needs[entry]) else {
                continue;
            };
            if target == job {
                continue; // reported as needs-self
            }
            match marks[target] {
                Mark::Open => {
                    let from = stack.iter().position(|(j, _)| *j == target)?;
                    return Some(
                        stack[from..]
                            .iter()
                            .map(|(j, n)| {
                                (
                                    jobs.get_index(*j)
                                        .map(|(k, _)| k.clone())
                                        .unwrap_or_default(),
                                    n - 1,
                                )
                            })
                            .collect(),
                    );
                }
                Mark::New => {
                    marks[target] = Mark::Open;
                    stack.push((target, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}
