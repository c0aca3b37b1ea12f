//! Phone-to-phone sync on the server's side (ADR 0030): the device certificates a sync hands
//! out and the revocations phones must know, and the author devices of changes a push carries
//! for colleagues.

use gridsync_core::Identity;
use gridsync_core::peer::{CERTIFICATE_LIFETIME_MS, Certificate, RENEW_WITHIN_MS};
use gridsync_core::protocol::{DocChanges, Revocation};
use serde_bytes::ByteBuf;
use sqlx::Row;

use super::{DeviceContext, Result, Store};

impl Store {
    /// A new certificate for the signed-in account on a keyed device whose held one
    /// (`until`, ms) runs out within half its lifetime, and every revocation a certificate
    /// still in force may need; nothing for an app that does not ask.
    pub(super) async fn certificate_for(
        &self,
        ctx: &DeviceContext,
        reader: &Identity,
        until: Option<i64>,
        now: i64,
    ) -> Result<(Option<ByteBuf>, Vec<Revocation>)> {
        let (Some(until), Some(device_key)) = (until, ctx.sign_key.as_ref()) else {
            return Ok((None, Vec::new()));
        };
        let certificate = match until - now < RENEW_WITHIN_MS {
            true => {
                let key = self.change_key().await?;
                let signed = Certificate::of(reader, device_key, now).sign(key.signing())?;
                Some(ByteBuf::from(signed))
            }
            false => None,
        };
        Ok((certificate, self.recent_revocations(now).await?))
    }

    /// Devices revoked within a certificate's lifetime, from the cache when it is fresh (a
    /// revocation on another server reaches phones within [`REVOCATIONS_FRESH_MS`]).
    async fn recent_revocations(&self, now: i64) -> Result<Vec<Revocation>> {
        if let Some(held) = self.revocations.fresh(now) {
            return Ok(held);
        }
        let revoked = sqlx::query(
            "SELECT id, revoked_at FROM devices WHERE revoked_at > $1 ORDER BY revoked_at, id",
        )
        .bind(now - CERTIFICATE_LIFETIME_MS)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Revocation {
                device: r.try_get(0)?,
                at: r.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        self.revocations.keep(now, &revoked);
        Ok(revoked)
    }

    /// The devices whose changes `push` carries for them (`DocChanges::by`), as the server
    /// knows them: never the pushing device, nor a revoked or keyless one (only a signature
    /// says who made a carried change), so their changes are refused `relay_author_unknown`.
    pub(super) async fn relay_devices(
        &self,
        own: &str,
        push: &[DocChanges],
    ) -> Result<Vec<DeviceContext>> {
        let named: std::collections::BTreeSet<&str> = push
            .iter()
            .flat_map(|p| p.by.iter().map(String::as_str))
            .filter(|d| !d.is_empty() && *d != own)
            .collect();
        let mut found = Vec::with_capacity(named.len());
        for device in named {
            if let Some(ctx) = self.device_context(device).await?
                && !ctx.revoked
                && ctx.sign_key.is_some()
            {
                found.push(ctx);
            }
        }
        Ok(found)
    }
}

/// How long a server answers syncs from the revocations it read last.
pub const REVOCATIONS_FRESH_MS: i64 = 60_000;

/// The revocations last read, and when.
#[derive(Debug, Default)]
pub(super) struct RevocationCache(std::sync::Mutex<Option<(i64, Vec<Revocation>)>>);

impl RevocationCache {
    fn fresh(&self, now: i64) -> Option<Vec<Revocation>> {
        let held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        held.as_ref()
            .filter(|(at, _)| now - at < REVOCATIONS_FRESH_MS && now >= *at)
            .map(|(_, r)| r.clone())
    }

    fn keep(&self, now: i64, revoked: &[Revocation]) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, revoked.to_vec()));
    }

    /// A revocation made here is sent at once.
    pub(super) fn forget(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
