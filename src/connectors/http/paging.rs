//! How a source goes from one page to the next: page numbers, offsets, cursor tokens, next
//! links in the body or in a `Link` header.
//!
//! Paging always ends: on an empty page, on a page shorter than the page size, on a token or
//! next URL already followed, on `has_more: false`, and on the last page a total announces (the
//! source also stops on a page that repeats the one before, and at `max_pages`). The reasons
//! that mean the API misbehaves are logged as warnings naming them.

use std::collections::HashSet;

use serde_json::Value;

use super::client::HttpClient;
use super::rpc;
use super::wire::{Call, Response};
use crate::record::path::CompiledPath;
use crate::record::text_of;

#[derive(Debug)]
pub enum Paging {
    /// One request.
    None,
    PageNumber {
        param: String,
        start: u64,
        size: Option<(String, u64)>,
        total_pages_header: Option<String>,
        total_pages: Option<CompiledPath>,
    },
    Offset {
        offset_param: String,
        limit_param: String,
        limit: u64,
    },
    /// PrestaShop's `limit=OFFSET,COUNT`.
    OffsetCount {
        param: String,
        count: u64,
    },
    Cursor {
        from: CompiledPath,
        param: String,
        has_more: Option<CompiledPath>,
    },
    NextUrl {
        from: CompiledPath,
    },
    LinkHeader,
}

/// Where the next page is.
pub enum Next {
    Params(Vec<(String, String)>),
    /// A path (and query) after the base URL.
    Url(String),
    Stop,
}

/// The cursor tokens and next URLs already followed: page numbers and offsets always grow,
/// tokens and URLs may loop.
pub type Followed = HashSet<String>;

impl Paging {
    pub fn first(&self) -> Next {
        match self {
            Paging::None | Paging::Cursor { .. } | Paging::NextUrl { .. } | Paging::LinkHeader => {
                Next::Params(Vec::new())
            }
            Paging::PageNumber {
                param, start, size, ..
            } => Next::Params(page_params(param, *start, size)),
            Paging::Offset {
                offset_param,
                limit_param,
                limit,
            } => Next::Params(vec![
                (offset_param.clone(), "0".into()),
                (limit_param.clone(), limit.to_string()),
            ]),
            Paging::OffsetCount { param, count } => {
                Next::Params(vec![(param.clone(), format!("0,{count}"))])
            }
        }
    }

    /// Whether the next page's request is known before this page is parsed (by number or
    /// offset), so that it can be fetched meanwhile.
    pub fn is_predictable(&self) -> bool {
        matches!(
            self,
            Paging::PageNumber { .. } | Paging::Offset { .. } | Paging::OffsetCount { .. }
        )
    }

    /// Whether the API says how many pages there are (a header, or a field of each page).
    pub fn announces_pages(&self) -> bool {
        matches!(self, Paging::PageNumber { total_pages_header, total_pages, .. }
            if total_pages_header.is_some() || total_pages.is_some())
    }

    /// The number of pages the API announces in this answer's header or `body`.
    pub fn announced_pages(&self, response: &Response, body: &Value) -> Option<u64> {
        let Paging::PageNumber {
            total_pages_header,
            total_pages,
            ..
        } = self
        else {
            return None;
        };
        total_pages_header
            .as_deref()
            .and_then(|h| response.header(h))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .or_else(|| {
                total_pages
                    .as_ref()
                    .and_then(|p| p.get(body))
                    .and_then(|v| text_of(v)?.parse().ok())
            })
    }

    /// The parameters of the page after `page` when the API announced that there are `known`
    /// pages and this is not the last.
    fn announced_next(&self, page: u64, known: Option<u64>) -> Option<Vec<(String, String)>> {
        match self {
            Paging::PageNumber {
                param, start, size, ..
            } if known.is_some_and(|pages| page < pages) => {
                Some(page_params(param, start + page, size))
            }
            _ => None,
        }
    }

    /// The next page's parameters, from what is known before this page is parsed: the page
    /// after this one when the API announced it (`known` pages), else with `guess` a guess
    /// that this page is full.
    pub fn ahead_of_parsing(
        &self,
        guess: bool,
        page: u64,
        response: &Response,
        known: Option<u64>,
    ) -> Option<Vec<(String, String)>> {
        if let Some(params) = self.announced_next(page, known) {
            return Some(params);
        }
        if !guess {
            return None;
        }
        let full = match self {
            Paging::PageNumber { size, .. } => size.as_ref().map_or(u64::MAX, |(_, s)| *s),
            Paging::Offset { limit, .. } => *limit,
            Paging::OffsetCount { count, .. } => *count,
            _ => return None,
        };
        if full == 0 {
            return None;
        }
        self.numbered_next(full, page, response, &Value::Null)
    }

    /// The page after `page`, which held `count` records: `response` and its parsed `body`
    /// say where it is or that there is none. Next links are followed only under `client`'s
    /// base URL.
    pub fn next(
        &self,
        client: &HttpClient,
        count: u64,
        page: u64,
        response: &Response,
        body: &Value,
        followed: &mut Followed,
    ) -> Next {
        if count == 0 {
            return Next::Stop;
        }
        if let Some(params) = self.numbered_next(count, page, response, body) {
            return Next::Params(params);
        }
        match self {
            Paging::Cursor {
                from,
                param,
                has_more,
            } => {
                if has_more
                    .as_ref()
                    .and_then(|p| p.get(body))
                    .is_some_and(|v| v == &Value::Bool(false))
                {
                    return Next::Stop;
                }
                match from.get(body).and_then(text_of).filter(|t| !t.is_empty()) {
                    Some(token) if first_time(followed, "token", &token) => {
                        Next::Params(vec![(param.clone(), token)])
                    }
                    _ => Next::Stop,
                }
            }
            Paging::NextUrl { from } => match from.get(body).and_then(text_of) {
                Some(url) => follow(client, &url, followed),
                None => Next::Stop,
            },
            Paging::LinkHeader => match response.header("link").and_then(next_link) {
                Some(url) => follow(client, &url, followed),
                None => Next::Stop,
            },
            _ => Next::Stop,
        }
    }

    /// The next page by number or offset after a page of `count` records; `None` when there
    /// is none, or the paging is not by number or offset.
    fn numbered_next(
        &self,
        count: u64,
        page: u64,
        response: &Response,
        body: &Value,
    ) -> Option<Vec<(String, String)>> {
        match self {
            Paging::PageNumber {
                param, start, size, ..
            } => {
                if size.as_ref().is_some_and(|(_, s)| count < *s) {
                    return None;
                }
                let announced = self.announced_pages(response, body);
                let number = start + page;
                if announced.is_some_and(|total| number > total + start - 1) {
                    return None;
                }
                Some(page_params(param, number, size))
            }
            Paging::Offset {
                offset_param,
                limit_param,
                limit,
            } => (count >= *limit).then(|| {
                vec![
                    (offset_param.clone(), (page * limit).to_string()),
                    (limit_param.clone(), limit.to_string()),
                ]
            }),
            Paging::OffsetCount { param, count: size } => {
                (count >= *size).then(|| vec![(param.clone(), format!("{},{size}", page * size))])
            }
            _ => None,
        }
    }
}

fn page_params(param: &str, page: u64, size: &Option<(String, u64)>) -> Vec<(String, String)> {
    let mut params = vec![(param.to_string(), page.to_string())];
    if let Some((name, value)) = size {
        params.push((name.clone(), value.to_string()));
    }
    params
}

/// The request of the first page with `params` set (replacing parameters of the same name).
pub fn with_params(first: &Call, params: &[(String, String)]) -> Call {
    if first.rpc.is_some() {
        // A JSON-RPC call is paged inside its params.
        let mut body = first.body.clone().unwrap_or_default();
        for (name, value) in params {
            if let Some(paged) = rpc::with_param(&body, name, value) {
                body = paged;
            }
        }
        return Call {
            body: Some(body),
            ..first.clone()
        };
    }
    let mut query: Vec<(String, String)> = first
        .query
        .iter()
        .filter(|(name, _)| !params.iter().any(|(p, _)| p == name))
        .cloned()
        .collect();
    query.extend(params.iter().cloned());
    Call {
        query,
        ..first.clone()
    }
}

/// Whether `token` (a cursor token or a next URL) was not followed before.
fn first_time(followed: &mut Followed, what: &str, token: &str) -> bool {
    let new = followed.insert(token.to_string());
    if !new {
        tracing::warn!("paging stopped: the API gave the same {what} twice");
    }
    new
}

/// A next URL is followed only on the connection's own base URL: the credentials go nowhere
/// else.
fn follow(client: &HttpClient, url: &str, followed: &mut Followed) -> Next {
    let Some(rest) = client.relative(url) else {
        tracing::warn!("paging stopped: the next page is not under the connection's base URL");
        return Next::Stop;
    };
    if first_time(followed, "next URL", &rest) {
        Next::Url(rest)
    } else {
        Next::Stop
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_their_next_url() {
        let header = r#"<https://shop/wp-json/wc/v3/products?page=3>; rel="next", <https://shop/wp-json/wc/v3/products?page=1>; rel="prev""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://shop/wp-json/wc/v3/products?page=3")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn the_page_after_an_announced_one_is_known_before_parsing() {
        let paging = Paging::PageNumber {
            param: "page".into(),
            start: 1,
            size: Some(("per_page".into(), 100)),
            total_pages_header: Some("X-WP-TotalPages".into()),
            total_pages: None,
        };
        let page_two = vec![
            ("page".to_string(), "2".to_string()),
            ("per_page".to_string(), "100".to_string()),
        ];
        assert_eq!(paging.announced_next(1, Some(3)), Some(page_two));
        assert_eq!(paging.announced_next(3, Some(3)), None, "the last page");
        assert_eq!(paging.announced_next(1, None), None, "nothing announced");
        let offsets = Paging::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            limit: 100,
        };
        assert_eq!(offsets.announced_next(1, Some(3)), None);
    }
}
