//! A request template ([`RequestPlan`]), rendered for each record into a [`Call`]: `{field}` in
//! its path, query and header values stands for a field of the record (or `{target_id}`,
//! `{value}`, `{cursor}`), and its body is the record or a template, encoded as the connection
//! says.

use serde_json::Value;

use super::body::{self, BodyError};
use super::rpc;
use super::wire::{Call, PATH, is_link, percent_encode};
use crate::config::model::{self, BodyFormat, HttpConnection, Method, RpcDialect};
use crate::record::Record;
use crate::record::template::Template;

/// A request template that does not parse: the template's own reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

/// Why a request cannot be rendered from a record: this record's problem, not the request's.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A placeholder the record cannot fill: the field is missing, or not text.
    #[error("{0}")]
    Placeholder(String),
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// A request template: `{field}` in the path, query and header values stands for a field of
/// the record (or `{target_id}`, `{value}`); the body is the record itself.
#[derive(Debug)]
pub struct RequestPlan {
    pub method: Method,
    path: Template,
    query: Vec<(String, Template)>,
    headers: Vec<(String, Template)>,
    /// `Some` when the template has a body: its strings are templates, and a string that is
    /// exactly `{record}` stands for the whole record (to wrap it: `{ product: "{record}" }`).
    body: Option<Body>,
    format: BodyFormat,
    /// The root element of XML bodies.
    xml_root: String,
    /// A JSON-RPC call: its method, and its params template (the body's role).
    rpc: Option<String>,
    /// The connection's JSON-RPC dialect.
    dialect: RpcDialect,
}

/// A body template, its strings parsed once.
#[derive(Debug)]
enum Body {
    Record,
    Text(Template),
    List(Vec<Body>),
    Object(Vec<(String, Body)>),
    Value(Value),
}

impl Body {
    fn compile(template: &Value) -> Result<Body, TemplateError> {
        Ok(match template {
            Value::String(s) if s == "{record}" => Body::Record,
            Value::String(s) => Body::Text(Template::parse(s).map_err(TemplateError)?),
            Value::Array(items) => {
                Body::List(items.iter().map(Body::compile).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => Body::Object(
                map.iter()
                    .map(|(k, v)| Body::compile(v).map(|b| (k.clone(), b)))
                    .collect::<Result<_, _>>()?,
            ),
            other => Body::Value(other.clone()),
        })
    }

    /// The body: its placeholders read `record`, `"{record}"` is `sent`.
    fn render(
        &self,
        record: &Record,
        sent: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Value, RenderError> {
        Ok(match self {
            Body::Record => sent.clone(),
            // `"{price}"` keeps the field's type; `"{target_id}"` is a number when it is one.
            Body::Text(t) => match t.render_single_value(record, extra) {
                Some(value) => value.map_err(RenderError::Placeholder)?,
                None => Value::String(
                    t.render_with(record, extra, &|t| t.to_string())
                        .map_err(RenderError::Placeholder)?,
                ),
            },
            Body::List(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(record, sent, extra))
                    .collect::<Result<_, _>>()?,
            ),
            Body::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, b)| b.render(record, sent, extra).map(|v| (k.clone(), v)))
                    .collect::<Result<_, _>>()?,
            ),
            Body::Value(v) => v.clone(),
        })
    }
}

impl RequestPlan {
    /// The request's template, its bodies encoded as `connection` says (`body: xml | form`,
    /// JSON by default; a JSON-RPC envelope in the connection's dialect).
    pub fn compile(
        request: &model::Request,
        connection: &HttpConnection,
    ) -> Result<RequestPlan, TemplateError> {
        let templates = |map: &indexmap::IndexMap<String, String>| {
            map.iter()
                .map(|(k, v)| Template::parse(v).map(|t| (k.clone(), t)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(TemplateError)
        };
        let body = match &request.rpc {
            Some(rpc) => rpc.params.as_ref(),
            None => request.body.as_ref(),
        };
        let rpc = request.rpc.as_ref().map(|rpc| rpc.method.clone());
        Ok(RequestPlan {
            method: request.sent_method(),
            path: Template::parse(&request.path).map_err(TemplateError)?,
            query: templates(&request.query)?,
            headers: templates(&request.headers)?,
            body: body.map(Body::compile).transpose()?,
            // The envelope is JSON whatever the connection's other bodies are.
            format: if rpc.is_some() {
                BodyFormat::Json
            } else {
                connection.body
            },
            xml_root: connection
                .xml_root
                .clone()
                .unwrap_or_else(|| "prestashop".to_string()),
            rpc,
            dialect: rpc::dialect(connection),
        })
    }

    pub fn has_body(&self) -> bool {
        self.body.is_some()
    }

    pub fn is_rpc(&self) -> bool {
        self.rpc.is_some()
    }

    /// The call for `record`; `extra` answers `{target_id}` / `{value}`. `send_record` puts
    /// the record in the body when the template has none (create and update).
    pub fn render(
        &self,
        record: &Record,
        extra: &dyn Fn(&str) -> Option<String>,
        send_record: bool,
    ) -> Result<Call, RenderError> {
        self.render_sending(record, send_record.then_some(record), extra)
    }

    /// The call whose templates read `record` and whose body is `sent` (`"{record}"`, or the
    /// whole body when the template has none): a write sends less than the record holds
    /// (`not_sent` fields, flags), and its path may still need them.
    pub fn render_sending(
        &self,
        record: &Record,
        sent: Option<&Record>,
        extra: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Call, RenderError> {
        let plain = |t: &str| t.to_string();
        // A single placeholder holding a link (`path: "{lines}"`) is the link as the API
        // wrote it, not escaped whole.
        let path = match self.path.render_single_value(record, extra) {
            Some(Ok(Value::String(link))) if is_link(&link) => link,
            _ => self
                .path
                .render_with(record, extra, &|t| percent_encode(t, PATH))
                .map_err(RenderError::Placeholder)?,
        };
        let render_all = |list: &[(String, Template)]| {
            list.iter()
                .map(|(k, t)| t.render_with(record, extra, &plain).map(|v| (k.clone(), v)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(RenderError::Placeholder)
        };
        let encode = |v: &Value| body::encode(self.format, &self.xml_root, v);
        let whole = sent.unwrap_or(record);
        let (body, content_type) = match (&self.rpc, &self.body, sent) {
            (Some(method), template, _) => {
                let params = match (template, sent) {
                    (Some(template), _) => template.render(record, whole, extra)?,
                    (None, Some(sent)) => sent.clone(),
                    (None, None) => Value::Object(serde_json::Map::new()),
                };
                encode(&rpc::envelope(self.dialect, method, params))?
            }
            (None, Some(template), _) => encode(&template.render(record, whole, extra)?)?,
            (None, None, Some(sent)) => encode(sent)?,
            (None, None, None) => (Vec::new(), ""),
        };
        Ok(Call {
            method: self.method,
            path,
            query: render_all(&self.query)?,
            headers: render_all(&self.headers)?,
            body: (!content_type.is_empty()).then_some(body),
            content_type,
            repeatable: !matches!(self.method, Method::Post | Method::Patch),
            rpc: self.rpc.is_some().then_some(self.dialect),
            secret: false,
        })
    }
}
