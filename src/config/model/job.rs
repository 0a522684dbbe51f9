//! Jobs: where records come from, what happens to them, where they go.

use std::borrow::Cow;
use std::fmt;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::connection::{Method, Request, RpcCall};
use super::table::Unmapped;
use super::values::{Duration, JsonPath, Schedule, SingularPath};
use crate::config::de::lenient;

/// A job: reads records `from` a source, runs them through `steps` (then `map`), writes them `to`
/// a target.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// What this job does, shown in reports.
    pub description: Option<String>,
    /// Jobs that must have succeeded before this one starts, e.g. `[categories]`.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub needs: Vec<String>,
    /// When `syncline serve` runs this job: cron (`0 2 * * *`) or an interval (`every 15m`).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub schedule: Option<Schedule>,
    /// Where records come from. (Always set once the pipeline validated: optional in Rust only so
    /// that a broken source does not hide the problems of the rest of the job.)
    #[serde(default, deserialize_with = "lenient::opt")]
    #[schemars(required)]
    pub from: Option<Source>,
    /// Reads only what changed since the last run: the field holding a modification time,
    /// sequence number or token. Saved only after the target acknowledged every record up to it.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub cursor: Option<Cursor>,
    /// What happens to each record, in order.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub steps: Vec<Step>,
    /// The final mapping, applied after `steps`: output field -> where its value comes from.
    /// Overlays change single fields of it.
    #[serde(default, deserialize_with = "lenient::map")]
    pub map: IndexMap<String, Field>,
    /// Where records go. (Always set once the pipeline validated, unless `then` is.)
    #[serde(default, deserialize_with = "lenient::opt")]
    pub to: Option<Target>,
    /// Under `syncline serve`, hold what a run would change as a pending plan, written only when
    /// someone applies it (all or some of its changes) from the status page or the API. `run`
    /// writes as usual.
    #[serde(default)]
    pub review: bool,
    /// Instead of `to`, on a job whose source is a webhook: another job pulls the records
    /// each notification names, e.g. `{ run: orders, key: $.id }`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub then: Option<super::webhook::Then>,
    /// What happens to a record whose `ref` field names a record the ID map does not hold yet:
    /// `quarantine` it (default) or `defer` it: it is kept and retried by the next run.
    #[serde(default)]
    pub missing_refs: MissingRefs,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingRefs {
    #[default]
    Quarantine,
    Defer,
}

/// Where a job reads records. Exactly one kind: `file`, `sql`, `http` or `webhook`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// Records in a file: CSV, JSON, NDJSON or XML.
    File(FileSource),
    /// Rows of a SQL query.
    Sql(SqlSource),
    /// Records returned by an HTTP API, page after page.
    Http(Box<HttpSource>),
    /// Notifications received by `syncline serve` on a path.
    Webhook(super::webhook::WebhookSource),
}

impl Source {
    pub fn connection(&self) -> Option<&str> {
        match self {
            Source::File(f) => f.connection.as_deref(),
            Source::Sql(s) => Some(&s.connection),
            Source::Http(h) => Some(&h.connection),
            Source::Webhook(w) => Some(&w.connection),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::File(_) => "file",
            Source::Sql(_) => "sql",
            Source::Http(_) => "http",
            Source::Webhook(_) => "webhook",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// A `file` connection whose folder `path` is relative to; without it, `path` is relative to
    /// the pipeline file.
    pub connection: Option<String>,
    /// The file to read.
    pub path: String,
    /// The file's format; by default taken from its extension.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub format: Option<FileFormat>,
    /// The text encoding. Default `utf-8`.
    #[serde(default)]
    pub encoding: Encoding,
    /// CSV settings.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub csv: Option<CsvOptions>,
    /// JSON: where the list of records is, e.g. `$.products` (default: the whole document).
    /// XML: the repeated element, e.g. `$.catalog.article`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub records: Option<JsonPath>,
}

/// Where a file source or target is, and how it is written.
pub struct FileLocation<'a> {
    pub connection: Option<&'a str>,
    pub path: &'a str,
    pub format: Option<FileFormat>,
    pub encoding: Encoding,
    pub csv: Option<&'a CsvOptions>,
    pub records: Option<&'a JsonPath>,
}

/// Both sides of a file name it with the same fields.
macro_rules! file_location {
    ($($side:ty),*) => {$(
        impl $side {
            pub fn location(&self) -> FileLocation<'_> {
                FileLocation {
                    connection: self.connection.as_deref(),
                    path: &self.path,
                    format: self.format,
                    encoding: self.encoding,
                    csv: self.csv.as_ref(),
                    records: self.records.as_ref(),
                }
            }
        }
    )*};
}

file_location!(FileSource, FileTarget);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Json,
    Ndjson,
    Xml,
}

impl FileFormat {
    /// The format a file name implies.
    pub fn from_extension(path: &str) -> Option<FileFormat> {
        let ext = path.rsplit('.').next()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(FileFormat::Csv),
            "json" => Some(FileFormat::Json),
            "ndjson" | "jsonl" => Some(FileFormat::Ndjson),
            "xml" => Some(FileFormat::Xml),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// The encoding of most French ERP exports on Windows.
    #[serde(rename = "windows-1252")]
    Windows1252,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// The field separator. Default `,`; French exports often use `;`.
    pub delimiter: Option<char>,
    /// Whether the first line names the columns. Default `true`.
    pub header: Option<bool>,
    /// Column names, for a file without a header line or to rename them.
    #[serde(default)]
    pub columns: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlSource {
    /// A `sql` connection.
    pub connection: String,
    /// The query. `:cursor` stands for the saved checkpoint, `:name` for a var.
    pub query: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSource {
    /// An `http` connection.
    pub connection: String,
    #[serde(default)]
    pub method: Method,
    /// Path appended to the connection's base URL, e.g. `/orders`.
    pub path: String,
    /// Query parameters; `{cursor}` stands for the saved checkpoint.
    #[serde(default)]
    pub query: IndexMap<String, String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// A request body, for APIs that list records through POST.
    pub body: Option<serde_json::Value>,
    /// A JSON-RPC call instead of a plain request (Odoo's `search_read`, Tryton's).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub rpc: Option<RpcCall>,
    /// Where the records are in a response, e.g. `$.products` or `$.data`. A mapping keyed by id
    /// (Gomag) reads as its values.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub records: Option<JsonPath>,
    /// How to get the next page.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub paginate: Option<Paginate>,
    /// For lists that hold only ids or summaries: each listed record is read again with this
    /// request (`{field}` from the listed record, e.g. `/orders/{id}`), and the answer is the
    /// record.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub detail: Option<Detail>,
    /// Fetch the next page while this one is parsed, for paging by page number or offset: the
    /// API builds a page while syncline reads the one before (up to twice as fast on a slow
    /// API). The page after the last is asked for once and dropped. Default false; an API that
    /// announces its number of pages (`total_pages_header`, `total_pages`) gets it without
    /// this, for the pages it announced.
    #[serde(default)]
    pub prefetch: bool,
}

impl HttpSource {
    /// Its request, as the requests of targets and `fetch` steps are written.
    pub fn request(&self) -> Request {
        Request {
            method: self.method,
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            rpc: self.rpc.clone(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    pub request: Request,
    /// Where the record is in the answer, e.g. `$.order` (default: the whole answer).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub record: Option<JsonPath>,
}

/// How to get the next page. Paging always stops: on an empty or short page, a repeated page or
/// token, `has_more: false`, or at `max_pages`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Paginate {
    /// `?page=1`, `?page=2`...
    PageNumber {
        #[serde(default = "default_page_param")]
        param: String,
        /// The number of the first page. Default 1.
        start: Option<u64>,
        /// The page-size parameter and value, e.g. `{ per_page: 100 }`.
        #[serde(default)]
        size: IndexMap<String, u64>,
        /// The response header that gives the number of pages (WooCommerce: `X-WP-TotalPages`).
        total_pages_header: Option<String>,
        /// Where the number of pages is in the response (RO App: `$.paging.total_pages`).
        #[serde(default, deserialize_with = "lenient::opt")]
        total_pages: Option<SingularPath>,
        max_pages: Option<u64>,
    },
    /// `?offset=0&limit=100`, `?offset=100&limit=100`...
    Offset {
        offset_param: String,
        limit_param: String,
        limit: u64,
        max_pages: Option<u64>,
    },
    /// PrestaShop's `?limit=OFFSET,COUNT`.
    OffsetCount {
        param: String,
        count: u64,
        max_pages: Option<u64>,
    },
    /// A token from the response body sent back as a parameter.
    Cursor {
        /// Where the next token is in the response.
        from: SingularPath,
        param: String,
        /// Where the response says whether more pages follow, e.g. `$.has_more`.
        #[serde(default, deserialize_with = "lenient::opt")]
        has_more: Option<SingularPath>,
        max_pages: Option<u64>,
    },
    /// The next page's URL from the response body.
    NextUrl {
        from: SingularPath,
        max_pages: Option<u64>,
    },
    /// The `Link: <...>; rel="next"` header.
    LinkHeader { max_pages: Option<u64> },
}

impl Paginate {
    /// The most pages read, when set.
    pub fn max_pages(&self) -> Option<u64> {
        match self {
            Paginate::PageNumber { max_pages, .. }
            | Paginate::Offset { max_pages, .. }
            | Paginate::OffsetCount { max_pages, .. }
            | Paginate::Cursor { max_pages, .. }
            | Paginate::NextUrl { max_pages, .. }
            | Paginate::LinkHeader { max_pages } => *max_pages,
        }
    }
}

fn default_page_param() -> String {
    "page".to_string()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// The field holding the modification time, sequence number or token, e.g. `$.date_upd`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub field: Option<SingularPath>,
    /// Instead of `field`: several, the record's cursor being the greatest of those it holds
    /// (nulls ignored), e.g. `[$.write_date, "$['template.'].write_date"]`: a price written
    /// on Tryton's template changes the template's `write_date`, not the product's.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub fields: Vec<SingularPath>,
    /// Instead of `field`: a rhai expression over the source record `rec`, for a cursor value
    /// that no field holds as it is, e.g. `rec.date + " " + rec.time`.
    pub expr: Option<String>,
    /// How cursor values compare. Default `timestamp`.
    #[serde(default)]
    pub kind: CursorKind,
    /// Records with the same cursor value are ordered by this key, so none is skipped or read twice.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub tie_breaker: Option<SingularPath>,
    /// Read again this far back, for sources whose timestamps arrive late, e.g. `10m`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub lookback: Option<Duration>,
    /// Where the first run starts, e.g. `2024-01-01 00:00:00`.
    pub initial: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CursorKind {
    #[default]
    Timestamp,
    Number,
    Token,
}

/// One step of a job. Exactly one of `map`, `filter`, `lookup`, `split`, `group`, `script`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A name for this step: shown in reports and quarantine reasons, and matched by `!merge`
    /// in overlays.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub id: Option<String>,
    /// Builds a new record: output field -> where its value comes from.
    #[serde(default, deserialize_with = "lenient::map_opt")]
    pub map: Option<IndexMap<String, Field>>,
    /// Keeps the records for which this rhai expression is true, e.g. `rec.AR_Sommeil == 0`.
    pub filter: Option<String>,
    /// Translates a field through a correspondence table.
    pub lookup: Option<Lookup>,
    /// Turns one record into one record per item of a list (an order into its lines).
    pub split: Option<Split>,
    /// Gathers consecutive records with the same key into one (lines into an order).
    pub group: Option<Group>,
    /// A rhai snippet that receives the record as `rec` and may change it; `vars` holds the vars.
    pub script: Option<String>,
    /// Reads related data from an API into a field of the record: an order's lines behind a
    /// link, a party's address, each line's product.
    pub fetch: Option<Fetch>,
}

impl Step {
    /// The step kinds this step sets, by name: exactly one is allowed.
    pub fn kinds(&self) -> Vec<&'static str> {
        let set = [
            self.map.is_some(),
            self.filter.is_some(),
            self.lookup.is_some(),
            self.split.is_some(),
            self.group.is_some(),
            self.script.is_some(),
            self.fetch.is_some(),
        ];
        STEP_KINDS
            .iter()
            .zip(set)
            .filter(|(_, set)| *set)
            .map(|(kind, _)| *kind)
            .collect()
    }
}

pub const STEP_KINDS: &[&str] = &[
    "map", "filter", "lookup", "split", "group", "script", "fetch",
];

/// One request per record (or per item of one of its lists) whose answer lands in a field.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fetch {
    /// An `http` connection.
    pub connection: String,
    /// The request; `{field}` reads the record (or the item, with `each`). A path that is a
    /// single placeholder holding an absolute link the API gave (`path: "{lines}"`) is followed
    /// as it is, and only under the connection's `base_url`.
    pub request: Request,
    /// Where in the answer what is kept is, e.g. `$.result` or `$[0].id` (default: the whole
    /// answer, a list or an object, as it is).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub records: Option<JsonPath>,
    /// The field that receives it.
    pub into: String,
    /// One request per item of this list, e.g. `$.lines`: each item is the request's record
    /// and receives `into`; one item that fails rejects the whole record.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub each: Option<SingularPath>,
    /// When the answer has nothing at `records` (or is empty): `reject` the record (default)
    /// or `keep` it with null.
    #[serde(default)]
    pub missing: FetchMissing,
    /// The rejection's reason when nothing is found, in words a person knows, a template over
    /// the record (or the item), e.g. `no product {sku} in Tryton`.
    pub reason: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FetchMissing {
    #[default]
    Reject,
    Keep,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// The table to translate through.
    pub table: String,
    /// The value to translate, e.g. `$.current_state`.
    pub from: SingularPath,
    /// The field that receives the translation.
    pub into: String,
    /// What to do with a value the table does not list; default: the table's own `unmapped`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub unmapped: Option<Unmapped>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// The list to split on, e.g. `$.associations.order_rows`.
    pub path: JsonPath,
    /// The field each item is put in; the parent's other fields stay reachable. Default `line`.
    #[serde(rename = "as")]
    #[serde(default, deserialize_with = "lenient::opt")]
    pub item: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The key records are grouped by, e.g. `$.order_id`.
    pub by: SingularPath,
    /// The field that receives the grouped records. Default `lines`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub into: Option<String>,
}

/// Where an output field's value comes from: a JSONPath (`$.AR_Ref`), a constant (`"1"`, `20`,
/// `true`), or the long form with a conversion, a table, a reference or an expression.
#[derive(Debug, Clone)]
pub enum Field {
    Path(JsonPath),
    Constant(serde_json::Value),
    Spec(Box<FieldSpec>),
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Read the value at this path.
    pub path: Option<JsonPath>,
    /// Use this constant.
    #[serde(rename = "const")]
    pub constant: Option<serde_json::Value>,
    /// Compute the value with a rhai expression over `rec` and `vars`.
    pub expr: Option<String>,
    /// Build a string: `{field}` stands for a field of the record, e.g. `{AR_Ref}-{gamme}`.
    pub template: Option<String>,
    /// The target id of another entity's record, from the ID map, e.g.
    /// `{ ref: category, key: $.FA_CodeFamille }`: the category this product belongs to, as
    /// created on the target by the job that writes `category`. Ids are kept as text: add
    /// `as: integer` for an API that wants a number (WooCommerce, RO App).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// With `ref`: the referenced record's key in the source system.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub key: Option<SingularPath>,
    /// With `ref`, instead of `key`: a target id, whose source key is the value (the ID map
    /// read backwards), e.g. `{ ref: product, connection: shop, from_target_id:
    /// $.product_id }`: an order line naming the shop's product id gives the ERP's code.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub from_target_id: Option<SingularPath>,
    /// With `ref`: the connection whose ID map is read, when it is not the job's target's
    /// (a shop order's lines read the shop's product map while writing to the ERP).
    pub connection: Option<String>,
    /// Translate the value through this table.
    pub table: Option<String>,
    /// Write the value as a translated field in this language, after the conversions and
    /// transforms: `[{ id: "1", value: ... }]`, which an XML body writes as PrestaShop's
    /// `<language id="1">...</language>`. E.g. `{ path: $.name, lang: "${vars.lang}" }`.
    pub lang: Option<String>,
    /// Convert the value: `string`, `integer`, `decimal`, `number`, `boolean`, `date`, `datetime`.
    #[serde(rename = "as")]
    #[serde(default, deserialize_with = "lenient::opt")]
    pub convert: Option<Conversion>,
    /// Digits after the decimal point, for `decimal` (money: 2, PrestaShop prices: 6).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub scale: Option<u32>,
    /// For `date`/`datetime`: the output format (strftime, e.g. `%d/%m/%Y`); for `boolean`:
    /// `"0/1"` or `"true/false"`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub format: Option<String>,
    /// For `date`/`datetime`: the format the source writes, when it is not ISO 8601.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub input_format: Option<String>,
    /// For `datetime`: the time zone source values are in, e.g. `Europe/Paris`. Not supported by
    /// `run` and `dry-run` yet: a pipeline that sets it is refused there with an error.
    pub timezone: Option<String>,
    /// String clean-ups, applied in order.
    #[serde(default)]
    pub transform: Vec<Transform>,
    /// The value when the source has none.
    pub default: Option<serde_json::Value>,
    /// Quarantine the record when the value is missing (and there is no `default`).
    #[serde(default)]
    pub required: bool,
}

impl FieldSpec {
    /// The sources this field sets: exactly one is allowed.
    pub fn sources(&self) -> Vec<&'static str> {
        let set = [
            self.path.is_some(),
            self.constant.is_some(),
            self.expr.is_some(),
            self.template.is_some(),
            self.reference.is_some(),
        ];
        ["path", "const", "expr", "template", "ref"]
            .into_iter()
            .zip(set)
            .filter(|(_, set)| *set)
            .map(|(source, _)| source)
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Conversion {
    String,
    Integer,
    /// An exact decimal, e.g. a price; see `scale`.
    Decimal,
    /// A floating-point number.
    Number,
    /// `true`/`false`; see `format` for `"0"`/`"1"`.
    Boolean,
    Date,
    Datetime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Trim,
    Upper,
    Lower,
    /// `Café Noir 250g` -> `cafe-noir-250g`.
    Slug,
    /// A segment of a link's path, counted from 1 at the start or from -1 at the end (the
    /// empty one after a trailing `/` included): `url_segment: -2` reads `7` from
    /// `https://erp.example/api/orders/7/`. null when the link has no such segment.
    UrlSegment(i64),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSONPath, a constant, or a mapping with `path`, `const`, `expr` or `template`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                if v.starts_with('$') {
                    JsonPath::parse(v).map(Field::Path).map_err(|e| {
                        crate::config::de::hinted(e, "a string starting with `$` is a path; write `{ const: \"$...\" }` for a constant")
                    })
                } else {
                    Ok(Field::Constant(serde_json::Value::String(v.to_string())))
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field, E> {
                Ok(Field::Constant(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field, E> {
                Ok(Field::Constant(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
                Ok(Field::Constant(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field, E> {
                Ok(Field::Constant(
                    serde_json::Number::from_f64(v)
                        .map(Into::into)
                        .unwrap_or_default(),
                ))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
                Ok(Field::Constant(serde_json::Value::Null))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field, A::Error> {
                FieldSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|s| Field::Spec(Box::new(s)))
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}

impl JsonSchema for Field {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Field")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let spec = generator.subschema_for::<FieldSpec>();
        json_schema!({
            "description": "Where the field's value comes from: a JSONPath (`$.AR_Ref`), a constant (`\"1\"`, `20`, `true`), or the long form.",
            "anyOf": [
                { "type": "string" },
                { "type": ["number", "boolean", "null"] },
                spec
            ]
        })
    }
}

/// Where a job writes records. Exactly one kind: `file`, `http` or `sql`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A file, written whole (or appended to) at the end of the run, all or nothing.
    File(FileTarget),
    /// An HTTP API: records are created or updated through the ID map.
    Http(Box<HttpTarget>),
    /// A SQL table.
    Sql(SqlTarget),
}

impl Target {
    pub fn connection(&self) -> Option<&str> {
        match self {
            Target::File(f) => f.connection.as_deref(),
            Target::Http(h) => Some(&h.connection),
            Target::Sql(s) => Some(&s.connection),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::File(_) => "file",
            Target::Http(_) => "http",
            Target::Sql(_) => "sql",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTarget {
    /// A `file` connection whose folder `path` is relative to.
    pub connection: Option<String>,
    /// The file to write. `{run_time}` in it stands for the run's start time, UTC
    /// (`orders-{run_time}.csv` -> `orders-20261206T201500Z.csv`): each run that has records
    /// to write writes a new file, never one already there (a second run in the same second
    /// gets `_2` before the extension). Write `{{` and `}}` for braces.
    pub path: String,
    /// `replace` (default): each run writes the whole file anew. `append`: each run adds its
    /// records at the end of the file (CSV: the header only in a new or empty file), for an
    /// ERP's import folder; CSV and NDJSON only.
    #[serde(default)]
    pub mode: FileMode,
    /// The field that identifies a record (e.g. `$.reference`): named in reports and the
    /// quarantine, and used by `dry-run` to compare with what the file holds.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub key: Option<SingularPath>,
    /// The file's format; by default taken from its extension.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub format: Option<FileFormat>,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default, deserialize_with = "lenient::opt")]
    pub csv: Option<CsvOptions>,
    /// XML: the elements records are written as, e.g. `$.catalog.article` (default
    /// `$.records.record`).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub records: Option<JsonPath>,
    /// Write only records that are new or changed since an earlier run wrote them (by `key`,
    /// remembered in the state once the file is in place): for an ERP's import folder, where
    /// an order read again (a look-back, a moved `date_upd`) must not be imported twice.
    #[serde(default)]
    pub only_changed: bool,
}

impl FileTarget {
    /// The placeholders a file target's `path` may hold.
    pub const PLACEHOLDERS: &[&str] = &["run_time"];
}

/// How each run writes a file target.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileMode {
    /// The file holds this run's records only, even none.
    #[default]
    Replace,
    /// This run's records are added at the end; a run with none leaves the file as it is.
    Append,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// An `http` connection.
    pub connection: String,
    /// The kind of record on the target (`product`, `category`...): the ID map's namespace.
    pub entity: String,
    /// The record's key in the source system, e.g. `$.reference`.
    pub key: SingularPath,
    /// The request that creates a record.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub create: Option<Request>,
    /// The request that updates a record; `{target_id}` is its id on the target.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub update: Option<Request>,
    /// Where the created record's id is in the create response, e.g. `$.product.id`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub id: Option<SingularPath>,
    /// Requests sent in order after a record is created, `{target_id}` its new id: workflow
    /// buttons (Tryton's `quote`, then `confirm`). An RPC call answering null is a success.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub after_create: Vec<Request>,
    /// For targets that take a document's lines one request each: after the create, one
    /// request per item of `each`, whose fields its templates read (`{target_id}` is the
    /// document's new id) and which is its body, e.g. `{ each: $.lines, request: { method:
    /// POST, path: "/orders/{target_id}/lines" } }`. A line that fails undoes the document
    /// with `rollback`, so no half-made document is left. Sent with creates only.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub lines: Option<LinesWrite>,
    /// When a line or a request of `after_create` fails: the requests that undo the create
    /// (Tryton: `cancel`, then `delete`), so that nothing half-made is left; the record is
    /// quarantined with the failure. Without them the created record stays, and is linked.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub rollback: Vec<Request>,
    /// The API creates or updates a record by its own key in one request (Gomag's
    /// `product/inventory/json` by SKU, a PUT by code): every record is sent with `update`,
    /// `{target_id}` standing for its key, and the ID map keeps only what was sent. Sending
    /// twice does no harm, so these writes are retried like reads.
    #[serde(default)]
    pub upsert: bool,
    /// The request that deletes a record; `{target_id}` is its id, e.g.
    /// `{ method: DELETE, path: /products/{target_id}, query: { force: "true" } }`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub delete: Option<Request>,
    /// A record for which this path holds a true value (or "1", "yes") is deleted on the target,
    /// when it was ever sent there, and forgotten by the ID map, e.g. `$.deleted` (like dlt's
    /// `hard_delete`); the field itself is not sent. An answer of 404 or 410 counts as deleted.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub delete_when: Option<SingularPath>,
    /// Many records in one request (WooCommerce's `/products/batch`): creates, updates and
    /// deletes are gathered and each record's own result in the answer is mapped back to it.
    /// With a batch, `create`, `update` and `delete` are not needed.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub batch: Option<Batch>,
    /// For APIs whose update replaces the whole record (PrestaShop's PUT blanks what it is not
    /// sent): the record is read first, the mapped fields are laid over it, and that is sent.
    /// `dry-run` reads it too, to show each changed field with the value the target holds.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub read_before_update: Option<ReadBeforeUpdate>,
    /// Before creating a record that has no id yet, look for it on the target with these rules,
    /// in order (code, then EAN, then phone...); the first rule that finds exactly one record
    /// links to it. Several matches quarantine the record: it is never guessed. Also how a
    /// create left unacknowledged by a crash is found again instead of being duplicated.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub resolve: Vec<MatchRule>,
    /// What happens to a record found by `resolve`: `update` it with the mapped fields (default),
    /// or `link_only`: remember its id and leave its details as they are (Gomag's import rule).
    #[serde(default)]
    pub on_match: OnMatch,
    /// A record for which this path holds a true value (or "1", "yes") is not sent at all,
    /// e.g. `$.no_sync`. Reported as skipped.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub skip: Option<SingularPath>,
    /// Fields left out of what is sent when the path holds a true value, e.g.
    /// `{ quantity: $.stock_managed_in_shop }`: "do not send stock for this product". Flags
    /// read by `skip`, `skip_fields` and `delete_when` are not sent themselves.
    #[serde(default, deserialize_with = "lenient::map")]
    pub skip_fields: IndexMap<String, SingularPath>,
    /// Mapped fields the target has no place for: never in the body, but still the `key`,
    /// and readable by the requests' templates (`/products/{product_id}/variants`). E.g. the
    /// ERP's family code when the shop's categories have no code field.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub not_sent: Vec<String>,
    /// Mapped fields sent when the record is created and never in updates, e.g. `[state,
    /// link_rewrite]`: what the target's users set afterwards (a product hidden by hand, a
    /// reworded URL) is not undone by the next run. A change in them alone sends nothing.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub create_only: Vec<String>,
    /// The target's languages, e.g. a PrestaShop shop's language ids `["1", "2"]`. A created
    /// record has each translated field (`lang`) in every one of them, its text copied into
    /// those it was not written in (PrestaShop answers a create that lacks a language with an
    /// error); an update writes its own language only.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub languages: Vec<String>,
}

/// A document's lines written one request each, after the document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinesWrite {
    /// The list of lines in the record, e.g. `$.lines`.
    pub each: SingularPath,
    /// The request for one line; its templates read the line, and `{target_id}` is the
    /// document's id.
    pub request: Request,
}

/// A batch endpoint. Its body is built by syncline, e.g. for WooCommerce
/// `{"create": [records], "update": [records with "id"], "delete": [ids]}`, and its answer holds
/// one result per record, in the same lists and the same order.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The request, e.g. `{ method: POST, path: /products/batch }`. Its body is WooCommerce's
    /// `{create, update, delete}` unless the request has a `body`, in which `"{records}"` is
    /// the list of records (Gomag: `{ data: "{records}" }`, with `body: form` on the
    /// connection); such a batch carries creates and updates in one list, and no deletions.
    pub request: Request,
    /// With a request `body`: where the records' results are in the answer, in the order
    /// sent, e.g. `$.products`. Without it, a successful answer accepts every record (and
    /// creates cannot get their ids).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub results: Option<JsonPath>,
    /// The most records in one request. Default 100 (WooCommerce's limit).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub size: Option<u32>,
    /// The list of records to create, in the body and in the answer. Default `create`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub create: Option<String>,
    /// The list of records to update. Default `update`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub update: Option<String>,
    /// The list of ids to delete. Default `delete`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub delete: Option<String>,
    /// The field that names a record's id, in updates and in each result. Default `id`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub id_field: Option<String>,
    /// Where a record's error is in its result; a result holding one rejects that record
    /// with the error's `message`. Default `$.error`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub error: Option<SingularPath>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBeforeUpdate {
    /// The request that reads the record; `{target_id}` is its id, e.g. `/products/{target_id}`.
    pub request: Request,
    /// Where the record is in the answer, e.g. `$.product`.
    pub record: SingularPath,
    /// Fields the API returns but refuses to be sent, e.g. `[manufacturer_name, quantity]`.
    #[serde(default)]
    pub drop: Vec<String>,
}

/// One way of finding an existing target record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// A name for reports, e.g. `ean`.
    pub name: String,
    /// The value to look for, in the mapped record, e.g. `$.ean13`. A record without it skips
    /// the rule.
    pub value: SingularPath,
    /// How the value is normalised before the lookup: `code` (trimmed, upper case), `phone`
    /// (E.164, e.g. `+40722123456`), `name` (lower case, no accents, single spaces).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub normalize: Option<Normalize>,
    /// For `phone`: the country calling code of numbers written without one, e.g. `40`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub country_code: Option<String>,
    /// The lookup request; `{value}` stands for the normalised value, e.g.
    /// `{ path: /products, query: { "filter[ean13]": "[{value}]" } }`.
    pub request: Request,
    /// Where the ids of the records found are in the response, e.g. `$.products[*].id`.
    pub ids: JsonPath,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    Code,
    Phone,
    Name,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnMatch {
    #[default]
    Update,
    LinkOnly,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlTarget {
    /// A `sql` connection.
    pub connection: String,
    /// The table written to.
    pub table: String,
    /// The columns that identify a row; rows are upserted on them (a unique index or primary
    /// key of the table).
    #[serde(default)]
    pub key: Vec<String>,
    /// Records written per transaction (default 500).
    pub batch: Option<u32>,
    /// A document's lines (an order's rows, after `group`): written with the document in one
    /// savepoint, all or nothing.
    pub lines: Option<SqlLines>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlLines {
    /// The record's field that lists the lines, e.g. `lines`; it is not a column of the
    /// document's table.
    pub field: String,
    /// The lines' table.
    pub table: String,
    /// The columns a line is upserted on, e.g. `[DO_Piece, DL_Ligne]`.
    pub key: Vec<String>,
}
