//! HTTPS: an API behind TLS, its certificate from an authority of the client's own (the
//! fixtures in `tests/fixtures/tls`: a test authority, and its certificate for `localhost` and
//! 127.0.0.1, valid until 2126; made with `openssl req -x509` and `openssl x509 -req`).
//! Trusted with the connection's `tls.ca_file`, refused without it, and read page after page
//! on one kept-alive TLS connection.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::api::param;
use common::shop::read_request;
use common::{Workdir, job, repo_root};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// An HTTPS API on loopback: `GET /api/products?page=N` gives pages 1 to 3 of two products,
/// then an empty one. Returns its base URL (by `host`) and the count of TLS connections.
fn https_api(host: &str) -> (String, Arc<AtomicUsize>) {
    let fixtures = repo_root().join("tests/fixtures/tls");
    let chain = vec![CertificateDer::from_pem_file(fixtures.join("server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(fixtures.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://{host}:{}/api",
        listener.local_addr().unwrap().port()
    );
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(session) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut reader = BufReader::new(rustls::StreamOwned::new(session, stream));
                while let Some(request) = read_request(&mut reader) {
                    let page: u64 = param(&request, "page")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1);
                    let products: Vec<_> = if page <= 3 {
                        (1..=2)
                            .map(|i| serde_json::json!({"id": (page - 1) * 2 + i}))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let body = serde_json::json!({ "products": products }).to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let tls = reader.get_mut();
                    if tls
                        .write_all(answer.as_bytes())
                        .and_then(|()| tls.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

fn pipeline(url: &str, tls: &str) -> String {
    format!(
        r#"version: 1
name: tls
connections:
  shop:
    http:
      base_url: "{url}"
{tls}
jobs:
  products:
    from:
      http:
        connection: shop
        path: /products
        records: $.products
        paginate: {{ page_number: {{ param: page }} }}
    to: {{ file: {{ path: out.ndjson }} }}
"#
    )
}

fn workdir_with_the_authority() -> Workdir {
    let w = Workdir::new();
    let ca = std::fs::read(repo_root().join("tests/fixtures/tls/ca.pem")).unwrap();
    w.write("certs/ca.pem", ca);
    w
}

#[test]
fn an_api_whose_certificate_comes_from_the_clients_own_authority_is_read_with_tls_ca_file() {
    for host in ["localhost", "127.0.0.1"] {
        let (url, connections) = https_api(host);
        let w = workdir_with_the_authority();
        w.write(
            "p.yaml",
            pipeline(&url, "      tls: { ca_file: certs/ca.pem }"),
        );
        let (code, report) = w.run("p.yaml", &[]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(job(&report, "products")["written"], 6, "{report:#}");
        let ids: Vec<u64> = w
            .ndjson("out.ndjson")
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
        // Four pages on one connection: TLS connections are kept alive too.
        assert_eq!(connections.load(Ordering::SeqCst), 1, "{host}");
    }
}

#[test]
fn without_the_authority_the_certificate_is_refused_and_the_run_says_why() {
    let (url, _) = https_api("localhost");
    let w = Workdir::new();
    w.write("p.yaml", pipeline(&url, ""));
    let (code, report) = w.run("p.yaml", &[]);
    assert_ne!(code, 0, "{report:#}");
    let reason = job(&report, "products")["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("invalid peer certificate"), "{report:#}");
    assert!(
        reason.contains("tls.ca_file"),
        "the way out is named: {reason}"
    );
    // Not retried: a certificate does not become trusted by asking again (the connection's
    // retry policy would wait 12 s in all).
    assert!(
        job(&report, "products")["seconds"].as_f64().unwrap() < 5.0,
        "{report:#}"
    );
    assert!(!w.exists("out.ndjson") || w.ndjson("out.ndjson").is_empty());
}

#[test]
fn a_ca_file_missing_or_without_a_certificate_is_reported_by_name() {
    let (url, _) = https_api("localhost");
    let w = Workdir::new();
    w.write(
        "p.yaml",
        pipeline(&url, "      tls: { ca_file: certs/ca.pem }"),
    );
    let (code, text) = w.printed(&["run", "p.yaml"]);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("tls.ca_file: cannot read") && text.contains("ca.pem"),
        "{text}"
    );

    w.write("certs/ca.pem", "not a certificate\n");
    let (code, text) = w.printed(&["run", "p.yaml"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("holds no certificate"), "{text}");
}
