//! A PrestaShop 8.x webservice double that answers as PrestaShop's own PHP source does; each rule
//! names the file and method of `PrestaShop/PrestaShop` it follows. Key auth (Basic user or
//! `ws_key`), XML-only writes, XML answers by default and JSON with `output_format=JSON`,
//! `display=full` or ids only, filters, `sort`, `limit`. Five resources are modelled with
//! PrestaShop's fields (products, categories, stock_availables, order_histories, order_states):
//! required and read-only fields, defaults, translated fields per shop language, the webservice's
//! error codes. Other resources keep what is sent. A PHP warning is answered as on a production
//! shop, with a 500 (WebserviceRequest::webserviceErrorHandler); its path is a typical install's
//! and its line number 0 where the line was not read. Not modelled: DELETE (501), `language`,
//! `display=[fields]` (shown in full), schemas, images, multishop.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value, json};

use super::api::{Api, Reply, Request, param};
use super::records::{Records, Style, local_time};

pub const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const VERSION: &str = "8.1.0";
const PHP: &str = "/var/www/html/classes";

pub struct Store {
    pub records: Records,
    /// Every write that reached the database: method, resource, id.
    pub writes: Vec<(String, String, u64)>,
    /// Order and state of each history posted with `?sendemail=1` whose state mails the customer.
    pub emails: Vec<(u64, u64)>,
    /// Product (0 while being created), category and position of each rewrite of a category's
    /// positions by `position_in_category`.
    pub position_rewrites: Vec<(u64, u64, i64)>,
    /// The shop's language ids, the default first.
    pub languages: Vec<String>,
}

/// PrestaShop's install data (install-dev/data/xml/order_state.xml): each default order state's
/// name and flags invoice, send_email, logable, delivery, shipped, paid, pdf_invoice.
const ORDER_STATES: [(&str, &str); 13] = [
    ("Awaiting check payment", "0100000"),
    ("Payment accepted", "1110011"),
    ("Processing in progress", "1111010"),
    ("Shipped", "1111110"),
    ("Delivered", "1011110"),
    ("Canceled", "0100000"),
    ("Refunded", "1100000"),
    ("Payment error", "0100000"),
    ("On backorder (paid)", "1100010"),
    ("Awaiting bank wire payment", "0100000"),
    ("Remote payment accepted", "1110010"),
    ("On backorder (not paid)", "0100000"),
    ("Awaiting Cash On Delivery validation", "0000000"),
];

impl Store {
    /// A shop in these languages (the default first), with PrestaShop's Root (1) and Home (2)
    /// categories and its default order states (1 to 13); each resource numbers its own ids.
    pub fn with_languages(languages: &[&str]) -> Store {
        let mut languages: Vec<String> = languages.iter().map(|l| l.to_string()).collect();
        if languages.is_empty() {
            languages.push("1".into());
        }
        let translated = |text: &str| -> Value {
            languages
                .iter()
                .map(|l| json!({"id": l, "value": text}))
                .collect()
        };
        let style = Style {
            string_ids: true,
            modified: "date_upd",
            time: local_time,
        };
        let mut records = Records::new(style).ids_per_resource();
        let (at, tables) = (local_time(0), &mut records.resources);
        for (id, name) in [(1u64, "Root"), (2, "Home")] {
            let parent = (id - 1).to_string();
            let category = json!({"id": id.to_string(), "id_parent": parent, "level_depth": parent,
                "active": "1", "is_root_category": parent, "position": "0", "date_add": at,
                "date_upd": at, "name": translated(name), "link_rewrite": translated(&name.to_lowercase())});
            tables
                .entry("categories".into())
                .or_default()
                .insert(id, category);
        }
        for (n, (name, flags)) in (1u64..).zip(ORDER_STATES) {
            let flag = |i: usize| flags.get(i..=i).unwrap_or("0");
            let state = json!({"id": n.to_string(), "unremovable": "1", "delivery": flag(3),
                "hidden": "0", "send_email": flag(1), "invoice": flag(0), "logable": flag(2),
                "shipped": flag(4), "paid": flag(5), "pdf_invoice": flag(6), "pdf_delivery": "0",
                "deleted": "0", "name": translated(name), "template": translated("")});
            tables
                .entry("order_states".into())
                .or_default()
                .insert(n, state);
        }
        let (writes, emails, position_rewrites) = (Vec::new(), Vec::new(), Vec::new());
        Store {
            records,
            writes,
            emails,
            position_rewrites,
            languages,
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::with_languages(&["1"])
    }
}

crate::store_of_records!(Store);

pub struct PrestaShop {
    pub api: Api,
    pub store: Arc<Mutex<Store>>,
}

impl PrestaShop {
    /// A shop in one language, "1".
    pub fn start() -> PrestaShop {
        PrestaShop::start_with_languages(&["1"])
    }

    /// A shop in these languages, the default first, e.g. `&["1", "2"]`.
    pub fn start_with_languages(languages: &[&str]) -> PrestaShop {
        let store = Arc::new(Mutex::new(Store::with_languages(languages)));
        let shared = store.clone();
        let api = Api::start(move |r, url| {
            let mut store = shared.lock().unwrap_or_else(|e| e.into_inner());
            answer(r, &mut store, url)
        });
        PrestaShop { api, store }
    }
}

// Fields as `name:kind[flags][size]`, in the order WebserviceRequest walks them
// (ObjectModel::getWebserviceParameters: the id, `$webserviceParameters['fields']`, then
// `$definition['fields']`). Kinds: k id, u unsigned int, i int, b bool, f decimal(20,6), s text,
// d datetime, D date, l translated text, h translated HTML, r column never written, v property
// not stored, g getter. Flags: * required, ! read-only ('setter' => false), ~ hidden,
// # has a 'getter' key (not filterable), ? NULL allowed.
const PRODUCT: &str = "id:k id_manufacturer:u id_supplier:u id_category_default:u new:v \
    cache_default_attribute:u id_default_image:g id_default_combination:g id_tax_rules_group:u \
    position_in_category:g manufacturer_name:g! quantity:r!# type:g id_shop_default:u \
    reference:s64 supplier_reference:s64 location:s255 width:f height:f depth:f weight:f \
    quantity_discount:b ean13:s13 isbn:s32 upc:s12 mpn:s40 cache_is_pack:b cache_has_attachments:b \
    is_virtual:b state:u additional_delivery_times:u delivery_in_stock:l255 delivery_out_stock:l255 \
    product_type:s on_sale:b online_only:b ecotax:f minimal_quantity:u low_stock_threshold:i? \
    low_stock_alert:b price:f* wholesale_price:f unity:s unit_price:f unit_price_ratio:f \
    additional_shipping_cost:f customizable:u text_fields:u uploadable_files:u active:b \
    redirect_type:s id_type_redirected:u available_for_order:b available_date:D show_condition:b \
    condition:s show_price:b indexed:b visibility:s advanced_stock_management:b date_add:d \
    date_upd:d pack_stock_type:u meta_description:l512 meta_keywords:l255 meta_title:l255 \
    link_rewrite:l128 name:l128 description:h description_short:h available_now:l255 \
    available_later:l255";
/// Product::$webserviceParameters['associations']: name and the fields of an item.
const PRODUCT_ASSOCIATIONS: &str = "categories:id images:id combinations:id \
    product_option_values:id product_features:id,id_feature_value tags:id \
    stock_availables:id,id_product_attribute attachments:id accessories:id \
    product_bundle:id,id_product_attribute,quantity";
const CATEGORY: &str = "id:k id_parent:u level_depth:u! nb_products_recursive:g! nleft:u~ \
    nright:u~ active:b* id_shop_default:u is_root_category:b position:i date_add:d date_upd:d \
    name:l*128 link_rewrite:l*128 description:h meta_title:l255 meta_description:l512 \
    meta_keywords:l255";
const STOCK_AVAILABLE: &str = "id:k id_product:u* id_product_attribute:u* id_shop:u \
    id_shop_group:u quantity:i* depends_on_stock:b* out_of_stock:i* location:s255";
const ORDER_HISTORY: &str = "id:k id_employee:u id_order_state:u* id_order:u* date_add:d";
const ORDER_STATE: &str = "id:k unremovable:b delivery:b hidden:b send_email:b module_name:s \
    invoice:b color:s logable:b shipped:b paid:b pdf_delivery:b pdf_invoice:b deleted:b \
    name:l*64 template:l64";

/// PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::getResources.
const RESOURCES: &str = "addresses attachments carriers cart_rules carts categories combinations \
    configurations contacts content_management_system countries currencies customer_messages \
    customer_threads customers customizations deliveries employees groups guests image_types \
    images languages manufacturers messages order_carriers order_cart_rules order_details \
    order_histories order_invoices order_payments order_slip order_states orders price_ranges \
    product_customization_fields product_feature_values product_features product_option_values \
    product_options product_suppliers products search shop_groups shop_urls shops \
    specific_price_rules specific_prices states stock_availables stock_movement_reasons \
    stock_movements stocks stores suppliers supply_order_details supply_order_histories \
    supply_order_receipt_histories supply_order_states supply_orders tags tax_rule_groups \
    tax_rules taxes translated_configurations warehouse_product_locations warehouses \
    weight_ranges zones";

#[derive(Clone, Default)]
struct Field {
    name: String,
    kind: char,
    required: bool,
    read_only: bool,
    hidden: bool,
    getter: bool,
    nullable: bool,
    size: usize,
}

impl Field {
    fn lang(&self) -> bool {
        matches!(self.kind, 'l' | 'h')
    }

    /// A column of `$definition['fields']`, validated and saved.
    fn column(&self) -> bool {
        matches!(
            self.kind,
            'u' | 'i' | 'b' | 'f' | 's' | 'd' | 'D' | 'l' | 'h'
        )
    }
}

#[derive(Clone)]
struct Schema {
    class: &'static str,
    node: String,
    fields: Vec<Field>,
    /// Each association and the fields of its items.
    associations: Vec<(String, Vec<String>)>,
    modelled: bool,
}

fn schema(res: &str) -> Option<Schema> {
    let (class, node, spec, associations) = match res {
        "products" => ("Product", "product", PRODUCT, PRODUCT_ASSOCIATIONS),
        "categories" => (
            "Category",
            "category",
            CATEGORY,
            "categories:id products:id",
        ),
        "stock_availables" => ("StockAvailable", "stock_available", STOCK_AVAILABLE, ""),
        "order_histories" => ("OrderHistory", "order_history", ORDER_HISTORY, ""),
        "order_states" => ("OrderState", "order_state", ORDER_STATE, ""),
        _ => return None,
    };
    let field = |item: &str| {
        let (name, rest) = item.split_once(':')?;
        let kind = rest.chars().next()?;
        let flags = &rest[kind.len_utf8()..];
        Some(Field {
            name: name.into(),
            kind,
            required: flags.contains('*'),
            read_only: flags.contains('!'),
            hidden: flags.contains('~'),
            getter: kind == 'g' || flags.contains('#'),
            nullable: flags.contains('?'),
            size: flags
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap_or(0),
        })
    };
    let association = |a: &str| {
        let (name, fields) = a.split_once(':')?;
        Some((
            name.to_string(),
            fields.split(',').map(str::to_string).collect(),
        ))
    };
    Some(Schema {
        class,
        node: node.into(),
        fields: spec.split_whitespace().filter_map(field).collect(),
        associations: associations
            .split_whitespace()
            .filter_map(association)
            .collect(),
        modelled: true,
    })
}

/// The fields of a resource the double does not model: the record's own, the id first.
fn derived(res: &str, record: Option<&Value>) -> Schema {
    let field = |name: &str, kind| Field {
        name: name.into(),
        kind,
        ..Field::default()
    };
    let (mut fields, mut associations) = (vec![field("id", 'k')], Vec::new());
    for (name, value) in record.and_then(Value::as_object).into_iter().flatten() {
        match (name.as_str(), value) {
            ("id", _) => {}
            ("associations", Value::Object(lists)) => {
                for (list, items) in lists {
                    let first = items.get(0).and_then(Value::as_object);
                    let keys =
                        first.map_or_else(|| vec!["id".into()], |i| i.keys().cloned().collect());
                    associations.push((list.clone(), keys));
                }
            }
            (_, Value::Array(items))
                if !items.is_empty() && items.iter().all(|i| i.get("value").is_some()) =>
            {
                fields.push(field(name, 'l'))
            }
            _ => fields.push(field(name, 's')),
        }
    }
    Schema {
        class: "",
        node: singular(res),
        fields,
        associations,
        modelled: false,
    }
}

fn singular(plural: &str) -> String {
    match plural.strip_suffix("ies") {
        Some(stem) => format!("{stem}y"),
        None => plural.trim_end_matches('s').to_string(),
    }
}

fn resources() -> Vec<&'static str> {
    let mut names: Vec<&str> = RESOURCES.split_whitespace().collect();
    names.sort_unstable();
    names
}

/// Errors as WebserviceRequest::setError keeps them; the status is the last one set.
#[derive(Default)]
struct Fail {
    status: u16,
    errors: Vec<(u32, String)>,
}

impl Fail {
    fn push(&mut self, status: u16, code: u32, message: impl Into<String>) {
        self.status = status;
        self.errors.push((code, message.into()));
    }
}

fn fail(status: u16, code: u32, message: impl Into<String>) -> Fail {
    let mut failed = Fail::default();
    failed.push(status, code, message);
    failed
}

/// PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::setErrorDidYouMean
/// (getClosest: the last word at the smallest Levenshtein distance), a 400.
fn did_you_mean<S: AsRef<str>>(label: &str, value: &str, available: &[S], code: u32) -> Fail {
    let words: Vec<&str> = available.iter().map(AsRef::as_ref).collect();
    let (mut closest, mut shortest) = ("", -1i64);
    for word in words.iter().copied() {
        let distance = strsim::levenshtein(value, word) as i64;
        if distance == 0 || distance <= shortest || shortest < 0 {
            (closest, shortest) = (word, distance);
        }
        if distance == 0 {
            break;
        }
    }
    let full = match words.len() {
        0 | 1 => String::new(),
        _ => format!(" The full list is: \"{}\"", words.join("\", \"")),
    };
    fail(
        400,
        code,
        format!("{label}. Did you mean: \"{closest}\"?{full}"),
    )
}

/// What every answer needs: the format, the shop's languages, the webservice's URL, `display`.
struct Ctx {
    json: bool,
    languages: Vec<String>,
    ws: String,
    display: Option<String>,
}

fn answer(r: &Request, store: &mut Store, url: &str) -> Reply {
    // PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::getOutputObject
    let format = r.header("io-format").or(r.header("output-format"));
    let json = format
        .or(param(r, "output_format"))
        .or(param(r, "io_format"))
        == Some("JSON");
    if let Err(refused) = authenticate(r) {
        let mut reply = errors(json, refused);
        reply.headers.retain(|(name, _)| name != "PSWS-Version");
        let realm = "Basic realm=\"Welcome to PrestaShop Webservice, please enter the authentication key as the login. No password required.\"";
        return reply.header("WWW-Authenticate", realm);
    }
    let ctx = Ctx {
        json,
        languages: store.languages.clone(),
        ws: format!("{url}/"),
        display: param(r, "display").map(str::to_string),
    };
    route(&ctx, r, store).unwrap_or_else(|failed| errors(json, failed))
}

/// PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::authenticate, the key
/// being the Basic user, else `ws_key` (webservice/dispatcher.php): none 16, empty 17, not 32
/// characters 18, another key 20 and 21, all 401 with `WWW-Authenticate`.
fn authenticate(r: &Request) -> Result<(), Fail> {
    let basic = r
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(base64);
    let user = basic.map(|b| {
        String::from_utf8_lossy(&b)
            .split(':')
            .next()
            .unwrap_or("")
            .to_string()
    });
    let Some(key) = user.or_else(|| param(r, "ws_key").map(str::to_string)) else {
        let message = "Please enter the authentication key as the login. No password required";
        return Err(fail(401, 16, message));
    };
    match key.trim() {
        "" => Err(fail(401, 17, "Authentication key is empty")),
        key if key.len() != 32 => Err(fail(401, 18, "Invalid authentication key format")),
        KEY => Ok(()),
        _ => {
            let mut refused = fail(401, 20, "Authentification key is not active");
            refused.push(401, 21, "No permission for this authentication key");
            Err(refused)
        }
    }
}

fn base64(text: &str) -> Option<Vec<u8>> {
    let (mut bits, mut count, mut out) = (0u32, 0, Vec::new());
    for c in text.trim().bytes().filter(|c| *c != b'=') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        (bits, count) = ((bits << 6 | u32::from(value)) & 0xFFFF, count + 6);
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::fetch: checkResource
/// (unknown: 400 code 27), checkHTTPMethod (invalid: 405 code 23; `forbidden_method`, e.g. POST
/// on stock_availables: 405 code 101), then GET, POST, PUT or PATCH; `ps_method` overrides the
/// verb (webservice/dispatcher.php).
fn route(ctx: &Ctx, r: &Request, store: &mut Store) -> Result<Reply, Fail> {
    let method = param(r, "ps_method").unwrap_or(&r.method).to_string();
    let mut segments = r.path.trim_start_matches('/').split('/').skip(1);
    let (res, id) = (segments.next().unwrap_or(""), segments.next().unwrap_or(""));
    let names = resources();
    if !res.is_empty() && !names.contains(&res) {
        let label = format!("Resource of type \"{res}\" does not exists");
        return Err(did_you_mean(&label, res, &names, 27));
    }
    if !["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
        return Err(fail(405, 23, format!("Method {method} is not valid")));
    }
    let forbidden: &[&str] = match res {
        "stock_availables" => &["POST", "DELETE"],
        "warehouses" => &["DELETE"],
        "search" | "stock_movements" | "stocks" | "warehouse_product_locations" => {
            &["PUT", "POST", "PATCH", "DELETE"]
        }
        _ if res.starts_with("supply_order") => &["PUT", "POST", "PATCH", "DELETE"],
        _ => &[],
    };
    if forbidden.contains(&method.as_str()) {
        return Err(fail(
            405,
            101,
            format!("Method {method} is not allowed for the resource {res}"),
        ));
    }
    match method.as_str() {
        _ if res.is_empty() => Ok(api_root(ctx)),
        "GET" | "HEAD" if id.is_empty() => list(ctx, store, r, res),
        "GET" | "HEAD" => Ok(one(ctx, store, res, id)),
        "DELETE" => Err(fail(501, 0, "DELETE is not modelled by this double")),
        _ => write(ctx, store, r, &method, res),
    }
}

/// PrestaShop: classes/webservice/WebserviceOutputBuilder.php WebserviceOutputBuilder::getResourcesList
/// (in JSON, WebserviceOutputJSON::renderNodeHeader keeps the names only).
fn api_root(ctx: &Ctx) -> Reply {
    let names = resources();
    if ctx.json {
        return respond(true, 200, json!(names).to_string());
    }
    let link = |n: &&str| {
        (
            n.to_string(),
            json!({"@xlink:href": format!("{}{n}", ctx.ws)}),
        )
    };
    let links = Value::Object(names.iter().map(link).collect());
    respond(false, 200, xml_doc("api", &links))
}

fn respond(json: bool, status: u16, body: String) -> Reply {
    let mut headers = vec![
        ("PSWS-Version".to_string(), VERSION.to_string()),
        (
            "X-Powered-By".to_string(),
            "PrestaShop Webservice".to_string(),
        ),
    ];
    if !json && !body.is_empty() {
        headers.push(("Content-Type".into(), "text/xml;charset=utf-8".into()));
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// PrestaShop: classes/webservice/WebserviceOutputBuilder.php WebserviceOutputBuilder::getErrors:
/// `{"errors":[{"code":..,"message":..}]}` or `<prestashop><errors><error><code>`.
fn errors(json: bool, failed: Fail) -> Reply {
    let list = failed
        .errors
        .iter()
        .map(|(code, message)| json!({"code": code, "message": message}));
    let list = Value::Array(list.collect());
    let body = if json {
        json!({ "errors": list }).to_string()
    } else {
        xml_doc("errors", &list)
    };
    respond(json, failed.status, body)
}

/// PrestaShop: classes/webservice/WebserviceOutputXML.php WebserviceOutputXML::renderField and
/// overrideContent: values in CDATA (none when empty), `@name` keys as attributes, a list's items
/// under its singular name (`language` for a translated field's texts).
fn xml_doc(name: &str, value: &Value) -> String {
    fn node(name: &str, value: &Value, out: &mut String) {
        let content = |v: &Value| match v {
            Value::Null | Value::Bool(false) => String::new(),
            v if v.as_str() == Some("") => String::new(),
            v => format!("<![CDATA[{}]]>", text(v).replace("]]>", "]]]]><![CDATA[>")),
        };
        let fields = value.as_object().into_iter().flatten();
        let attributes: String = fields
            .filter_map(|(k, v)| Some(format!(" {}=\"{}\"", k.strip_prefix('@')?, text(v))))
            .collect();
        out.push_str(&format!("<{name}{attributes}>"));
        match value {
            Value::Object(fields) => {
                if fields.keys().any(|k| !k.starts_with('@') && k != "#text") {
                    out.push('\n');
                }
                for (key, v) in fields.iter().filter(|(k, _)| !k.starts_with('@')) {
                    if key == "#text" {
                        out.push_str(&content(v))
                    } else {
                        node(key, v, out)
                    }
                }
            }
            Value::Array(items) => {
                if !items.is_empty() {
                    out.push('\n');
                }
                for item in items {
                    let item_name = match name {
                        _ if item.get("#text").is_some() => "language".to_string(),
                        "accessories" | "product_bundle" => "product".to_string(),
                        _ => singular(name),
                    };
                    node(&item_name, item, out);
                }
            }
            scalar => out.push_str(&content(scalar)),
        }
        out.push_str(&format!("</{name}>\n"));
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n");
    node(name, value, &mut out);
    out + "</prestashop>\n"
}

/// One record. PrestaShop: classes/webservice/WebserviceOutputJSON.php
/// WebserviceOutputJSON::overrideContent drops the fields PHP counts as empty (`array_filter`:
/// null, false, 0, "", "0", []; PrestaShop#39918); with `display` in the query,
/// WebserviceOutputJSON::renderNodeFooter makes it a one-record list, whose fields stay.
fn single(
    ctx: &Ctx,
    res: &str,
    node: &str,
    record: (Map<String, Value>, Map<String, Value>),
    status: u16,
) -> Reply {
    let (json, xml) = record;
    if !ctx.json {
        return respond(false, status, xml_doc(node, &Value::Object(xml)));
    }
    let body = match ctx.display {
        Some(_) => json!({ res: [json] }),
        None => {
            let kept: Map<String, Value> =
                json.into_iter().filter(|(_, v)| !php_falsy(v)).collect();
            json!({ node: kept })
        }
    };
    respond(true, status, body.to_string())
}

/// PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::getFilteredObjectDetails:
/// an unknown id is a 404 with an empty body (`_outputEnabled = false`).
fn one(ctx: &Ctx, store: &Store, res: &str, id: &str) -> Reply {
    let Some(record) = find(store, res, php_int(id)) else {
        return respond(ctx.json, 404, String::new());
    };
    let schema = schema(res).unwrap_or_else(|| derived(res, Some(&record)));
    let view = stored_view(store, &schema, &record);
    let rendered = entity(ctx, store, res, &schema, &view, &mut Fail::default());
    single(ctx, res, &schema.node, rendered, 200)
}

/// PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::manageFilters (filters:
/// unknown 32, empty 33, a getter's 34; `sort`: 37, 38; `limit`: 39) and getFilteredObjectList
/// (ids only unless `display`). Date fields filter and sort only with `date=1`. An empty JSON
/// list is `[]`.
fn list(ctx: &Ctx, store: &Store, r: &Request, res: &str) -> Result<Reply, Fail> {
    let fixed = schema(res);
    let mut rows: Vec<(Schema, Map<String, Value>)> = Vec::new();
    for record in store.all(res) {
        let schema = fixed.clone().unwrap_or_else(|| derived(res, Some(&record)));
        let view = stored_view(store, &schema, &record);
        rows.push((schema, view));
    }
    let mut fields: Vec<Field> = Vec::new();
    for field in fixed
        .iter()
        .chain(rows.iter().map(|(s, _)| s))
        .flat_map(|s| &s.fields)
    {
        if !fields.iter().any(|f| f.name == field.name) {
            fields.push(field.clone());
        }
    }
    let names = |keep: &dyn Fn(&Field) -> bool| -> Vec<String> {
        fields
            .iter()
            .filter(|f| keep(f))
            .map(|f| f.name.clone())
            .collect()
    };
    let mut available = names(&|f| !f.hidden && !f.lang());
    let (i18n, getters) = (names(&|f| !f.hidden && f.lang()), names(&|f| f.getter));
    available.retain(|f| f != "date_add" && f != "date_upd");
    if param(r, "date").is_some_and(|d| !php_empty(d)) {
        available.extend(["date_add".to_string(), "date_upd".to_string()]);
    }
    for (key, value) in &r.query {
        let Some(field) = key
            .strip_prefix("filter[")
            .and_then(|k| k.strip_suffix(']'))
        else {
            continue;
        };
        if field == "sort" || field == "limit" || fields.is_empty() {
            continue;
        }
        let field = field.to_string();
        if !available.contains(&field) && (value.is_empty() || !i18n.contains(&field)) {
            return Err(did_you_mean(
                "This filter does not exist",
                &field,
                &available,
                32,
            ));
        } else if value.is_empty() {
            return Err(fail(
                400,
                33,
                format!("The filter \"{field}\" is malformed."),
            ));
        } else if getters.contains(&field) {
            let message = format!(
                "The field \"{field}\" is dynamic. It is not possible to filter GET query with this field."
            );
            return Err(fail(400, 34, message));
        }
        rows.retain(|(_, view)| filter_matches(view.get(&field).unwrap_or(&Value::Null), value));
    }
    if let Some(sort) = param(r, "sort").filter(|_| !fields.is_empty()) {
        let keys = sort_keys(sort, &available, &i18n)?;
        let key = |view: &Map<String, Value>, field: &str| match view.get(field) {
            Some(Value::Object(texts)) => texts.values().next().map(text).unwrap_or_default(),
            other => other.map(text).unwrap_or_default(),
        };
        rows.sort_by(|(_, a), (_, b)| {
            let order = keys
                .iter()
                .map(|(f, desc)| (sql_cmp(&key(a, f.as_str()), &key(b, f.as_str())), *desc));
            let mut order = order.map(|(o, desc)| if desc { o.reverse() } else { o });
            order.find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
        });
    }
    if let Some(limit) = param(r, "limit") {
        let (offset, count) = match limit.split(',').map(php_int).collect::<Vec<_>>()[..] {
            [count] => (0, count),
            [offset, count] => (offset, count),
            _ => {
                return Err(fail(
                    400,
                    39,
                    "The \"limit\" value has to be formed as this example: \"5,25\" or \"10\"",
                ));
            }
        };
        rows = rows
            .into_iter()
            .skip(offset.max(0) as usize)
            .take(count.max(0) as usize)
            .collect();
    }
    let full = ctx.display.as_deref().is_some_and(|d| d != "minimum");
    let (mut json, mut xml) = (Vec::new(), Vec::new());
    for (schema, view) in &rows {
        if full {
            let (j, x) = entity(ctx, store, res, schema, view, &mut Fail::default());
            json.push(Value::Object(j));
            xml.push(Value::Object(x));
        } else {
            let id = text(view.get("id").unwrap_or(&Value::Null));
            json.push(json!({"id": php_int(&id)}));
            xml.push(json!({"@id": id, "@xlink:href": format!("{}{res}/{id}", ctx.ws)}));
        }
    }
    Ok(match (ctx.json, json.is_empty()) {
        (false, _) => respond(false, 200, xml_doc(res, &Value::Array(xml))),
        (true, true) => respond(true, 200, "[]".into()),
        (true, false) => respond(true, 200, json!({ res: json }).to_string()),
    })
}

/// `sort=field_ASC` or `[a_DESC,b_ASC]` (codes 37 and 38).
fn sort_keys(
    sort: &str,
    available: &[String],
    i18n: &[String],
) -> Result<Vec<(String, bool)>, Fail> {
    let inner = sort
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(sort);
    let mut keys = Vec::new();
    for key in inner.split(',') {
        let (field, direction) = key.rsplit_once('_').unwrap_or((key, ""));
        let direction = direction.to_uppercase();
        if direction != "ASC" && direction != "DESC" {
            return Err(fail(
                400,
                37,
                "The \"sort\" value has to be formed as this example: \"field_ASC\" or '[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an available field)",
            ));
        }
        if !available.iter().chain(i18n).any(|a| a == field) {
            let (fields, i18n) = (available.join(", "), i18n.join(", "));
            let message = format!(
                "Unable to filter by this field. However, these are available: {fields}, for i18n fields:{i18n}"
            );
            return Err(fail(400, 38, message));
        }
        keys.push((field.to_string(), direction == "DESC"));
    }
    Ok(keys)
}

/// PrestaShop: classes/webservice/SQLUtils.php SQLUtils::getSQLRetrieveFilter: `[a|b]`, `[1,10]`,
/// `[a]`, `>[a]`, `<[a]`, `![a|b]`, `%[a]`/`[a]%`, compared as MySQL does; without brackets
/// LIKE for a number, REGEXP otherwise (taken here as "contains"). A translated field matches
/// in any language.
fn filter_matches(value: &Value, filter: &str) -> bool {
    let texts: Vec<String> = match value {
        Value::Object(texts) => texts.values().map(text).collect(),
        other => vec![text(other)],
    };
    let bracket = filter
        .rfind(']')
        .and_then(|close| Some((filter[..close].rfind('[')?, close)));
    texts.iter().any(|v| {
        let Some((open, close)) = bracket else {
            let lower = filter.to_lowercase();
            return if numeric(filter).is_some() {
                like(v, filter)
            } else {
                v.to_lowercase().contains(&lower)
            };
        };
        let (before, inner, after) = (
            &filter[..open],
            &filter[open + 1..close],
            &filter[close + 1..],
        );
        let equal = |x: &str| sql_cmp(v, x).is_eq();
        let interval = inner.split_once(',').filter(|(a, b)| {
            let bound = |s: &str| {
                !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || ".:- ".contains(c))
            };
            bound(a) && bound(b)
        });
        match (before, after, interval) {
            ("%", _, _) | (_, "%", _) => like(v, &format!("{before}{inner}{after}")),
            ("", "", _) if inner.find('|').is_some_and(|p| p > 0) => inner.split('|').any(equal),
            ("", "", Some((a, b))) => {
                let (low, high) = if sql_cmp(a, b).is_gt() {
                    (b, a)
                } else {
                    (a, b)
                };
                sql_cmp(v, low).is_ge() && sql_cmp(v, high).is_le()
            }
            ("", "", None) => equal(inner),
            (">", _, _) => sql_cmp(v, inner).is_gt(),
            ("<", _, _) => sql_cmp(v, inner).is_lt(),
            ("!", _, _) => !inner.split('|').any(equal),
            _ => true,
        }
    })
}

/// MySQL's comparison: as numbers when both sides are, else as text without case.
fn sql_cmp(a: &str, b: &str) -> Ordering {
    match (numeric(a), numeric(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a
            .trim_end()
            .to_lowercase()
            .cmp(&b.trim_end().to_lowercase()),
    }
}

/// SQL LIKE without case: `%` any run, `_` one character.
fn like(value: &str, pattern: &str) -> bool {
    fn go(v: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| go(&v[i..], rest)),
            Some(('_', rest)) => !v.is_empty() && go(&v[1..], rest),
            Some((c, rest)) => v.first() == Some(c) && go(&v[1..], rest),
        }
    }
    let chars = |s: &str| s.to_lowercase().chars().collect::<Vec<_>>();
    go(&chars(value), &chars(pattern))
}

/// PrestaShop: classes/ObjectModel.php ObjectModel::__construct (through EntityMapper::load):
/// every column as MySQL gives it back, the id as a number, translated fields in every language.
fn stored_view(store: &Store, schema: &Schema, record: &Value) -> Map<String, Value> {
    let mut view = Map::new();
    for field in &schema.fields {
        let stored = record.get(&field.name);
        let value = match field.kind {
            'k' => json!(php_int(&text(&record["id"]))),
            'l' | 'h' => Value::Object(lang_map(stored, &store.languages)),
            'g' | 'v' => continue,
            _ if !schema.modelled => stored.cloned().unwrap_or(Value::Null),
            _ => db_value(field, stored.unwrap_or(&Value::Null)),
        };
        view.insert(field.name.clone(), value);
    }
    view
}

/// A translated field as PrestaShop keeps it: one text per shop language ("" where none).
fn lang_map(stored: Option<&Value>, languages: &[String]) -> Map<String, Value> {
    let text_in = |lang: &str| match stored {
        Some(Value::Array(items)) => {
            let item = items.iter().find(|i| text(&i["id"]) == lang);
            item.map(|i| text(&i["value"])).unwrap_or_default()
        }
        other => other.map(text).unwrap_or_default(),
    };
    languages
        .iter()
        .map(|lang| (lang.clone(), json!(text_in(lang))))
        .collect()
}

/// PrestaShop: classes/ObjectModel.php ObjectModel::formatValue, as MySQL gives the column back:
/// numbers as text, decimals with six places ("20.000000"), booleans "0"/"1", an empty date as
/// zeros, NULL where allowed.
fn db_value(field: &Field, value: &Value) -> Value {
    if value.is_null() && field.nullable {
        return Value::Null;
    }
    let value = text(value);
    json!(match field.kind {
        'u' | 'i' | 'b' | 'r' => php_int(&value).to_string(),
        'f' => format!("{:.6}", php_float(&value)),
        'd' if value.is_empty() => "0000-00-00 00:00:00".into(),
        'D' if value.is_empty() => "0000-00-00".into(),
        _ => value,
    })
}

/// A record in JSON and XML. PrestaShop: classes/webservice/WebserviceOutputBuilder.php
/// WebserviceOutputBuilder::renderEntity and renderField (hidden fields skipped, getters called,
/// an empty `id_*` shown as ""); WebserviceOutputJSON::renderField: one language gives its text,
/// more give `[{id, value}]`, and a language the object lacks is PHP's "Undefined array key",
/// a 500 (in XML, WebserviceOutputXML::renderField checks isset: an empty language).
fn entity(
    ctx: &Ctx,
    store: &Store,
    res: &str,
    schema: &Schema,
    view: &Map<String, Value>,
    warnings: &mut Fail,
) -> (Map<String, Value>, Map<String, Value>) {
    let id = php_int(&text(view.get("id").unwrap_or(&Value::Null)));
    let (mut json, mut xml) = (Map::new(), Map::new());
    for field in schema.fields.iter().filter(|f| !f.hidden) {
        let name = field.name.clone();
        let mut value = getter(store, field, view, id)
            .unwrap_or_else(|| view.get(&name).cloned().unwrap_or_default());
        if value.is_null() && name.starts_with("id_") {
            value = json!("");
        }
        if !field.lang() {
            xml.insert(name.clone(), value.clone());
            json.insert(name, value);
            continue;
        }
        let texts = value.as_object();
        let mut items = Vec::new();
        for lang in &ctx.languages {
            let in_lang = texts.and_then(|t| t.get(lang)).cloned();
            if texts.is_some() && in_lang.is_none() && ctx.json {
                let file = format!("{PHP}/webservice/WebserviceOutputJSON.php, line 98");
                warnings.push(
                    500,
                    3,
                    format!("[PHP Warning #2] Undefined array key {lang} ({file})"),
                );
            }
            items.push(json!({"id": lang, "value": in_lang.unwrap_or_default()}));
        }
        let languages = items
            .iter()
            .map(|i| json!({"@id": i["id"], "#text": i["value"]}));
        xml.insert(name.clone(), Value::Array(languages.collect()));
        let shown = match (texts, items.len()) {
            (None, _) => value,
            (Some(_), 1) => items[0]["value"].clone(),
            _ => Value::Array(items),
        };
        json.insert(name, shown);
    }
    if !schema.associations.is_empty() {
        let (mut json_lists, mut xml_lists) = (Map::new(), Map::new());
        for (name, fields) in &schema.associations {
            let items: Vec<Value> = association_items(store, res, id, name)
                .iter()
                .map(|item| {
                    fields
                        .iter()
                        .map(|f| (f.clone(), item.get(f).cloned().unwrap_or(json!(""))))
                        .collect()
                })
                .collect();
            if !items.is_empty() {
                json_lists.insert(name.clone(), Value::Array(items.clone()));
            }
            xml_lists.insert(name.clone(), Value::Array(items));
        }
        if !json_lists.is_empty() {
            json.insert("associations".into(), Value::Object(json_lists));
        }
        xml.insert("associations".into(), Value::Object(xml_lists));
    }
    (json, xml)
}

/// PrestaShop: classes/Product.php Product::getWsPositionInCategory, getWsManufacturerName,
/// getWsType, getCoverWs (no images here), getWsDefaultCombination; classes/Category.php
/// Category::getWsNbProductsRecursive (-1 for none; subcategories not counted here).
fn getter(store: &Store, field: &Field, view: &Map<String, Value>, id: i64) -> Option<Value> {
    let number = |name: &str| php_int(&text(view.get(name).unwrap_or(&Value::Null)));
    Some(match field.name.as_str() {
        _ if field.kind != 'g' => return None,
        "position_in_category" => position_in_category(store, id, number("id_category_default")),
        "manufacturer_name" => {
            let manufacturer = find(store, "manufacturers", number("id_manufacturer"));
            manufacturer.map_or(json!(false), |m| m["name"].clone())
        }
        "type" if number("cache_is_pack") == 1 => json!("pack"),
        "type" if number("is_virtual") == 1 => json!("virtual"),
        "type" => json!("simple"),
        "id_default_combination" => json!(0),
        "nb_products_recursive" => match products_in(store, id).len() {
            0 => json!(-1),
            n => json!(n.to_string()),
        },
        _ => Value::Null,
    })
}

/// PrestaShop: classes/Product.php Product::setWsCategories: a product is in a category only
/// through its `associations.categories`, not its `id_category_default`. The ids, in order.
fn products_in(store: &Store, category: i64) -> Vec<u64> {
    let in_category = |p: &Value| {
        let categories = p["associations"]["categories"].as_array();
        categories.is_some_and(|c| c.iter().any(|c| php_int(&text(&c["id"])) == category))
    };
    let products = store
        .records
        .resources
        .get("products")
        .into_iter()
        .flatten();
    products
        .filter(|(_, p)| in_category(p))
        .map(|(id, _)| *id)
        .collect()
}

/// PrestaShop: classes/Product.php Product::getWsPositionInCategory: the position last set, else
/// the rank from 0 in the default category (setWsCategories appends at max + 1 from 0), else "".
fn position_in_category(store: &Store, product: i64, category: i64) -> Value {
    let mut set = store.position_rewrites.iter().rev();
    let set = set.find(|(p, c, _)| *p as i64 == product && *c as i64 == category);
    if let Some((_, _, position)) = set {
        return json!(position.to_string());
    }
    let rank = products_in(store, category)
        .iter()
        .position(|p| *p as i64 == product);
    rank.map_or(json!(""), |rank| json!(rank.to_string()))
}

/// PrestaShop: classes/Product.php Product::getWsStockAvailables, classes/Category.php
/// Category::getChildrenWs (active children) and Category::getProductsWs read the tables; the
/// other associations give back what was set.
fn association_items(store: &Store, res: &str, id: i64, name: &str) -> Vec<Map<String, Value>> {
    let number = |r: &Value, key: &str| php_int(&text(&r[key]));
    let pick = |r: &Value, keys: &[&str]| -> Map<String, Value> {
        keys.iter()
            .map(|k| (k.to_string(), r[*k].clone()))
            .collect()
    };
    match (res, name) {
        ("products", "stock_availables") => {
            let rows = store
                .all("stock_availables")
                .into_iter()
                .filter(|s| number(s, "id_product") == id);
            rows.map(|s| pick(&s, &["id", "id_product_attribute"]))
                .collect()
        }
        ("categories", "categories") => {
            let children = |c: &Value| number(c, "id_parent") == id && text(&c["active"]) == "1";
            store
                .all("categories")
                .iter()
                .filter(|&c| children(c))
                .map(|c| pick(c, &["id"]))
                .collect()
        }
        ("categories", "products") => {
            let ids = products_in(store, id).into_iter();
            ids.map(|p| Map::from_iter([("id".to_string(), json!(p.to_string()))]))
                .collect()
        }
        _ => {
            let record = find(store, res, id).unwrap_or_default();
            let items = record["associations"][name]
                .as_array()
                .cloned()
                .unwrap_or_default();
            items
                .into_iter()
                .filter_map(|i| i.as_object().cloned())
                .collect()
        }
    }
}

/// An element as SimpleXML sees it: its own text, attributes and children.
#[derive(Default)]
struct Node {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn text_of(&self, name: &str) -> &str {
        self.child(name).map_or("", |c| c.text.as_str())
    }
}

/// The body as `new SimpleXMLElement` reads it; None where it throws.
fn parse_xml(body: &str) -> Option<Node> {
    let open = |e: &BytesStart| {
        let name = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let attributes = e.attributes().flatten().map(|a| {
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_default();
            (name(a.key.as_ref()), value)
        });
        Node {
            name: name(e.name().as_ref()),
            attributes: attributes.collect(),
            ..Node::default()
        }
    };
    let (mut reader, mut buf) = (Reader::from_str(body), Vec::new());
    let (mut stack, mut root): (Vec<Node>, Option<Node>) = (Vec::new(), None);
    loop {
        let closed = match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                stack.push(open(&e));
                None
            }
            Event::Empty(e) => Some(open(&e)),
            Event::End(_) => Some(stack.pop()?),
            Event::Text(t) => {
                let t = t.unescape().ok()?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&t),
                    None if !t.trim().is_empty() => return None,
                    None => {}
                }
                None
            }
            Event::CData(t) => {
                stack
                    .last_mut()?
                    .text
                    .push_str(&String::from_utf8_lossy(&t));
                None
            }
            Event::Eof => break,
            _ => None,
        };
        match (closed, stack.last_mut()) {
            (Some(node), Some(parent)) => parent.children.push(node),
            (Some(node), None) if root.is_none() => root = Some(node),
            (Some(_), None) => return None,
            (None, _) => {}
        }
        buf.clear();
    }
    if stack.is_empty() { root } else { None }
}

/// A node as the double keeps an unmodelled resource: text, `[{id, value}]` for languages, a
/// list when every child has the singular name, else an object.
fn node_json(node: &Node) -> Value {
    let all = |name: &str| node.children.iter().all(|c| c.name == name);
    let language = |c: &Node| {
        let id = c
            .attributes
            .iter()
            .find(|(n, _)| n == "id")
            .map_or("", |(_, v)| v.as_str());
        json!({"id": id, "value": c.text})
    };
    match &node.children {
        children if children.is_empty() => json!(node.text),
        children if all("language") => children.iter().map(language).collect(),
        children if all(&singular(&node.name)) => children.iter().map(node_json).collect(),
        children => Value::Object(
            children
                .iter()
                .map(|c| (c.name.clone(), node_json(c)))
                .collect(),
        ),
    }
}

/// PrestaShop: classes/webservice/WebserviceRequest.php WebserviceRequest::saveEntityFromXml.
/// XML the parser refuses: 500 code 127. PUT and PATCH take the id from the body (the URL's is
/// ignored): missing 90, unknown 404 code 92; POST with one: 91. Then each field in order: a
/// read-only one sent 93, a required one missing 41, others missing set to null (PATCH: only the
/// fields sent change); modifiers; validateFieldsLang (84), validateFields (85); add or update;
/// the associations sent, each replacing the stored one (an unknown one: 86, after the save).
fn write(
    ctx: &Ctx,
    store: &mut Store,
    r: &Request,
    method: &str,
    res: &str,
) -> Result<Reply, Fail> {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let Some(root) = parse_xml(&body) else {
        let length = body.len();
        let message = format!(
            "XML error : String could not be parsed as XML\nXML length : {length}\nOriginal XML : {body}"
        );
        return Err(fail(500, 127, message));
    };
    let ids: Vec<i64> = root
        .children
        .iter()
        .map(|e| e.text_of("id"))
        .filter(|i| !i.is_empty())
        .map(php_int)
        .collect();
    match method {
        "POST" if !ids.is_empty() => {
            return Err(fail(400, 91, "id is forbidden when adding a new resource"));
        }
        "POST" => {}
        _ if ids.iter().collect::<BTreeSet<_>>().len() != ids.len() => {
            return Err(fail(400, 89, "id is duplicate in request"));
        }
        _ if ids.len() != root.children.len() => {
            return Err(fail(400, 90, "id is required when modifying a resource"));
        }
        _ => {}
    }
    // No entity: WebserviceRequest::returnOutput, having no object, lists the resources.
    let Some(sent) = root.children.first() else {
        return Ok(api_root(ctx));
    };
    let loaded = match method {
        "POST" => None,
        _ => Some(
            find(store, res, php_int(sent.text_of("id")))
                .ok_or_else(|| fail(404, 92, "Invalid ID"))?,
        ),
    };
    let Some(schema) = schema(res) else {
        return Ok(write_unmodelled(ctx, store, method, res, sent, loaded));
    };
    let (patch, adding) = (method == "PATCH", loaded.is_none());
    let mut view = loaded
        .as_ref()
        .map(|record| stored_view(store, &schema, record))
        .unwrap_or_default();
    let (mut set, mut languages_set) = (BTreeSet::new(), BTreeMap::<String, Vec<String>>::new());
    let mut failed = Fail::default();
    for field in &schema.fields {
        let (name, node) = (field.name.as_str(), sent.child(&field.name));
        if patch && node.is_none() {
            continue;
        }
        if field.lang() {
            // Languages as `<language id>` change those languages; one text replaces them all.
            let Some(node) = node.filter(|n| n.child("language").is_some()) else {
                view.insert(name.into(), json!(node.map_or("", |n| n.text.as_str())));
                continue;
            };
            let texts = view.entry(name).or_insert_with(|| json!({}));
            if !texts.is_object() {
                *texts = json!({});
            }
            for language in node.children.iter().filter(|c| c.name == "language") {
                let lang_id = language
                    .attributes
                    .iter()
                    .find(|(n, _)| n == "id")
                    .map_or("", |(_, v)| v.as_str());
                let lang = php_int(lang_id).to_string();
                texts[lang.as_str()] = json!(language.text);
                languages_set.entry(name.into()).or_default().push(lang);
            }
        } else if let Some(node) = node {
            if field.read_only {
                let message = format!(
                    "parameter \"{name}\" not writable. Please remove this attribute of this XML"
                );
                failed.push(400, 93, message);
                return Err(failed);
            }
            if name == "position_in_category" {
                set_position(store, &view, &node.text, &mut failed);
            } else if field.kind != 'g' {
                view.insert(name.into(), json!(node.text));
                set.insert(name.to_string());
            }
        } else if field.required {
            failed.push(400, 41, format!("parameter \"{name}\" required"));
            return Err(failed);
        } else if field.kind != 'g' {
            view.insert(name.into(), Value::Null);
            set.insert(name.to_string());
        }
    }
    if method == "POST" && matches!(res, "products" | "categories") {
        link_rewrite_modifier(&mut view, schema.class, &mut failed);
    }
    if !failed.errors.is_empty() {
        return Err(failed);
    }
    // PrestaShop: classes/ObjectModel.php ObjectModel::validateField sets a field's 'default'.
    for (name, default) in [("condition", "new"), ("visibility", "both")] {
        if let Some(value) = view.get_mut(name).filter(|v| php_empty(&text(v))) {
            *value = json!(default);
        }
    }
    let changed = patch.then_some((&set, &languages_set));
    validate(store, &schema, &view, changed)?;
    if adding && res == "order_histories" {
        let sendemail = param(r, "sendemail").is_some_and(|v| !php_empty(v));
        if let Err(died) = change_order_state(store, &view, sendemail) {
            return Ok(died);
        }
    }
    let now = store.records.tick();
    let id = match &loaded {
        Some(record) => php_int(&text(&record["id"])) as u64,
        None => store.records.new_id_in(res).0,
    };
    // PrestaShop: classes/ObjectModel.php ObjectModel::add / ObjectModel::update set the dates
    // (date_add on update only when empty) and, on add, the default shop.
    for date in ["date_add", "date_upd"] {
        let empty = php_empty(&text(view.get(date).unwrap_or(&Value::Null)));
        if schema.fields.iter().any(|f| f.name == date) && (date == "date_upd" || adding || empty) {
            view.insert(date.into(), now.clone());
            set.insert(date.into());
        }
    }
    if adding && matches!(res, "products" | "categories") {
        view.insert("id_shop_default".into(), json!("1"));
    }
    if res == "categories" {
        // PrestaShop: classes/Category.php Category::add / Category::update (calcLevelDepth).
        let parent = php_int(&text(view.get("id_parent").unwrap_or(&Value::Null)));
        let parent_level =
            find(store, "categories", parent).map(|p| php_int(&text(&p["level_depth"])));
        let level = if parent == 0 {
            0
        } else {
            parent_level.unwrap_or(0) + 1
        };
        view.insert("level_depth".into(), json!(level));
        set.insert("level_depth".into());
    }
    let mut record = match loaded {
        Some(Value::Object(record)) => record,
        _ => Map::new(),
    };
    save_fields(
        &mut record,
        store,
        &schema,
        &view,
        patch.then_some((&set, &languages_set)),
    );
    if adding && res == "categories" {
        // PrestaShop: classes/Category.php Category::add → addPosition, after its siblings.
        let parent = record.get("id_parent").cloned().unwrap_or_default();
        let siblings = store
            .all("categories")
            .iter()
            .filter(|c| c["id_parent"] == parent)
            .count();
        record.insert("position".into(), json!(siblings.to_string()));
    }
    record.insert("id".into(), json!(id.to_string()));
    if adding {
        view.insert("id".into(), json!(id.to_string()));
    }
    store
        .records
        .resources
        .entry(res.into())
        .or_default()
        .insert(id, Value::Object(record));
    store.writes.push((method.into(), res.into(), id));
    if adding && res == "products" {
        // PrestaShop: classes/Product.php Product::add → StockAvailable::setProductOutOfStock($id, 2)
        let (row, _) = store.records.new_id_in("stock_availables");
        let stock = json!({"id": row.to_string(), "id_product": id.to_string(), "id_product_attribute": "0",
            "id_shop": "1", "id_shop_group": "0", "quantity": "0", "depends_on_stock": "0",
            "out_of_stock": "2", "location": ""});
        store
            .records
            .resources
            .entry("stock_availables".into())
            .or_default()
            .insert(row, stock);
    }
    for node in sent
        .child("associations")
        .map_or(&[][..], |a| a.children.as_slice())
    {
        if !schema
            .associations
            .iter()
            .any(|(name, _)| *name == node.name)
        {
            if node.name == "i18n" {
                continue;
            }
            return Err(fail(
                400,
                86,
                format!("The association \"{}\" does not exists", node.name),
            ));
        }
        // PrestaShop: classes/Product.php Product::setWsCategories and the other setters replace
        // the association; stock_availables and Category's associations have no setter.
        if res == "products" && node.name != "stock_availables" {
            let item = |i: &Node| -> Map<String, Value> {
                i.children
                    .iter()
                    .map(|f| (f.name.clone(), json!(f.text)))
                    .collect()
            };
            let items: Value = node
                .children
                .iter()
                .map(|i| Value::Object(item(i)))
                .collect();
            let stored = store
                .records
                .resources
                .get_mut(res)
                .and_then(|t| t.get_mut(&id));
            if let Some(Value::Object(record)) = stored {
                let lists = record.entry("associations").or_insert_with(|| json!({}));
                if !lists.is_object() {
                    *lists = json!({});
                }
                lists[node.name.as_str()] = items;
            }
        }
    }
    let mut warnings = Fail::default();
    let rendered = entity(ctx, store, res, &schema, &view, &mut warnings);
    if !warnings.errors.is_empty() {
        return Err(warnings);
    }
    Ok(single(
        ctx,
        res,
        &schema.node,
        rendered,
        if adding { 201 } else { 200 },
    ))
}

type Changed<'a> = Option<(&'a BTreeSet<String>, &'a BTreeMap<String, Vec<String>>)>;

/// PrestaShop: classes/ObjectModel.php ObjectModel::validateFieldsLang (a translated field sent as
/// one text is checked as that text plus "" in the default language: a required one fails) and
/// ObjectModel::validateFields. A PATCH checks what it changes.
fn validate(
    store: &Store,
    schema: &Schema,
    view: &Map<String, Value>,
    changed: Changed,
) -> Result<(), Fail> {
    let default = store.languages.first().map_or("1", String::as_str);
    for field in schema.fields.iter().filter(|f| f.lang()) {
        let mut values: Vec<(String, Value)> = match view.get(&field.name) {
            Some(Value::Object(texts)) => {
                texts.iter().map(|(l, t)| (l.clone(), t.clone())).collect()
            }
            other => vec![(String::new(), other.cloned().unwrap_or_default())],
        };
        if !values.iter().any(|(lang, _)| lang == default) {
            values.push((default.to_string(), json!("")));
        }
        for (lang, value) in values {
            let given = |(_, langs): (_, &BTreeMap<String, Vec<String>>)| {
                langs.get(&field.name).is_some_and(|l| l.contains(&lang))
            };
            if changed.is_some_and(|c| !given(c)) {
                continue;
            }
            if let Some(message) = invalid(
                schema.class,
                field,
                &value,
                lang.is_empty() || lang == default,
            ) {
                return Err(fail(400, 84, format!("Validation error: \"{message}\"")));
            }
        }
    }
    for field in schema.fields.iter().filter(|f| f.column() && !f.lang()) {
        if changed.is_some_and(|(set, _)| !set.contains(&field.name)) {
            continue;
        }
        let value = view.get(&field.name).unwrap_or(&Value::Null);
        if let Some(message) = invalid(schema.class, field, value, true) {
            return Err(fail(400, 85, format!("Validation error: \"{message}\"")));
        }
    }
    Ok(())
}

/// PrestaShop: classes/ObjectModel.php ObjectModel::validateField: the message for a value
/// PrestaShop refuses (required, allowed values, size, then the field's Validate:: method:
/// isUnsignedId, isInt, isBool, isPrice, isDate, isCleanHtml, isLinkRewrite, isCatalogName,
/// isReference, isEan13, isGenericName).
fn invalid(class: &str, field: &Field, value: &Value, default_language: bool) -> Option<String> {
    let (property, value_text) = (format!("{class}->{}", field.name), text(value));
    if field.required && default_language && value_text.is_empty() {
        return Some(format!("Property {property} is empty."));
    }
    let allowed: &[&str] = match field.name.as_str() {
        "condition" => &["new", "used", "refurbished"],
        "visibility" => &["both", "catalog", "search", "none"],
        "product_type" => &["standard", "pack", "virtual", "combinations", ""],
        _ => &[],
    };
    if !allowed.is_empty() && !allowed.contains(&value_text.as_str()) {
        let allowed = allowed.join(", ");
        return Some(format!(
            "Property {property} has a bad value (allowed values are: {allowed})."
        ));
    }
    let length = value_text.chars().count();
    if field.size > 0 && length > field.size {
        let size = field.size;
        return Some(format!(
            "The length of property {property} is currently {length} chars. It must be between 0 and {size} chars."
        ));
    }
    let v = value_text.as_str();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let none_of = |chars: &str| !v.chars().any(|c| chars.contains(c));
    let valid = match (field.kind, field.name.as_str()) {
        ('u', _) => digits(v) && v.parse::<u64>().is_ok_and(|n| n <= 4_294_967_296),
        ('i', _) => digits(v.strip_prefix('-').unwrap_or(v)),
        ('b', _) => v == "0" || v == "1",
        ('f', _) => {
            let (int, fraction) = v.split_once('.').unwrap_or((v, "0"));
            digits(int) && int.len() <= 10 && digits(fraction) && fraction.len() <= 9
        }
        ('d' | 'D', _) => {
            let parts: Vec<i64> = v.split(['-', ' ', ':']).map(php_int).collect();
            let real =
                |y: i64, m: i64, d: i64| y > 0 && (1..=12).contains(&m) && (1..=31).contains(&d);
            v.bytes().all(|b| b.is_ascii_digit() || b"- :".contains(&b))
                && matches!(parts[..], [y, m, d, ..] if field.kind == 'D' || real(y, m, d))
        }
        ('h', _) => !v.to_lowercase().contains("<script"),
        (_, "link_rewrite") => is_link_rewrite(v),
        (_, "name") => none_of("<>;=#{}"),
        (_, "reference" | "supplier_reference") => none_of("<>;={}"),
        (_, "ean13" | "upc") => digits(v),
        ('l', _) => none_of("<>={}"),
        _ => true,
    };
    (!php_empty(v) && !valid).then(|| format!("Property {property} is not valid"))
}

/// PrestaShop: classes/Validate.php Validate::isLinkRewrite (PS_ALLOW_ACCENTED_CHARS_URL off).
fn is_link_rewrite(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// PrestaShop: classes/ObjectModel.php ObjectModel::formatFields: the columns saved, a translated
/// one in every shop language (a language the array lacks: the default language's text when the
/// field is required, else ""; one text: that text in every language). A PATCH saves what it
/// changes (ObjectModel::setFieldsToUpdate), so a translated field sent as one text is ignored.
fn save_fields(
    record: &mut Map<String, Value>,
    store: &Store,
    schema: &Schema,
    view: &Map<String, Value>,
    changed: Changed,
) {
    let default = store.languages.first().map_or("1", String::as_str);
    for field in schema.fields.iter().filter(|f| f.column()) {
        let name = &field.name;
        if !field.lang() {
            if changed.is_none_or(|(set, _)| set.contains(name)) {
                record.insert(
                    name.clone(),
                    db_value(field, view.get(name).unwrap_or(&Value::Null)),
                );
            }
            continue;
        }
        let mut texts = lang_map(record.get(name), &store.languages);
        for lang in &store.languages {
            let given = changed.is_none_or(|(_, l)| l.get(name).is_some_and(|l| l.contains(lang)));
            let in_lang = match view.get(name) {
                Some(Value::Object(texts)) if given => {
                    let own = texts.get(lang).map(text).filter(|t| !php_empty(t));
                    let fallback = || {
                        field
                            .required
                            .then(|| texts.get(default).map(text))
                            .flatten()
                    };
                    own.or_else(fallback).unwrap_or_default()
                }
                Some(Value::Object(_)) | None => continue,
                Some(_) if changed.is_some() => continue,
                Some(one_text) => text(one_text),
            };
            texts.insert(lang.clone(), json!(in_lang));
        }
        let items = texts
            .into_iter()
            .map(|(id, value)| json!({"id": id, "value": value}));
        record.insert(name.clone(), items.collect());
    }
}

/// PrestaShop: classes/order/OrderHistory.php OrderHistory::addWs → changeIdOrderState: an id of
/// 0 skips it; an unknown order or state ends the request in `die(Tools::displayError('Invalid new
/// order status'))`, a 500 (Tools::displayError sets it) whose HTML body is that text, nothing
/// changed. Else the order takes the state (`current_state`, `valid` = the state's `logable`)
/// and its date_upd moves; `?sendemail=1` mails the customer when the state's `send_email` is set
/// (OrderHistory::addWithemail → sendEmail).
fn change_order_state(
    store: &mut Store,
    view: &Map<String, Value>,
    sendemail: bool,
) -> Result<(), Reply> {
    let number = |name: &str| php_int(&text(view.get(name).unwrap_or(&Value::Null)));
    let (order, state) = (number("id_order"), number("id_order_state"));
    if order == 0 || state == 0 {
        return Ok(());
    }
    let (Some(_), Some(order_state)) = (
        find(store, "orders", order),
        find(store, "order_states", state),
    ) else {
        let headers = vec![(
            "Content-Type".to_string(),
            "text/html; charset=utf-8".to_string(),
        )];
        return Err(Reply {
            status: 500,
            headers,
            body: "Invalid new order status".into(),
        });
    };
    let mut change = Map::new();
    change.insert("current_state".into(), json!(state.to_string()));
    change.insert("valid".into(), json!(text(&order_state["logable"])));
    store.records.set("orders", order as u64, &change);
    if sendemail && text(&order_state["send_email"]) == "1" {
        store.emails.push((order as u64, state as u64));
    }
    Ok(())
}

/// PrestaShop: classes/Product.php Product::setWsPositionInCategory: 0 or less (PHP 8 compares ""
/// and other text with "0" as text) is a 500 code 134, more than the products of the default
/// category a 500 code 135 (PrestaShop#36077); the setter only records the error, the loop goes
/// on and nothing is saved. Else the category's positions are rewritten.
fn set_position(store: &mut Store, view: &Map<String, Value>, position: &str, failed: &mut Fail) {
    let number = |name: &str| php_int(&text(view.get(name).unwrap_or(&Value::Null)));
    let category = number("id_category_default");
    if php_compare(position, 0).is_le() {
        failed.push(
            500,
            134,
            "You cannot set 0 or a negative position, the minimum is 1.",
        );
    } else if php_compare(position, products_in(store, category).len() as i64).is_gt() {
        let message = "You cannot set a position greater than the total number of products in the category, starting at 1.";
        failed.push(500, 135, message);
    } else {
        let rewrite = (
            number("id").max(0) as u64,
            category.max(0) as u64,
            php_int(position),
        );
        store.position_rewrites.push(rewrite);
    }
}

/// PrestaShop: classes/Product.php Product::modifierWsLinkRewrite and classes/Category.php
/// Category::modifierWsLinkRewrite, on POST only ('http_method' => WebserviceRequest::HTTP_POST):
/// each language of `name` gives the slug of an empty or invalid `link_rewrite`. A `name` that is
/// one text, or missing (the webservice makes it ""), is no array for `foreach`: PHP warns and the
/// warning is the answer, a 500 (PrestaShop#16896). A `link_rewrite` left as text (Category keeps
/// the "" of a missing one; Product only a non-empty one) is written by string offset, and PHP
/// warns when the slug has more than one byte.
fn link_rewrite_modifier(view: &mut Map<String, Value>, class: &str, failed: &mut Fail) {
    let warn = |failed: &mut Fail, message: &str| {
        let at = format!("{PHP}/{class}.php, line 0");
        failed.push(500, 3, format!("[PHP Warning #2] {message} ({at})"));
    };
    let Some(Value::Object(names)) = view.get("name").cloned() else {
        return warn(
            failed,
            "foreach() argument must be of type array|object, string given",
        );
    };
    let link = view.entry("link_rewrite").or_insert(Value::Null);
    if class == "Product" && php_falsy(link) || link.is_null() {
        *link = json!({});
    }
    for (lang, name) in names {
        match link {
            Value::Object(links) => {
                let current = links.get(&lang).map(text).unwrap_or_default();
                if php_empty(&current) {
                    links.insert(lang, json!(slug(&text(&name))));
                } else if !is_link_rewrite(&current) {
                    links.insert(lang, json!(slug(&current)));
                }
            }
            Value::String(one_text) => {
                let at = php_int(&lang).max(0) as usize;
                let current = one_text.get(at..=at).unwrap_or("");
                if php_empty(current) && slug(&text(&name)).len() > 1 {
                    warn(
                        failed,
                        "Only the first byte will be assigned to the string offset",
                    );
                }
            }
            _ => {}
        }
    }
}

const ACCENTS: &str = "àa áa âa ãa äa åa æae çc èe ée êe ëe ìi íi îi ïi ñn òo óo ôo õo öo øo œoe ùu úu ûu üu ýy ÿy ßss";

/// PrestaShop: classes/Tools.php Tools::str2url without accented URLs: trimmed, lower case, accents replaced, other signs
/// dropped, each run of spaces and `':/[]-` one `-`.
fn slug(value: &str) -> String {
    let separator = |c: char| c.is_whitespace() || "':/[]-".contains(c);
    let (mut out, mut gap) = (String::new(), false);
    for c in value.trim().to_lowercase().chars() {
        let accent = ACCENTS.split(' ').find(|pair| pair.starts_with(c));
        let plain = accent.map_or_else(|| c.to_string(), |pair| pair[c.len_utf8()..].to_string());
        for c in plain
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || separator(*c))
        {
            if separator(c) {
                gap = true;
                continue;
            }
            if gap {
                out.push('-');
            }
            gap = false;
            out.push(c);
        }
    }
    if gap {
        out.push('-');
    }
    out
}

/// Resources the double does not model keep what is sent: POST a new record, PUT the whole
/// record, PATCH the fields sent (without PrestaShop's checks).
fn write_unmodelled(
    ctx: &Ctx,
    store: &mut Store,
    method: &str,
    res: &str,
    sent: &Node,
    loaded: Option<Value>,
) -> Reply {
    let mut record = match (method, &loaded) {
        ("PATCH", Some(Value::Object(old))) => old.clone(),
        _ => Map::new(),
    };
    if let Value::Object(sent) = node_json(sent) {
        record.extend(sent.into_iter().filter(|(name, _)| name != "id"));
    }
    let id = match &loaded {
        Some(old) => php_int(&text(&old["id"])) as u64,
        None => store.records.new_id_in(res).0,
    };
    record.insert("id".into(), json!(id.to_string()));
    record.insert("date_upd".into(), store.records.tick());
    let record = Value::Object(record);
    store
        .records
        .resources
        .entry(res.into())
        .or_default()
        .insert(id, record.clone());
    store.writes.push((method.into(), res.into(), id));
    let schema = derived(res, Some(&record));
    let mut view = stored_view(store, &schema, &record);
    view.insert("id".into(), json!(id.to_string()));
    let rendered = entity(ctx, store, res, &schema, &view, &mut Fail::default());
    single(
        ctx,
        res,
        &schema.node,
        rendered,
        if loaded.is_none() { 201 } else { 200 },
    )
}

fn find(store: &Store, res: &str, id: i64) -> Option<Value> {
    u64::try_from(id)
        .ok()
        .filter(|id| *id > 0)
        .and_then(|id| store.get(res, id))
}

/// PHP's string conversion.
fn text(value: &Value) -> String {
    match value {
        Value::Null | Value::Bool(false) => String::new(),
        Value::Bool(true) => "1".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// PHP's `(int)` of a string: its leading integer, else 0.
fn php_int(value: &str) -> i64 {
    let trimmed = value.trim_start();
    let (sign, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<i64>().map_or(0, |n| sign * n)
}

/// PHP's `(float)` after ObjectModel::formatValue's `str_replace(',', '.')`.
fn php_float(value: &str) -> f64 {
    let value = value.trim_start().replace(',', ".");
    let prefix: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || "+-.eE".contains(*c))
        .collect();
    (0..=prefix.len())
        .rev()
        .find_map(|n| prefix[..n].parse().ok())
        .unwrap_or(0.0)
}

/// PHP's is_numeric.
fn numeric(value: &str) -> Option<f64> {
    let t = value.trim();
    let digits = t.bytes().any(|b| b.is_ascii_digit());
    let shape = digits
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if shape { t.parse().ok() } else { None }
}

/// PHP 8's comparison of a string with an int: as numbers when the string is numeric, else
/// the int as text.
fn php_compare(value: &str, n: i64) -> Ordering {
    match numeric(value) {
        Some(x) => x.partial_cmp(&(n as f64)).unwrap_or(Ordering::Equal),
        None => value.cmp(&n.to_string()),
    }
}

/// PHP's `empty()` of a string.
fn php_empty(value: &str) -> bool {
    value.is_empty() || value == "0"
}

/// What PHP counts as false, the values `array_filter` drops.
fn php_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => php_empty(s),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}
