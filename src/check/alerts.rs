//! `alerts:` that could never send anything, or would send a password in clear text.

use super::checker::Checker;
use crate::config::model::{Alerts, SmtpTls};
use crate::diagnostics::Diagnostic;

pub fn check(c: &mut Checker) {
    let Some(alerts) = &c.pipeline.alerts else {
        return;
    };
    if alerts.chat.is_none() && alerts.email.is_none() && !broken_channel(c) {
        let d = Diagnostic::error("alerts-channel", "`alerts` names no channel: nothing is sent")
            .at_opt(c.key_at("alerts").or_else(|| c.at("alerts")))
            .hint("add `chat: { url: \"${secret.CHAT_WEBHOOK}\" }`, or `email:` with `smtp`, `from` and `to`");
        c.push(d);
    }
    if alerts.on.as_ref().is_some_and(Vec::is_empty) {
        let d = Diagnostic::error("alerts-on", "`on` is empty: no alert is ever sent")
            .at_opt(c.at("alerts.on"))
            .hint("list `failure`, `quarantine` or both (the default, when `on` is left out)");
        c.push(d);
    }
    if let Some(chat) = &alerts.chat {
        written_out(c, &chat.url, "alerts.chat.url", "the chat webhook's URL");
    }
    if let Some(password) = alerts.email.as_ref().and_then(|e| e.smtp.password.as_ref()) {
        written_out(
            c,
            password,
            "alerts.email.smtp.password",
            "the SMTP password",
        );
    }
    email(c, alerts);
}

/// A credential written in the file, which goes to git with it and is not redacted.
fn written_out(c: &mut Checker, value: &str, path: &str, what: &str) {
    if value.contains("${secret.") || value.is_empty() {
        return;
    }
    let name = if path.ends_with("url") {
        "CHAT_WEBHOOK"
    } else {
        "SMTP_PASSWORD"
    };
    let d = Diagnostic::warning(
        "alerts-credential",
        format!("{what} is written in the file: it is a credential"),
    )
    .at_opt(c.at(path))
    .hint(format!(
        "write `${{secret.{name}}}` and give it in the `--secrets` file or the environment: secrets stay out of git and are redacted from every output"
    ));
    c.push(d);
}

/// Whether a channel is written but could not be read: its own problems were reported.
fn broken_channel(c: &Checker) -> bool {
    ["alerts.chat", "alerts.email"]
        .iter()
        .any(|path| c.loaded.index.contains(path))
}

fn email(c: &mut Checker, alerts: &Alerts) {
    let Some(email) = &alerts.email else {
        return;
    };
    if email.to.is_empty() && !c.loaded.index.contains("alerts.email.to[0]") {
        let d = Diagnostic::error("alerts-email", "`to` names no recipient")
            .at_opt(c.at("alerts.email.to"))
            .hint("list the addresses to write to, e.g. `to: [ops@example.com]`");
        c.push(d);
    }
    let smtp = &email.smtp;
    match (&smtp.user, &smtp.password) {
        (Some(_), None) | (None, Some(_)) => {
            let (given, missing) = if smtp.user.is_some() {
                ("user", "password")
            } else {
                ("password", "user")
            };
            let d = Diagnostic::error(
                "alerts-email",
                format!("the SMTP server is given a `{given}` without a `{missing}`"),
            )
            .at_opt(c.key_at(&format!("alerts.email.smtp.{given}")))
            .hint("a login is a `user` and a `password` (`${secret.SMTP_PASSWORD}`); leave both out for a server that asks for none");
            c.push(d);
        }
        (Some(_), Some(_)) if smtp.tls == SmtpTls::None && !is_loopback(&smtp.host) => {
            let d = Diagnostic::warning(
                "alerts-cleartext",
                format!(
                    "the SMTP password would cross the network to `{}` unencrypted",
                    smtp.host
                ),
            )
            .at_opt(c.at("alerts.email.smtp.tls"))
            .hint("use `tls: starttls` (port 587) or `tls: tls` (port 465); `none` is for a relay on this machine");
            c.push(d);
        }
        _ => {}
    }
}

/// A host name for this machine: what `none` is meant for.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
