//! Steps compiled from the pipeline's model: paths, tables, scripts and converters made once,
//! before the first record.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;

use super::StepPlan;
use super::convert::Converter;
use super::filter::FilterStep;
use super::group::GroupStep;
use super::lookup::LookupStep;
use super::map::{MapStep, MappedField, Reference, ValueSource};
use super::script::{ScriptStep, Scripts};
use super::split::SplitStep;
use super::table::TablePlan;
use crate::config::model::{self, Field, Pipeline};
use crate::record::path::CompiledPath;
use crate::record::template::Template;
use crate::state::Namespace;

pub fn tables(pipeline: &Pipeline) -> HashMap<String, Arc<TablePlan>> {
    pipeline
        .tables
        .iter()
        .map(|(name, table)| {
            let base = table
                .inverse_of
                .as_ref()
                .and_then(|b| pipeline.tables.get(b));
            (name.clone(), Arc::new(TablePlan::build(name, table, base)))
        })
        .collect()
}

fn table<'t>(
    tables: &'t HashMap<String, Arc<TablePlan>>,
    name: &str,
) -> Result<&'t Arc<TablePlan>, String> {
    tables
        .get(name)
        .ok_or_else(|| format!("unknown table `{name}`"))
}

/// What compiling fields needs.
pub struct Fields<'a> {
    pub scripts: &'a Arc<Scripts>,
    pub tables: &'a HashMap<String, Arc<TablePlan>>,
    /// The ID-map namespace of an entity a `ref` field names.
    pub refs: &'a dyn Fn(&str) -> Namespace,
}

pub fn step(step: &model::Step, name: String, fields: &Fields) -> Result<StepPlan, String> {
    let (scripts, tables) = (fields.scripts, fields.tables);
    let at = |e: String| format!("step `{name}`: {e}");
    Ok(if let Some(map) = &step.map {
        StepPlan::Map(map_step(name, map, fields)?)
    } else if let Some(filter) = &step.filter {
        StepPlan::Filter(FilterStep::new(name.clone(), filter, scripts).map_err(at)?)
    } else if let Some(lookup) = &step.lookup {
        StepPlan::Lookup(LookupStep {
            table: table(tables, &lookup.table).map_err(at)?.clone(),
            from: CompiledPath::compile(&lookup.from).map_err(at)?,
            from_text: lookup.from.as_str().to_string(),
            into: lookup.into.clone(),
            unmapped: lookup.unmapped.clone(),
            name,
        })
    } else if let Some(split) = &step.split {
        StepPlan::Split(SplitStep {
            path: CompiledPath::compile(&split.path).map_err(at)?,
            path_text: split.path.as_str().to_string(),
            item: split.item.clone().unwrap_or_else(|| "line".to_string()),
            name,
        })
    } else if let Some(group) = &step.group {
        StepPlan::Group(GroupStep {
            by: CompiledPath::compile(&group.by).map_err(at)?,
            into: group.into.clone().unwrap_or_else(|| "lines".to_string()),
            name,
        })
    } else if let Some(script) = &step.script {
        StepPlan::Script(ScriptStep {
            ast: scripts.compile(script).map_err(at)?,
            scripts: scripts.clone(),
            name,
        })
    } else {
        return Err(at("does nothing".to_string()));
    })
}

/// Where a map field whose name is a path (`associations.categories[0].id`) puts its value.
fn nested_place(name: &str) -> Result<Option<CompiledPath>, String> {
    if !name.contains(['.', '[']) {
        return Ok(None);
    }
    let path = model::SingularPath::parse(&format!("$.{name}"))?;
    CompiledPath::compile(&path).map(Some)
}

pub fn map_step(
    name: String,
    map: &IndexMap<String, Field>,
    fields: &Fields,
) -> Result<MapStep, String> {
    let (scripts, tables) = (fields.scripts, fields.tables);
    let mut compiled = Vec::with_capacity(map.len());
    for (field, spec) in map {
        let at = |e: String| format!("field `{field}`: {e}");
        let mapped = match spec {
            Field::Path(path) => MappedField::plain(
                field,
                ValueSource::Path {
                    path: CompiledPath::compile(path).map_err(at)?,
                    text: path.as_str().to_string(),
                },
                nested_place(field).map_err(at)?,
            ),
            Field::Constant(value) => MappedField::plain(
                field,
                ValueSource::Const(value.clone()),
                nested_place(field).map_err(at)?,
            ),
            Field::Spec(spec) => {
                if spec.timezone.is_some() {
                    return Err(at("`timezone` is not supported by the runtime yet: remove it, or convert in a `script`".to_string()));
                }
                let source = if let Some(path) = &spec.path {
                    ValueSource::Path {
                        path: CompiledPath::compile(path).map_err(at)?,
                        text: path.as_str().to_string(),
                    }
                } else if let Some(value) = &spec.constant {
                    ValueSource::Const(value.clone())
                } else if let Some(expr) = &spec.expr {
                    ValueSource::Expr(
                        scripts.clone(),
                        scripts.compile_expression(expr).map_err(at)?,
                    )
                } else if let Some(template) = &spec.template {
                    ValueSource::Template(Template::parse(template).map_err(at)?)
                } else if let Some(entity) = &spec.reference {
                    let (key, backwards) = match (&spec.key, &spec.from_target_id) {
                        (Some(key), None) => (key, false),
                        (None, Some(id)) => (id, true),
                        _ => {
                            return Err(at("`ref` needs `key` or `from_target_id`".to_string()));
                        }
                    };
                    let mut ns = (fields.refs)(entity);
                    if let Some(connection) = &spec.connection {
                        ns.connection = connection.clone();
                    }
                    ValueSource::Ref(Reference {
                        ns,
                        key: CompiledPath::compile(key).map_err(at)?,
                        key_text: key.as_str().to_string(),
                        backwards,
                    })
                } else {
                    return Err(at("no value source".to_string()));
                };
                MappedField {
                    name: field.clone(),
                    source,
                    table: spec
                        .table
                        .as_deref()
                        .map(|t| table(tables, t).cloned())
                        .transpose()
                        .map_err(at)?,
                    converter: spec
                        .convert
                        .map(|c| {
                            Converter::new(
                                c,
                                spec.scale,
                                spec.format.as_deref(),
                                spec.input_format.as_deref(),
                            )
                        })
                        .transpose()
                        .map_err(at)?,
                    transforms: spec.transform.clone(),
                    default: spec.default.clone(),
                    required: spec.required,
                    nested: nested_place(field).map_err(at)?,
                    lang: spec.lang.clone(),
                }
            }
        };
        compiled.push(mapped);
    }
    Ok(MapStep {
        name,
        fields: compiled,
    })
}
