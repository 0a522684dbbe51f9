//! `extends:` overlays: a client file on top of a template, and errors reported in the file they
//! are in.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use syncline::config::model::{Field, Schedule, Source, When};
use syncline::config::{self, secrets::Secrets};

fn load(path: &Path) -> config::Workspace {
    config::load_paths(&[path.to_path_buf()], &Secrets::default())
}

fn json_diagnostics(path: &Path) -> Vec<serde_json::Value> {
    let out = Command::cargo_bin("syncline")
        .unwrap()
        .args(["validate", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["diagnostics"].as_array().unwrap().clone()
}

#[test]
fn the_example_client_overlay_changes_only_what_it_says() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ws = load(&root.join("examples/client-acme/prestashop.yaml"));
    assert!(
        ws.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        ws.diagnostics
    );
    let p = ws.pipelines[0].model.as_ref().unwrap();
    assert_eq!(p.name.as_deref(), Some("acme-prestashop"));
    assert_eq!(p.vars["warehouse"], "3");
    assert_eq!(p.vars["lang"], "1", "vars not overridden are kept");
    // A table's map merged key by key: the template's entries stay, the client's are added.
    let states = p.tables["order_state_to_document"].map.as_ref().unwrap();
    assert_eq!(states["10"], "1");
    assert_eq!(states["12"], "1");
    assert_eq!(states["4"], "3");
    assert!(
        !p.tables.contains_key("document_to_order_state"),
        "`!unset` removes a table"
    );
    assert!(
        !p.jobs.contains_key("order_states"),
        "`!unset` removes a job"
    );
    // A connection: one key changed, the others (auth, body, retry) inherited.
    let config::model::Connection::Http(shop) = &p.connections["shop"] else {
        panic!()
    };
    assert!(shop.base_url.contains("ACME_SHOP_URL") || shop.base_url.ends_with("/api"));
    assert_eq!(shop.rate_limit.unwrap().count, 2);
    assert!(shop.auth.is_some() && shop.retry.is_some());
    let products = &p.jobs["products"];
    assert!(matches!(
        products.schedule,
        Some(Schedule {
            when: When::Every(_),
            ..
        })
    ));
    // `!append` adds the client's step after the template's two.
    let ids: Vec<_> = products
        .steps
        .iter()
        .map(|s| s.id.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["active_only", "defaults", "no_samples"]);
    // The job's map merged field by field.
    let Field::Spec(name) = &products.map["name"] else {
        panic!()
    };
    assert_eq!(name.transform.len(), 2);
    assert!(matches!(products.map["price"], Field::Spec(_)));
    assert!(matches!(products.from, Some(Source::Sql(_))));
}

#[test]
fn errors_are_reported_in_the_file_they_are_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::create_dir_all(dir.path().join("client")).unwrap();
    std::fs::write(
        dir.path().join("templates/base.yaml"),
        "version: 1\nname: base\njobs:\n  products:\n    from: { file: { path: a.csv } }\n    sheduled: daily\n    to: { file: { path: b.ndjson } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("client/acme.yaml"),
        "extends: ../templates/base.yaml\nname: acme\njobs:\n  products:\n    steps:\n      - lookup: { table: states, from: $.s, into: s }\n",
    )
    .unwrap();
    let diagnostics = json_diagnostics(&dir.path().join("client/acme.yaml"));
    let at = |code: &str| {
        let d = diagnostics
            .iter()
            .find(|d| d["code"] == code)
            .unwrap_or_else(|| panic!("no {code}: {diagnostics:?}"));
        (
            d["file"].as_str().unwrap().to_string(),
            d["line"].as_u64().unwrap(),
        )
    };
    let (file, line) = at("unknown-key");
    assert!(file.ends_with("templates/base.yaml"), "{file}");
    assert_eq!(line, 6);
    let (file, line) = at("unknown-table");
    assert!(file.ends_with("client/acme.yaml"), "{file}");
    assert_eq!(line, 6);
    assert!(!file.contains(".."), "paths are shown normalised: {file}");
}

#[test]
fn list_tags_combine_instead_of_replacing() {
    let dir = tempfile::tempdir().unwrap();
    let base = "version: 1\nname: base\njobs:\n  j:\n    from: { file: { path: a.csv } }\n    needs: []\n    steps:\n      - { id: a, filter: 'true' }\n      - { id: b, map: { x: $.x, y: $.y } }\n    to: { file: { path: b.ndjson } }\n";
    std::fs::write(dir.path().join("base.yaml"), base).unwrap();
    let overlay = "extends: base.yaml\njobs:\n  j:\n    steps: !merge\n      - { id: b, map: { y: $.z } }\n      - { id: c, script: 'rec.k = 1;' }\n";
    std::fs::write(dir.path().join("merge.yaml"), overlay).unwrap();
    let prepend = "extends: base.yaml\njobs:\n  j:\n    steps: !prepend\n      - { id: first, filter: 'true' }\n";
    std::fs::write(dir.path().join("prepend.yaml"), prepend).unwrap();
    let replace =
        "extends: base.yaml\njobs:\n  j:\n    steps:\n      - { id: only, filter: 'true' }\n";
    std::fs::write(dir.path().join("replace.yaml"), replace).unwrap();

    let ids = |file: &str| -> Vec<String> {
        let ws = load(&dir.path().join(file));
        assert!(
            ws.diagnostics.iter().all(|d| !d.is_error()),
            "{file}: {:?}",
            ws.diagnostics
        );
        let p = ws.pipelines[0].model.as_ref().unwrap();
        p.jobs["j"]
            .steps
            .iter()
            .map(|s| s.id.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(ids("merge.yaml"), ["a", "b", "c"]);
    assert_eq!(ids("prepend.yaml"), ["first", "a", "b"]);
    assert_eq!(ids("replace.yaml"), ["only"]);
    // `!merge` merged step b's map field by field.
    let ws = load(&dir.path().join("merge.yaml"));
    let map = ws.pipelines[0].model.as_ref().unwrap().jobs["j"].steps[1]
        .map
        .clone()
        .unwrap();
    assert!(matches!(&map["x"], Field::Path(p) if p.as_str() == "$.x"));
    assert!(matches!(&map["y"], Field::Path(p) if p.as_str() == "$.z"));
}

#[test]
fn a_missing_template_and_a_circle_are_reported_at_extends() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lost.yaml"),
        "extends: nowhere.yaml\nname: lost\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "extends: b.yaml\nversion: 1\nname: a\njobs: {}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.yaml"), "extends: a.yaml\nname: b\n").unwrap();
    let lost = json_diagnostics(&dir.path().join("lost.yaml"));
    assert!(
        lost.iter()
            .any(|d| d["code"] == "extends" && d["line"] == 1 && d["column"] == 10),
        "{lost:?}"
    );
    let circle = json_diagnostics(&dir.path().join("a.yaml"));
    assert!(
        circle.iter().any(|d| d["code"] == "extends-cycle"),
        "{circle:?}"
    );
}
