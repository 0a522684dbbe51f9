//! A REST API whose resources link to each other by URL, as Django REST framework's
//! `HyperlinkedModelSerializer` writes them: every object has its own `url`, a relation is the
//! related object's absolute URL (`HyperlinkedRelatedField.to_representation` ->
//! `request.build_absolute_uri(reverse(...))`, with the trailing `/` of DRF's routers), and a
//! list is paged as `PageNumberPagination.get_paginated_response` does: `{"count", "next",
//! "previous", "results"}` with `next` an absolute URL or null.
//!
//! Orders link to their customer and to their lines (a list at its own URL); lines link to
//! their product.

use serde_json::{Value, json};

use super::api::{Api, Reply};

/// An order: its reference, its customer's id, its lines as (product id, quantity).
pub type Order = (String, u64, Vec<(u64, u64)>);

/// The orders; the products as `(id, sku)`.
pub struct Catalog {
    pub orders: Vec<Order>,
    pub products: Vec<(u64, String)>,
    /// Orders per page.
    pub page_size: usize,
}

pub fn start(catalog: Catalog) -> Api {
    Api::start(move |request, base| {
        let path = request.path.trim_start_matches("/api");
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["orders"] => {
                let page: usize = super::api::param(request, "page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                let from = (page - 1) * catalog.page_size;
                let results: Vec<Value> = catalog
                    .orders
                    .iter()
                    .enumerate()
                    .skip(from)
                    .take(catalog.page_size)
                    .map(|(n, (reference, customer, _))| {
                        json!({
                            "url": format!("{base}/orders/{}/", n + 1),
                            "reference": reference,
                            "customer": format!("{base}/customers/{customer}/"),
                            "lines": format!("{base}/orders/{}/lines/", n + 1),
                        })
                    })
                    .collect();
                let more = from + catalog.page_size < catalog.orders.len();
                Reply::json(json!({
                    "count": catalog.orders.len(),
                    "next": more.then(|| format!("{base}/orders/?page={}", page + 1)),
                    "previous": (page > 1).then(|| format!("{base}/orders/?page={}", page - 1)),
                    "results": results,
                }))
            }
            ["orders", n, "lines"] => {
                let Some((_, _, lines)) = n
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| catalog.orders.get(n.wrapping_sub(1)))
                else {
                    return not_found();
                };
                let lines: Vec<Value> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, (product, quantity))| {
                        json!({
                            "url": format!("{base}/order-lines/{n}{i}/"),
                            "product": format!("{base}/products/{product}/"),
                            "quantity": quantity,
                        })
                    })
                    .collect();
                Reply::json(Value::Array(lines))
            }
            ["products", id] => match catalog.products.iter().find(|(p, _)| p.to_string() == *id) {
                Some((id, sku)) => Reply::json(json!({
                    "url": format!("{base}/products/{id}/"),
                    "sku": sku,
                })),
                None => not_found(),
            },
            _ => not_found(),
        }
    })
}

/// DRF's `NotFound`.
fn not_found() -> Reply {
    Reply::status(404, json!({"detail": "Not found."}))
}
