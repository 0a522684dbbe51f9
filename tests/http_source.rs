//! Reading HTTP APIs: every pagination kind against a double shaped like the API that uses it,
//! the traps that must end paging (empty page, short page, repeated page, repeated token,
//! `has_more: false`, `max_pages`), keyed lists, and an incremental cursor across runs.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::Workdir;
use common::api::{Api, Reply, param};
use serde_json::{Value, json};

/// `total` items `{"id": n}`, n from 1.
fn items(from: u64, to: u64) -> Vec<Value> {
    (from..to).map(|n| json!({"id": n + 1})).collect()
}

/// Runs a pipeline reading `source` (YAML of the `from.http` block) into out.ndjson; returns
/// the ids written.
fn pull(api: &Api, source: &str) -> Vec<u64> {
    pulled(api, source, "")
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

/// Runs a pipeline reading `source`, then `steps` (YAML of the job's `steps` and `map`), into
/// out.ndjson; returns the records written.
fn pulled(api: &Api, source: &str, steps: &str) -> Vec<Value> {
    let w = Workdir::new();
    let pipeline = format!(
        r#"version: 1
name: pull
connections:
  api:
    http: {{ base_url: "{url}" }}
jobs:
  items:
    from:
      http:
        connection: api
{source}
{steps}
    to: {{ file: {{ path: out.ndjson }} }}
"#,
        url = api.url,
        source = indent(source)
    );
    w.write("p.yaml", pipeline);
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    w.ndjson("out.ndjson")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("        {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn all(n: u64) -> Vec<u64> {
    (1..=n).collect()
}

fn number(request: &common::api::Request, name: &str, default: u64) -> u64 {
    param(request, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn page_numbers_with_a_total_pages_header_woocommerce() {
    let api = Api::start(|r, _| {
        let (page, size) = (number(r, "page", 1), number(r, "per_page", 10));
        let total = 250u64;
        let from = ((page - 1) * size).min(total);
        Reply::json(Value::Array(items(from, (from + size).min(total))))
            .header("X-WP-Total", total.to_string())
            .header("X-WP-TotalPages", total.div_ceil(size).to_string())
    });
    let ids = pull(
        &api,
        "path: /products\npaginate: { page_number: { size: { per_page: 100 }, total_pages_header: X-WP-TotalPages } }",
    );
    assert_eq!(ids, all(250));
    assert_eq!(api.request_count(), 3, "the header says 3 pages");
}

#[test]
fn page_numbers_with_the_total_in_the_body_ro_app() {
    let api = Api::start(|r, _| {
        let page = number(r, "page", 1);
        let from = ((page - 1) * 50).min(120);
        Reply::json(json!({
            "data": items(from, (from + 50).min(120)),
            "paging": {"total_pages": 3, "count": 120}
        }))
    });
    let ids = pull(
        &api,
        "path: /contacts/people\nrecords: $.data\npaginate: { page_number: { total_pages: $.paging.total_pages } }",
    );
    assert_eq!(ids, all(120));
    assert_eq!(api.request_count(), 3);
}

#[test]
fn offset_and_limit_stop_on_a_short_page() {
    let api = Api::start(|r, _| {
        let (offset, limit) = (number(r, "offset", 0), number(r, "limit", 10));
        Reply::json(json!({"items": items(offset.min(250), (offset + limit).min(250))}))
    });
    let ids = pull(
        &api,
        "path: /items\nrecords: $.items\npaginate: { offset: { offset_param: offset, limit_param: limit, limit: 100 } }",
    );
    assert_eq!(ids, all(250));
    assert_eq!(api.request_count(), 3, "the third page is short");
}

#[test]
fn prefetching_reads_every_page_in_order_and_at_most_one_page_more() {
    let api = Api::start(|r, _| {
        let (offset, limit) = (number(r, "offset", 0), number(r, "limit", 10));
        // Slow pages: the next one is asked for while this one is read.
        std::thread::sleep(std::time::Duration::from_millis(5));
        Reply::json(json!({"items": items(offset.min(950), (offset + limit).min(950))}))
    });
    let ids = pull(
        &api,
        "path: /items\nrecords: $.items\npaginate: { offset: { offset_param: offset, limit_param: limit, limit: 100 } }\nprefetch: true",
    );
    assert_eq!(ids, all(950), "every record once, in order");
    assert_eq!(
        api.request_count(),
        11,
        "10 pages and the one after the short last page"
    );

    // With the number of pages announced in a header, nothing is fetched past the last.
    let api = Api::start(|r, _| {
        let page = number(r, "page", 1);
        let from = ((page - 1) * 100).min(300);
        Reply::json(Value::Array(items(from, (from + 100).min(300)))).header("X-WP-TotalPages", "3")
    });
    let ids = pull(
        &api,
        "path: /products\npaginate: { page_number: { size: { per_page: 100 }, total_pages_header: X-WP-TotalPages } }\nprefetch: true",
    );
    assert_eq!(ids, all(300));
    assert_eq!(api.request_count(), 3);
}

#[test]
fn prestashop_limit_offset_count_stops_on_an_empty_array() {
    // 200 products: two full pages, then PrestaShop's `[]` instead of `{"products": []}`.
    let api = Api::start(|r, _| {
        let limit = param(r, "limit").unwrap_or("0,10");
        let (offset, count) = limit.split_once(',').unwrap();
        let (offset, count): (u64, u64) = (offset.parse().unwrap(), count.parse().unwrap());
        let page = items(offset.min(200), (offset + count).min(200));
        if page.is_empty() {
            Reply::json(json!([]))
        } else {
            Reply::json(json!({ "products": page }))
        }
    });
    let ids = pull(
        &api,
        "path: /products\nquery: { display: full, output_format: JSON }\nrecords: $.products\npaginate: { offset_count: { param: limit, count: 100 } }",
    );
    assert_eq!(ids, all(200));
    assert_eq!(api.request_count(), 3);
    assert_eq!(api.query(2, "limit").as_deref(), Some("200,100"));
    assert_eq!(api.query(2, "display").as_deref(), Some("full"));
}

#[test]
fn a_cursor_from_the_body_until_has_more_is_false() {
    let api = Api::start(|r, _| {
        let after = number(r, "after", 0);
        let to = (after + 40).min(100);
        // The last page still carries a token: only `has_more` says to stop.
        Reply::json(json!({"data": items(after, to), "next": to.to_string(), "has_more": to < 100}))
    });
    let ids = pull(
        &api,
        "path: /events\nrecords: $.data\npaginate: { cursor: { from: $.next, param: after, has_more: $.has_more } }",
    );
    assert_eq!(ids, all(100));
    assert_eq!(api.request_count(), 3);
}

#[test]
fn a_repeated_token_ends_paging() {
    use std::sync::atomic::{AtomicU64, Ordering};
    // A broken API: new records on every call, and always the same token.
    let calls = AtomicU64::new(0);
    let api = Api::start(move |_, _| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        Reply::json(json!({"data": items(n * 2, n * 2 + 2), "next": "same"}))
    });
    let ids = pull(
        &api,
        "path: /events\nrecords: $.data\npaginate: { cursor: { from: $.next, param: token } }",
    );
    // The first page, then the page of token `same`, which gives `same` again: stopped there.
    assert_eq!(ids, all(4));
    assert_eq!(api.request_count(), 2);
}

#[test]
fn a_next_url_from_the_body_and_from_the_link_header() {
    let body = Api::start(|r, base| {
        let page = number(r, "page", 1);
        let next = (page < 3).then(|| format!("{base}/orders?page={}", page + 1));
        Reply::json(json!({"orders": items((page - 1) * 10, page * 10), "next": next}))
    });
    assert_eq!(
        pull(
            &body,
            "path: /orders\nrecords: $.orders\npaginate: { next_url: { from: $.next } }"
        ),
        all(30)
    );
    let header = Api::start(|r, base| {
        let page = number(r, "page", 1);
        let mut reply = Reply::json(Value::Array(items((page - 1) * 10, page * 10)));
        if page < 4 {
            reply = reply.header(
                "Link",
                format!(
                    "<{base}/products?page={}>; rel=\"next\", <{base}/products?page=1>; rel=\"first\"",
                    page + 1
                ),
            );
        }
        reply
    });
    assert_eq!(
        pull(&header, "path: /products\npaginate: { link_header: {} }"),
        all(40)
    );
    assert_eq!(header.request_count(), 4);
}

#[test]
fn a_next_url_elsewhere_is_not_followed() {
    let api = Api::start(|_, _| {
        Reply::json(json!({"data": [{"id": 1}], "next": "http://198.51.100.7/steal?page=2"}))
    });
    let ids = pull(
        &api,
        "path: /orders\nrecords: $.data\npaginate: { next_url: { from: $.next } }",
    );
    assert_eq!(ids, vec![1]);
    assert_eq!(api.request_count(), 1);
}

#[test]
fn an_api_that_ignores_the_page_parameter_is_read_once() {
    let api = Api::start(|_, _| Reply::json(json!({"data": items(0, 50)})));
    let ids = pull(
        &api,
        "path: /items\nrecords: $.data\npaginate: { page_number: { size: { limit: 50 } } }",
    );
    assert_eq!(ids, all(50), "the repeated page is not read again");
    assert_eq!(api.request_count(), 2);
}

#[test]
fn an_endless_api_stops_at_max_pages() {
    let api = Api::start(|r, _| {
        let page = number(r, "page", 1);
        Reply::json(json!({"data": items((page - 1) * 10, page * 10)}))
    });
    let ids = pull(
        &api,
        "path: /items\nrecords: $.data\npaginate: { page_number: { size: { limit: 10 }, max_pages: 5 } }",
    );
    assert_eq!(ids, all(50));
    assert_eq!(api.request_count(), 5);
}

#[test]
fn gomag_lists_keyed_by_id_read_as_records() {
    let api = Api::start(|r, _| {
        let page = number(r, "page", 1);
        if page > 2 {
            return Reply::json(json!({"total": 4, "orders": {}}));
        }
        let first = (page - 1) * 2 + 1;
        Reply::json(json!({"total": 4, "page": page, "orders": {
            first.to_string(): {"id": first, "status": "Comanda noua"},
            (first + 1).to_string(): {"id": first + 1, "status": "Livrata"}
        }}))
    });
    let ids = pull(
        &api,
        "path: /order/read/json\nrecords: $.orders\npaginate: { page_number: { size: { limit: 2 } } }",
    );
    assert_eq!(ids, all(4));
}

type Orders = std::sync::Arc<std::sync::Mutex<Vec<(u64, String)>>>;

/// Orders with an update time; the API filters `date_upd >= since` and pages by 3.
fn orders_api(count: u64) -> (Api, Orders) {
    let orders: Orders = std::sync::Arc::new(std::sync::Mutex::new(
        (1..=count)
            .map(|n| (n, format!("2026-11-01 10:00:{n:02}")))
            .collect(),
    ));
    let data = orders.clone();
    let api = Api::start(move |r, _| {
        let since = param(r, "since").unwrap_or("").to_string();
        let page = number(r, "page", 1);
        let mut found: Vec<Value> = data
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, at)| *at >= since)
            .map(|(id, at)| json!({"id": id, "date_upd": at}))
            .collect();
        found.sort_by_key(|o| o["date_upd"].as_str().unwrap().to_string());
        let page: Vec<Value> = found
            .into_iter()
            .skip(((page - 1) * 3) as usize)
            .take(3)
            .collect();
        Reply::json(json!({ "orders": page }))
    });
    (api, orders)
}

/// A job reading the orders API from its checkpoint, with `cursor_extra` in its cursor.
fn incremental_pipeline(api: &Api, cursor_extra: &str) -> String {
    format!(
        r#"version: 1
name: orders
connections:
  shop:
    http: {{ base_url: "{url}" }}
jobs:
  orders:
    from:
      http:
        connection: shop
        path: /orders
        query: {{ since: "{{cursor}}" }}
        records: $.orders
        paginate: {{ page_number: {{ size: {{ limit: 3 }} }} }}
    cursor: {{ field: $.date_upd, tie_breaker: $.id, initial: "2026-01-01 00:00:00"{cursor_extra} }}
    to: {{ file: {{ path: out.ndjson }} }}
"#,
        url = api.url
    )
}

fn ids(orders: &[Value]) -> Vec<u64> {
    orders.iter().map(|o| o["id"].as_u64().unwrap()).collect()
}

#[test]
fn an_incremental_cursor_reads_only_what_changed_across_pages() {
    let (api, orders) = orders_api(7);
    let w = Workdir::new();
    w.write("p.yaml", incremental_pipeline(&api, ""));
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(w.ndjson("out.ndjson").len(), 7);
    assert_eq!(
        api.query(0, "since").as_deref(),
        Some("2026-01-01 00:00:00")
    );

    // Two orders change; the next run asks from the checkpoint and writes only them.
    orders.lock().unwrap()[1].1 = "2026-11-02 09:00:00".into();
    orders.lock().unwrap()[4].1 = "2026-11-02 09:30:00".into();
    let before = api.request_count();
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        api.query(before, "since").as_deref(),
        Some("2026-11-01 10:00:07")
    );
    assert_eq!(ids(&w.ndjson("out.ndjson")), vec![2, 5]);
}

#[test]
fn a_look_back_asks_the_api_from_that_far_before_the_checkpoint() {
    let (api, orders) = orders_api(7);
    let w = Workdir::new();
    w.write("p.yaml", incremental_pipeline(&api, ", lookback: 10m"));
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");

    // An order committed late: its time is before the checkpoint. Asked only from the
    // checkpoint, the API would never send it.
    orders
        .lock()
        .unwrap()
        .push((8, "2026-11-01 10:00:03".into()));
    let before = api.request_count();
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        api.query(before, "since").as_deref(),
        Some("2026-11-01 09:50:07"),
        "the checkpoint (10:00:07) less 10 minutes, written as the API wrote it"
    );
    let again = ids(&w.ndjson("out.ndjson"));
    assert!(again.contains(&8), "the late order is read: {again:?}");
}

/// Runs a one-job pipeline reading `source` (YAML of `from.http`) into out.ndjson: exit code,
/// what it printed and the records written.
fn pull_outcome(api: &Api, source: &str) -> (i32, String, Vec<Value>) {
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            "version: 1\nname: pull\nconnections:\n  api:\n    http: {{ base_url: \"{}\" }}\njobs:\n  items:\n    from: {{ http: {{ connection: api, {source} }} }}\n    to: {{ file: {{ path: out.ndjson }} }}\n",
            api.url
        ),
    );
    let (code, said) = w.printed(&["run", "p.yaml"]);
    let records = if w.exists("out.ndjson") {
        w.ndjson("out.ndjson")
    } else {
        Vec::new()
    };
    (code, said, records)
}

#[test]
fn an_answer_without_the_records_path_fails_the_job_with_its_message() {
    // An error shaped as a success (JSON-RPC's `{"error": ...}` at HTTP 200, a REST error
    // object) is not "no records": the job fails and says what the API said.
    let api = Api::start(|_, _| {
        Reply::json(json!({"id": 3, "error": ["UserError", ["Invalid domain in search", ""]]}))
    });
    let (code, stderr, records) = pull_outcome(&api, "path: /items, records: $.result");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the answer has no `result`")
            && stderr.contains("UserError: Invalid domain in search"),
        "{stderr}"
    );
    assert!(records.is_empty());
    let api = Api::start(|_, _| Reply::json(json!({"message": "Shop is in maintenance"})));
    let (code, stderr, _) = pull_outcome(&api, "path: /items, records: \"$.data[*]\"");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("Shop is in maintenance"), "{stderr}");
}

#[test]
fn agreed_empty_answers_are_no_records() {
    for empty in [json!([]), json!({"data": []}), json!({"data": null})] {
        let api = Api::start(move |_, _| Reply::json(empty.clone()));
        let (code, stderr, records) = pull_outcome(&api, "path: /items, records: $.data");
        assert_eq!(code, 0, "{stderr}");
        assert!(records.is_empty());
    }
}

#[test]
fn a_detail_path_that_matches_several_records_yields_them_all() {
    // An order's lines read from a link: `$[*]` over a list of two is two records, not the first.
    let api = Api::start(|r, _| {
        if r.path == "/api/orders" {
            return Reply::json(json!([{"id": 1}, {"id": 2}]));
        }
        let id: u64 = r.path.split('/').nth(3).unwrap().parse().unwrap();
        Reply::json(json!([
            {"order": id, "sku": format!("A{id}")},
            {"order": id, "sku": format!("B{id}")}
        ]))
    });
    for record in ["\"$[*]\"", "$"] {
        let (code, stderr, records) = pull_outcome(
            &api,
            &format!(
                "path: /orders, detail: {{ request: {{ path: \"/orders/{{id}}/lines\" }}, record: {record} }}"
            ),
        );
        assert_eq!(code, 0, "{stderr}");
        let skus: Vec<&str> = records.iter().map(|r| r["sku"].as_str().unwrap()).collect();
        assert_eq!(skus, ["A1", "B1", "A2", "B2"], "record: {record}");
    }
}

#[test]
fn a_map_field_over_a_path_that_may_match_many_holds_every_match() {
    let api = Api::start(|_, _| {
        Reply::json(json!({"orders": [
            {"id": 1, "lines": [{"sku": "A"}, {"sku": "B"}]},
            {"id": 2, "lines": [{"sku": "C"}]},
            {"id": 3, "lines": []}
        ]}))
    });
    let out = pulled(
        &api,
        "path: /orders\nrecords: $.orders",
        "    map:\n      id: $.id\n      skus: $.lines[*].sku",
    );
    let skus: Vec<Value> = out.iter().map(|r| r["skus"].clone()).collect();
    assert_eq!(skus, [json!(["A", "B"]), json!(["C"]), json!([])]);
}

#[test]
fn each_listed_record_is_read_again_when_the_list_holds_only_ids() {
    let api = Api::start(|r, _| {
        if r.path == "/api/orders" {
            return Reply::json(json!({"orders": [{"id": 1}, {"id": 2}, {"id": 3}]}));
        }
        let id: u64 = r.path.rsplit('/').next().unwrap().parse().unwrap();
        if id == 2 {
            return Reply {
                status: 404,
                headers: Vec::new(),
                body: json!({"message": "order 2 was deleted"}).to_string(),
            };
        }
        Reply::json(
            json!({"order": {"id": id, "items": [{"sku": format!("S{id}"), "quantity": 1}]}}),
        )
    });
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            r#"version: 1
name: detail
connections:
  api:
    http: {{ base_url: "{url}" }}
jobs:
  orders:
    from:
      http:
        connection: api
        path: /orders
        records: $.orders
        detail: {{ request: {{ path: "/orders/{{id}}" }}, record: $.order }}
    to: {{ file: {{ path: out.ndjson }} }}
"#,
            url = api.url
        ),
    );
    let (code, report) = w.run("p.yaml", &[]);
    assert_eq!(code, 3, "one order quarantined: {report:#}");
    let orders = w.ndjson("out.ndjson");
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[1]["items"][0]["sku"], "S3");
    let job = common::job(&report, "orders");
    assert!(
        job["reasons"].to_string().contains("order 2 was deleted"),
        "{report:#}"
    );
}

#[test]
fn a_mapped_job_whose_records_are_parsed_in_part_still_pages_by_the_body() {
    // The job reads `id` and `sku` only, so its records are parsed without `notes` (see
    // connectors::project); the page's token, `has_more` and total sit beside the records,
    // and the records path is two names deep.
    let api = Api::start(|r, _| {
        let after = number(r, "after", 0);
        let to = (after + 40).min(100);
        let records: Vec<Value> = (after..to)
            .map(|n| json!({"id": n + 1, "sku": format!("S{}", n + 1), "notes": {"long": "x"}}))
            .collect();
        Reply::json(json!({
            "result": {"records": records, "total": 100},
            "next": to.to_string(),
            "has_more": to < 100
        }))
    });
    let out = pulled(
        &api,
        "path: /events\nrecords: $.result.records\npaginate: { cursor: { from: $.next, param: after, has_more: $.has_more } }",
        "    steps:\n      - filter: rec.id > 10\n    map:\n      reference: $.sku",
    );
    assert_eq!(out.len(), 90);
    assert_eq!(out[0], json!({"reference": "S11"}));
    assert_eq!(out[89], json!({"reference": "S100"}));
    assert_eq!(api.request_count(), 3);
}

/// A forwarding HTTP proxy on loopback: each request it gets in absolute form (`GET
/// http://host:port/path HTTP/1.1`) goes on to its host, and the answer comes back. Returns
/// its URL and the targets of the requests it forwarded.
fn forwarding_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let seen = forwarded.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut requests = BufReader::new(client.try_clone().unwrap());
                let mut answers = client;
                while let Some((head, body)) = read_message(&mut requests) {
                    let (request_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
                    let mut parts = request_line.splitn(3, ' ');
                    let (method, target, version) = (
                        parts.next().unwrap_or_default(),
                        parts.next().unwrap_or_default(),
                        parts.next().unwrap_or_default(),
                    );
                    // Only a request meant for a proxy names its host.
                    let Some(after) = target.strip_prefix("http://") else {
                        return;
                    };
                    let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
                    seen.lock().unwrap().push(target.to_string());
                    let mut upstream = TcpStream::connect(host).unwrap();
                    let request = format!("{method} {path} {version}\r\n{headers}\r\n");
                    upstream.write_all(request.as_bytes()).unwrap();
                    upstream.write_all(&body).unwrap();
                    let Some((head, body)) = read_message(&mut BufReader::new(upstream)) else {
                        return;
                    };
                    if answers.write_all(format!("{head}\r\n").as_bytes()).is_err()
                        || answers.write_all(&body).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, forwarded)
}

/// An HTTP message's head (its lines with their line ends, up to the blank line) and its body
/// of `Content-Length` bytes.
fn read_message(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

#[test]
fn an_api_is_reached_through_the_proxy_the_environment_names() {
    let api = Api::start(|r, _| {
        let page = number(r, "page", 1);
        Reply::json(Value::Array(if page <= 3 {
            items((page - 1) * 2, page * 2)
        } else {
            Vec::new()
        }))
    });
    let (proxy, forwarded) = forwarding_proxy();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            "version: 1\nname: proxied\nconnections:\n  api:\n    http: {{ base_url: \"{}\" }}\njobs:\n  items:\n    from: {{ http: {{ connection: api, path: /items, paginate: {{ page_number: {{}} }} }} }}\n    to: {{ file: {{ path: out.ndjson }} }}\n",
            api.url
        ),
    );
    let (code, report) = w.run_with_env("p.yaml", &[], &[("HTTP_PROXY", &proxy)]);
    assert_eq!(code, 0, "{report:#}");
    let ids: Vec<u64> = w
        .ndjson("out.ndjson")
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, all(6));
    let forwarded = forwarded.lock().unwrap();
    assert_eq!(
        forwarded.len(),
        4,
        "four pages, each through the proxy: {forwarded:?}"
    );
    assert_eq!(api.request_count(), 4);
    assert!(
        forwarded
            .iter()
            .all(|target| target.starts_with(&format!("{}/items?page=", api.url))),
        "{forwarded:?}"
    );
}

/// A SOCKS5 proxy on loopback (no authentication, CONNECT only): each connection it is asked
/// for is opened and the bytes relayed both ways. Returns its URL and the count of connections
/// it opened.
fn socks5_proxy() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("socks5://{}", listener.local_addr().unwrap());
    let opened = Arc::new(Mutex::new(0));
    let counted = opened.clone();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut greeting = [0u8; 2];
                client.read_exact(&mut greeting).unwrap();
                let mut methods = vec![0u8; greeting[1] as usize];
                client.read_exact(&mut methods).unwrap();
                client.write_all(&[5, 0]).unwrap();
                let mut request = [0u8; 4];
                client.read_exact(&mut request).unwrap();
                let host = match request[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        client.read_exact(&mut ip).unwrap();
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut length = [0u8; 1];
                        client.read_exact(&mut length).unwrap();
                        let mut name = vec![0u8; length[0] as usize];
                        client.read_exact(&mut name).unwrap();
                        String::from_utf8(name).unwrap()
                    }
                    other => panic!("address type {other}"),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port).unwrap();
                let upstream =
                    TcpStream::connect((host.as_str(), u16::from_be_bytes(port))).unwrap();
                *counted.lock().unwrap() += 1;
                client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
                let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
                let (mut client_read, mut client_write) = (client.try_clone().unwrap(), client);
                std::thread::spawn(move || std::io::copy(&mut up_read, &mut client_write));
                let _ = std::io::copy(&mut client_read, &mut up_write);
            });
        }
    });
    (url, opened)
}

#[test]
fn an_api_is_reached_through_a_socks5_proxy_all_proxy_names() {
    let api = Api::start(|r, _| {
        let page = number(r, "page", 1);
        Reply::json(Value::Array(if page <= 2 {
            items((page - 1) * 2, page * 2)
        } else {
            Vec::new()
        }))
    });
    let (proxy, opened) = socks5_proxy();
    let w = Workdir::new();
    w.write(
        "p.yaml",
        format!(
            "version: 1\nname: socks\nconnections:\n  api:\n    http: {{ base_url: \"{}\" }}\njobs:\n  items:\n    from: {{ http: {{ connection: api, path: /items, paginate: {{ page_number: {{}} }} }} }}\n    to: {{ file: {{ path: out.ndjson }} }}\n",
            api.url
        ),
    );
    let (code, report) = w.run_with_env("p.yaml", &[], &[("ALL_PROXY", &proxy)]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(w.ndjson("out.ndjson").len(), 4);
    assert_eq!(api.request_count(), 3);
    // The requests went on a connection the proxy opened for them.
    assert!(
        *opened.lock().unwrap() >= 1,
        "no connection through the proxy"
    );
}
