//! The byte layout of the state. Keys are a one-byte kind then length-prefixed parts, so a
//! prefix scan never mixes namespaces and no value needs escaping. ID-map keys (millions) start
//! with a 64-bit hash of their namespace instead of its names: keys half as long make the tree
//! smaller and lookups faster; a registry entry per namespace maps the hash back to the names. Values start with the format
//! version; ID-map entries (millions of them) are packed by hand, the rare ones are JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::entry::{FieldHashes, Fingerprint, JobId, Link, Namespace};
use super::error::StateError;

/// The layout written by this version.
pub const FORMAT: u8 = 1;

pub const LINK: u8 = b'L';
pub const REVERSE: u8 = b'R';
pub const CHECKPOINT: u8 = b'C';
pub const PENDING: u8 = b'O';
pub const QUARANTINE: u8 = b'Q';
/// A job's last run under `serve`.
pub const JOB_RUN: u8 = b'J';
/// A `review` job's pending plan.
pub const REVIEW: u8 = b'V';
/// Namespace hash -> names.
pub const NAMESPACE: u8 = b'N';
/// (pipeline, job, record key) -> quarantine entry id: a record rejected again on every run is
/// kept once, with its latest reason.
pub const QUARANTINED_KEY: u8 = b'q';
/// (pipeline, job, channel) -> when the last alert went out. Not exported: an alert sent once
/// more after a move is harmless.
pub const ALERTED: u8 = b'A';

pub fn part(out: &mut Vec<u8>, text: &str) {
    // Names are short; a longer one is cut rather than corrupting the layout.
    let bytes = &text.as_bytes()[..text.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A namespace's 64-bit hash: its three names, length-prefixed, hashed.
pub fn ns_hash(ns: &Namespace) -> [u8; 8] {
    let mut names =
        Vec::with_capacity(6 + ns.pipeline.len() + ns.connection.len() + ns.entity.len());
    part(&mut names, &ns.pipeline);
    part(&mut names, &ns.connection);
    part(&mut names, &ns.entity);
    xxhash_rust::xxh3::xxh3_64(&names).to_be_bytes()
}

/// `kind`, then the namespace's hash.
pub fn ns_prefix(kind: u8, ns: &Namespace) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.push(kind);
    out.extend_from_slice(&ns_hash(ns));
    out
}

/// The registry key of a namespace hash.
pub fn namespace_key(hash: [u8; 8]) -> Vec<u8> {
    let mut out = vec![NAMESPACE];
    out.extend_from_slice(&hash);
    out
}

/// Splits an ID-map key into its namespace hash and the key after it.
pub fn split_ns_key(key: &[u8]) -> Result<([u8; 8], &[u8]), StateError> {
    let hash = key
        .get(1..9)
        .and_then(|h| <[u8; 8]>::try_from(h).ok())
        .ok_or_else(|| StateError::Format(format!("an ID-map key of {} bytes", key.len())))?;
    Ok((hash, &key[9..]))
}

/// A key inside a namespace: the prefix then the raw key (last, so it needs no length).
pub fn ns_key(kind: u8, ns: &Namespace, key: &str) -> Vec<u8> {
    let mut out = ns_prefix(kind, ns);
    out.extend_from_slice(key.as_bytes());
    out
}

/// An outbox window's key: the window id after the namespace, so a namespace's windows are
/// read in the order they were recorded.
pub fn outbox_key(ns: &Namespace, window: u64) -> Vec<u8> {
    let mut out = ns_prefix(PENDING, ns);
    out.extend_from_slice(&window.to_be_bytes());
    out
}

pub fn pipeline_prefix(kind: u8, pipeline: &str) -> Vec<u8> {
    let mut out = vec![kind];
    part(&mut out, pipeline);
    out
}

pub fn checkpoint_key(job: &JobId) -> Vec<u8> {
    let mut out = pipeline_prefix(CHECKPOINT, &job.pipeline);
    out.extend_from_slice(job.job.as_bytes());
    out
}

pub fn alerted_key(job: &JobId, channel: &str) -> Vec<u8> {
    let mut out = pipeline_prefix(ALERTED, &job.pipeline);
    part(&mut out, &job.job);
    out.extend_from_slice(channel.as_bytes());
    out
}

pub fn job_key(kind: u8, job: &JobId) -> Vec<u8> {
    let mut out = pipeline_prefix(kind, &job.pipeline);
    out.extend_from_slice(job.job.as_bytes());
    out
}

pub fn quarantine_key(pipeline: &str, id: u64) -> Vec<u8> {
    let mut out = pipeline_prefix(QUARANTINE, pipeline);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

pub fn quarantined_key(pipeline: &str, job: &str, key: &str) -> Vec<u8> {
    let mut out = pipeline_prefix(QUARANTINED_KEY, pipeline);
    part(&mut out, job);
    out.extend_from_slice(key.as_bytes());
    out
}

/// The parts of a key written by the functions above.
pub struct KeyParts<'a> {
    pub kind: u8,
    pub parts: Vec<String>,
    pub rest: &'a [u8],
}

/// Splits a key into its kind, `count` length-prefixed parts and the rest.
pub fn split_key(key: &[u8], count: usize) -> Result<KeyParts<'_>, StateError> {
    let bad = || StateError::Format(format!("a key of {} bytes is malformed", key.len()));
    let (&kind, mut rest) = key.split_first().ok_or_else(bad)?;
    let mut parts = Vec::with_capacity(count);
    for _ in 0..count {
        if rest.len() < 2 {
            return Err(bad());
        }
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let text = rest.get(2..2 + len).ok_or_else(bad)?;
        parts.push(String::from_utf8_lossy(text).into_owned());
        rest = &rest[2 + len..];
    }
    Ok(KeyParts { kind, parts, rest })
}

const HAS_FINGERPRINT: u8 = 1;
const HAS_ID: u8 = 2;
const HAS_FIELDS: u8 = 4;

/// version, flags, [fingerprint 16], [field count 2, names 4, values 4 each], synced_at 8,
/// [id bytes]: about 30 bytes an entry and 4 a field. The field hashes are an optional part,
/// so entries written without them still read.
pub fn encode_link(link: &Link) -> Vec<u8> {
    encode_link_with(link, &FieldHashes::default())
}

pub fn encode_link_with(link: &Link, fields: &FieldHashes) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        32 + fields.values.len() * 4 + link.target_id.as_ref().map_or(0, String::len),
    );
    encode_link_into(link, fields, &mut out);
    out
}

pub fn encode_link_into(link: &Link, fields: &FieldHashes, out: &mut Vec<u8>) {
    let id = link.target_id.as_deref().unwrap_or("");
    let mut flags = 0;
    if link.fingerprint.is_some() {
        flags |= HAS_FINGERPRINT;
    }
    if link.target_id.is_some() {
        flags |= HAS_ID;
    }
    let values = &fields.values[..fields.values.len().min(usize::from(u16::MAX))];
    if !values.is_empty() {
        flags |= HAS_FIELDS;
    }
    out.push(FORMAT);
    out.push(flags);
    if let Some(fp) = link.fingerprint {
        out.extend_from_slice(&fp.0.to_be_bytes());
    }
    if !values.is_empty() {
        out.extend_from_slice(&(values.len() as u16).to_be_bytes());
        out.extend_from_slice(&fields.names.to_be_bytes());
        for value in values {
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
    out.extend_from_slice(&link.synced_at.to_be_bytes());
    out.extend_from_slice(id.as_bytes());
}

pub fn decode_link(bytes: &[u8]) -> Result<Link, StateError> {
    decode_link_parts(bytes, false).map(|(link, _)| link)
}

/// The field hashes an ID-map entry holds (empty when it holds none).
pub fn decode_link_fields(bytes: &[u8]) -> Result<FieldHashes, StateError> {
    decode_link_parts(bytes, true).map(|(_, fields)| fields)
}

/// The link, and its field hashes when `with_fields` (skipped otherwise: a rerun's thousands
/// of lookups never allocate for them).
fn decode_link_parts(bytes: &[u8], with_fields: bool) -> Result<(Link, FieldHashes), StateError> {
    let bad = || StateError::Format(format!("an ID-map entry of {} bytes", bytes.len()));
    match bytes.first() {
        Some(&FORMAT) => {}
        Some(v) => return Err(StateError::Format(format!("ID-map entry format {v}"))),
        None => return Err(bad()),
    }
    let flags = *bytes.get(1).ok_or_else(bad)?;
    let mut at = 2;
    let mut take = |n: usize| {
        let part = bytes.get(at..at + n).ok_or_else(bad);
        at += n;
        part
    };
    let fingerprint = if flags & HAS_FINGERPRINT != 0 {
        let raw: [u8; 16] = take(16)?.try_into().map_err(|_| bad())?;
        Some(Fingerprint(u128::from_be_bytes(raw)))
    } else {
        None
    };
    let mut fields = FieldHashes::default();
    if flags & HAS_FIELDS != 0 {
        let count: [u8; 2] = take(2)?.try_into().map_err(|_| bad())?;
        let count = usize::from(u16::from_be_bytes(count));
        let names: [u8; 4] = take(4)?.try_into().map_err(|_| bad())?;
        let values = take(4 * count)?;
        if with_fields {
            fields.names = u32::from_be_bytes(names);
            fields.values = values
                .chunks_exact(4)
                .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
                .collect();
        }
    }
    let raw: [u8; 8] = take(8)?.try_into().map_err(|_| bad())?;
    let target_id =
        (flags & HAS_ID != 0).then(|| String::from_utf8_lossy(&bytes[at..]).into_owned());
    let link = Link {
        target_id,
        fingerprint,
        synced_at: i64::from_be_bytes(raw),
    };
    Ok((link, fields))
}

/// The version byte, then the text.
pub fn encode_text(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + text.len());
    out.push(FORMAT);
    out.extend_from_slice(text.as_bytes());
    out
}

pub fn decode_text(bytes: &[u8]) -> Result<String, StateError> {
    match bytes.split_first() {
        Some((&FORMAT, text)) => Ok(String::from_utf8_lossy(text).into_owned()),
        _ => Err(StateError::Format("a reverse ID-map entry".into())),
    }
}

/// The version byte, then JSON.
pub fn encode_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StateError> {
    let mut out = vec![FORMAT];
    serde_json::to_writer(&mut out, value).map_err(|e| StateError::Store(e.to_string()))?;
    Ok(out)
}

pub fn decode_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StateError> {
    match bytes.split_first() {
        Some((&FORMAT, json)) => {
            serde_json::from_slice(json).map_err(|e| StateError::Format(format!("{what}: {e}")))
        }
        Some((v, _)) => Err(StateError::Format(format!("{what} format {v}"))),
        None => Err(StateError::Format(format!("an empty {what}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip() {
        for link in [
            Link {
                target_id: Some("42".into()),
                fingerprint: Some(Fingerprint(u128::MAX - 7)),
                synced_at: 1_700_000_000,
            },
            Link {
                target_id: None,
                fingerprint: Some(Fingerprint(1)),
                synced_at: -1,
            },
            Link {
                target_id: Some(String::new()),
                fingerprint: None,
                synced_at: 0,
            },
        ] {
            assert_eq!(decode_link(&encode_link(&link)).unwrap(), link);
        }
        assert!(decode_link(&[]).is_err());
        assert!(decode_link(&[9, 0]).is_err());
        assert!(decode_link(&[FORMAT, HAS_FINGERPRINT, 1, 2]).is_err());
        let fields = FieldHashes {
            names: 9,
            values: vec![1, u32::MAX],
        };
        let link = Link {
            target_id: Some("7".into()),
            fingerprint: Some(Fingerprint(3)),
            synced_at: 5,
        };
        let bytes = encode_link_with(&link, &fields);
        assert_eq!(decode_link(&bytes).unwrap(), link, "the fields are skipped");
        assert_eq!(decode_link_fields(&bytes).unwrap(), fields);
        // Says 2 values and holds 1.
        assert!(decode_link(&bytes[..bytes.len() - 17]).is_err());
    }

    #[test]
    fn keys_split_back_into_their_parts() {
        let ns = Namespace {
            pipeline: "p".into(),
            connection: "shop".into(),
            entity: "product".into(),
        };
        let key = ns_key(LINK, &ns, "AR-1");
        assert_eq!(split_ns_key(&key).unwrap(), (ns_hash(&ns), &b"AR-1"[..]));
        assert!(split_ns_key(&key[..4]).is_err());
        let other = Namespace {
            entity: "category".into(),
            ..ns.clone()
        };
        assert_ne!(ns_hash(&ns), ns_hash(&other));
        let key = checkpoint_key(&JobId {
            pipeline: "p".into(),
            job: "orders".into(),
        });
        let parts = split_key(&key, 1).unwrap();
        assert_eq!(
            (parts.kind, parts.parts.clone(), parts.rest),
            (CHECKPOINT, vec!["p".to_string()], &b"orders"[..])
        );
        assert!(split_key(&key[..2], 1).is_err());
    }
}
