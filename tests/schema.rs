//! The committed JSON Schema is what the code generates, and every shipped pipeline file points
//! editors at it.

use std::path::Path;

#[test]
fn committed_schema_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed =
        std::fs::read_to_string(root.join(syncline::config::schema::SCHEMA_PATH)).unwrap();
    assert!(
        committed == syncline::config::schema::pipeline_schema(),
        "schemas/pipeline.schema.json is out of date: run `cargo run -- schema` and commit it"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    // Hover text: every property of the top level and of a job is documented.
    for (name, prop) in schema["properties"].as_object().unwrap() {
        assert!(
            prop["description"].is_string(),
            "top-level `{name}` has no description"
        );
    }
    let job = &schema["definitions"]["Job"]["properties"];
    for (name, prop) in job.as_object().unwrap() {
        assert!(
            prop["description"].is_string(),
            "job `{name}` has no description"
        );
    }
    assert_eq!(
        schema["definitions"]["Job"]["additionalProperties"], false,
        "unknown keys are errors"
    );
}

#[test]
fn every_shipped_pipeline_file_declares_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for dir in ["pipelines", "examples"] {
        for file in syncline::config::pipeline_files(&root.join(dir)).unwrap() {
            let text = std::fs::read_to_string(&file).unwrap();
            let first = text.lines().next().unwrap_or("");
            let target = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap_or_else(|| {
                    panic!("{} does not start with the schema line", file.display())
                });
            let resolved = file.parent().unwrap().join(target);
            assert!(
                resolved.canonicalize().ok()
                    == root
                        .join("schemas/pipeline.schema.json")
                        .canonicalize()
                        .ok(),
                "{}: the schema line points at {}",
                file.display(),
                resolved.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 2);
}
