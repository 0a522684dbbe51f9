//! The status page in a real headless Chromium (Debian's `chromium` and `chromium-driver`, over
//! WebDriver): a `review: true` job's pending change is seen, its Apply is refused without the
//! token, and once signed in it writes exactly that change to the target double. Without the
//! browser the test says SKIPPED; under CI (`CI=true`) it fails instead.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Workdir;
use common::served::{Served, TOKEN, free_port};
use common::shop::{Shop, products_pipeline};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn driver() -> Option<Driver> {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{CHROMEDRIVER} or {CHROMIUM} is missing: .ci/run installs chromium and chromium-driver"
        );
        eprintln!(
            "SKIPPED: the status page's browser test needs Debian's chromium and chromium-driver \
             (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver { child, port };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(driver)
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": CHROMIUM,
            // As root in a container, with no network beyond loopback: no sandbox, no
            // background traffic.
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in Chromium")
}

/// The page's text once the element at `xpath` is on it (the page a form led to).
async fn text_once(page: &Client, xpath: &str) -> String {
    page.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"));
    page.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn a_pending_change_is_applied_from_the_page_and_only_with_the_token() {
    let Some(driver) = driver() else {
        return;
    };
    let shop = Shop::start();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        products_pipeline(&shop.url, "", "    review: true\n"),
    );
    w.write("products.csv", "ref,name\nA1,Alpha\nB2,Beta\n");
    let served = Served::start(&w, &[]);
    let run = "/api/pipelines/shop-sync/jobs/products/run";
    assert_eq!(served.post(run, Some(TOKEN), None).0, 202);
    served.wait_for("two pending changes", |s| s.job("products")["pending"] == 2);
    let job_page = served.url("/pipelines/shop-sync/jobs/products");
    let home = served.url("/");
    let profile = w.path("chromium-profile");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (refused, applied) = runtime.block_on(async {
        let page = browser(&driver, &profile).await;
        // The pending change is on the page, with its fields.
        page.goto(&job_page).await.unwrap();
        let row = page
            .find(Locator::Css(r#"tr.change[data-key="B2"]"#))
            .await
            .unwrap();
        let row_text = row.text().await.unwrap();
        assert!(row_text.contains("create"), "{row_text}");
        assert!(row_text.contains("Beta"), "{row_text}");
        // Apply without signing in: refused.
        row.find(Locator::Css("button.apply"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let refused = text_once(&page, "//h1[text()='Not signed in']").await;
        // Sign in, then Apply this one change.
        page.goto(&home).await.unwrap();
        page.find(Locator::Id("token"))
            .await
            .unwrap()
            .send_keys(TOKEN)
            .await
            .unwrap();
        page.find(Locator::Id("sign-in"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        text_once(&page, "//nav[contains(., 'signed in')]").await;
        page.goto(&job_page).await.unwrap();
        page.find(Locator::Css(r#"tr.change[data-key="B2"] button.apply"#))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let applied = text_once(&page, "//h1[contains(., 'applied')]").await;
        page.close().await.unwrap();
        (refused, applied)
    });
    assert!(
        refused.contains("Refused: sign in with the token first"),
        "{refused}"
    );
    assert!(
        applied.contains("B2") && applied.contains("applied"),
        "{applied}"
    );
    // Exactly that write reached the shop; A1 still waits.
    let writes = shop.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].method, "POST");
    assert_eq!(writes[0].body["reference"], "B2");
    assert_eq!(writes[0].body["name"], "Beta");
    assert_eq!(served.job("products")["pending"], 1);
    let (code, log) = served.terminate();
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}
