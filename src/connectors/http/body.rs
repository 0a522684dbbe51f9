//! Request bodies in the format the API takes: JSON, XML (PrestaShop accepts nothing else) or
//! form fields (Gomag: `data=<the record as JSON>`). A body is built as JSON first (the record,
//! or the request's body template), then encoded here.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::Value;

use super::wire::{PATH, percent_encode};
use crate::config::model::BodyFormat;
use crate::record::text_of;

/// Why a body cannot be encoded in the connection's format: the record (or the body
/// template) does not fit it.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// XML is written field by field under the root.
    #[error("an XML body must be an object, e.g. `{{ product: \"{{record}}\" }}`")]
    XmlNotObject,
    #[error("`{0}` cannot be an XML element name")]
    ElementName(String),
    #[error("`{0}` cannot be an XML attribute name")]
    AttributeName(String),
    #[error(transparent)]
    Xml(#[from] quick_xml::Error),
    /// A form is its top-level fields.
    #[error("a form body must be an object of fields, e.g. `{{ data: \"{{record}}\" }}`")]
    FormNotObject,
}

/// The bytes and their content type.
pub fn encode(
    format: BodyFormat,
    xml_root: &str,
    body: &Value,
) -> Result<(Vec<u8>, &'static str), BodyError> {
    match format {
        BodyFormat::Json => Ok((serde_json::to_vec(body)?, "application/json")),
        BodyFormat::Xml => Ok((
            PrestaShopXml { root: xml_root }.write(body)?,
            "application/xml",
        )),
        BodyFormat::Form => Ok((
            form(body)?.into_bytes(),
            "application/x-www-form-urlencoded",
        )),
    }
}

/// The XML dialect of PrestaShop's webservice, the API here that takes XML.
/// `{"product": {"reference": "A1", "name": [{"id": "1", "value": "Chair"}], "associations":
/// {"categories": [{"id": 2}]}}}` is written
/// `<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><product><reference>A1</reference>
/// <name><language id="1">Chair</language></name><associations><categories><category><id>2</id>
/// </category></categories></associations></product></prestashop>`: the body's fields go under
/// the root, a list's items are named after the list in the singular, and `[{id, value}]` is a
/// translated field. A record read from XML goes back as it was read (see
/// `connectors::file::xml`): `@name` fields are attributes, `#text` the text, and a list under a
/// singular name the element repeated.
struct PrestaShopXml<'a> {
    root: &'a str,
}

impl PrestaShopXml<'_> {
    const XLINK: &'static str = "http://www.w3.org/1999/xlink";

    fn write(&self, body: &Value) -> Result<Vec<u8>, BodyError> {
        let Value::Object(fields) = body else {
            return Err(BodyError::XmlNotObject);
        };
        let mut out = Writer::new(Vec::with_capacity(256));
        put(
            &mut out,
            Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
        )?;
        let root = BytesStart::new(self.root).with_attributes([("xmlns:xlink", Self::XLINK)]);
        put(&mut out, Event::Start(root))?;
        for (name, value) in fields {
            self.element(&mut out, name, value)?;
        }
        put(&mut out, Event::End(BytesEnd::new(self.root)))?;
        Ok(out.into_inner())
    }

    fn element(
        &self,
        out: &mut Writer<Vec<u8>>,
        name: &str,
        value: &Value,
    ) -> Result<(), BodyError> {
        if !valid_name(name) {
            return Err(BodyError::ElementName(name.to_string()));
        }
        let mut start = BytesStart::new(name);
        if let Value::Object(fields) = value {
            for (key, value) in fields {
                let Some(attribute) = key.strip_prefix('@') else {
                    continue;
                };
                if !valid_name(attribute) {
                    return Err(BodyError::AttributeName(attribute.to_string()));
                }
                start.push_attribute((attribute, scalar(value).as_str()));
            }
        }
        put(out, Event::Start(start))?;
        match value {
            Value::Null => {}
            Value::Object(fields) => {
                for (child, value) in fields {
                    match value {
                        _ if child.starts_with('@') => {}
                        _ if child == "#text" => text(out, &scalar(value))?,
                        // Read from XML, a repeated element is a list under its own name.
                        Value::Array(items)
                            if singular(child) == *child && !is_translated(items) =>
                        {
                            for item in items {
                                self.element(out, child, item)?;
                            }
                        }
                        _ => self.element(out, child, value)?,
                    }
                }
            }
            Value::Array(items) if is_translated(items) => {
                for item in items {
                    let language = BytesStart::new("language")
                        .with_attributes([("id", scalar(&item["id"]).as_str())]);
                    put(out, Event::Start(language))?;
                    text(out, &scalar(&item["value"]))?;
                    put(out, Event::End(BytesEnd::new("language")))?;
                }
            }
            Value::Array(items) => {
                let singular = singular(name);
                for item in items {
                    self.element(out, &singular, item)?;
                }
            }
            scalar_value => text(out, &scalar(scalar_value))?,
        }
        put(out, Event::End(BytesEnd::new(name)))
    }
}

fn put(out: &mut Writer<Vec<u8>>, event: Event) -> Result<(), BodyError> {
    Ok(out.write_event(event)?)
}

/// Escaped as XML text.
fn text(out: &mut Writer<Vec<u8>>, text: &str) -> Result<(), BodyError> {
    put(out, Event::Text(BytesText::new(text)))
}

/// A translated field: every item exactly `{id, value}`.
fn is_translated(items: &[Value]) -> bool {
    items.iter().all(|item| {
        matches!(item, Value::Object(map) if map.len() == 2 && map.contains_key("id") && map.contains_key("value"))
    })
}

fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = name.strip_suffix('s') {
        stem.to_string()
    } else {
        name.to_string()
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A scalar as text; nothing for null.
fn scalar(value: &Value) -> String {
    text_of(value).unwrap_or_default()
}

/// Top-level fields as form fields; an object or a list is sent as its JSON text (Gomag's
/// `data=<JSON>`).
fn form(body: &Value) -> Result<String, BodyError> {
    let Value::Object(fields) = body else {
        return Err(BodyError::FormNotObject);
    };
    let mut out = String::new();
    for (name, value) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        let text = match value {
            Value::Object(_) | Value::Array(_) => value.to_string(),
            other => scalar(other),
        };
        out.push_str(&percent_encode(name, PATH));
        out.push('=');
        out.push_str(&percent_encode(&text, PATH));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prestashop_xml() {
        let body = json!({"product": {
            "reference": "A&1",
            "price": 23.9,
            "name": [{"id": "1", "value": "Chaise <bistrot>"}, {"id": "2", "value": "Chair"}],
            "associations": {"categories": [{"id": 2}, {"id": 5}]},
            "ean13": null
        }});
        let (bytes, content_type) = encode(BodyFormat::Xml, "prestashop", &body).unwrap();
        assert_eq!(content_type, "application/xml");
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><prestashop xmlns:xlink="http://www.w3.org/1999/xlink">"#,
                "<product><reference>A&amp;1</reference><price>23.9</price>",
                r#"<name><language id="1">Chaise &lt;bistrot&gt;</language><language id="2">Chair</language></name>"#,
                "<associations><categories><category><id>2</id></category><category><id>5</id></category></categories></associations>",
                "<ean13></ean13></product></prestashop>"
            )
        );
        assert!(encode(BodyFormat::Xml, "prestashop", &json!({"bad name": 1})).is_err());
        let not_an_object = encode(BodyFormat::Xml, "prestashop", &json!([1])).unwrap_err();
        assert_eq!(
            not_an_object.to_string(),
            "an XML body must be an object, e.g. `{ product: \"{record}\" }`"
        );
    }

    #[test]
    fn a_record_read_from_xml_is_written_back_as_it_was() {
        let read = concat!(
            r#"<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><product><id>7</id>"#,
            r#"<name><language id="1" xlink:href="http://shop/api/languages/1">Chaise &amp; table</language>"#,
            r#"<language id="2">Chair</language></name><ean13></ean13>"#,
            r#"<associations><categories nodeType="category"><category><id>2</id></category>"#,
            "<category><id>5</id></category></categories></associations></product></prestashop>"
        );
        let document = crate::connectors::file::xml_document(read.as_bytes()).unwrap();
        let product = json!({"product": document["prestashop"]["product"]});
        let (bytes, _) = encode(BodyFormat::Xml, "prestashop", &product).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><prestashop xmlns:xlink="http://www.w3.org/1999/xlink">"#,
                r#"<product><id>7</id><name><language id="1" href="http://shop/api/languages/1">Chaise &amp; table</language>"#,
                r#"<language id="2">Chair</language></name><ean13></ean13>"#,
                r#"<associations><categories nodeType="category"><category><id>2</id></category>"#,
                "<category><id>5</id></category></categories></associations></product></prestashop>"
            )
        );
        let bad_attribute = json!({"product": {"name": {"@a b": "1"}}});
        assert!(encode(BodyFormat::Xml, "prestashop", &bad_attribute).is_err());
    }

    #[test]
    fn gomag_form_with_json_inside() {
        let body = json!({"data": [{"sku": "A 1", "price": 10, "stock": 3}], "mode": "x&y"});
        let (bytes, content_type) = encode(BodyFormat::Form, "", &body).unwrap();
        assert_eq!(content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "data=%5B%7B%22sku%22%3A%22A%201%22%2C%22price%22%3A10%2C%22stock%22%3A3%7D%5D&mode=x%26y"
        );
        assert_eq!(
            encode(BodyFormat::Form, "", &json!("x"))
                .unwrap_err()
                .to_string(),
            "a form body must be an object of fields, e.g. `{ data: \"{record}\" }`"
        );
    }
}
