//! Benchmark helpers (see BENCHMARKS.md):
//! - `catalog N FILE`: N realistic product records as NDJSON (the shape of
//!   shared/reference/benchmarks.md);
//! - `orders N FILE`: N shop orders with 1 to 5 lines each (PrestaShop's shape:
//!   `current_state`, `associations.order_rows`);
//! - `baseline IN OUT`: parses and re-serialises an NDJSON file with serde_json alone, the
//!   limit syncline's mapping path is compared with;
//! - `shop [DELAY_MS]`: the shop double of the tests on loopback until killed (the state and
//!   push benchmarks write to it), each answer delayed as a real server's would be when
//!   DELAY_MS is given;
//! - `pages FILE.ndjson SIZE DIR`: the records of FILE as the page files of the reference
//!   catalog API; `fetch URL raw|parse` reads every page of it with a plain sequential client,
//!   the limit the HTTP source is compared with;
//! - `put URL N THREADS [raw]`: creates N products on the shop double, then times N updates
//!   sent by THREADS plain clients (the double's own throughput, which the push benchmark is
//!   compared with), through syncline's HTTP client or, with `raw`, hand-written HTTP/1.1 (the
//!   double's throughput with a client that costs next to nothing).

use std::io::{BufRead, BufReader, BufWriter, Write};

use syncline::config::model::{HttpConnection, Method};
use syncline::connectors::http::{Call, HttpClient};

// The shop double of the end-to-end tests, shared rather than copied.
#[allow(dead_code)]
#[path = "../../tests/common/api.rs"]
mod api;
#[allow(dead_code)]
#[path = "../../tests/common/shop.rs"]
mod shop;

// The same allocator as syncline, so the baseline is measured on equal terms.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("catalog") if args.len() == 4 => args[2]
            .parse()
            .map_err(|e| format!("{e}"))
            .and_then(|n| catalog(n, &args[3])),
        Some("orders") if args.len() == 4 => args[2]
            .parse()
            .map_err(|e| format!("{e}"))
            .and_then(|n| orders(n, &args[3])),
        Some("baseline") if args.len() == 4 => baseline(&args[2], &args[3]),
        Some("shop") if args.len() <= 3 => match answer_delay(args.get(2)) {
            Ok(delay) => {
                let shop = shop::Shop::start();
                shop.set_delay(delay);
                println!("{}", shop.url);
                loop {
                    std::thread::park();
                }
            }
            Err(e) => Err(e),
        },
        Some("pages") if args.len() == 5 => args[3]
            .parse()
            .map_err(|e| format!("{e}"))
            .and_then(|size| page_files(&args[2], size, &args[4])),
        Some("fetch") if args.len() == 4 => fetch(&args[2], &args[3]),
        Some("put") if (5..=6).contains(&args.len()) => {
            match (args[3].parse(), args[4].parse(), args.get(5).map(String::as_str)) {
                (Ok(n), Ok(threads), None) => put(&args[2], n, threads, false),
                (Ok(n), Ok(threads), Some("raw")) => put(&args[2], n, threads, true),
                _ => Err("put URL N THREADS [raw]".to_string()),
            }
        }
        _ => Err(
            "usage: syncline-bench catalog N FILE | orders N FILE | baseline IN.ndjson OUT.ndjson | shop [DELAY_MS] | pages FILE.ndjson SIZE DIR | fetch URL raw|parse | put URL N THREADS [raw]"
                .to_string(),
        ),
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// `shop`'s DELAY_MS (fractions allowed): a real server's time per request.
fn answer_delay(ms: Option<&String>) -> Result<std::time::Duration, String> {
    let Some(ms) = ms else {
        return Ok(std::time::Duration::ZERO);
    };
    ms.parse::<f64>()
        .map_err(|e| e.to_string())
        .and_then(|ms| {
            std::time::Duration::try_from_secs_f64(ms / 1000.0).map_err(|e| e.to_string())
        })
        .map_err(|e| format!("shop [DELAY_MS]: {ms}: {e}"))
}

/// A small deterministic generator (xorshift), so every run measures the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn catalog(n: u64, path: &str) -> Result<(), String> {
    let brands = [
        "Alpenhaus",
        "Nordlicht",
        "Casa Verde",
        "Maison Blanche",
        "Rio Claro",
        "Dacia Craft",
    ];
    let tiers = ["Premium", "Classic", "Essential", "Organic", "Heritage"];
    let items = [
        "cotton T-shirt",
        "wool sweater",
        "linen shirt",
        "denim jacket",
        "canvas tote",
        "leather belt",
        "silk scarf",
    ];
    let extras = [
        "with embroidered logo",
        "in recycled fibres",
        "regular fit",
        "slim fit",
        "limited edition",
        "made in Portugal",
    ];
    let colors = ["natural", "black", "navy", "olive", "terracotta", "sand"];
    let sizes = ["XS", "S", "M", "L", "XL", "one size"];
    let notes = [
        "soft touch, easy care, machine wash 30",
        "breathable weave, pre-shrunk, tumble dry low",
        "responsibly sourced, garment dyed in small batches",
        "reinforced seams, colour-fast, iron on reverse",
    ];
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for id in 1..=n {
        let status = match rng.below(100) {
            0..60 => "active",
            60..85 => "dormant",
            _ => "discontinued",
        };
        let cents = 100 + rng.below(50_000_000);
        // Prices with 6 decimals; a fifth of them with only 4 significant ones.
        let price = if rng.below(5) == 0 {
            format!("{}.{:04}00", cents / 10_000, cents % 10_000)
        } else {
            format!("{}.{:06}", cents / 1_000_000, cents % 1_000_000)
        };
        let record = serde_json::json!({
            "id": id,
            "sku": format!("SKU-{id:06}"),
            "ean13": format!("{}", 1_000_000_000_000u64 + rng.below(8_999_999_999_999)),
            "name": format!("{} {} {} {}, {}", rng.pick(&brands), rng.pick(&tiers), rng.pick(&items), rng.pick(&extras), rng.pick(&notes)),
            "price": price,
            "stock": rng.below(5000),
            "status": status,
            "category_id": 1 + rng.below(400),
            "updated_at": format!("2025-{:02}-{:02} {:02}:{:02}:{:02}", 1 + rng.below(12), 1 + rng.below(28), rng.below(24), rng.below(60), rng.below(60)),
            "attributes": { "color": rng.pick(&colors), "size": rng.pick(&sizes) },
        });
        serde_json::to_writer(&mut out, &record).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn orders(n: u64, path: &str) -> Result<(), String> {
    let states = ["2", "2", "3", "4", "5", "6", "10"];
    let mut rng = Rng(0x0dde_4501_7e57_beef);
    let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for id in 1..=n {
        let rows: Vec<serde_json::Value> = (0..1 + rng.below(5))
            .map(|_| {
                let product = 1 + rng.below(100_000);
                serde_json::json!({
                    "product_id": product,
                    "product_reference": format!("SKU-{product:06}"),
                    "product_quantity": 1 + rng.below(4),
                    "unit_price_tax_excl": format!("{}.{:06}", 1 + rng.below(300), rng.below(1_000_000)),
                })
            })
            .collect();
        let record = serde_json::json!({
            "id": id,
            "reference": format!("WEB{id:08}"),
            "id_customer": 1 + rng.below(20_000),
            "current_state": rng.pick(&states),
            "payment": "Carte bancaire",
            "total_paid": format!("{}.{:02}", 10 + rng.below(900), rng.below(100)),
            "date_add": format!("2025-{:02}-{:02} {:02}:{:02}:00", 1 + rng.below(12), 1 + rng.below(28), rng.below(24), rng.below(60)),
            "associations": { "order_rows": rows },
        });
        serde_json::to_writer(&mut out, &record).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn baseline(input: &str, output: &str) -> Result<(), String> {
    let reader = BufReader::with_capacity(
        256 * 1024,
        std::fs::File::open(input).map_err(|e| format!("{input}: {e}"))?,
    );
    let mut out = BufWriter::with_capacity(
        256 * 1024,
        std::fs::File::create(output).map_err(|e| format!("{output}: {e}"))?,
    );
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| e.to_string())?;
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(&line).map_err(|e| e.to_string())?;
        serde_json::to_writer(&mut out, &value).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

/// Writes the records of `path` as the page files of the reference catalog API, `DIR/K.json`
/// for K = 1..=T+1: `{"products":[...],"page":K,"total_pages":T}`, the page after the last with
/// an empty list. A static server (nginx in benches/http/run.sh) serves them as
/// `/products?page=K`, so the server costs the same to both clients and next to nothing.
fn page_files(path: &str, size: usize, dir: &str) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let pages: Vec<&[String]> = lines.chunks(size.max(1)).collect();
    let total = pages.len();
    for (number, records) in pages.iter().chain([&[][..]].iter()).enumerate() {
        let page = number + 1;
        let body = format!(
            r#"{{"products":[{}],"page":{page},"total_pages":{total}}}"#,
            records.join(",")
        );
        let file = format!("{dir}/{page}.json");
        std::fs::write(&file, body).map_err(|e| format!("{file}: {e}"))?;
    }
    println!("{total} pages of {size} in {dir}");
    Ok(())
}

/// The plain sequential keep-alive client the pull is compared with: reads
/// `URL/products?page=K` for K = 1, 2... until a page lists no product, with reqwest on a
/// runtime of its thread's own. `raw` only reads each answer (the limit of
/// shared/reference/benchmarks.md), `parse` also parses it as JSON.
fn fetch(url: &str, mode: &str) -> Result<(), String> {
    let parse = match mode {
        "raw" => false,
        "parse" => true,
        _ => return Err("fetch URL raw|parse".to_string()),
    };
    let started = std::time::Instant::now();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| e.to_string())?;
    let (mut pages, mut records) = (0usize, 0usize);
    loop {
        let page_url = format!("{url}/products?page={}", pages + 1);
        let body = runtime
            .block_on(async { client.get(page_url).send().await?.bytes().await })
            .map_err(|e| e.to_string())?;
        pages += 1;
        if parse {
            let page: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            match page["products"].as_array().map_or(0, Vec::len) {
                0 => break,
                count => records += count,
            }
        } else if body.starts_with(br#"{"products":[]"#) {
            // Raw: the answers are only read, the empty list found by its first bytes.
            break;
        }
    }
    println!(
        "plain client ({mode}): {pages} pages{} in {:.3} s",
        if parse {
            format!(", {records} records")
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates `n` products (not timed), then sends one update to each from `threads` threads,
/// each with a keep-alive connection of its own: through syncline's HTTP client, or `raw`,
/// each request written at once and its answer read by hand (what the double serves when the
/// client costs next to nothing). Counts the answers that are not 200.
fn put(url: &str, n: usize, threads: usize, raw: bool) -> Result<(), String> {
    let connection: HttpConnection = serde_json::from_value(
        serde_json::json!({ "base_url": url, "concurrency": threads.max(1) }),
    )
    .map_err(|e| e.to_string())?;
    let client = HttpClient::new(
        "bench",
        &connection,
        &Default::default(),
        std::path::Path::new("."),
    )
    .map_err(|e| e.to_string())?;
    let call = |method: Method, path: String, body: serde_json::Value| Call {
        method,
        path,
        query: Vec::new(),
        headers: Vec::new(),
        body: Some(body.to_string().into_bytes()),
        content_type: "application/json",
        repeatable: true,
        rpc: None,
        secret: false,
    };
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let body = serde_json::json!({"reference": format!("PLAIN-{i}"), "price": 10});
        let created = client
            .send(&call(Method::Post, "/products".into(), body))
            .map_err(|e| e.to_string())?
            .json()
            .map_err(|e| e.to_string())?;
        ids.push(created["product"]["id"].as_u64().unwrap_or(0));
    }
    let (host, base) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .ok_or("put needs a URL http://HOST:PORT/PATH")?;
    let started = std::time::Instant::now();
    let cpu_before = cpu_seconds();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let mut connection = None;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    let body = serde_json::json!({"reference": format!("PLAIN-{i}"), "price": 12});
                    let ok = if raw {
                        let path = format!("/{base}/products/{id}");
                        raw_put(&mut connection, host, &path, &body.to_string())
                            .is_ok_and(|s| s == 200)
                    } else {
                        client
                            .send(&call(Method::Put, format!("/products/{id}"), body))
                            .is_ok_and(|r| r.status == 200)
                    };
                    if !ok {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    println!(
        "plain clients{}: {n} updates from {threads} threads in {seconds:.3} s = {:.0} updates/s ({} failed; client CPU {:.1} µs an update)",
        if raw { " (raw)" } else { "" },
        n as f64 / seconds,
        failed.into_inner(),
        cpu * 1e6 / n as f64
    );
    Ok(())
}

/// The CPU time (user and system) this process has used, from `/proc/self/stat` (in clock
/// ticks, 100 a second on Linux): 0 where there is none.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's name, which may hold spaces: utime and stime are the
    // 14th and 15th of the line.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|t| t.parse::<f64>().ok());
    ticks(11)
        .zip(ticks(12))
        .map_or(0.0, |(user, system)| (user + system) / 100.0)
}

/// One PUT on a kept-alive connection, written at once; the answer read up to its
/// Content-Length. Returns the status.
fn raw_put(
    connection: &mut Option<std::net::TcpStream>,
    host: &str,
    path: &str,
    body: &str,
) -> Result<u16, String> {
    use std::io::Read;
    let stream = match connection {
        Some(stream) => stream,
        None => {
            let stream = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            connection.insert(stream)
        }
    };
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if read == 0 {
            return Err("the connection closed".into());
        }
        answer.extend_from_slice(&chunk[..read]);
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if answer.len() >= end + 4 + length {
            let status = head.get(9..12).and_then(|s| s.parse().ok());
            return status.ok_or_else(|| "no status".to_string());
        }
    }
}
