//! No panic on any input: random, truncated and mutated YAML, and inputs built to exhaust the
//! stack or memory, all end in diagnostics.

use proptest::prelude::*;
use syncline::config::secrets::Secrets;
use syncline::validate::validate_str;

fn fixture_texts() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for dir in [
        "tests/fixtures/broken",
        "tests/fixtures/valid",
        "pipelines/prestashop",
        "examples/client-acme",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    texts
}

#[test]
fn every_truncation_of_every_fixture_is_handled() {
    let secrets = Secrets::default();
    for text in fixture_texts() {
        for (cut, _) in text.char_indices().step_by(3) {
            let v = validate_str("truncated.yaml", &text[..cut], &secrets);
            // Whatever the cut, the result is a list of located problems or a valid pipeline.
            for d in &v.diagnostics {
                assert!(d.span.is_some() || d.code == "io", "unlocated: {d:?}");
            }
        }
    }
}

#[test]
fn inputs_built_to_exhaust_the_stack_or_memory_are_refused() {
    let secrets = Secrets::default();
    let deep_flow = "[".repeat(100_000);
    let deep_block: String = (0..5_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + i - 1) as char;
        let name = (b'a' + i) as char;
        laughs.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let deep_rhai = format!(
        "version: 1\nname: r\njobs:\n  j:\n    from: {{ file: {{ path: a.csv }} }}\n    steps:\n      - filter: \"{}1{}\"\n    to: {{ file: {{ path: b.ndjson }} }}\n",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    let deep_path = format!(
        "version: 1\nname: p\njobs:\n  j:\n    from: {{ file: {{ path: a.json, records: \"$.{}\" }} }}\n    to: {{ file: {{ path: b.ndjson }} }}\n",
        "[".repeat(50_000)
    );
    // The parser's own recursion limit may refuse deep flow collections before ours does.
    for (name, text, codes) in [
        (
            "deep flow",
            deep_flow.as_str(),
            &["yaml-too-deep", "yaml-syntax"][..],
        ),
        ("deep block", deep_block.as_str(), &["yaml-too-deep"][..]),
        ("billion laughs", laughs.as_str(), &["yaml-too-large"][..]),
        ("deep rhai", deep_rhai.as_str(), &["rhai"][..]),
        ("deep path", deep_path.as_str(), &["invalid-value"][..]),
    ] {
        let v = validate_str("attack.yaml", text, &secrets);
        assert!(
            v.diagnostics.iter().any(|d| codes.contains(&d.code)),
            "{name}: {:?}",
            v.diagnostics
        );
    }
}

/// Characters YAML and syncline give meaning to, so that mutations reach the parser's corners.
fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(":".to_string()),
            Just("- ".to_string()),
            Just("\n".to_string()),
            Just("  ".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("&a ".to_string()),
            Just("*a".to_string()),
            Just("!append ".to_string()),
            Just("|\n".to_string()),
            Just("${env.X}".to_string()),
            Just("${secret.K}".to_string()),
            Just("$.a[".to_string()),
            Just("jobs".to_string()),
            Just("needs".to_string()),
            Just("extends: x.yaml\n".to_string()),
            "[a-z0-9_ .#]{0,6}",
            any::<char>().prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = validate_str("random.yaml", &text, &Secrets::default());
    }

    #[test]
    fn mutated_pipelines_never_panic(
        which in 0usize..64,
        at in 0usize..4000,
        len in 0usize..40,
        insert in yamlish(),
    ) {
        let texts = fixture_texts();
        let text = &texts[which % texts.len()];
        let mut start = at.min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..start], insert, &text[end..]);
        let _ = validate_str("mutated.yaml", &mutated, &Secrets::default());
    }
}

/// A pipeline the attacks below are appended to: six lines, valid on its own.
const VALID: &str = "version: 1\nname: p\njobs:\n  j:\n    from: { file: { path: a.csv } }\n    to: { file: { path: b.ndjson } }\n";

/// The place of a diagnostic: (line, column, the text from there on).
fn place<'a>(
    v: &'a syncline::validate::Validation,
    d: &syncline::diagnostics::Diagnostic,
) -> (usize, usize, &'a str) {
    let span = d.span.unwrap_or_else(|| panic!("unlocated: {d:?}"));
    let file = v.sources.get(span.file);
    let (line, col) = file.line_col(span.start);
    (line, col, &file.text[span.start..])
}

/// Issue 17: one string of 1 MB aliased 5000 times is 5 GB in a file of 1 MB; counting nodes let
/// it through (`validate` took 16 s and 9.8 GB).
#[test]
fn aliases_of_a_large_string_are_refused_by_the_bytes_they_expand_to() {
    let big = "A".repeat(1 << 20);
    let text = format!(
        "{VALID}x: &s \"{big}\"\ny: [{}]\n",
        vec!["*s"; 5000].join(", ")
    );
    let v = validate_str("bomb.yaml", &text, &Secrets::default());
    let d = v
        .diagnostics
        .iter()
        .find(|d| d.code == "yaml-too-large")
        .unwrap_or_else(|| {
            panic!(
                "not refused: {:?}",
                v.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
            )
        });
    let (line, _, at) = place(&v, d);
    assert_eq!(line, 8, "at an alias in `y`");
    assert!(at.starts_with("*s"), "{}", &at[..20.min(at.len())]);
    assert!(
        d.hint.as_deref().is_some_and(|h| h.contains("alias")),
        "{d:?}"
    );
}

/// The same attack through `${vars.NAME}`: a var of 100 KB written 50,000 times in one value.
#[test]
fn vars_repeated_are_refused_by_the_bytes_they_expand_to() {
    let big = "A".repeat(100 << 10);
    let text = format!(
        "{VALID}vars: {{ s: \"{big}\" }}\nx: \"{}\"\n",
        "${vars.s}".repeat(50_000)
    );
    let v = validate_str("bomb.yaml", &text, &Secrets::default());
    let d = v
        .diagnostics
        .iter()
        .find(|d| d.message.contains("expand"))
        .unwrap_or_else(|| {
            panic!(
                "not refused: {:?}",
                v.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
            )
        });
    let (line, _, at) = place(&v, d);
    assert_eq!(line, 8, "at a placeholder in `x`");
    assert!(at.starts_with("${vars.s}"), "{}", &at[..20.min(at.len())]);
    assert!(d.hint.is_some(), "{d:?}");
}

/// Each place the parser reports was found by counting characters from its line's start: on one
/// line of 60 KB, 35 s for `validate` in a debug build.
#[test]
fn a_long_line_is_read_in_linear_time() {
    let text = format!("{VALID}vars: {{ l: [{}b] }}\n", "a, ".repeat(20_000));
    let started = std::time::Instant::now();
    let v = validate_str("long.yaml", &text, &Secrets::default());
    assert_eq!(v.errors(), 0, "{:?}", v.diagnostics);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
}
