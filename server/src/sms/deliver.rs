//! The delivery loop: claims due rows of the SMS outbox (a lease, so a killed server's rows come
//! due again and two servers never send one row at once), holds back non-urgent ones in quiet
//! hours or over a number's daily cap, and hands the rest to the gateway with the row's id as
//! its idempotency key. A failure or a timeout backs off and tries again; nothing is dropped
//! but what an account opted out of since the row was written.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::SmsConfig;
use crate::store::{HELD_CAP, HELD_QUIET, Result, SmsRow, Store};

/// Rows claimed per round: sent one after another, so the lease covers them all.
const CLAIM: i64 = 5;
/// The lease beyond the gateway's time for the round's rows.
const LEASE_MARGIN_MS: i64 = 5_000;

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    /// Failed at the gateway (or timed out): tried again later.
    pub failed: usize,
    /// Held back by quiet hours or the daily cap.
    pub deferred: usize,
    /// Dropped: the account opted out.
    pub skipped: usize,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    store: Store,
    config: SmsConfig,
    client: reqwest::Client,
}

impl Delivery {
    pub fn new(store: Store, config: SmsConfig) -> anyhow::Result<Delivery> {
        let client = reqwest::Client::builder()
            .timeout(config.gateway.timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("sms_config: the gateway client: {e}"))?;
        Ok(Delivery {
            store,
            config,
            client,
        })
    }

    /// One round over the rows due at `now`.
    pub async fn run_once(&self, now: i64) -> Result<Round> {
        let lease = CLAIM * self.config.gateway.timeout.as_millis() as i64 + LEASE_MARGIN_MS;
        let mut round = Round::default();
        for row in self.store.claim_sms(now, lease, CLAIM).await? {
            self.deliver(&row, now, &mut round).await?;
        }
        Ok(round)
    }

    async fn deliver(&self, row: &SmsRow, now: i64, round: &mut Round) -> Result<()> {
        let d = &self.config.delivery;
        if let Some(user) = &row.user_id
            && self.store.user_sms(user).await?.is_none_or(|(_, out)| out)
        {
            round.skipped += 1;
            return self.store.sms_skip(&row.id, "opted out").await;
        }
        if !row.urgent {
            if let Some(q) = d.quiet_hours
                && q.contains(super::china_minute(now))
            {
                round.deferred += 1;
                return self
                    .store
                    .sms_later(&row.id, q.ends_after(now), HELD_QUIET, false)
                    .await;
            }
            let today = super::china_day_start(now);
            if self.store.sms_sent_since(&row.to_number, today).await? >= i64::from(d.daily_cap) {
                round.deferred += 1;
                return self
                    .store
                    .sms_later(&row.id, today + super::DAY_MS, HELD_CAP, false)
                    .await;
            }
        }
        match self.send(row).await {
            Ok(()) => {
                round.sent += 1;
                self.store.sms_sent(&row.id, crate::now_ms().max(now)).await
            }
            Err(why) => {
                round.failed += 1;
                let shift = (row.attempts.max(1) - 1).min(20) as u32;
                let wait = d
                    .retry_base
                    .saturating_mul(1 << shift)
                    .min(d.retry_max)
                    .as_millis() as i64;
                // Numbers and texts stay out of the log; the row's id says which.
                tracing::warn!(sms = %row.id, attempts = row.attempts, error = %why, "SMS not delivered; will retry");
                self.store.sms_later(&row.id, now + wait, &why, true).await
            }
        }
    }

    async fn send(&self, row: &SmsRow) -> std::result::Result<(), String> {
        let g = &self.config.gateway;
        let body = g
            .body
            .replace("{to}", &json_escaped(&row.to_number))
            .replace("{text}", &json_escaped(&row.body))
            .replace("{id}", &json_escaped(&row.id));
        let mut req = self
            .client
            .post(&g.url)
            .header(reqwest::header::CONTENT_TYPE, &g.content_type)
            .header("Idempotency-Key", &row.id);
        if let Some(token) = &g.token {
            req = req.bearer_auth(token);
        }
        if let Some(key) = &g.hmac_key {
            req = req.header("X-Signature", signature(key, body.as_bytes()));
        }
        match req.body(body).send().await {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(format!("gateway answered HTTP {}", resp.status().as_u16())),
            Err(e) if e.is_timeout() => Err("gateway timed out".into()),
            Err(e) if e.is_connect() => Err("gateway unreachable".into()),
            Err(_) => Err("gateway request failed".into()),
        }
    }

    /// Runs a round every `poll` until the process ends; a failed round is logged and retried.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // What waits for quiet hours or the cap is judged again under these settings.
            let now = crate::now_ms();
            let beyond =
                now + CLAIM * self.config.gateway.timeout.as_millis() as i64 + LEASE_MARGIN_MS;
            match self.store.sms_release_held(now, beyond).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "held SMS looked at again"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "releasing held SMS failed"),
            }
            let mut tick = tokio::time::interval(self.config.delivery.poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.run_once(crate::now_ms()).await {
                    Ok(r) if r != Round::default() => tracing::info!(
                        sent = r.sent,
                        failed = r.failed,
                        deferred = r.deferred,
                        skipped = r.skipped,
                        "SMS round"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "SMS round failed"),
                }
            }
        })
    }
}

/// `value` as the inside of a JSON string.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::Value::from(value).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The hex HMAC-SHA256 of `body` under `key` (`X-Signature`).
pub fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_for_the_json_template() {
        assert_eq!(json_escaped("他说\"火\"\n"), "他说\\\"火\\\"\\n");
        assert_eq!(json_escaped("+86138"), "+86138");
    }

    #[test]
    fn the_signature_is_the_rfc_4231_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
