//! An alert by e-mail, through an SMTP server (lettre, on the tokio runtime).

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::message::Message;
use crate::config::model::SmtpTls;
use crate::config::secrets::redact;

/// Each SMTP command, connecting included.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// The whole conversation: a server that answers each command just in time is cut short too.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User and password.
    pub login: Option<(SecretString, SecretString)>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

impl Email {
    /// Sends `message`; why not, without the login.
    pub async fn send(&self, message: &Message) -> Result<(), String> {
        // An id on the sender's domain, not lettre's `localhost`: mail filters count both.
        let id: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(32)
            .collect();
        let mut email = lettre::Message::builder()
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            .user_agent(concat!("syncline/", env!("CARGO_PKG_VERSION")).to_string())
            .from(self.from.clone())
            .subject(message.subject.clone());
        for to in &self.to {
            email = email.to(to.clone());
        }
        let email = email
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| format!("the message could not be written: {e}"))?;
        let transport = self.transport()?;
        match tokio::time::timeout(TIMEOUT, transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(redact(&format!(
                "the SMTP server {}:{}: {e}",
                self.host, self.port
            ))),
            Err(_) => Err(format!(
                "the SMTP server {}:{} did not answer within {}s",
                self.host,
                self.port,
                TIMEOUT.as_secs()
            )),
        }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let tls = || {
            TlsParameters::new_rustls(self.host.clone())
                .map_err(|e| redact(&format!("TLS for {}: {e}", self.host)))
        };
        let tls = match self.tls {
            SmtpTls::Starttls => Tls::Required(tls()?),
            SmtpTls::Tls => Tls::Wrapper(tls()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(COMMAND_TIMEOUT));
        if let Some((user, password)) = &self.login {
            builder = builder.credentials(Credentials::new(
                user.expose_secret().to_string(),
                password.expose_secret().to_string(),
            ));
        }
        Ok(builder.build())
    }
}
