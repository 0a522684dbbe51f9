//! `alerts:`: a message to people when a job fails or quarantines records, to a chat webhook or
//! by e-mail. Credentials are written as `${secret.NAME}` in the channels, as in connections.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::config::de::{hinted, lenient, parse_str};

use super::values::{Duration, check_http_url};

/// Messages sent when a job fails or quarantines records: to a chat webhook, by e-mail, or
/// both. Each says what happened (the failure's reason; how many records were quarantined, with
/// the top reasons) and links to `page_url`; never a record, never a secret. At most one per
/// job and channel in `repeat_interval`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// What sends an alert: `failure` (a job failed) and `quarantine` (a job quarantined
    /// records). Default both.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub on: Option<Vec<AlertOn>>,
    /// At most one alert per job and channel in this time, e.g. `1h` (the default) or `15m`: a
    /// job failing every minute sends one message an hour, not sixty. Kept in the state, so it
    /// holds across runs.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub repeat_interval: Option<Duration>,
    /// The status page each alert links to, as the people alerted reach it, e.g.
    /// `${env.SYNCLINE_PAGE_URL:-http://127.0.0.1:7878}`. No link without it.
    #[serde(default, deserialize_with = "http_url")]
    pub page_url: Option<String>,
    /// A chat webhook (Slack, Mattermost, Google Chat, Rocket.Chat, a Microsoft Teams
    /// workflow): the alert is POSTed to it as `{"text": "..."}`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub chat: Option<ChatAlert>,
    /// An e-mail, sent through an SMTP server.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub email: Option<EmailAlert>,
}

/// What sends an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertOn {
    /// A job failed (the API did not answer, the source could not be read...).
    Failure,
    /// A job quarantined records (rejected by a step or refused by the target).
    Quarantine,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatAlert {
    /// The webhook's URL, which is its credential: `${secret.CHAT_WEBHOOK}`.
    #[serde(deserialize_with = "required_http_url")]
    pub url: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailAlert {
    /// The SMTP server that sends it.
    pub smtp: Smtp,
    /// The sender, e.g. `syncline <alerts@example.com>`.
    pub from: Mailbox,
    /// The recipients, e.g. `[ops@example.com, "Jane <jane@example.com>"]`.
    #[serde(deserialize_with = "lenient::vec")]
    pub to: Vec<Mailbox>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// The server's name, e.g. `smtp.example.com`; its certificate is checked against it.
    pub host: String,
    /// Default: 587 with `starttls`, 465 with `tls`, 25 with `none`.
    #[serde(default, deserialize_with = "lenient::opt")]
    pub port: Option<u16>,
    /// How the connection is encrypted. Default `starttls`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// The login, if the server asks for one (with `password`).
    pub user: Option<String>,
    /// `${secret.SMTP_PASSWORD}`.
    pub password: Option<String>,
}

/// How the connection to the SMTP server is encrypted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain at first, then upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// Not encrypted: only for a relay on this machine or a network you trust (port 25).
    None,
}

impl SmtpTls {
    /// The port the server listens on for this kind of connection.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// An e-mail address, with a name or without: `ops@example.com`, `syncline
/// <alerts@example.com>`. Checked when the file is read, unless a `${...}` is left in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox(pub String);

impl<'de> Deserialize<'de> for Mailbox {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |text| {
            if text.contains("${") || text.parse::<lettre::message::Mailbox>().is_ok() {
                Ok(Mailbox(text))
            } else {
                Err(hinted(
                    format!("`{text}` is not an e-mail address"),
                    "write `name@example.com`, or a name and the address in angle brackets: `syncline <alerts@example.com>`",
                ))
            }
        })
    }
}

impl JsonSchema for Mailbox {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Mailbox")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "An e-mail address: `ops@example.com`, or `syncline <alerts@example.com>`.",
            "pattern": "@"
        })
    }
}

/// An `http://` or `https://` URL, checked where it is written.
fn checked_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    parse_str(d, |text| match check_http_url(&text) {
        Ok(()) => Ok(text),
        Err(e) => Err(hinted(
            e,
            "write `http://` or `https://`, a host, then a port and a path if any, e.g. `https://status.example.com`",
        )),
    })
}

/// [`checked_url`], optional: a bad one is recorded and left out.
fn http_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Checked(String);
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            checked_url(d).map(Checked)
        }
    }
    lenient::opt::<D, Checked>(d).map(|url| url.map(|c| c.0))
}

/// [`checked_url`], required: a bad one is recorded and read as empty, so that the channel's
/// other problems are reported too.
fn required_http_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Checked(String);
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            checked_url(d).map(Checked)
        }
    }
    match Option::<Checked>::deserialize(d) {
        Ok(Some(url)) => Ok(url.0),
        Ok(None) => Err(serde::de::Error::invalid_type(
            serde::de::Unexpected::Unit,
            &"a string",
        )),
        Err(_) => Ok(String::new()),
    }
}
