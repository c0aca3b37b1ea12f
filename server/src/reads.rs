//! What the API and the console share to record a read of personal data in the read audit
//! (ADR 0028; the chain itself is `Store::record_reads`): the names of the routes that read,
//! and the client's address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::store::{CaseRead, Result, Store};

/// `GET /v1/cases/{id}`: one case, as the API gives it.
pub const API_CASE: &str = "GET /v1/cases/{id}";
/// `POST /v1/sync`: whole documents pulled to a phone.
pub const SYNC: &str = "POST /v1/sync";
/// `/console/cases/{id}`.
pub const CONSOLE_CASE: &str = "console case page";
/// `/console/cases/{id}/print`.
pub const CONSOLE_PRINT: &str = "console print";
/// `/console/cases/{id}/evidence`: the case's whole signed history.
pub const CONSOLE_EVIDENCE: &str = "console evidence";
/// `gridsync case export`: the same file, by an operator.
pub const CLI_EXPORT: &str = "gridsync case export";

/// The client's IP address as the audit writes it: `-` when the server is not served with
/// `ConnectInfo` (a router in a test without it).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "-".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

/// Records that `user` read `case` through `route` from `addr`, now. A failure is the
/// caller's to turn into a failed read: personal data is never shown unrecorded.
pub async fn record(
    store: &Store,
    user: &str,
    case: &str,
    route: &str,
    addr: &ClientAddr,
) -> Result<()> {
    store
        .record_reads(
            &[CaseRead {
                user,
                case,
                route,
                addr: &addr.0,
            }],
            crate::now_ms(),
        )
        .await
}
