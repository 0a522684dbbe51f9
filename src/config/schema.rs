//! The JSON Schema of pipeline files, generated from the typed model (draft-07, the version
//! yaml-language-server reads).

use schemars::generate::SchemaSettings;
use serde_json::json;

use crate::config::model::Pipeline;

/// Where the schema is kept in the repository.
pub const SCHEMA_PATH: &str = "schemas/pipeline.schema.json";

pub fn pipeline_schema() -> String {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<Pipeline>();
    schema.insert("title".into(), "syncline pipeline".into());
    // An overlay (`extends:`) holds only what it changes: what a pipeline requires is required
    // of the merged result, not of the overlay file.
    if let Some(required) = schema.remove("required") {
        schema.insert("if".into(), json!({ "required": ["extends"] }));
        schema.insert("else".into(), json!({ "required": required }));
    }
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text + "\n"
}
