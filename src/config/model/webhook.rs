//! Webhooks: the connection that holds a sender's secret and how it signs, the job source
//! that receives its notifications on a path, and `then:`, a pull of the notified records.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use super::values::{Duration, JsonPath};
use crate::config::de::{hinted, lenient, parse_str};

/// Signed notifications a system sends (WooCommerce, Shopify, GitHub...): the secret they are
/// signed with, and how the signature is made. `syncline serve` receives them on the paths of
/// the jobs that read this connection; a request whose signature does not hold is answered
/// 401 and never stored.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConnection {
    /// The secret the sender signs with, e.g. `${secret.WC_WEBHOOK_SECRET}` (WooCommerce: the
    /// webhook's "Secret"; Shopify: the app's client secret).
    pub secret: String,
    /// Where the signature is and how it is made.
    pub signature: WebhookSignature,
    /// For senders that sign the time they sent at (Slack, Stripe-style): the header with it,
    /// and how old a notification may be. Older ones, and ones seen before, are refused.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub timestamp: Option<WebhookTimestamp>,
    /// A header that names each delivery once, e.g. `X-Shopify-Webhook-Id` or
    /// `X-GitHub-Delivery`: a delivery seen before is refused. Not WooCommerce's
    /// `X-WC-Webhook-Delivery-ID`, which is the same for two deliveries of one webhook in the
    /// same second. Without it, a notification whose signature was seen before is refused.
    pub delivery_id: Option<String>,
    /// The largest body accepted, e.g. `5MB`; a larger one is answered 413. Default `2MB`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub max_body: Option<ByteSize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSignature {
    /// The header that holds it: `X-WC-Webhook-Signature` (WooCommerce),
    /// `X-Shopify-Hmac-Sha256` (Shopify), `X-Hub-Signature-256` (GitHub).
    pub header: String,
    /// `hmac-sha256` (default), `hmac-sha1` or `hmac-sha512`.
    #[serde(default)]
    pub algorithm: HmacAlgorithm,
    /// How the signature is written: `base64` (default; WooCommerce, Shopify) or `hex`
    /// (GitHub, Slack).
    #[serde(default)]
    pub encoding: SignatureEncoding,
    /// Text before the signature in the header, e.g. `sha256=` (GitHub) or `v0=` (Slack).
    pub prefix: Option<String>,
    /// What is signed: `{body}`, the raw body (default), or with the timestamp, e.g.
    /// `"{timestamp}.{body}"` or Slack's `"v0:{timestamp}:{body}"`.
    pub covers: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HmacAlgorithm {
    #[default]
    HmacSha256,
    HmacSha1,
    HmacSha512,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    #[default]
    Base64,
    Hex,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTimestamp {
    /// The header with the time the notification was sent, in Unix seconds or RFC 3339,
    /// e.g. `X-Slack-Request-Timestamp`.
    pub header: String,
    /// How far that time may be from now, either way. Default `5m`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub tolerance: Option<Duration>,
}

/// Notifications received by `syncline serve`: each is stored in the state and answered
/// 2xx at once, then its records go through the job (or, with `then`, the records it names
/// are pulled by another job).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSource {
    /// A `webhook` connection: the secret and how it signs.
    pub connection: String,
    /// The path the sender posts to, e.g. `/hooks/woocommerce/orders`; one job per path.
    pub path: String,
    /// Where the records are in a notification, e.g. `$.orders` (a list, or an object keyed
    /// by id). Default: the notification is one record (a list, one record per item).
    #[serde(default, deserialize_with = "lenient::opt")]
    pub records: Option<JsonPath>,
}

/// Instead of `to`, on a webhook job: each notification names records another job pulls,
/// by their keys.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Then {
    /// The job that pulls them, e.g. `orders`.
    pub run: String,
    /// Where the keys are in each record of the notification, e.g. `$.id` (or
    /// `$.items[*].id` for several).
    pub key: JsonPath,
}

/// A size in bytes: `512KB`, `2MB`, or a number of bytes. `KB` and `MB` are 1024 and 1024².
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

/// The largest `max_body`: a body is held in memory whole while its signature is checked.
pub const LARGEST_BODY: u64 = 256 * 1024 * 1024;

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let digits = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let unit = match trimmed[digits..].trim() {
            "" | "B" => 1,
            "KB" | "kB" | "K" => 1024,
            "MB" | "M" => 1024 * 1024,
            _ => return Err(format!("`{text}` is not a size")),
        };
        let amount: u64 = trimmed[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is not a size"))?;
        match amount.checked_mul(unit) {
            Some(0) => Err("a size of zero refuses every body".to_string()),
            Some(bytes) if bytes <= LARGEST_BODY => Ok(ByteSize(bytes)),
            _ => Err(format!("`{text}` is more than 256MB")),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            text.parse().map_err(|e| {
                hinted(
                    e,
                    "write a number and `KB` or `MB`, e.g. `512KB` or `5MB`; at most `256MB`",
                )
            })
        })
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ByteSize")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size: `512KB`, `2MB`, or a number of bytes; at most `256MB`.",
            "type": "string",
            "pattern": "^[0-9]+ ?(B|K|KB|kB|M|MB)?$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_their_units() {
        assert_eq!("512KB".parse(), Ok(ByteSize(512 * 1024)));
        assert_eq!("2MB".parse(), Ok(ByteSize(2 * 1024 * 1024)));
        assert_eq!("100".parse(), Ok(ByteSize(100)));
        assert!("0MB".parse::<ByteSize>().is_err());
        assert!("1GB".parse::<ByteSize>().is_err());
        assert!("300MB".parse::<ByteSize>().is_err());
        assert!("MB".parse::<ByteSize>().is_err());
    }
}
