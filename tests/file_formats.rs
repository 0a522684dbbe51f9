//! Every file format, read and written: CSV (delimiters, headers, Windows-1252), JSON (a list,
//! a list under a path, a mapping keyed by id), NDJSON.

mod common;

use common::{Workdir, job};
use serde_json::{Value, json};

fn convert(w: &Workdir, from: &str, to: &str) -> (i32, Value) {
    w.write(
        "p.yaml",
        format!("version: 1\nname: t\njobs:\n  j:\n    from: {{ file: {from} }}\n    to: {{ file: {to} }}\n"),
    );
    w.run("p.yaml", &[])
}

fn records() -> Vec<Value> {
    vec![
        json!({"ref": "A1", "name": "Café crème", "price": "1.50"}),
        json!({"ref": "B2", "name": "Thé; \"vert\"", "price": "2"}),
    ]
}

#[test]
fn every_format_round_trips_through_every_other() {
    let formats = ["ndjson", "json", "csv", "xml"];
    for from in formats {
        for to in formats {
            let w = Workdir::new();
            // Start from NDJSON, go through `from`, then `to`, then back to NDJSON.
            let lines: String = records().iter().map(|r| format!("{r}\n")).collect();
            w.write("start.ndjson", lines);
            let files = [
                "start.ndjson".to_string(),
                format!("a.{from}"),
                format!("b.{to}"),
                "end.ndjson".to_string(),
            ];
            // XML names the elements records are read from and written as.
            let spec = |file: &str| {
                if file.ends_with(".xml") {
                    format!("{{ path: {file}, records: $.catalog.article }}")
                } else {
                    format!("{{ path: {file} }}")
                }
            };
            for pair in files.windows(2) {
                let (code, report) = convert(&w, &spec(&pair[0]), &spec(&pair[1]));
                assert_eq!(code, 0, "{} -> {}: {report}", pair[0], pair[1]);
            }
            assert_eq!(
                w.ndjson("end.ndjson"),
                records(),
                "ndjson -> {from} -> {to} -> ndjson"
            );
        }
    }
}

#[test]
fn csv_with_semicolons_windows_1252_and_given_columns() {
    let w = Workdir::new();
    let (bytes, _, _) = encoding_rs::WINDOWS_1252
        .encode("AR_Ref;AR_Design;Prix\r\nA1;Crème brûlée;3,20\r\nB2;Œuf « bio »;0,45\r\n");
    w.write("in.csv", bytes.as_ref());
    let (code, _) = convert(
        &w,
        "{ path: in.csv, encoding: windows-1252, csv: { delimiter: \";\" } }",
        "{ path: out.csv, encoding: windows-1252, csv: { delimiter: \"\\t\", columns: [AR_Design, AR_Ref] } }",
    );
    assert_eq!(code, 0);
    let bytes = std::fs::read(w.path("out.csv")).unwrap();
    let (text, _, malformed) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!malformed);
    assert_eq!(
        text,
        "AR_Design\tAR_Ref\nCrème brûlée\tA1\nŒuf « bio »\tB2\n"
    );

    // No header line: the columns are named by the pipeline.
    w.write("raw.csv", "A1,3\nB2,4\n");
    let (code, _) = convert(
        &w,
        "{ path: raw.csv, csv: { header: false, columns: [ref, qty] } }",
        "{ path: raw.ndjson }",
    );
    assert_eq!(code, 0);
    assert_eq!(
        w.ndjson("raw.ndjson"),
        [
            json!({"ref": "A1", "qty": "3"}),
            json!({"ref": "B2", "qty": "4"})
        ]
    );
}

#[test]
fn json_lists_under_a_path_keyed_mappings_and_empty_answers() {
    let w = Workdir::new();
    // PrestaShop: a list under a key, with other keys around it.
    w.write(
        "ps.json",
        r#"{"meta": {"n": 2}, "products": [{"id": 1}, {"id": 2}], "after": [1, 2]}"#,
    );
    let (code, _) = convert(
        &w,
        "{ path: ps.json, records: $.products }",
        "{ path: ps.ndjson }",
    );
    assert_eq!(code, 0);
    assert_eq!(w.ndjson("ps.ndjson"), [json!({"id": 1}), json!({"id": 2})]);
    // PrestaShop answers `[]` when a filter matches nothing.
    w.write("empty.json", "[]");
    let (code, report) = convert(
        &w,
        "{ path: empty.json, records: $.products }",
        "{ path: empty.ndjson }",
    );
    assert_eq!((code, &job(&report, "j")["read"]), (0, &json!(0)));
    assert_eq!(w.read("empty.ndjson"), "");
    // Gomag: records in a mapping keyed by id.
    w.write(
        "gomag.json",
        r#"{"total": 2, "orders": {"123": {"id": "123"}, "124": {"id": "124"}}}"#,
    );
    let (code, _) = convert(
        &w,
        "{ path: gomag.json, records: $.orders }",
        "{ path: gomag.ndjson }",
    );
    assert_eq!(code, 0);
    assert_eq!(
        w.ndjson("gomag.ndjson"),
        [json!({"id": "123"}), json!({"id": "124"})]
    );
    // A path that is not plain is read through the engine.
    w.write(
        "nested.json",
        r#"{"shops": [{"orders": [{"id": 1}]}, {"orders": [{"id": 2}, {"id": 3}]}]}"#,
    );
    let (code, _) = convert(
        &w,
        "{ path: nested.json, records: \"$.shops[*].orders\" }",
        "{ path: nested.json.out, format: ndjson }",
    );
    assert_eq!(code, 0);
    assert_eq!(w.ndjson("nested.json.out").len(), 3);
}

#[test]
fn a_broken_document_fails_the_job_and_writes_nothing() {
    let w = Workdir::new();
    w.write("bad.json", r#"[{"id": 1}, {"id": 2"#);
    w.write("out.ndjson", "kept\n");
    let (code, report) = convert(&w, "{ path: bad.json }", "{ path: out.ndjson }");
    assert_eq!(code, 1);
    assert!(
        job(&report, "j")["reason"]
            .as_str()
            .unwrap()
            .contains("invalid JSON"),
        "{report}"
    );
    assert_eq!(w.read("out.ndjson"), "kept\n");
}

#[test]
fn xml_nested_deeper_than_json_allows_fails_the_job_instead_of_the_stack() {
    let w = Workdir::new();
    let depth = 100_000;
    w.write(
        "deep.xml",
        format!(
            "<root><item>{}x{}</item></root>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        ),
    );
    w.write("out.ndjson", "kept\n");
    let (code, report) = convert(
        &w,
        "{ path: deep.xml, records: $.root.item }",
        "{ path: out.ndjson }",
    );
    assert_eq!(code, 1, "{report}");
    let reason = job(&report, "j")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("nest deeper than 128"), "{reason}");
    assert_eq!(w.read("out.ndjson"), "kept\n");
}

#[test]
fn xml_attributes_repeated_children_and_text() {
    let w = Workdir::new();
    w.write(
        "in.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<prestashop><products>
  <product id="12"><reference>A&amp;B</reference><name lang="fr">Café</name>
    <tags><tag>new</tag><tag>sale</tag></tags><empty/></product>
  <product id="13"><reference>C</reference><name lang="fr"><![CDATA[<b>Thé</b>]]></name></product>
  <other><reference>not a product</reference></other>
</products></prestashop>"#,
    );
    let (code, _) = convert(
        &w,
        "{ path: in.xml, records: $.prestashop.products.product }",
        "{ path: out.ndjson }",
    );
    assert_eq!(code, 0);
    assert_eq!(
        w.ndjson("out.ndjson"),
        [
            json!({"@id": "12", "reference": "A&B", "name": {"@lang": "fr", "#text": "Café"}, "tags": {"tag": ["new", "sale"]}, "empty": ""}),
            json!({"@id": "13", "reference": "C", "name": {"@lang": "fr", "#text": "<b>Thé</b>"}}),
        ]
    );
    // And back: attributes, text and lists are written as they were read.
    let (code, _) = convert(
        &w,
        "{ path: out.ndjson }",
        "{ path: back.xml, records: $.prestashop.products.product }",
    );
    assert_eq!(code, 0);
    let (code, _) = convert(
        &w,
        "{ path: back.xml, records: $.prestashop.products.product }",
        "{ path: again.ndjson }",
    );
    assert_eq!(code, 0);
    assert_eq!(w.ndjson("again.ndjson"), w.ndjson("out.ndjson"));
    assert!(
        w.read("back.xml").contains("<product id=\"12\">"),
        "{}",
        w.read("back.xml")
    );
}

#[test]
fn a_quote_left_open_to_the_end_of_a_csv_rejects_its_row_and_names_the_rows_it_took() {
    let w = Workdir::new();
    // Line 3's quoted field spans two lines and is closed; line 6's never is: the csv crate
    // reads everything after it, lines 7 and 8, into its `name`.
    w.write(
        "in.csv",
        "id,name\n1,a\n2,\"multi\nline\"\n3,c\n4,\"unterminated\n5,e\n6,f\n",
    );
    let (code, report) = convert(&w, "{ path: in.csv }", "{ path: out.ndjson }");
    assert_eq!(code, 3, "{report:#}");
    let reason = job(&report, "j")["reasons"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.starts_with("line 6: "), "{report:#}");
    assert!(
        reason.contains("never closed") && reason.contains("lines 7 to 8"),
        "{reason}"
    );
    assert_eq!(
        w.ndjson("out.ndjson"),
        vec![
            json!({"id": "1", "name": "a"}),
            json!({"id": "2", "name": "multi\nline"}),
            json!({"id": "3", "name": "c"}),
        ]
    );
}
