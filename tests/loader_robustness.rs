//! No panic on any input: random, truncated and mutated YAML, and inputs built to exhaust the
//! stack or memory, all end in diagnostics. The heap of this test binary is bounded at 1 GiB,
//! so an input that would take more fails its test (an abort) instead of the machine.
//!
//! The loader fuzz at the end runs a few cases with the other tests;
//! `SYNCLINE_FUZZ_SECONDS=600 cargo test --release --test loader_robustness fuzz -- --nocapture`
//! runs it for ten minutes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use syncline::check::validate::{validate, validate_str};
use syncline::config::secrets::Secrets;
use syncline::diagnostics::RenderOptions;

/// The most heap this test binary may hold at once.
const HEAP_LIMIT: usize = 1 << 30;

/// The system allocator, counting live bytes and refusing any allocation past [`HEAP_LIMIT`]
/// (Rust then aborts with "memory allocation of N bytes failed").
struct Bounded;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Bounded {
    fn take(size: usize) -> bool {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        if live > HEAP_LIMIT {
            LIVE.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        true
    }
}

// SAFETY: every call is passed on to `System` unchanged; only the counts are added.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !Self::take(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from this allocator with `layout`, as `realloc` requires.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        match (p.is_null(), new_size > old) {
            (true, true) => {
                LIVE.fetch_sub(new_size - old, Ordering::Relaxed);
            }
            (false, false) => {
                LIVE.fetch_sub(old - new_size, Ordering::Relaxed);
            }
            _ => {}
        }
        p
    }
}

#[global_allocator]
static HEAP: Bounded = Bounded;

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
    v: &'a syncline::check::validate::Validation,
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

/// The fuzz's inputs: the seed corpus (aliases, long lines, NUL, huge scalars once repeated,
/// broken files, `extends`), then every pipeline the project ships and tests with.
fn fuzz_seeds() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(root.join(CORPUS))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        seeds.push(std::fs::read(path).unwrap());
    }
    seeds.extend(fixture_texts().into_iter().map(String::into_bytes));
    seeds
}

const CORPUS: &str = "tests/fixtures/loader-corpus";

/// One change to a seed. Positions are taken modulo the text's length, and work on bytes, so a
/// change can split a character: the loader must cope with text that is not UTF-8.
#[derive(Debug, Clone)]
enum Mutation {
    /// Puts a piece of another seed in.
    Splice {
        seed: usize,
        from: usize,
        len: usize,
        at: usize,
    },
    Insert {
        at: usize,
        text: String,
    },
    Delete {
        at: usize,
        len: usize,
    },
    /// Repeats a piece in place: long lines, huge scalars, thousands of aliases or `${vars}`.
    Repeat {
        at: usize,
        len: usize,
        times: usize,
    },
    Byte {
        at: usize,
        byte: u8,
    },
    Truncate {
        at: usize,
    },
}

/// Past the 8 MiB a pipeline file may hold, so that limit is reached too. A case that large
/// takes seconds in a debug build: the short run stays under [`SHORT_MAX_INPUT`].
const MAX_INPUT: usize = 9 << 20;
const SHORT_MAX_INPUT: usize = 256 << 10;

impl Mutation {
    fn apply(&self, text: &mut Vec<u8>, seeds: &[Vec<u8>], max_input: usize) {
        let at = |i: usize, text: &Vec<u8>| i % (text.len() + 1);
        match self {
            Mutation::Splice {
                seed,
                from,
                len,
                at: to,
            } => {
                let other = &seeds[seed % seeds.len()];
                let from = from % (other.len() + 1);
                let piece = other[from..(from + len).min(other.len())].to_vec();
                let to = at(*to, text);
                text.splice(to..to, piece);
            }
            Mutation::Insert { at: i, text: t } => {
                let i = at(*i, text);
                text.splice(i..i, t.bytes());
            }
            Mutation::Delete { at: i, len } => {
                let i = at(*i, text);
                let end = (i + len).min(text.len());
                text.drain(i..end);
            }
            Mutation::Repeat { at: i, len, times } => {
                let i = at(*i, text);
                let piece = text[i..(i + len).min(text.len())].to_vec();
                if piece.is_empty() {
                    return;
                }
                let room = max_input.saturating_sub(text.len()) / piece.len();
                let copies = (*times).min(room);
                let repeated = piece.repeat(copies);
                text.splice(i..i, repeated);
            }
            Mutation::Byte { at: i, byte } => {
                let i = at(*i, text);
                if i < text.len() {
                    text[i] = *byte;
                } else {
                    text.push(*byte);
                }
            }
            Mutation::Truncate { at: i } => {
                let i = at(*i, text);
                text.truncate(i);
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let times = prop_oneof![
        8 => 2usize..10,
        3 => 10usize..2_000,
        1 => 2_000usize..400_000,
    ];
    let byte = prop_oneof![
        Just(0u8),
        Just(b'\t'),
        Just(b'\r'),
        Just(0xFF),
        Just(0xC3),
        Just(0xE2),
        any::<u8>(),
    ];
    prop_oneof![
        3 => (any::<usize>(), any::<usize>(), 0usize..400, any::<usize>())
            .prop_map(|(seed, from, len, at)| Mutation::Splice { seed, from, len, at }),
        4 => (any::<usize>(), yamlish()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        2 => (any::<usize>(), 0usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        2 => (any::<usize>(), 1usize..64, times)
            .prop_map(|(at, len, times)| Mutation::Repeat { at, len, times }),
        2 => (any::<usize>(), byte).prop_map(|(at, byte)| Mutation::Byte { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

/// How a case reaches the loader: as the file named, as the template an overlay extends, or
/// in a folder `validate` walks.
#[derive(Debug, Clone, Copy)]
enum Entry {
    File,
    Extended,
    Folder,
}

/// Peak resident memory of this process (VmHWM), in bytes; 0 where /proc is not there.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

/// Seeds mutated and combined, fed to `validate` as the command does (from files, `extends`
/// included), and rendered both ways: no panic, every problem located, an exit code of 0, 1 or
/// 2, and the heap under [`HEAP_LIMIT`] throughout. `SYNCLINE_FUZZ_SECONDS` runs it that long.
#[test]
fn fuzz_the_loader_from_the_seed_corpus() {
    let seconds: Option<u64> = std::env::var("SYNCLINE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let max_input = if deadline.is_some() {
        MAX_INPUT
    } else {
        SHORT_MAX_INPUT
    };
    let seeds = fuzz_seeds();
    let dir = tempfile::tempdir().unwrap();
    // The corpus beside each case, so the `extends` of a seed finds its template.
    for entry in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS)).unwrap()
    {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("overlay-of-case.yaml"),
        "extends: case.yaml\nname: overlay\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    let entry = prop_oneof![
        3 => Just(Entry::File),
        1 => Just(Entry::Extended),
        1 => Just(Entry::Folder),
    ];
    let strategy = (
        any::<usize>(),
        proptest::collection::vec(mutation(), 1..8),
        entry,
        any::<bool>(),
    );
    let config = Config {
        // Without a deadline: a few cases, as fast as the other tests. With one: batches
        // until it passes.
        cases: if deadline.is_some() { 256 } else { 96 },
        failure_persistence: None,
        ..Config::default()
    };
    // One runner per batch (a runner counts its successes across runs), each with an RNG
    // drawn from the first one's.
    let mut seeder = TestRunner::new(config.clone());
    let cases = AtomicU64::new(0);
    let largest = AtomicUsize::new(0);
    let slowest = AtomicU64::new(0);
    let started = Instant::now();
    let secrets = Secrets::default();
    loop {
        let mut runner = TestRunner::new_with_rng(config.clone(), seeder.new_rng());
        let outcome = runner.run(&strategy, |(seed, mutations, entry, color)| {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
            let mut text = seeds[seed % seeds.len()].clone();
            for m in &mutations {
                m.apply(&mut text, &seeds, max_input);
            }
            cases.fetch_add(1, Ordering::Relaxed);
            largest.fetch_max(text.len(), Ordering::Relaxed);
            let (file, named) = match entry {
                Entry::File => ("case.yaml", "case.yaml"),
                Entry::Extended => ("case.yaml", "overlay-of-case.yaml"),
                Entry::Folder => ("folder/case.yml", "folder"),
            };
            std::fs::write(dir.path().join(file), &text).unwrap();
            let case_started = Instant::now();
            let v = validate(&[dir.path().join(named)], &secrets);
            for d in &v.diagnostics {
                prop_assert!(
                    d.span.is_some() || matches!(d.code, "io" | "no-pipeline"),
                    "unlocated: {d:?}"
                );
            }
            let width = if color { 40 } else { 100 };
            let _ = v.render_human(RenderOptions { color, width });
            serde_json::from_str::<serde_json::Value>(&v.render_json())
                .map_err(|e| TestCaseError::fail(format!("the JSON report: {e}")))?;
            prop_assert!(matches!(v.exit_code(false), 0..=2));
            let took = case_started.elapsed();
            slowest.fetch_max(took.as_millis() as u64, Ordering::Relaxed);
            std::fs::remove_file(dir.path().join(file)).unwrap();
            Ok(())
        });
        if let Err(e) = outcome {
            panic!("{e}");
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    let peak_heap = PEAK.load(Ordering::Relaxed);
    let rss = peak_rss();
    eprintln!(
        "loader fuzz: {} cases in {:.0?}, largest input {} KiB, slowest case {} ms, peak heap {} MiB, peak RSS {} MiB",
        cases.load(Ordering::Relaxed),
        started.elapsed(),
        largest.load(Ordering::Relaxed) >> 10,
        slowest.load(Ordering::Relaxed),
        peak_heap >> 20,
        rss >> 20
    );
    assert!(peak_heap < HEAP_LIMIT);
    assert!(rss < 1 << 30, "peak RSS {} MiB", rss >> 20);
}
