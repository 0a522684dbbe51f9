//! The state on sled at 1M ID-map entries (each with a fingerprint): a lookup by source key and
//! by target id (goal: under 2 us), and the decision "unchanged, send nothing" for a mapped
//! record (the rerun path). Prints the size of the state directory (goal: under 300 MB).

use std::sync::OnceLock;

use syncline::runtime::deliver::link_reader::LinkReader;
use syncline::state::sled_store::{self, SledStore};
use syncline::state::{Change, FieldHashes, Fingerprint, Link, Namespace, StateStore};

const ENTRIES: u64 = 1_000_000;

fn ns() -> Namespace {
    Namespace {
        pipeline: "acme-prestashop".into(),
        connection: "shop".into(),
        entity: "product".into(),
    }
}

/// Built once, in target/bench-state (rebuilt when missing).
fn store() -> &'static SledStore {
    static STORE: OnceLock<SledStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-state");
        let fresh = !dir.exists();
        let store = sled_store::open(&dir).expect("the bench state opens");
        if fresh {
            let started = std::time::Instant::now();
            for chunk in 0..ENTRIES / 10_000 {
                let changes = (chunk * 10_000..(chunk + 1) * 10_000)
                    .map(|i| Change::Link {
                        ns: ns(),
                        key: format!("SKU-{i:08}"),
                        same_id: false,
                        link: Link {
                            target_id: Some((100_000 + i).to_string()),
                            fingerprint: Some(Fingerprint::of(format!("payload {i}").as_bytes())),
                            synced_at: 1_760_000_000,
                        },
                        // A product's eight mapped fields, hashed, as a write keeps them.
                        fields: FieldHashes {
                            names: 1,
                            values: (0..8).map(|f| f ^ i as u32).collect(),
                        },
                    })
                    .collect();
                store.apply(changes).expect("written");
            }
            store.flush().expect("flushed");
            eprintln!("1M entries written in {:?}", started.elapsed());
        }
        // Steady state: a run that has read the map once. The first (cold) pass is timed here.
        let started = std::time::Instant::now();
        for i in 0..ENTRIES {
            let _ = store.link(&ns(), &key(i));
        }
        eprintln!(
            "cold pass: {:.2} us a lookup",
            started.elapsed().as_secs_f64() * 1e6 / ENTRIES as f64
        );
        eprintln!(
            "state directory: {} MB on disk (sled's own count: {} MB)",
            du(&dir) / 1_000_000,
            sled_store::disk_size(&store).unwrap_or(0) / 1_000_000
        );
        store
    })
}

fn du(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => du(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    divan::main();
}

/// Spread over the whole key space, so the cache does not hold only a few pages.
fn key(n: u64) -> String {
    format!("SKU-{:08}", n.wrapping_mul(2_654_435_761) % ENTRIES)
}

/// One sled read a lookup (what a lookup costs without the runtime's reader).
#[divan::bench(sample_count = 20, sample_size = 10_000)]
fn point_read_by_source_key(bencher: divan::Bencher) {
    let store = store();
    let ns = ns();
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        store.link(&ns, &key(n)).expect("read")
    });
}

/// Used by `syncline state id --target-id` only: one lookup a command.
#[divan::bench(sample_count = 20, sample_size = 10_000)]
fn point_read_by_target_id(bencher: divan::Bencher) {
    let store = store();
    let ns = ns();
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        let id = 100_000 + n.wrapping_mul(2_654_435_761) % ENTRIES;
        store.key_for_id(&ns, &id.to_string()).expect("read")
    });
}

/// What the writer does per record on a rerun: hash the mapped payload, read the entry,
/// compare.
#[divan::bench(sample_count = 20, sample_size = 10_000)]
fn unchanged_decision(bencher: divan::Bencher) {
    let store = store();
    let ns = ns();
    let payload = serde_json::json!({
        "reference": "SKU-00000001", "barcode": "3760000000011", "name": "Chaise bistrot en chêne",
        "price": 129.9, "quantity": 12, "shop_state": "published"
    });
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        let fingerprint = Fingerprint::of(&serde_json::to_vec(&payload).expect("json"));
        let link = store.link(&ns, &key(n)).expect("read");
        link.and_then(|l| l.fingerprint) == Some(fingerprint)
    });
}

/// Keys in increasing order (an export sorted by code), through the runtime's read-ahead:
/// one range read serves the next lookups.
#[divan::bench(sample_count = 20, sample_size = 10_000)]
fn lookup_by_source_key_in_order(bencher: divan::Bencher) {
    let store = store();
    let ns = ns();
    let mut reader = LinkReader::new(store, &ns);
    let mut n = 0u64;
    bencher.bench_local(|| {
        n = (n + 1) % ENTRIES;
        reader.link(&format!("SKU-{n:08}")).expect("read")
    });
}

/// A run that looks up every key once, in random order, through the runtime's reader (which
/// builds its in-memory index as it goes): the whole pass, per lookup.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn full_pass_random_order(bencher: divan::Bencher) {
    random_pass(bencher, ENTRIES);
}

/// An incremental run: 10k keys in random order through a fresh reader (most of the map is
/// never loaded).
#[divan::bench(sample_count = 20, sample_size = 1)]
fn short_run_random_order(bencher: divan::Bencher) {
    random_pass(bencher, 10_000);
}

fn random_pass(bencher: divan::Bencher, lookups: u64) {
    let store = store();
    let ns = ns();
    let mut start = 0u64;
    bencher
        .counter(divan::counter::ItemsCount::new(lookups))
        .bench_local(|| {
            start += lookups;
            let mut reader = LinkReader::new(store, &ns);
            for n in start..start + lookups {
                reader.link(&key(n)).expect("read");
            }
        });
}

/// The rest of a long run in random order: lookups once the reader's index holds the map.
#[divan::bench(sample_count = 20, sample_size = 10_000)]
fn random_order_after_full_pass(bencher: divan::Bencher) {
    let store = store();
    let ns = ns();
    let mut reader = LinkReader::new(store, &ns);
    for n in 0..ENTRIES {
        reader.link(&key(n)).expect("read");
    }
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        reader.link(&key(n)).expect("read")
    });
}
