//! A WooCommerce REST v3 double (shared/reference/apis.md), checked rule by rule against
//! WooCommerce's own source and the WordPress REST server it runs on. Each rule names what it
//! follows: `// WooCommerce: <file> <Class::method>` (files under `plugins/woocommerce/includes/`,
//! `VersionN/` meaning `rest-api/Controllers/VersionN/`) or `// WordPress: <file> <function>`
//! (files under `wp-includes/`).
//!
//! In short: consumer key and secret as Basic auth (or `consumer_key`/`consumer_secret` in the
//! query); `/wp-json/wc/v3/products` and `/orders` with `/{id}` and `/batch`; integer ids;
//! every date twice, in the site's time and `_gmt` (the site is set to UTC+1, so a client that
//! mixes them up is seen); lists paged by `page`/`per_page` (at most 100) with `X-WP-Total`,
//! `X-WP-TotalPages` and one `Link` header (`prev`, `next`), newest first unless `orderby` and
//! `order` say otherwise; `sku` (comma-separated) and `modified_after` (the site's time unless
//! `dates_are_gmt`) filters; a create answered 201 with `Location`; a SKU used by another
//! product refused; a delete without `force` moving the record to the trash; `POST .../batch`
//! (`create`/`update`/`delete`, at most 100 objects, else 413) answering 200 with one result
//! per object, an object's error in its own place; query and body parameters checked against
//! the schema only on single requests (a batch's objects are not); errors shaped
//! `{"code", "message", "data": {"status"}}`.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style, local_time};

pub const CONSUMER_KEY: &str = "ck_2f1b9c0d4e";
pub const CONSUMER_SECRET: &str = "cs_7a8e6f5d3c";

/// The shop's WordPress is set to UTC+1 (Settings > General > Timezone, `gmt_offset` 1): its
/// local dates are one hour ahead of their `_gmt` twins.
pub const SITE_UTC_OFFSET_HOURS: i64 = 1;

const DATE: &str = "%Y-%m-%dT%H:%M:%S";

// WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::get_item_schema
// (`status` enum: get_post_statuses() plus future, auto-draft and trash)
const PRODUCT_STATUSES: [&str; 7] = [
    "draft",
    "pending",
    "private",
    "publish",
    "future",
    "auto-draft",
    "trash",
];
// WooCommerce: Version2/class-wc-rest-products-v2-controller.php WC_REST_Products_V2_Controller::get_collection_params
// (`status` filter: any, future, trash and get_post_statuses())
const PRODUCT_STATUS_FILTER: [&str; 7] = [
    "any", "future", "trash", "draft", "pending", "private", "publish",
];
const PRODUCT_TYPES: [&str; 4] = ["simple", "grouped", "external", "variable"];
// WooCommerce: Version2/class-wc-rest-orders-v2-controller.php WC_REST_Orders_V2_Controller::get_order_statuses
// (auto-draft, then wc_get_order_statuses() without `wc-`)
const ORDER_STATUSES: [&str; 8] = [
    "auto-draft",
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
];
// WooCommerce: Version3/class-wc-rest-orders-controller.php WC_REST_Orders_Controller::get_collection_params
const ORDER_STATUS_FILTER: [&str; 10] = [
    "any",
    "trash",
    "auto-draft",
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
];
// WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::get_collection_params
const ORDERBY: [&str; 6] = ["date", "id", "include", "title", "slug", "modified"];
// WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::get_collection_params
// (menu_order from the V2 parent, then price, popularity, rating)
const PRODUCT_ORDERBY: [&str; 10] = [
    "date",
    "id",
    "include",
    "title",
    "slug",
    "modified",
    "menu_order",
    "price",
    "popularity",
    "rating",
];

// WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::prepare_object_for_database
// (the fields it sets; anything else in a body is ignored)
const PRODUCT_FIELDS: [&str; 46] = [
    "name",
    "slug",
    "type",
    "status",
    "featured",
    "catalog_visibility",
    "description",
    "short_description",
    "sku",
    "global_unique_id",
    "regular_price",
    "sale_price",
    "date_on_sale_from",
    "date_on_sale_from_gmt",
    "date_on_sale_to",
    "date_on_sale_to_gmt",
    "virtual",
    "downloadable",
    "downloads",
    "download_limit",
    "download_expiry",
    "external_url",
    "button_text",
    "tax_status",
    "tax_class",
    "manage_stock",
    "stock_quantity",
    "stock_status",
    "backorders",
    "low_stock_amount",
    "sold_individually",
    "weight",
    "dimensions",
    "shipping_class",
    "reviews_allowed",
    "upsell_ids",
    "cross_sell_ids",
    "parent_id",
    "purchase_note",
    "categories",
    "tags",
    "images",
    "attributes",
    "default_attributes",
    "menu_order",
    "meta_data",
];
// WooCommerce: Version3/class-wc-rest-orders-controller.php WC_REST_Orders_Controller::prepare_object_for_database
// (the schema's writable properties; readonly ones such as `total` or `number` are ignored)
const ORDER_FIELDS: [&str; 15] = [
    "parent_id",
    "status",
    "currency",
    "customer_id",
    "customer_note",
    "billing",
    "shipping",
    "payment_method",
    "payment_method_title",
    "transaction_id",
    "meta_data",
    "line_items",
    "shipping_lines",
    "fee_lines",
    "coupon_lines",
];
// WooCommerce: Version2/class-wc-rest-orders-v2-controller.php WC_REST_Orders_V2_Controller::get_formatted_item_data
const ORDER_MONEY: [&str; 7] = [
    "discount_total",
    "discount_tax",
    "shipping_total",
    "shipping_tax",
    "cart_tax",
    "total",
    "total_tax",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Product,
    Order,
}

impl Kind {
    fn of(resource: &str) -> Option<Kind> {
        match resource {
            "products" => Some(Kind::Product),
            "orders" => Some(Kind::Order),
            _ => None,
        }
    }

    fn resource(self) -> &'static str {
        match self {
            Kind::Product => "products",
            Kind::Order => "orders",
        }
    }

    /// The post type in error codes and messages (`woocommerce_rest_shop_order_invalid_id`).
    fn post_type(self) -> &'static str {
        match self {
            Kind::Product => "product",
            Kind::Order => "shop_order",
        }
    }
}

pub struct Store {
    pub records: Records,
    /// Every write: method, resource, id ("batch" for a batch request, id 0).
    pub writes: Vec<(String, String, u64)>,
    /// The number of objects in each batch request.
    pub batch_sizes: Vec<usize>,
}

/// `2026-11-01T10:00:07`, GMT.
fn gmt(clock: u64) -> Value {
    let Value::String(local) = local_time(clock) else {
        return Value::Null;
    };
    json!(local.replacen(' ', "T", 1))
}

impl Default for Store {
    fn default() -> Self {
        Store {
            records: Records::new(Style {
                string_ids: false,
                modified: "date_modified_gmt",
                time: gmt,
            }),
            writes: Vec::new(),
            batch_sizes: Vec::new(),
        }
    }
}

crate::store_of_records!(Store);

/// What every new record holds unless it says otherwise.
fn defaults(kind: Kind) -> Map<String, Value> {
    let fields = match kind {
        // WooCommerce: Version3/class-wc-rest-controller.php WC_REST_Controller::batch_items
        // (a create gets the schema's defaults, as WordPress gives a single create its args'),
        // WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::get_item_schema
        // (the defaults), and WooCommerce: Version2/class-wc-rest-products-v2-controller.php
        // WC_REST_Products_V2_Controller::get_product_data (an unset SKU or price is answered "")
        Kind::Product => json!({
            "type": "simple",
            "status": "publish",
            "featured": false,
            "catalog_visibility": "visible",
            "sku": "",
            "regular_price": "",
            "sale_price": "",
            "virtual": false,
            "downloadable": false,
            "tax_status": "taxable",
            "manage_stock": false,
            "stock_quantity": null,
            "stock_status": "instock",
            "backorders": "no",
            "sold_individually": false,
            "reviews_allowed": true,
        }),
        // WooCommerce: Version2/class-wc-rest-orders-v2-controller.php WC_REST_Orders_V2_Controller::get_item_schema
        // (status `pending`, customer_id 0; the totals are always answered)
        Kind::Order => json!({"status": "pending", "customer_id": 0, "total": "0"}),
    };
    fields.as_object().cloned().unwrap_or_default()
}

impl Store {
    /// A record made by hand in the shop's back office (or by a create): the fields WooCommerce
    /// always has are filled in, and its creation time is its first modification time.
    pub fn insert(&mut self, resource: &str, record: Value) -> u64 {
        let mut record = record;
        if let (Some(kind), Value::Object(fields)) = (Kind::of(resource), &mut record) {
            for (name, value) in defaults(kind) {
                fields.entry(name).or_insert(value);
            }
        }
        let id = self.records.insert(resource, record);
        if let Some(record) = self
            .records
            .resources
            .get_mut(resource)
            .and_then(|r| r.get_mut(&id))
            && record.get("date_created_gmt").is_none()
        {
            let created = record["date_modified_gmt"].clone();
            record["date_created_gmt"] = created;
        }
        id
    }

    /// A product by SKU, not counting the trash.
    // WooCommerce: data-stores/class-wc-product-data-store-cpt.php WC_Product_Data_Store_CPT::get_product_id_by_sku
    // (`post_status != 'trash'`)
    pub fn product(&self, sku: &str) -> Option<Value> {
        self.all("products")
            .into_iter()
            .find(|p| p["sku"] == sku && p["status"] != "trash")
    }

    /// The product other than `id` that holds `sku`.
    // WooCommerce: data-stores/class-wc-product-data-store-cpt.php WC_Product_Data_Store_CPT::is_existing_sku
    // (another product, not in the trash)
    fn sku_owner(&self, sku: &str, id: u64) -> Option<u64> {
        self.all("products")
            .into_iter()
            .find(|p| p["sku"] == sku && p["status"] != "trash" && p["id"].as_u64() != Some(id))
            .and_then(|p| p["id"].as_u64())
    }

    // WooCommerce: wc-product-functions.php wc_product_generate_unique_sku (`SKU-1`, `SKU-2`...)
    fn unique_sku(&self, sku: &str, id: u64) -> String {
        (0..)
            .map(|n| {
                if n == 0 {
                    sku.to_string()
                } else {
                    format!("{sku}-{n}")
                }
            })
            .find(|candidate| self.sku_owner(candidate, id).is_none())
            .unwrap_or_default()
    }

    // WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::create_item
    fn create(&mut self, kind: Kind, fields: &Map<String, Value>) -> Result<u64, Value> {
        if fields.get("id").is_some_and(|id| !php_empty(id)) {
            let post_type = kind.post_type();
            return Err(error(
                400,
                &format!("woocommerce_rest_{post_type}_exists"),
                &format!("Cannot create existing {post_type}."),
            ));
        }
        let changes = match kind {
            Kind::Product => self.product_changes(0, &defaults(kind), fields)?,
            Kind::Order => order_changes(fields),
        };
        let id = self.insert(kind.resource(), Value::Object(changes));
        self.writes
            .push(("POST".into(), kind.resource().into(), id));
        Ok(id)
    }

    // WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::update_item
    // (an unknown id is 400 `woocommerce_rest_{post_type}_invalid_id`, "Invalid ID.")
    fn update(&mut self, kind: Kind, id: u64, fields: &Map<String, Value>) -> Result<u64, Value> {
        let Some(current) = self.get(kind.resource(), id) else {
            return Err(invalid_id(kind, 400));
        };
        let current = current.as_object().cloned().unwrap_or_default();
        let changes = match kind {
            Kind::Product => self.product_changes(id, &current, fields)?,
            Kind::Order => order_changes(fields),
        };
        self.records.set(kind.resource(), id, &changes);
        self.writes.push(("PUT".into(), kind.resource().into(), id));
        Ok(id)
    }

    /// The record as it was before, as the answer says.
    // WooCommerce: Version2/class-wc-rest-products-v2-controller.php WC_REST_Products_V2_Controller::delete_item
    // and Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::delete_item (orders):
    // unknown id 404; `force` deletes; otherwise to the trash, 410 when already there.
    fn delete(&mut self, kind: Kind, id: u64, force: bool, dp: usize) -> Result<Value, Value> {
        let resource = kind.resource();
        let Some(record) = self.get(resource, id) else {
            return Err(invalid_id(kind, 404));
        };
        let answer = view(kind, &record, dp);
        if force {
            self.records.remove(resource, id);
        } else {
            if record["status"] == "trash" {
                return Err(error(
                    410,
                    "woocommerce_rest_already_trashed",
                    &format!("The {} has already been deleted.", kind.post_type()),
                ));
            }
            let mut trash = Map::new();
            trash.insert("status".into(), json!("trash"));
            self.records.set(resource, id, &trash);
        }
        self.writes.push(("DELETE".into(), resource.into(), id));
        Ok(answer)
    }

    /// What a create or an update writes to a product: `current` is the product as it is (its
    /// defaults for a create), `id` 0 for a create.
    // WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::prepare_object_for_database
    fn product_changes(
        &self,
        id: u64,
        current: &Map<String, Value>,
        fields: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Value> {
        // `isset()`: a field sent as null is not set.
        let given = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let mut changes: Map<String, Value> = fields
            .iter()
            .filter(|(name, value)| PRODUCT_FIELDS.contains(&name.as_str()) && !value.is_null())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        // WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::prepare_object_for_database
        // (a type without a class is WC_Product_Simple)
        if let Some(kind) = given("type") {
            let kind = kind
                .as_str()
                .filter(|t| PRODUCT_TYPES.contains(t))
                .unwrap_or("simple");
            changes.insert("type".into(), json!(kind));
        }
        // WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::prepare_object_for_database
        // (`get_post_status_object( $status ) ? $status : 'draft'`: in a batch, where the
        // schema is not checked, an unknown status makes a draft)
        if let Some(status) = given("status") {
            let status = status
                .as_str()
                .filter(|s| PRODUCT_STATUSES.contains(s))
                .unwrap_or("draft");
            changes.insert("status".into(), json!(status));
        }
        // WooCommerce: abstracts/abstract-wc-product.php WC_Product::set_tax_status
        if let Some(status) = given("tax_status") {
            let mut status = php_string(status).to_lowercase();
            if status.is_empty() || status == "0" {
                status = "taxable".into();
            }
            if !["taxable", "shipping", "none"].contains(&status.as_str()) {
                return Err(error(
                    400,
                    "product_invalid_tax_status",
                    "Invalid product tax status.",
                ));
            }
            changes.insert("tax_status".into(), json!(status));
        }
        // WooCommerce: abstracts/abstract-wc-product.php WC_Product::set_catalog_visibility
        if let Some(visibility) = given("catalog_visibility") {
            let visibility = php_string(visibility).to_lowercase();
            if !["visible", "catalog", "search", "hidden"].contains(&visibility.as_str()) {
                return Err(error(
                    400,
                    "product_invalid_catalog_visibility",
                    "Invalid catalog visibility option.",
                ));
            }
            changes.insert("catalog_visibility".into(), json!(visibility));
        }
        // WooCommerce: abstracts/abstract-wc-product.php WC_Product::set_sku (`wc_clean`ed; a
        // SKU another product holds is 400 `product_invalid_sku`, "Invalid or duplicated SKU.",
        // with `resource_id` and `unique_sku` in its data)
        if let Some(sku) = given("sku") {
            let sku = php_string(sku).trim().to_string();
            if !php_empty(&json!(sku))
                && let Some(owner) = self.sku_owner(&sku, id)
            {
                return Err(json!({
                    "code": "product_invalid_sku",
                    "message": "Invalid or duplicated SKU.",
                    "data": {
                        "status": 400,
                        "resource_id": owner,
                        "unique_sku": self.unique_sku(&sku, id),
                    },
                }));
            }
            changes.insert("sku".into(), json!(sku));
        }
        let product_type = now(&changes, current, "type")
            .and_then(|t| t.as_str().map(str::to_string))
            .unwrap_or_else(|| "simple".into());
        // WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::prepare_object_for_database
        // (variable and grouped products have no price of their own), and
        // WooCommerce: abstracts/abstract-wc-product.php WC_Product::set_regular_price
        // (wc_format_decimal: kept as written, "52.50" stays "52.50", 52.5 becomes "52.5")
        for price in ["regular_price", "sale_price"] {
            if product_type == "variable" || product_type == "grouped" {
                changes.insert(price.into(), json!(""));
            } else if let Some(value) = given(price) {
                changes.insert(price.into(), json!(format_decimal(value)));
            }
        }
        // WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::prepare_object_for_database
        // ("Stock data", with the store's `woocommerce_manage_stock` at its default, yes)
        let stock_status = given("stock_status")
            .map(php_string)
            .or_else(|| current.get("stock_status").map(php_string))
            .unwrap_or_else(|| "instock".into());
        if let Some(manage) = given("manage_stock") {
            changes.insert("manage_stock".into(), json!(string_to_bool(manage)));
        }
        let managing = now(&changes, current, "manage_stock").is_some_and(|m| string_to_bool(&m));
        if product_type == "grouped" || product_type == "external" {
            changes.insert("manage_stock".into(), json!(false));
            changes.insert("backorders".into(), json!("no"));
            changes.insert("stock_quantity".into(), Value::Null);
            let status = if product_type == "external" {
                "instock".to_string()
            } else {
                stock_status
            };
            changes.insert("stock_status".into(), json!(status));
        } else if managing {
            if product_type != "variable" {
                changes.insert("stock_status".into(), json!(stock_status));
            }
            // WooCommerce: abstracts/abstract-wc-product.php WC_Product::set_stock_quantity
            // (wc_stock_amount: a whole number)
            if let Some(quantity) = given("stock_quantity") {
                changes.insert("stock_quantity".into(), json!(intval(quantity)));
            } else if let Some(delta) = given("inventory_delta") {
                let before = current.get("stock_quantity").map(intval).unwrap_or(0);
                changes.insert("stock_quantity".into(), json!(before + intval(delta)));
            }
        } else {
            changes.insert("manage_stock".into(), json!(false));
            changes.insert("stock_quantity".into(), Value::Null);
            changes.insert("stock_status".into(), json!(stock_status));
        }
        // WooCommerce: abstracts/abstract-wc-product.php WC_Product::validate_props (on save:
        // without stock management no quantity and no backorders; with it, the status follows
        // the quantity)
        if !now(&changes, current, "manage_stock").is_some_and(|m| string_to_bool(&m)) {
            changes.insert("stock_quantity".into(), Value::Null);
            changes.insert("backorders".into(), json!("no"));
        } else {
            let quantity = now(&changes, current, "stock_quantity")
                .map(|q| intval(&q))
                .unwrap_or(0);
            let backorders = now(&changes, current, "backorders").map(|b| php_string(&b));
            let status = if quantity > 0 {
                "instock"
            } else if backorders.is_some_and(|b| b != "no") {
                "onbackorder"
            } else {
                "outofstock"
            };
            changes.insert("stock_status".into(), json!(status));
        }
        // WooCommerce: abstracts/abstract-wc-product.php WC_Product::set_stock_status (an
        // unknown status is instock)
        if let Some(status) = changes.get("stock_status").map(php_string)
            && !["instock", "outofstock", "onbackorder"].contains(&status.as_str())
        {
            changes.insert("stock_status".into(), json!("instock"));
        }
        Ok(changes)
    }
}

/// A field as it will be: changed, else as it is.
fn now(changes: &Map<String, Value>, current: &Map<String, Value>, name: &str) -> Option<Value> {
    changes.get(name).or(current.get(name)).cloned()
}

/// What a create or an update writes to an order.
// WooCommerce: Version3/class-wc-rest-orders-controller.php WC_REST_Orders_Controller::prepare_object_for_database
// and ::save_object (`if ( ! empty( $request['status'] ) ) $object->set_status(...)`)
fn order_changes(fields: &Map<String, Value>) -> Map<String, Value> {
    let mut changes: Map<String, Value> = fields
        .iter()
        .filter(|(name, value)| ORDER_FIELDS.contains(&name.as_str()) && !value.is_null())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    changes.remove("status");
    if let Some(status) = fields.get("status").filter(|s| !php_empty(s)) {
        // WooCommerce: abstracts/abstract-wc-order.php WC_Abstract_Order::set_status (`wc-`
        // dropped; a status that is not an order status, nor auto-draft or trash, is pending)
        let status = php_string(status);
        let status = status.strip_prefix("wc-").unwrap_or(&status).to_string();
        let valid = ORDER_STATUSES.contains(&status.as_str()) || status == "trash";
        changes.insert(
            "status".into(),
            json!(if valid { status.as_str() } else { "pending" }),
        );
    }
    changes
}

// WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::get_item
// (404) and ::update_item (400): `woocommerce_rest_{post_type}_invalid_id`, "Invalid ID."
fn invalid_id(kind: Kind, status: u16) -> Value {
    error(
        status,
        &format!("woocommerce_rest_{}_invalid_id", kind.post_type()),
        "Invalid ID.",
    )
}

fn error(status: u16, code: &str, message: &str) -> Value {
    json!({"code": code, "message": message, "data": {"status": status}})
}

// WordPress: rest-api/class-wp-rest-server.php WP_REST_Server::error_to_response (the status
// is the error's `data.status`)
fn reply_error(e: Value) -> Reply {
    let status = e["data"]["status"].as_u64().unwrap_or(500) as u16;
    Reply::status(status, e)
}

// WordPress: rest-api/class-wp-rest-server.php WP_REST_Server::match_request_to_handler
fn no_route() -> Reply {
    reply_error(error(
        404,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    ))
}

/// A record as the API answers it.
fn view(kind: Kind, record: &Value, dp: usize) -> Value {
    let mut out = record.clone();
    // WooCommerce: wc-rest-functions.php wc_rest_prepare_date_response (`date_*` in the site's
    // time, `date_*_gmt` in GMT, both `Y-m-d\TH:i:s`)
    for (local, at_gmt) in [
        ("date_created", "date_created_gmt"),
        ("date_modified", "date_modified_gmt"),
    ] {
        if let Some(at) = record
            .get(at_gmt)
            .and_then(Value::as_str)
            .and_then(site_time)
        {
            out[local] = json!(at);
        }
    }
    // WooCommerce: Version2/class-wc-rest-orders-v2-controller.php WC_REST_Orders_V2_Controller::get_formatted_item_data
    // (order money as strings with `dp` decimals, 2 unless asked: "20.00")
    if kind == Kind::Order {
        for field in ORDER_MONEY {
            if let Some(value) = record.get(field) {
                out[field] = json!(format_decimal_dp(value, dp));
            }
        }
    }
    out
}

/// A `_gmt` time in the site's time.
fn site_time(at_gmt: &str) -> Option<String> {
    let at = NaiveDateTime::parse_from_str(at_gmt, DATE).ok()?;
    Some(
        (at + Duration::hours(SITE_UTC_OFFSET_HOURS))
            .format(DATE)
            .to_string(),
    )
}

/// PHP's `empty()`.
fn php_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// PHP's `(string)` of a JSON value.
fn php_string(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "1".into(),
        Value::Bool(false) => String::new(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => "Array".into(),
    }
}

/// PHP's `intval()`.
fn intval(value: &Value) -> i64 {
    match value {
        Value::Number(n) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => {
            let s = s.trim_start();
            let sign = usize::from(s.starts_with(['-', '+']));
            let digits = s[sign..].bytes().take_while(u8::is_ascii_digit).count();
            s[..sign + digits].parse().unwrap_or(0)
        }
        _ => 0,
    }
}

// WooCommerce: wc-core-functions.php wc_string_to_bool (true, 1, "1", "yes", "true")
fn string_to_bool(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() == Some(1),
        Value::String(s) => matches!(s.to_lowercase().as_str(), "yes" | "true" | "1"),
        _ => false,
    }
}

/// `wc_format_decimal( $number )`, no rounding.
// WooCommerce: wc-formatting-functions.php wc_format_decimal (a string keeps its digits, one
// dot and its zeros; a float is written with up to 6 decimals, zeros trimmed)
fn format_decimal(value: &Value) -> String {
    match value {
        Value::Number(n) if n.is_f64() => {
            let text = format!("{:.6}", n.as_f64().unwrap_or(0.0));
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        other => {
            let text = php_string(other);
            let text = text.trim();
            text.char_indices()
                .filter(|(at, c)| match c {
                    '.' => {
                        let rest = &text[at + 1..];
                        !rest.is_empty() && !rest.contains('.')
                    }
                    c => c.is_ascii_digit() || *c == '-',
                })
                .map(|(_, c)| c)
                .collect()
        }
    }
}

/// `wc_format_decimal( $number, $dp )`: rounded to `dp` decimals.
fn format_decimal_dp(value: &Value, dp: usize) -> String {
    let number = format_decimal(value).parse::<f64>().unwrap_or(0.0);
    format!("{number:.dp$}")
}

pub struct WooCommerce {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl WooCommerce {
    pub fn start() -> WooCommerce {
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = store.clone();
        let api = Api::start(move |r, base| answer(r, base, &mut shared.lock().unwrap()));
        WooCommerce { api, store }
    }

    /// The base URL a pipeline uses: `.../wp-json/wc/v3`.
    pub fn url(&self) -> String {
        format!("{}/wp-json/wc/v3", self.api.url)
    }
}

/// `Basic realm=...` of a refused secret.
// WooCommerce: class-wc-rest-authentication.php WC_REST_Authentication::send_unauthorized_headers
const REALM: &str = "Basic realm=\"WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field.\"";

/// Whether the request is made by the key's user: `Ok(false)` for no user (no credentials, or
/// a key the shop does not know), `Err` for a known key with a wrong secret.
// WooCommerce: class-wc-rest-authentication.php WC_REST_Authentication::perform_basic_authentication
// (`consumer_key`/`consumer_secret` in the query first, else Basic; an unknown key is no user,
// not an error; a wrong secret is 401 `woocommerce_rest_authentication_error`). Basic is
// only taken over HTTPS (`is_ssl()`): the double stands for a shop behind HTTPS.
fn authenticate(r: &Request) -> Result<bool, Value> {
    let from_query = match (param(r, "consumer_key"), param(r, "consumer_secret")) {
        (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => {
            Some((key.to_string(), secret.to_string()))
        }
        _ => None,
    };
    let Some((key, secret)) = from_query.or_else(|| basic_credentials(r)) else {
        return Ok(false);
    };
    if key.is_empty() || secret.is_empty() || key != CONSUMER_KEY {
        return Ok(false);
    }
    if secret != CONSUMER_SECRET {
        return Err(error(
            401,
            "woocommerce_rest_authentication_error",
            "Consumer secret is invalid.",
        ));
    }
    Ok(true)
}

/// The user and password of a Basic `Authorization` header.
fn basic_credentials(r: &Request) -> Option<(String, String)> {
    let header = r.header("authorization")?;
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|a| *a == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// The registered routes of the resources the double keeps.
#[derive(Debug, Clone, Copy)]
enum Route {
    List(Kind),
    Create(Kind),
    Get(Kind, u64),
    Update(Kind, u64),
    Delete(Kind, u64),
    Batch(Kind),
}

// WooCommerce: Version2/class-wc-rest-products-v2-controller.php WC_REST_Products_V2_Controller::register_routes
// and Version2/class-wc-rest-orders-v2-controller.php WC_REST_Orders_V2_Controller::register_routes:
// `/{base}` (GET, POST), `/{base}/(?P<id>[\d]+)` (GET; POST, PUT, PATCH; DELETE),
// `/{base}/batch` (POST, PUT, PATCH). WordPress: rest-api.php rest_api_loaded (the route is
// untrailingslashit).
fn route(r: &Request) -> Option<Route> {
    let path = r.path.strip_prefix("/api/wp-json/wc/v3/")?;
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let kind = Kind::of(parts.first()?)?;
    let method = r.method.as_str();
    let editable = matches!(method, "POST" | "PUT" | "PATCH");
    match parts.as_slice() {
        [_] => match method {
            "GET" => Some(Route::List(kind)),
            "POST" => Some(Route::Create(kind)),
            _ => None,
        },
        [_, "batch"] if editable => Some(Route::Batch(kind)),
        [_, id] if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
            let id = id.parse().unwrap_or(0);
            match method {
                "GET" => Some(Route::Get(kind, id)),
                "DELETE" => Some(Route::Delete(kind, id)),
                _ if editable => Some(Route::Update(kind, id)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn answer(r: &Request, base: &str, store: &mut Store) -> Reply {
    // WordPress: rest-api/class-wp-rest-server.php WP_REST_Server::serve_request (the
    // authentication error comes before routing)
    let user = match authenticate(r) {
        Ok(user) => user,
        Err(e) => return reply_error(e).header("WWW-Authenticate", REALM),
    };
    let Some(route) = route(r) else {
        return no_route();
    };
    // WordPress: rest-api/class-wp-rest-server.php WP_REST_Server::dispatch (parameters are
    // checked, WP_REST_Request::has_valid_params, before the permission callback)
    let body = match body_params(r) {
        Ok(body) => body,
        Err(e) => return reply_error(e),
    };
    let checked = match route {
        Route::List(kind) => list_query(r, kind).map(Some),
        Route::Create(kind) | Route::Update(kind, _) | Route::Batch(kind) => {
            check_fields(kind, &body).map(|()| None)
        }
        Route::Delete(..) => check_force(r).map(|()| None),
        Route::Get(..) => Ok(None),
    };
    let query = match checked {
        Ok(query) => query,
        Err(e) => return reply_error(e),
    };
    if !user && let Some(e) = refused(route, store) {
        return reply_error(e);
    }
    let dp = dp(r);
    let result = match route {
        Route::List(kind) => {
            return list(r, base, kind, store, &query.unwrap_or_default(), dp);
        }
        Route::Get(kind, id) => store
            .get(kind.resource(), id)
            .map(|record| view(kind, &record, dp))
            .ok_or_else(|| invalid_id(kind, 404)),
        // WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::create_item
        // (201, `Location: .../wc/v3/{base}/{id}`)
        Route::Create(kind) => match store.create(kind, &body) {
            Ok(id) => {
                let record = store.get(kind.resource(), id).unwrap_or_default();
                return Reply::status(201, view(kind, &record, dp)).header(
                    "Location",
                    format!("{base}/wp-json/wc/v3/{}/{id}", kind.resource()),
                );
            }
            Err(e) => Err(e),
        },
        Route::Update(kind, id) => store.update(kind, id, &body).map(|id| {
            view(
                kind,
                &store.get(kind.resource(), id).unwrap_or_default(),
                dp,
            )
        }),
        Route::Delete(kind, id) => {
            store.delete(kind, id, param(r, "force").is_some_and(truthy), dp)
        }
        Route::Batch(kind) => batch(store, kind, &body, dp),
    };
    match result {
        Ok(answer) => Reply::json(answer),
        Err(e) => reply_error(e),
    }
}

/// The JSON body's parameters.
// WordPress: rest-api/class-wp-rest-request.php WP_REST_Request::parse_json_params (only with
// a JSON content type; an empty body is no parameters; a broken one is 400 `rest_invalid_json`)
fn body_params(r: &Request) -> Result<Map<String, Value>, Value> {
    let json_type = r
        .header("content-type")
        .is_some_and(|t| t.contains("application/json") || t.contains("+json"));
    if !json_type || r.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&r.body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Ok(Map::new()),
        Err(_) => Err(json!({
            "code": "rest_invalid_json",
            "message": "Invalid JSON body passed.",
            "data": {"status": 400, "json_error_code": 4, "json_error_message": "Syntax error"},
        })),
    }
}

/// The error of a request made by no user.
// WooCommerce: Version3/class-wc-rest-posts-controller.php WC_REST_Posts_Controller::get_items_permissions_check,
// ::create_item_permissions_check, ::batch_items_permissions_check; for one record
// Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::get_item_permissions_check
// (and update_, delete_): refused only when the record exists, a missing product goes on to
// its 404 or 400; Version2/class-wc-rest-orders-v2-controller.php
// WC_REST_Orders_V2_Controller::get_item_permissions_check (and update_, delete_): an order
// is refused either way. 401: WordPress: rest-api.php rest_authorization_required_code.
fn refused(route: Route, store: &Store) -> Option<Value> {
    let unauthorized = |code: &str, message: &str| Some(error(401, code, message));
    let guarded =
        |kind: Kind, id: u64| kind == Kind::Order || store.get(kind.resource(), id).is_some();
    match route {
        Route::List(_) => unauthorized(
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        ),
        Route::Create(_) => unauthorized(
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        ),
        Route::Batch(_) => unauthorized(
            "woocommerce_rest_cannot_batch",
            "Sorry, you are not allowed to batch manipulate this resource.",
        ),
        Route::Get(kind, id) if guarded(kind, id) => unauthorized(
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot view this resource.",
        ),
        Route::Update(kind, id) if guarded(kind, id) => unauthorized(
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        ),
        Route::Delete(kind, id) if guarded(kind, id) => unauthorized(
            "woocommerce_rest_cannot_delete",
            "Sorry, you are not allowed to delete this resource.",
        ),
        _ => None,
    }
}

/// What a parameter must be.
enum Rule {
    Text,
    Integer,
    Boolean,
    OneOf(&'static [&'static str]),
}

/// Why `value` breaks `rule`, in WordPress's words.
// WordPress: rest-api.php rest_validate_value_from_schema (rest_is_integer, rest_is_boolean,
// "%1$s is not of type %2$s.", "%1$s is not one of %2$l.")
fn broken(name: &str, value: &Value, rule: &Rule) -> Option<String> {
    let not_of_type = |t: &str| Some(format!("{name} is not of type {t}."));
    match rule {
        Rule::Text => (!value.is_string()).then(|| format!("{name} is not of type string.")),
        Rule::Integer => {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match number {
                Some(n) if n.round() == n => None,
                _ => not_of_type("integer"),
            }
        }
        Rule::Boolean => match value {
            Value::Bool(_) => None,
            Value::Number(n) if matches!(n.as_i64(), Some(0 | 1)) => None,
            Value::String(s)
                if matches!(s.to_lowercase().as_str(), "true" | "false" | "1" | "0") =>
            {
                None
            }
            _ => not_of_type("boolean"),
        },
        Rule::OneOf(values) => match value.as_str() {
            None => not_of_type("string"),
            Some(v) if values.contains(&v) => None,
            Some(_) if values.len() == 1 => Some(format!("{name} is not {}.", values[0])),
            Some(_) => Some(format!("{name} is not one of {}.", sprintf_l(values))),
        },
    }
}

// WordPress: formatting.php wp_sprintf_l ("a and b", "a, b, and c")
fn sprintf_l(values: &[&str]) -> String {
    match values {
        [] => String::new(),
        [one] => one.to_string(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}

// WordPress: rest-api/class-wp-rest-request.php WP_REST_Request::has_valid_params
// (400 `rest_invalid_param`, "Invalid parameter(s): a, b", each reason in `data.params`)
fn invalid_params(reasons: Vec<(String, String)>) -> Value {
    let names: Vec<&str> = reasons.iter().map(|(name, _)| name.as_str()).collect();
    let message = format!("Invalid parameter(s): {}", names.join(", "));
    let params: Map<String, Value> = reasons
        .iter()
        .map(|(name, reason)| (name.clone(), json!(reason)))
        .collect();
    json!({"code": "rest_invalid_param", "message": message, "data": {"status": 400, "params": params}})
}

/// A single create or update checked against the item schema (a batch's objects are not: the
/// batch route checks only its own top-level body).
// WooCommerce: Version3/class-wc-rest-controller.php WC_REST_Controller::get_endpoint_args_for_item_schema,
// with the properties of Version3/class-wc-rest-products-controller.php
// WC_REST_Products_Controller::get_item_schema and Version2/class-wc-rest-orders-v2-controller.php
// WC_REST_Orders_V2_Controller::get_item_schema
fn check_fields(kind: Kind, fields: &Map<String, Value>) -> Result<(), Value> {
    let rules: Vec<(&str, Rule)> = match kind {
        Kind::Product => vec![
            ("name", Rule::Text),
            ("slug", Rule::Text),
            ("type", Rule::OneOf(&PRODUCT_TYPES)),
            ("status", Rule::OneOf(&PRODUCT_STATUSES)),
            ("featured", Rule::Boolean),
            (
                "catalog_visibility",
                Rule::OneOf(&["visible", "catalog", "search", "hidden"]),
            ),
            ("description", Rule::Text),
            ("short_description", Rule::Text),
            ("sku", Rule::Text),
            ("regular_price", Rule::Text),
            ("sale_price", Rule::Text),
            ("virtual", Rule::Boolean),
            ("downloadable", Rule::Boolean),
            ("tax_status", Rule::OneOf(&["taxable", "shipping", "none"])),
            ("tax_class", Rule::Text),
            ("manage_stock", Rule::Boolean),
            ("stock_quantity", Rule::Integer),
            (
                "stock_status",
                Rule::OneOf(&["instock", "outofstock", "onbackorder"]),
            ),
            ("backorders", Rule::OneOf(&["no", "notify", "yes"])),
            ("sold_individually", Rule::Boolean),
            ("reviews_allowed", Rule::Boolean),
            ("menu_order", Rule::Integer),
        ],
        Kind::Order => vec![
            ("parent_id", Rule::Integer),
            ("status", Rule::OneOf(&ORDER_STATUSES)),
            ("customer_id", Rule::Integer),
            ("customer_note", Rule::Text),
            ("payment_method", Rule::Text),
            ("transaction_id", Rule::Text),
        ],
    };
    let reasons: Vec<(String, String)> = rules
        .iter()
        .filter_map(|(name, rule)| {
            let value = fields.get(*name)?;
            broken(name, value, rule).map(|reason| (name.to_string(), reason))
        })
        .collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(invalid_params(reasons))
    }
}

// WooCommerce: Version2/class-wc-rest-products-v2-controller.php WC_REST_Products_V2_Controller::register_routes
// (`force`: boolean)
fn check_force(r: &Request) -> Result<(), Value> {
    match param(r, "force").and_then(|f| broken("force", &json!(f), &Rule::Boolean)) {
        Some(reason) => Err(invalid_params(vec![("force".into(), reason)])),
        None => Ok(()),
    }
}

// WordPress: rest-api.php rest_sanitize_boolean ("false" and "0" are false)
fn truthy(value: &str) -> bool {
    !matches!(value.to_lowercase().as_str(), "" | "false" | "0")
}

/// The decimals of order money: the request's `dp`, else the store's 2.
// WooCommerce: Version2/class-wc-rest-orders-v2-controller.php WC_REST_Orders_V2_Controller::prepare_object_for_response
fn dp(r: &Request) -> usize {
    param(r, "dp")
        .map(|d| intval(&json!(d)).unsigned_abs() as usize)
        .unwrap_or(2)
}

/// A list request's parameters, checked.
#[derive(Default)]
struct ListQuery {
    page: usize,
    per_page: usize,
    ascending: bool,
    orderby: String,
    dates_are_gmt: bool,
    /// (field, after or before, the time in the compared column's zone)
    dates: Vec<(&'static str, bool, NaiveDateTime)>,
    statuses: Option<Vec<String>>,
    skus: Option<Vec<String>>,
}

/// The `date-time` forms WordPress takes, with their UTC offset in seconds when they have one.
// WordPress: rest-api.php rest_parse_date (`Y-m-d[Tt ]H:i:s`, fraction, `Z` or `±hh[:mm]`)
fn rest_date(value: &str) -> Option<(NaiveDateTime, Option<i64>)> {
    let b = value.as_bytes();
    if b.len() < 19 || !value.is_ascii() {
        return None;
    }
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    if !digits.iter().all(|&i| b[i].is_ascii_digit())
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let at = NaiveDateTime::parse_from_str(&format!("{}T{}", &value[..10], &value[11..19]), DATE)
        .ok()?;
    let mut rest = &value[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    let digit = |d: u8| i64::from(d - b'0');
    let offset = match rest.as_bytes() {
        [] => None,
        [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, tail @ ..] if h1.is_ascii_digit() && h2.is_ascii_digit() => {
            let minutes = match tail {
                [] => 0,
                [b':', m1, m2] if m1.is_ascii_digit() && m2.is_ascii_digit() => {
                    digit(*m1) * 10 + digit(*m2)
                }
                _ => return None,
            };
            let seconds = ((digit(*h1) * 10 + digit(*h2)) * 60 + minutes) * 60;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => return None,
    };
    Some((at, offset))
}

/// A date filter's value as WP_Date_Query compares it: written with a zone, moved to the
/// site's time; without one, taken as written (the site's time, or GMT with `dates_are_gmt`).
// WordPress: class-wp-date-query.php WP_Date_Query::build_mysql_datetime (date_create in the
// site's timezone, then formatted in it)
fn query_time(value: &str) -> Option<NaiveDateTime> {
    let (at, offset) = rest_date(value)?;
    Some(match offset {
        None => at,
        Some(seconds) => at - Duration::seconds(seconds) + Duration::hours(SITE_UTC_OFFSET_HOURS),
    })
}

// WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::get_collection_params
// (page >= 1, 1 <= per_page <= 100, default 10; order asc|desc, default desc; orderby, default
// date; after, before, modified_after, modified_before: date-time; dates_are_gmt: boolean),
// checked by WordPress: rest-api.php rest_validate_value_from_schema
fn list_query(r: &Request, kind: Kind) -> Result<ListQuery, Value> {
    let mut reasons = Vec::new();
    let mut reason = |name: &str, why: String| reasons.push((name.to_string(), why));
    let integer = |name: &str| param(r, name).map(|v| (v, broken(name, &json!(v), &Rule::Integer)));
    let mut page = 1;
    if let Some((value, problem)) = integer("page") {
        match problem {
            Some(why) => reason("page", why),
            None => match value.trim().parse::<f64>().unwrap_or(0.0) {
                n if n < 1.0 => reason("page", "page must be greater than or equal to 1".into()),
                n => page = n as usize,
            },
        }
    }
    let mut per_page = 10;
    if let Some((value, problem)) = integer("per_page") {
        match problem {
            Some(why) => reason("per_page", why),
            None => match value.trim().parse::<f64>().unwrap_or(0.0) {
                n if !(1.0..=100.0).contains(&n) => reason(
                    "per_page",
                    "per_page must be between 1 (inclusive) and 100 (inclusive)".into(),
                ),
                n => per_page = n as usize,
            },
        }
    }
    // WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::prepare_objects_query
    // (after/before on post_date, modified_after/modified_before on post_modified, or their
    // `_gmt` columns with dates_are_gmt; WP_Date_Query's after and before are exclusive)
    let mut dates = Vec::new();
    for (name, field, after) in [
        ("after", "date_created_gmt", true),
        ("before", "date_created_gmt", false),
        ("modified_after", "date_modified_gmt", true),
        ("modified_before", "date_modified_gmt", false),
    ] {
        if let Some(value) = param(r, name) {
            match query_time(value) {
                Some(at) => dates.push((field, after, at)),
                None => reason(name, "Invalid date.".into()),
            }
        }
    }
    let dates_are_gmt = match param(r, "dates_are_gmt") {
        Some(v) => match broken("dates_are_gmt", &json!(v), &Rule::Boolean) {
            Some(why) => {
                reason("dates_are_gmt", why);
                false
            }
            None => truthy(v),
        },
        None => false,
    };
    let ascending = match param(r, "order") {
        Some(v) => match broken("order", &json!(v), &Rule::OneOf(&["asc", "desc"])) {
            Some(why) => {
                reason("order", why);
                false
            }
            None => v == "asc",
        },
        None => false,
    };
    let orderby_values: &'static [&'static str] = match kind {
        Kind::Product => &PRODUCT_ORDERBY,
        Kind::Order => &ORDERBY,
    };
    let orderby = match param(r, "orderby") {
        Some(v) => match broken("orderby", &json!(v), &Rule::OneOf(orderby_values)) {
            Some(why) => {
                reason("orderby", why);
                "date".to_string()
            }
            None => v.to_string(),
        },
        None => "date".into(),
    };
    let statuses = match (kind, param(r, "status")) {
        (_, None) => None,
        // WooCommerce: Version2/class-wc-rest-products-v2-controller.php WC_REST_Products_V2_Controller::get_collection_params
        // (one status, default any)
        (Kind::Product, Some(v)) => {
            match broken("status", &json!(v), &Rule::OneOf(&PRODUCT_STATUS_FILTER)) {
                Some(why) => {
                    reason("status", why);
                    None
                }
                None => (v != "any").then(|| vec![v.to_string()]),
            }
        }
        // WooCommerce: Version3/class-wc-rest-orders-controller.php WC_REST_Orders_Controller::get_collection_params
        // (a list, `processing,completed`; WordPress: rest-api.php wp_parse_list)
        (Kind::Order, Some(v)) => {
            let list: Vec<&str> = v.split([',', ' ']).filter(|s| !s.is_empty()).collect();
            let wrong = list.iter().enumerate().find_map(|(i, s)| {
                broken(
                    &format!("status[{i}]"),
                    &json!(s),
                    &Rule::OneOf(&ORDER_STATUS_FILTER),
                )
            });
            match wrong {
                Some(why) => {
                    reason("status", why);
                    None
                }
                None if list.contains(&"any") => None,
                None => Some(list.iter().map(|s| s.to_string()).collect()),
            }
        }
    };
    // WooCommerce: Version3/class-wc-rest-products-controller.php WC_REST_Products_Controller::prepare_objects_query
    // (`sku`: exact SKUs, comma-separated, plus the whole string when there are several;
    // `! empty()`, so "0" filters nothing)
    let skus = match (kind, param(r, "sku")) {
        (Kind::Product, Some(sku)) if !php_empty(&json!(sku)) => {
            let mut skus: Vec<String> = sku.split(',').map(str::to_string).collect();
            if skus.len() > 1 {
                skus.push(sku.to_string());
            }
            Some(skus)
        }
        _ => None,
    };
    if !reasons.is_empty() {
        return Err(invalid_params(reasons));
    }
    Ok(ListQuery {
        page,
        per_page,
        ascending,
        orderby,
        dates_are_gmt,
        dates,
        statuses,
        skus,
    })
}

/// A record's time in the zone a date filter compares it in.
fn column_time(record: &Value, field_gmt: &str, gmt: bool) -> Option<NaiveDateTime> {
    let at = NaiveDateTime::parse_from_str(record.get(field_gmt)?.as_str()?, DATE).ok()?;
    Some(if gmt {
        at
    } else {
        at + Duration::hours(SITE_UTC_OFFSET_HOURS)
    })
}

/// A page of a list.
// WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::get_items
// and ::get_objects
fn list(r: &Request, base: &str, kind: Kind, store: &Store, query: &ListQuery, dp: usize) -> Reply {
    let mut records: Vec<Value> = store
        .all(kind.resource())
        .into_iter()
        // WooCommerce: Version2/class-wc-rest-products-v2-controller.php WC_REST_Products_V2_Controller::prepare_objects_query
        // (`post_status`, default any: WP_Query's any leaves out the trash and auto-drafts)
        .filter(|rec| {
            let status = rec["status"].as_str().unwrap_or_default();
            match &query.statuses {
                Some(statuses) => statuses.iter().any(|s| s == status),
                None => status != "trash" && status != "auto-draft",
            }
        })
        .filter(|rec| {
            query
                .skus
                .as_ref()
                .is_none_or(|skus| skus.iter().any(|sku| rec["sku"] == sku.as_str()))
        })
        .filter(|rec| {
            query.dates.iter().all(|(field, after, at)| {
                column_time(rec, field, query.dates_are_gmt)
                    .is_some_and(|t| if *after { t > *at } else { t < *at })
            })
        })
        .collect();
    // WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::prepare_objects_query
    // ("Add ID to orderby for consistency with pagination": date and modified are ordered by
    // time then ID, in `order`, default desc)
    let text = |rec: &Value, field: &str| rec[field].as_str().unwrap_or_default().to_string();
    let id = |rec: &Value| rec["id"].as_u64().unwrap_or(0);
    records.sort_by(|a, b| {
        let by: Ordering = match query.orderby.as_str() {
            "id" => id(a).cmp(&id(b)),
            "modified" => text(a, "date_modified_gmt")
                .cmp(&text(b, "date_modified_gmt"))
                .then(id(a).cmp(&id(b))),
            "title" => text(a, "name").cmp(&text(b, "name")),
            "slug" => text(a, "slug").cmp(&text(b, "slug")),
            "menu_order" => intval(&a["menu_order"]).cmp(&intval(&b["menu_order"])),
            // date, and the orders the double does not keep (include, price, popularity,
            // rating): by creation time then ID.
            _ => text(a, "date_created_gmt")
                .cmp(&text(b, "date_created_gmt"))
                .then(id(a).cmp(&id(b))),
        };
        if query.ascending { by } else { by.reverse() }
    });
    let total = records.len();
    let pages = total.div_ceil(query.per_page);
    let page = query.page;
    let items: Vec<Value> = records
        .iter()
        .skip((page - 1) * query.per_page)
        .take(query.per_page)
        .map(|rec| view(kind, rec, dp))
        .collect();
    let mut reply = Reply::json(Value::Array(items))
        .header("X-WP-Total", total.to_string())
        .header("X-WP-TotalPages", pages.to_string());
    // The request's own query with `page` set (WordPress: functions.php add_query_arg, values
    // as given).
    let link_to = |number: usize| {
        let mut params = r.query.clone();
        match params.iter_mut().find(|(k, _)| k == "page") {
            Some(p) => p.1 = number.to_string(),
            None => params.push(("page".into(), number.to_string())),
        }
        let params: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "<{base}/wp-json/wc/v3/{}?{}>",
            kind.resource(),
            params.join("&")
        )
    };
    // WooCommerce: Version3/class-wc-rest-crud-controller.php WC_REST_CRUD_Controller::get_items
    // (`prev` when page > 1, at most the last page; `next` while pages remain), in one header:
    // WordPress: rest-api/class-wp-rest-response.php WP_REST_Response::link_header and
    // class-wp-http-response.php WP_HTTP_Response::header (joined by ", ")
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to((page - 1).min(pages))));
    }
    if pages > page {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    if !links.is_empty() {
        reply = reply.header("Link", links.join(", "));
    }
    reply
}

// WooCommerce: Version3/class-wc-rest-controller.php WC_REST_Controller::batch_items
fn batch(
    store: &mut Store,
    kind: Kind,
    body: &Map<String, Value>,
    dp: usize,
) -> Result<Value, Value> {
    // `array_filter( $request->get_params() )`: empty lists are left out.
    let list = |name: &str| {
        body.get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (creates, updates, deletes) = (list("create"), list("update"), list("delete"));
    let objects = creates.len() + updates.len() + deletes.len();
    // WooCommerce: Version3/class-wc-rest-controller.php WC_REST_Controller::check_batch_limit
    // (more than 100 objects in all: 413, nothing done)
    if objects > 100 {
        return Err(error(
            413,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        ));
    }
    store.batch_sizes.push(objects);
    store.writes.push(("POST".into(), "batch".into(), 0));
    // An object's error in its own place: `{"id", "error": {"code", "message", "data"}}`.
    let failed = |id: Value, e: Value| json!({"id": id, "error": e});
    let resource = kind.resource();
    let mut answer = Map::new();
    if !creates.is_empty() {
        let results = creates
            .iter()
            .map(|c| {
                let fields = c.as_object().cloned().unwrap_or_default();
                match store.create(kind, &fields) {
                    Ok(id) => view(kind, &store.get(resource, id).unwrap_or_default(), dp),
                    // `'id' => 0`
                    Err(e) => failed(json!(0), e),
                }
            })
            .collect();
        answer.insert("create".into(), Value::Array(results));
    }
    if !updates.is_empty() {
        let results = updates
            .iter()
            .map(|u| {
                let fields = u.as_object().cloned().unwrap_or_default();
                // `'id' => $item['id']`, as sent (null when missing); `(int)` to find it.
                let sent = fields.get("id").cloned().unwrap_or(Value::Null);
                let id = u64::try_from(intval(&sent)).unwrap_or(0);
                match store.update(kind, id, &fields) {
                    Ok(id) => view(kind, &store.get(resource, id).unwrap_or_default(), dp),
                    Err(e) => failed(sent, e),
                }
            })
            .collect();
        answer.insert("update".into(), Value::Array(results));
    }
    if !deletes.is_empty() {
        // `(int) $id`, and an id of 0 is skipped: it gets no result at all. Deleted with
        // `force`.
        let results = deletes
            .iter()
            .map(intval)
            .filter(|id| *id != 0)
            .map(|id| {
                let found = u64::try_from(id).unwrap_or(0);
                match store.delete(kind, found, true, dp) {
                    Ok(record) => record,
                    Err(e) => failed(json!(id), e),
                }
            })
            .collect();
        answer.insert("delete".into(), Value::Array(results));
    }
    Ok(Value::Object(answer))
}
