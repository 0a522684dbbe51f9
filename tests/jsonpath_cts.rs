//! JSONPaths are checked at `validate` time against the JSONPath Compliance Test Suite (RFC 9535):
//! every selector the suite calls invalid is rejected, every valid one accepted.
//! (Evaluation results are checked with the runtime's compiled paths.)

use syncline::config::model::JsonPath;

fn cts() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jsonpath-cts/cts.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the CTS is read from {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn validate_accepts_exactly_the_selectors_the_suite_calls_valid() {
    let suite = cts();
    let tests = suite["tests"].as_array().unwrap();
    let mut wrong = Vec::new();
    for case in tests {
        let selector = case["selector"].as_str().unwrap();
        let invalid = case["invalid_selector"].as_bool().unwrap_or(false);
        let accepted = JsonPath::parse(selector).is_ok();
        if accepted == invalid {
            wrong.push(format!(
                "{}: {selector:?} {}",
                case["name"].as_str().unwrap_or(""),
                if invalid {
                    "accepted but invalid"
                } else {
                    "rejected but valid"
                }
            ));
        }
    }
    assert!(tests.len() > 600, "the suite has {} cases", tests.len());
    assert!(
        wrong.is_empty(),
        "{} of {} cases disagree:\n{}",
        wrong.len(),
        tests.len(),
        wrong.join("\n")
    );
}
