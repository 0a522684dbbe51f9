//! HTTP APIs. [`HttpClient`] holds a connection (base URL, default headers and query, auth);
//! [`RequestPlan`] is a request template rendered per record; [`source::HttpSourcePlan`]
//! reads records page after page, [`target::HttpTarget`] writes them through the ID map, and
//! [`fetch::HttpFetcher`] reads what a `fetch` step asks for.
//!
//! Secrets (auth, keys in headers or query) are held as `SecretString`s and exposed only when
//! a request is built; error messages name the method and path, never the query string.
//!
//! Each file has one role, and none imports another that imports it back: [`wire`] is the
//! vocabulary the others share and imports none of them.

pub mod auth;
pub mod body;
pub mod client;
pub mod compile;
pub mod fetch;
pub mod paging;
pub mod request;
pub mod resilience;
pub mod rpc;
pub mod source;
pub mod target;
pub mod translations;
pub mod wire;

pub use auth::base64;
pub use client::{HttpClient, concurrency};
pub use request::RequestPlan;
pub use wire::{AnswerError, Call, Response, TransportError};
