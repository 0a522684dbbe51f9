//! rhai, sandboxed: the `script` step, and the evaluation shared by filters and field expressions.
//! Snippets are compiled once; each record is handed over as `rec`, the pipeline's vars as `vars`.

use std::sync::Arc;

use rhai::{AST, Dynamic, Engine, EvalAltResult, Scope};
use serde_json::Value;

use super::Rejection;
use crate::record::Record;

/// The most operations one snippet may run on one record: far above any mapping, low enough that
/// an endless loop is stopped in milliseconds and the record quarantined.
pub const MAX_OPERATIONS: u64 = 1_000_000;

/// The engine every snippet runs on: no modules, no file or network access (rhai has none
/// without modules), bounded operations, depth and sizes; `print` goes to the log.
pub fn sandbox() -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(32);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(1 << 20);
    engine.set_max_array_size(100_000);
    engine.set_max_map_size(10_000);
    engine.on_print(|text| tracing::info!(target: "syncline::script", "{text}"));
    engine.on_debug(|text, _, pos| tracing::debug!(target: "syncline::script", "{pos:?}: {text}"));
    engine
}

/// What every snippet of a pipeline shares.
#[derive(Debug)]
pub struct Scripts {
    pub engine: Engine,
    vars: Dynamic,
}

impl Scripts {
    pub fn new(vars: &indexmap::IndexMap<String, Value>) -> Result<Arc<Scripts>, String> {
        let vars = rhai::serde::to_dynamic(vars).map_err(|e| e.to_string())?;
        Ok(Arc::new(Scripts {
            engine: sandbox(),
            vars,
        }))
    }

    pub fn compile_expression(&self, source: &str) -> Result<AST, String> {
        self.engine
            .compile_expression(source)
            .map_err(|e| e.to_string())
    }

    pub fn compile(&self, source: &str) -> Result<AST, String> {
        self.engine.compile(source).map_err(|e| e.to_string())
    }

    fn scope(&self, record: &Record) -> Result<Scope<'static>, String> {
        let rec = rhai::serde::to_dynamic(record).map_err(|e| e.to_string())?;
        let mut scope = Scope::new();
        scope.push("rec", rec);
        scope.push_constant("vars", self.vars.clone());
        Ok(scope)
    }

    /// The value of an expression over `rec` and `vars`.
    pub fn eval(&self, ast: &AST, record: &Record) -> Result<Dynamic, String> {
        let mut scope = self.scope(record)?;
        self.engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, ast)
            .map_err(describe)
    }

    /// Runs a script and returns `rec` as it left it.
    pub fn run(&self, ast: &AST, record: &Record) -> Result<Record, String> {
        let mut scope = self.scope(record)?;
        self.engine
            .run_ast_with_scope(&mut scope, ast)
            .map_err(describe)?;
        let rec = scope.get_value::<Dynamic>("rec").unwrap_or_default();
        rhai::serde::from_dynamic::<Value>(&rec)
            .map_err(|e| format!("`rec` is no longer a record: {e}"))
    }
}

fn describe(error: Box<EvalAltResult>) -> String {
    match error.as_ref() {
        EvalAltResult::ErrorTooManyOperations(pos) => {
            format!("the script exceeded its limit of {MAX_OPERATIONS} operations ({pos})")
        }
        other => other.to_string(),
    }
}

/// A dynamic value back to JSON, for field expressions.
pub fn to_json(value: &Dynamic) -> Result<Value, String> {
    rhai::serde::from_dynamic::<Value>(value).map_err(|e| e.to_string())
}

#[derive(Debug)]
pub struct ScriptStep {
    pub name: String,
    pub scripts: Arc<Scripts>,
    pub ast: AST,
}

impl ScriptStep {
    pub fn apply(&self, record: &Record) -> Result<Record, Rejection> {
        match self.scripts.run(&self.ast, record) {
            Ok(rec @ Value::Object(_)) => Ok(rec),
            Ok(_) => Err(Rejection::new(
                &self.name,
                "the script left `rec` as something other than a record",
            )),
            Err(reason) => Err(Rejection::new(&self.name, reason)),
        }
    }
}
