//! Connections: how to reach a system. Credentials are written as `${secret.NAME}`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, de};

use crate::config::de::{hinted, lenient, parse_str};

use super::values::{
    Backoff, Duration, JsonPath, RateLimit, RetryOn, SingularPath, check_http_url,
};

/// A system this pipeline talks to. Exactly one kind: `http`, `sql`, `file` or `webhook`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Connection {
    /// An HTTP API (PrestaShop, WooCommerce, Gomag, RO App...).
    Http(Box<HttpConnection>),
    /// A SQL database (the ERP's tables): SQLite, PostgreSQL or MySQL.
    Sql(SqlConnection),
    /// A folder of files (exports and imports).
    File(FileConnection),
    /// Signed notifications a system sends (WooCommerce, Shopify, GitHub...).
    Webhook(super::webhook::WebhookConnection),
}

impl Connection {
    pub fn kind(&self) -> &'static str {
        match self {
            Connection::Http(_) => "http",
            Connection::Sql(_) => "sql",
            Connection::File(_) => "file",
            Connection::Webhook(_) => "webhook",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConnection {
    /// The URL every request path is appended to, e.g. `${env.SHOP_URL}/api`.
    #[serde(deserialize_with = "base_url")]
    pub base_url: String,
    /// Headers sent with every request.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Query parameters sent with every request (e.g. `output_format: JSON`); a request's
    /// own parameter of the same name replaces one.
    #[serde(default)]
    pub query: IndexMap<String, String>,
    /// How requests are authenticated.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub auth: Option<Auth>,
    /// Format of request bodies: `json` (default), `xml` (PrestaShop accepts XML only) or `form`.
    #[serde(default)]
    pub body: BodyFormat,
    /// The root element of XML bodies. Default `prestashop`.
    pub xml_root: Option<String>,
    /// How long one request may take before it counts as a timeout, from connecting to the
    /// last byte of the answer's body. Default `30s`.
    #[serde(default, deserialize_with = "timeout")]
    pub timeout: Option<Duration>,
    /// The most requests this API accepts, e.g. `5/s`; for a leaky bucket, its size too:
    /// `2/s, burst 40` (Shopify). syncline keeps 5 % under the rate and a tenth under the burst.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub rate_limit: Option<RateLimit>,
    /// How failed requests are retried.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub retry: Option<Retry>,
    /// The most requests in flight at once. Default 4.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub concurrency: Option<u32>,
    /// The header an API reads idempotency keys from (e.g. `Idempotency-Key`): POST and PATCH
    /// then carry a key made from their content, and are retried like any other request.
    pub idempotency_key: Option<String>,
    /// TLS settings for an `https://` base URL.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub tls: Option<Tls>,
    /// How the connection's JSON-RPC calls (`rpc:` on a request) are written and read.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub rpc: Option<RpcSettings>,
    /// Answers that are definite refusals although their status says "server error" or
    /// "OK", e.g. PrestaShop's `[{ status: [500], body: $.errors }]` or Gomag's `[{ status:
    /// [200], text: NO DATA }]`: the write was not applied, so it is quarantined once with
    /// the API's message instead of being retried, held in doubt or counted as sent. An
    /// answer is a refusal when one of the rules names it; a read answered so fails.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub refused_when: Vec<RefusedWhen>,
}

/// A `base_url` an HTTP client can read: one that is not fails every request of the run.
fn base_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Checked(String);
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            parse_str(d, |text| match check_http_url(&text) {
                Ok(()) => Ok(Checked(text)),
                Err(e) => Err(hinted(
                    e,
                    "write `http://` or `https://`, a host, then a port and a path if any, e.g. `https://shop.example.com/api`",
                )),
            })
        }
    }
    // Read as an option, which records a bad value where it stands: the connection is then
    // read on, so its other problems are reported too. The pipeline is invalid all the same.
    match Option::<Checked>::deserialize(d) {
        Ok(Some(url)) => Ok(url.0),
        Ok(None) => Err(de::Error::invalid_type(de::Unexpected::Unit, &"a string")),
        Err(_) => Ok(String::new()),
    }
}

/// [`lenient::opt`] for a timeout longer than zero: the HTTP client reads zero as no limit,
/// so a server that never answers would hold the job forever.
fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct Positive(Duration);
    impl<'de> Deserialize<'de> for Positive {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let duration = Duration::deserialize(d)?;
            if duration.0.is_zero() {
                return Err(hinted(
                    "a timeout of zero never ends a request",
                    "give a length longer than zero, e.g. `30s` (the default)",
                ));
            }
            Ok(Positive(duration))
        }
    }
    Ok(Option::<Positive>::deserialize(d)
        .unwrap_or(None)
        .map(|p| p.0))
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusedWhen {
    /// The statuses, e.g. `[500]`.
    pub status: Vec<u16>,
    /// Where the answer's errors are, e.g. `$.errors`: only an answer that holds something
    /// there is a refusal.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub body: Option<SingularPath>,
    /// Text the answer holds, e.g. `Invalid new order status` (an error page that is not the
    /// API's format): only an answer that contains it is a refusal. Without `body` and `text`,
    /// every answer with one of the statuses is.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub text: Option<String>,
    /// Text that makes an answer no refusal of this rule, e.g. PrestaShop's
    /// `WebserviceOutputJSON.php`: a warning raised while writing the answer, after the
    /// record was saved. Such an answer stays in doubt.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub unless: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RpcSettings {
    /// The server's JSON-RPC dialect. Default `jsonrpc2`.
    #[serde(default)]
    pub dialect: RpcDialect,
}

/// How a JSON-RPC server wants its calls and writes its answers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RpcDialect {
    /// `{"jsonrpc": "2.0", "method", "params", "id"}`; the answer's `result` or `error`.
    #[default]
    Jsonrpc2,
    /// `{"method", "params", "id"}`; `error` is null on success.
    Jsonrpc1,
    /// Tryton: `{"id", "method", "params"}` exactly (with any other member the server answers
    /// the bare result, and errors as HTML pages). Typed values (`{"__class__": "datetime",
    /// ...}`, `Decimal`, `date`, `time`, `timedelta`, `bytes`) read as ISO text, exact decimal
    /// text, seconds and base64; numbers with a fraction are sent as `Decimal` objects.
    Tryton,
    /// Odoo's `/jsonrpc` and `/web/dataset/call_kw`: JSON-RPC 2.0, errors as `{code, message,
    /// data: {name, message}}`.
    Odoo,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// A PEM file of the certificate authorities to trust, instead of the public ones: a
    /// server on the client's network with a certificate from its own authority, or a
    /// self-signed one. Relative to the pipeline file.
    pub ca_file: String,
}

/// How requests are authenticated. Exactly one kind.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// No authentication.
    None,
    /// HTTP basic authentication (PrestaShop: the webservice key as user, empty password).
    Basic {
        user: String,
        #[serde(default)]
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// API keys sent as headers (Gomag: `Apikey` and `ApiShop`).
    Headers(IndexMap<String, String>),
    /// API keys sent as query parameters (PrestaShop: `ws_key`).
    Query(IndexMap<String, String>),
    /// A token obtained by a login request, refreshed before it expires and on a 401.
    Login(Box<LoginAuth>),
    /// OAuth2 client credentials.
    Oauth2(Box<OAuth2Auth>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginAuth {
    /// The login request.
    pub request: Request,
    /// Where the token is in the login response, e.g. `$.token` or `$.result.session`; a list
    /// found there is placed item by item (Tryton: `$`, the call's result `[user id, session]`).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub token: Option<JsonPath>,
    /// Instead of `token`: the cookie of the login answer that is the token, e.g. `session_id`
    /// (Odoo). Send it back with `headers: { Cookie: "session_id={token}" }`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub token_cookie: Option<String>,
    /// Where the token's lifetime in seconds is in the response, if the API says.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub expires_in: Option<SingularPath>,
    /// How long a token lives when the API does not say. Default `1h`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub lifetime: Option<Duration>,
    /// Headers that carry the token on every request; `{token}` stands for it, `{token.0}`,
    /// `{token.1}`... for the items of a token that is a list, and `{base64:...}` encodes what
    /// it holds (Tryton: `Authorization: "Session {base64:admin:{token.0}:{token.1}}"`).
    /// Default (when `query` is not set either): `Authorization: Bearer {token}`.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Query parameters that carry the token, e.g. `{ token: "{token}" }` (RO App's old API).
    #[serde(default)]
    pub query: IndexMap<String, String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Auth {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Json,
    Xml,
    Form,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// How many times a request is tried in all. Default 5.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub attempts: Option<u32>,
    /// Delays between tries, e.g. `1s..60s`. A `Retry-After` header takes precedence.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub backoff: Option<Backoff>,
    /// Which failures are retried. Default `[429, 5xx, timeout, connection]`.
    #[serde(default)]
    pub on: Vec<RetryOn>,
}

/// An HTTP request, as a template: `{name}` in the path, query, headers and body stands for a
/// field of the record, a var, or `target_id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub method: Method,
    /// Path appended to the connection's base URL, e.g. `/products/{target_id}`.
    pub path: String,
    #[serde(default)]
    pub query: IndexMap<String, String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// The body; by default the record itself.
    pub body: Option<serde_json::Value>,
    /// A JSON-RPC call (Odoo, Tryton), in the connection's `rpc.dialect`: paths read the
    /// answer's `result`, and an `error` in the answer fails the call.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub rpc: Option<RpcCall>,
}

impl Request {
    /// The method sent: a JSON-RPC call is always POSTed.
    pub fn sent_method(&self) -> Method {
        if self.rpc.is_some() {
            Method::Post
        } else {
            self.method
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RpcCall {
    /// The remote method, e.g. `call` (Odoo) or `model.product.product.search_read` (Tryton).
    pub method: String,
    /// Its params, as a template like `body` (`"{record}"` is the record); by default the
    /// record for writes, nothing otherwise. An RPC source is paged by naming params in
    /// `paginate`, dotted for nested ones, e.g. `offset_param: kwargs.offset`.
    pub params: Option<serde_json::Value>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlConnection {
    /// Database URL: `sqlite://erp.db` (relative to the pipeline's folder),
    /// `postgres://user:${secret.PG_PASSWORD}@host/db`, `mysql://...` (MySQL and MariaDB).
    /// Exactly one of `url` and `odbc`.
    pub url: Option<String>,
    /// An ODBC connection string, instead of `url`, with `dialect`:
    /// `Driver=FreeTDS;Server=sage.local;Port=1433;Database=SAGE;UID=erp;PWD=${secret.SAGE_PASSWORD};TDS_Version=7.4`.
    /// Needs a syncline built with `--features odbc`.
    pub odbc: Option<String>,
    /// The SQL the database behind `odbc` speaks: `mssql`, `postgres`, `sqlite` or `mysql`.
    pub dialect: Option<SqlDialect>,
    /// Connections kept open at most (default 4); through ODBC, connections kept idle.
    pub pool_size: Option<u32>,
}

/// The SQL a database reached through ODBC speaks: its identifier quotes, upsert and
/// savepoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SqlDialect {
    /// SQL Server (Sage 100c, EBP, Divalto): `[name]`, `MERGE`, `SAVE TRANSACTION`.
    Mssql,
    /// PostgreSQL: `"name"`, `ON CONFLICT`.
    Postgres,
    /// SQLite: `"name"`, `ON CONFLICT`.
    Sqlite,
    /// MySQL and MariaDB: `` `name` ``, `ON DUPLICATE KEY UPDATE`.
    Mysql,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileConnection {
    /// The folder file paths are relative to; relative to the pipeline file itself.
    pub dir: String,
}
