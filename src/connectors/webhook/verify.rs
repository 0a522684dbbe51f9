//! Whether a notification comes from its sender: an HMAC of the raw body (and of the time it
//! was sent, for senders that sign it) with the shared secret, compared in constant time; a
//! timestamp within the tolerance; the digests a delivery is recognised by when sent again.
//!
//! The senders this reads as they sign:
//! - WooCommerce: `X-WC-Webhook-Signature`, base64 of HMAC-SHA256 of the body as sent, keyed
//!   with the webhook's secret (`WC_Webhook::generate_signature()` in
//!   plugins/woocommerce/includes/class-wc-webhook.php, called by `WC_Webhook::deliver()`
//!   on the JSON body it posts; the secret has its HTML entities decoded first).
//! - Shopify: `X-Shopify-Hmac-Sha256`, base64 of HMAC-SHA256 of the body.
//! - GitHub: `X-Hub-Signature-256: sha256=<hex>` (prefix `sha256=`, hex).
//! - Slack: `X-Slack-Signature: v0=<hex>` of `v0:{timestamp}:{body}`, the time in
//!   `X-Slack-Request-Timestamp`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};

use crate::config::model::{HmacAlgorithm, SignatureEncoding};

/// What the signature is computed over: text, the body and the timestamp in some order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covers(Vec<Cover>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cover {
    Text(Vec<u8>),
    Body,
    Timestamp,
}

impl Covers {
    /// `{body}` and `{timestamp}` in text, with `{{` and `}}` for braces, as the brace
    /// templates are written elsewhere. The body must be covered.
    pub fn parse(text: &str) -> Result<Covers, String> {
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            literal.extend_from_slice(&rest.as_bytes()[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
                literal.push(tail.as_bytes()[0]);
                rest = after;
                continue;
            }
            let cover = if let Some(after) = tail.strip_prefix("{body}") {
                rest = after;
                Cover::Body
            } else if let Some(after) = tail.strip_prefix("{timestamp}") {
                rest = after;
                Cover::Timestamp
            } else {
                let name = tail.split_once('}').map_or(tail, |(name, _)| name);
                return Err(format!(
                    "`{name}}}` is not `{{body}}` or `{{timestamp}}`; a brace as text is written twice"
                ));
            };
            if !literal.is_empty() {
                parts.push(Cover::Text(std::mem::take(&mut literal)));
            }
            parts.push(cover);
        }
        literal.extend_from_slice(rest.as_bytes());
        if !literal.is_empty() {
            parts.push(Cover::Text(literal));
        }
        if !parts.contains(&Cover::Body) {
            return Err(format!("`{text}` does not cover `{{body}}`"));
        }
        Ok(Covers(parts))
    }

    pub fn body() -> Covers {
        Covers(vec![Cover::Body])
    }

    pub fn has_timestamp(&self) -> bool {
        self.0.contains(&Cover::Timestamp)
    }
}

/// How a sender signs.
#[derive(Debug)]
pub struct Signer {
    pub algorithm: HmacAlgorithm,
    pub encoding: SignatureEncoding,
    pub prefix: Option<String>,
    pub covers: Covers,
    pub secret: SecretString,
}

/// Why a signature does not hold, in words for the log (never the secret, never the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The header does not start with the prefix.
    Prefix,
    /// Not base64 or hex, as the connection says.
    Encoding,
    /// Well formed, and not the signature of this body.
    Digest,
}

impl Signer {
    /// Checks `header` (the signature header's value) against the body and timestamp; returns
    /// the signature's bytes, which a replay is recognised by.
    pub fn verify(
        &self,
        header: &[u8],
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Result<Vec<u8>, Mismatch> {
        let mut written = header.trim_ascii();
        if let Some(prefix) = &self.prefix {
            written = written
                .strip_prefix(prefix.as_bytes())
                .ok_or(Mismatch::Prefix)?;
        }
        let given = match self.encoding {
            SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(written)
                .map_err(|_| Mismatch::Encoding)?,
            SignatureEncoding::Hex => hex(written).ok_or(Mismatch::Encoding)?,
        };
        let parts: Vec<&[u8]> = self
            .covers
            .0
            .iter()
            .map(|cover| match cover {
                Cover::Text(text) => text.as_slice(),
                Cover::Body => body,
                Cover::Timestamp => timestamp.unwrap_or_default(),
            })
            .collect();
        let key = self.secret.expose_secret().as_bytes();
        let holds = match self.algorithm {
            HmacAlgorithm::HmacSha256 => verify_with::<Hmac<sha2::Sha256>>(key, &parts, &given),
            HmacAlgorithm::HmacSha1 => verify_with::<Hmac<sha1::Sha1>>(key, &parts, &given),
            HmacAlgorithm::HmacSha512 => verify_with::<Hmac<sha2::Sha512>>(key, &parts, &given),
        };
        if holds {
            Ok(given)
        } else {
            Err(Mismatch::Digest)
        }
    }
}

/// The MAC of `parts` in a row, compared with `given` in constant time (`verify_slice`).
fn verify_with<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]], given: &[u8]) -> bool {
    let Ok(mut mac) = <M as Mac>::new_from_slice(key) else {
        return false;
    };
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(given).is_ok()
}

/// Hex digits, either case, to bytes.
fn hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    text.chunks_exact(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect()
}

/// The time a timestamp header gives, in Unix seconds: seconds, or RFC 3339.
pub fn timestamp(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// What a delivery is recognised by when sent again: its signature, and its id when the
/// sender gives one. Short digests: the state keeps one per delivery.
pub fn digests(signature: &[u8], delivery_id: Option<&[u8]>) -> Vec<Vec<u8>> {
    let digest = |kind: &[u8], bytes: &[u8]| {
        let mut input = kind.to_vec();
        input.extend_from_slice(bytes);
        xxhash_rust::xxh3::xxh3_128(&input).to_be_bytes().to_vec()
    };
    let mut found = vec![digest(b"signature:", signature)];
    found.extend(delivery_id.map(|id| digest(b"delivery:", id.trim_ascii())));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(
        algorithm: HmacAlgorithm,
        encoding: SignatureEncoding,
        prefix: Option<&str>,
        covers: &str,
        secret: &str,
    ) -> Signer {
        Signer {
            algorithm,
            encoding,
            prefix: prefix.map(str::to_string),
            covers: Covers::parse(covers).unwrap(),
            secret: SecretString::from(secret.to_string()),
        }
    }

    // Every vector below was computed by another implementation (openssl's `dgst -hmac`),
    // or is published by the sender or the RFC it names.

    #[test]
    fn woocommerce_and_shopify_sign_the_body_in_base64() {
        // A WooCommerce order.created body as `WC_Webhook::deliver()` posts it (JSON, trimmed).
        let body = br#"{"id":727,"status":"processing","currency":"RON","total":"149.90","billing":{"first_name":"Ana","email":"ana@example.ro"}}"#;
        let woo = signer(
            HmacAlgorithm::HmacSha256,
            SignatureEncoding::Base64,
            None,
            "{body}",
            "wc-webhook-secret-8f3a",
        );
        // printf '%s' "$body" | openssl dgst -sha256 -hmac wc-webhook-secret-8f3a -binary | base64
        let header = b"NYG50tVDmEIKG7iOzPUhfCbd7/xSSqWyjvC/fdeO9To=";
        assert!(woo.verify(header, None, body).is_ok());
        // A header with spaces around it, as proxies leave it, holds too.
        assert!(
            woo.verify(
                b" NYG50tVDmEIKG7iOzPUhfCbd7/xSSqWyjvC/fdeO9To= ",
                None,
                body
            )
            .is_ok()
        );
        // One byte of the body changed: the signature does not hold.
        let mut tampered = body.to_vec();
        tampered[5] = b'8';
        assert_eq!(woo.verify(header, None, &tampered), Err(Mismatch::Digest));
        // Another secret.
        let other = signer(
            HmacAlgorithm::HmacSha256,
            SignatureEncoding::Base64,
            None,
            "{body}",
            "another-secret",
        );
        assert_eq!(other.verify(header, None, body), Err(Mismatch::Digest));
        assert_eq!(
            woo.verify(b"not base64 at all!", None, body),
            Err(Mismatch::Encoding)
        );
        // The hex form of the same digest is not what WooCommerce sends (and reads as
        // base64 of other bytes).
        let hex = b"3581b9d2d54398420a1bb88eccf5217c26ddeffc524aa5b28ef0bf7dd78ef53a";
        assert_eq!(woo.verify(hex, None, body), Err(Mismatch::Digest));

        // Shopify: the same scheme, in `X-Shopify-Hmac-Sha256`.
        let body = br##"{"id":820982911946154508,"email":"jon@example.com","name":"#9999"}"##;
        let shopify = signer(
            HmacAlgorithm::HmacSha256,
            SignatureEncoding::Base64,
            None,
            "{body}",
            "shpss_0123456789abcdef",
        );
        // printf '%s' "$body" | openssl dgst -sha256 -hmac shpss_0123456789abcdef -binary | base64
        let header = b"bL2ad+fKLqdjH24gMVBkdyiOWTCz1V8/MY1mhYc3QAU=";
        assert!(shopify.verify(header, None, body).is_ok());
        assert_eq!(
            shopify.verify(header, None, &body[1..]),
            Err(Mismatch::Digest)
        );
    }

    #[test]
    fn github_signs_in_hex_after_a_prefix() {
        // GitHub's documented example ("Validating webhook deliveries").
        let github = signer(
            HmacAlgorithm::HmacSha256,
            SignatureEncoding::Hex,
            Some("sha256="),
            "{body}",
            "It's a Secret to Everybody",
        );
        let header = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(github.verify(header, None, b"Hello, World!").is_ok());
        let upper = header.to_ascii_uppercase();
        assert_eq!(
            github.verify(&upper, None, b"Hello, World!"),
            Err(Mismatch::Prefix),
            "the prefix is compared as written"
        );
        assert_eq!(
            github.verify(&header[7..], None, b"Hello, World!"),
            Err(Mismatch::Prefix)
        );
        assert_eq!(
            github.verify(b"sha256=75710", None, b"Hello, World!"),
            Err(Mismatch::Encoding)
        );
    }

    #[test]
    fn sha1_and_sha512_follow_rfc_2202_and_4231() {
        for (algorithm, digest) in [
            (
                HmacAlgorithm::HmacSha1,
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                HmacAlgorithm::HmacSha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ] {
            let rfc = signer(algorithm, SignatureEncoding::Hex, None, "{body}", "Jefe");
            let body = b"what do ya want for nothing?";
            assert!(
                rfc.verify(digest.as_bytes(), None, body).is_ok(),
                "{algorithm:?}"
            );
            assert!(rfc.verify(digest.as_bytes(), None, b"").is_err());
        }
    }

    #[test]
    fn a_signed_timestamp_is_part_of_what_is_signed() {
        let slack = signer(
            HmacAlgorithm::HmacSha256,
            SignatureEncoding::Hex,
            Some("v0="),
            "v0:{timestamp}:{body}",
            "8f742231b10e8888abcd99yyyzzz85a5",
        );
        let body =
            b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070";
        // printf 'v0:1531420618:%s' "$body" | openssl dgst -sha256 -hmac 8f742231b10e8888abcd99yyyzzz85a5
        let header = b"v0=a45771c0f181b7fb1752e9a26cc1ffb2c428f52ac8ab774ffa4adf8cf2874576";
        let at = Some(&b"1531420618"[..]);
        assert!(slack.verify(header, at, body).is_ok());
        // The same signature with another time does not hold, nor without the time.
        assert_eq!(
            slack.verify(header, Some(&b"1531420619"[..]), body),
            Err(Mismatch::Digest)
        );
        assert_eq!(slack.verify(header, None, body), Err(Mismatch::Digest));
    }

    #[test]
    fn covers_read_body_timestamp_and_escaped_braces() {
        assert_eq!(Covers::parse("{body}").unwrap(), Covers::body());
        let covers = Covers::parse("{{v0}}:{timestamp}:{body}").unwrap();
        assert_eq!(
            covers.0,
            [
                Cover::Text(b"{v0}:".to_vec()),
                Cover::Timestamp,
                Cover::Text(b":".to_vec()),
                Cover::Body
            ]
        );
        assert!(covers.has_timestamp());
        assert!(
            Covers::parse("{timestamp}")
                .unwrap_err()
                .contains("`{body}`")
        );
        assert!(Covers::parse("{ts}.{body}").unwrap_err().contains("`{ts}`"));
    }

    #[test]
    fn timestamps_are_unix_seconds_or_rfc_3339() {
        assert_eq!(timestamp(b"1531420618"), Some(1_531_420_618));
        assert_eq!(timestamp(b"2018-07-12T18:36:58Z"), Some(1_531_420_618));
        assert_eq!(timestamp(b"2018-07-12T20:36:58+02:00"), Some(1_531_420_618));
        assert_eq!(timestamp(b"yesterday"), None);
    }

    #[test]
    fn a_delivery_is_recognised_by_its_signature_and_its_id() {
        let one = digests(b"sig", Some(b" abc "));
        assert_eq!(one.len(), 2);
        assert_eq!(one, digests(b"sig", Some(b"abc")));
        assert_ne!(one[0], digests(b"other", None)[0]);
        // An id equal to a signature's bytes is still another digest.
        assert_ne!(digests(b"x", None)[0], digests(b"y", Some(b"x"))[1]);
    }
}
