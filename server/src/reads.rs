//! What the API and the console share to record a read of personal data in the read audit
//! (ADR 0028; the chain itself is `Store::record_reads`): the names of the routes that read,
//! and the client's address.

use std::net::{IpAddr, SocketAddr};

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

/// The client's IP address, when the server is served with `ConnectInfo` (`None` for a router
/// in a test without it): what the read audit writes and what `/track`'s guess limit counts by.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address as the audit writes it: `-` when unknown.
    pub fn text(&self) -> String {
        self.0.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
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
                addr: &addr.text(),
            }],
            crate::now_ms(),
        )
        .await
}
