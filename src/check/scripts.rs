//! rhai snippets (filters, scripts, field expressions): each must compile, and a compile error
//! points at its line and column inside the YAML block.

use super::checker::Checker;
use crate::config::model::Field;
use crate::diagnostics::Diagnostic;

enum Snippet {
    Expression,
    Script,
}

pub fn check(c: &mut Checker) {
    // The engine the snippets run on, with its limits: deep nesting is refused here.
    let engine = crate::steps::script::sandbox();
    let mut snippets: Vec<(String, &str, Snippet)> = Vec::new();
    for (name, job) in &c.pipeline.jobs {
        for (i, step) in job.steps.iter().enumerate() {
            let path = format!("jobs.{name}.steps[{i}]");
            if let Some(filter) = &step.filter {
                snippets.push((format!("{path}.filter"), filter, Snippet::Expression));
            }
            if let Some(script) = &step.script {
                snippets.push((format!("{path}.script"), script, Snippet::Script));
            }
            for (field, spec) in step.map.iter().flatten() {
                if let Field::Spec(spec) = spec
                    && let Some(expr) = &spec.expr
                {
                    snippets.push((
                        format!("{path}.map.{field}.expr"),
                        expr,
                        Snippet::Expression,
                    ));
                }
            }
        }
        if let Some(expr) = job.cursor.as_ref().and_then(|c| c.expr.as_ref()) {
            snippets.push((
                format!("jobs.{name}.cursor.expr"),
                expr,
                Snippet::Expression,
            ));
        }
        for (field, spec) in &job.map {
            if let Field::Spec(spec) = spec
                && let Some(expr) = &spec.expr
            {
                snippets.push((
                    format!("jobs.{name}.map.{field}.expr"),
                    expr,
                    Snippet::Expression,
                ));
            }
        }
    }
    for (path, source, kind) in snippets {
        let result = match kind {
            Snippet::Expression => engine.compile_expression(source),
            Snippet::Script => engine.compile(source),
        };
        let Err(err) = result else { continue };
        let position = err.position();
        let span = match (position.line(), position.position()) {
            (Some(line), col) => c
                .loaded
                .index
                .inside(&path, c.sources, line, col.unwrap_or(1)),
            _ => None,
        }
        .or_else(|| c.at(&path));
        let what = match kind {
            Snippet::Expression => "expression",
            Snippet::Script => "script",
        };
        let d = Diagnostic::error("rhai", format!("this rhai {what} does not compile: {}", err.err_type()))
            .at_opt(span)
            .label(err.err_type().to_string())
            .hint(match kind {
                Snippet::Expression => "an expression computes one value from `rec` and `vars`, e.g. `rec.stock > 0 && rec.status == \"active\"`",
                Snippet::Script => "a script changes `rec` in place, e.g. `if rec.weight == () { rec.weight = 0.0 }`",
            });
        c.push(d);
    }
}
