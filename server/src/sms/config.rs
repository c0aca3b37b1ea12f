//! The county's SMS settings (`gridsync serve --sms-config FILE`, a TOML file; see
//! README.md, "Notices and SMS"). Secrets may come from the environment instead of the file
//! (`GRIDSYNC_SMS_TOKEN`, `GRIDSYNC_SMS_HMAC_KEY`, `GRIDSYNC_SMS_INBOUND_TOKEN`); a broken file
//! stops `serve` with a message naming the file and the field.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Everything `--sms-config` sets.
#[derive(Clone)]
pub struct SmsConfig {
    pub gateway: Gateway,
    /// The bearer token the gateway presents on `POST /v1/sms/inbound`; without one the route
    /// answers `503 sms_disabled`.
    pub inbound_token: Option<String>,
    pub delivery: DeliverySettings,
}

/// Where and how outgoing SMS are handed to the county's gateway.
#[derive(Clone)]
pub struct Gateway {
    pub url: String,
    /// The request body, with `{to}`, `{text}` and `{id}` replaced by the values escaped for a
    /// JSON string.
    pub body: String,
    pub content_type: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub token: Option<String>,
    /// When set, `X-Signature` carries the hex HMAC-SHA256 of the body under this key.
    pub hmac_key: Option<String>,
    pub timeout: Duration,
}

/// When and how often.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// No SMS in these hours (China time) except urgent ones; `None`: any hour.
    pub quiet_hours: Option<QuietHours>,
    /// At most this many non-urgent SMS to one number per China day; the rest wait for the next.
    pub daily_cap: u32,
    /// The first retry's delay after a failure; doubled each time up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often the outbox is looked at.
    pub poll: Duration,
    /// The progress page the requester's SMS links to.
    pub track_url: String,
}

// Debug by hand: the secrets never reach a log.
impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig")
            .field("gateway", &self.gateway)
            .field("inbound_token", &self.inbound_token.as_ref().map(|_| "***"))
            .field("delivery", &self.delivery)
            .finish()
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A span of the day in China time, `start..end` in minutes after midnight; it may wrap past
/// midnight (`22:00-07:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: u32,
    pub end: u32,
}

impl QuietHours {
    /// Reads `HH:MM-HH:MM`; the empty string is no quiet hours.
    pub fn parse(text: &str) -> Result<Option<QuietHours>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not HH:MM-HH:MM"))?;
        let (start, end) = (minute_of(a)?, minute_of(b)?);
        if start == end {
            return Err(format!("{text:?} is an empty span"));
        }
        Ok(Some(QuietHours { start, end }))
    }

    pub fn contains(&self, minute: u32) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }

    /// The first moment after `now` outside the quiet hours (`now` if it is outside).
    pub fn ends_after(&self, now: i64) -> i64 {
        let minute = super::china_minute(now);
        if !self.contains(minute) {
            return now;
        }
        let day = super::china_day_start(now);
        let end = day + i64::from(self.end) * 60_000;
        if end > now { end } else { end + super::DAY_MS }
    }
}

fn minute_of(hhmm: &str) -> Result<u32, String> {
    let (h, m) = hhmm
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("{hhmm:?} is not HH:MM"))?;
    match (h.parse::<u32>(), m.parse::<u32>()) {
        (Ok(h), Ok(m)) if h < 24 && m < 60 => Ok(h * 60 + m),
        _ => Err(format!("{hhmm:?} is not a time of day HH:MM")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    gateway: GatewayFile,
    #[serde(default)]
    inbound: InboundFile,
    #[serde(default)]
    delivery: DeliveryFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    url: String,
    body: String,
    #[serde(default = "json")]
    content_type: String,
    token: Option<String>,
    hmac_key: Option<String>,
    #[serde(default = "timeout_ms")]
    timeout_ms: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InboundFile {
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryFile {
    #[serde(default = "quiet_hours")]
    quiet_hours: String,
    #[serde(default = "daily_cap")]
    daily_cap: u32,
    #[serde(default = "retry_base_ms")]
    retry_base_ms: u64,
    #[serde(default = "retry_max_ms")]
    retry_max_ms: u64,
    #[serde(default = "poll_ms")]
    poll_ms: u64,
    #[serde(default)]
    track_url: String,
}

impl Default for DeliveryFile {
    fn default() -> Self {
        DeliveryFile {
            quiet_hours: quiet_hours(),
            daily_cap: daily_cap(),
            retry_base_ms: retry_base_ms(),
            retry_max_ms: retry_max_ms(),
            poll_ms: poll_ms(),
            track_url: String::new(),
        }
    }
}

fn json() -> String {
    "application/json".into()
}
fn timeout_ms() -> u64 {
    10_000
}
fn quiet_hours() -> String {
    "22:00-07:00".into()
}
fn daily_cap() -> u32 {
    20
}
fn retry_base_ms() -> u64 {
    30_000
}
fn retry_max_ms() -> u64 {
    30 * 60_000
}
fn poll_ms() -> u64 {
    2_000
}

impl SmsConfig {
    /// Reads the settings file; `env` looks up the environment (the secrets' overrides).
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<SmsConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("sms_config: cannot read {}: {e}", path.display()))?;
        SmsConfig::parse(&text, env)
            .map_err(|e| anyhow::anyhow!("sms_config: {}: {e}", path.display()))
    }

    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<SmsConfig, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let g = file.gateway;
        let url = g.url.trim().to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("[gateway] url {url:?} is not an http(s) address"));
        }
        if !g.body.contains("{text}") || !g.body.contains("{to}") {
            return Err("[gateway] body must hold {to} and {text}".into());
        }
        if g.timeout_ms == 0 {
            return Err("[gateway] timeout_ms must be above 0".into());
        }
        let d = file.delivery;
        let quiet_hours = QuietHours::parse(&d.quiet_hours)
            .map_err(|e| format!("[delivery] quiet_hours: {e}"))?;
        if d.retry_base_ms == 0 || d.retry_max_ms < d.retry_base_ms || d.poll_ms == 0 {
            return Err(
                "[delivery] retry_base_ms and poll_ms must be above 0, retry_max_ms at least retry_base_ms"
                    .into(),
            );
        }
        let secret = |name: &str, from_file: Option<String>| {
            env(name).or(from_file).filter(|s| !s.trim().is_empty())
        };
        Ok(SmsConfig {
            gateway: Gateway {
                url,
                body: g.body,
                content_type: g.content_type,
                token: secret("GRIDSYNC_SMS_TOKEN", g.token),
                hmac_key: secret("GRIDSYNC_SMS_HMAC_KEY", g.hmac_key),
                timeout: Duration::from_millis(g.timeout_ms),
            },
            inbound_token: secret("GRIDSYNC_SMS_INBOUND_TOKEN", file.inbound.token),
            delivery: DeliverySettings {
                quiet_hours,
                daily_cap: d.daily_cap,
                retry_base: Duration::from_millis(d.retry_base_ms),
                retry_max: Duration::from_millis(d.retry_max_ms),
                poll: Duration::from_millis(d.poll_ms),
                track_url: d.track_url,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[gateway]
url = "http://127.0.0.1:9/send"
body = '{"to": "{to}", "text": "{text}"}'
"#;

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let c = SmsConfig::parse(MINIMAL, |_| None).unwrap();
        assert_eq!(
            c.delivery.quiet_hours,
            Some(QuietHours {
                start: 22 * 60,
                end: 7 * 60
            })
        );
        assert_eq!(c.delivery.daily_cap, 20);
        assert_eq!(c.inbound_token, None);
        assert_eq!(c.gateway.token, None);
    }

    #[test]
    fn the_environment_overrides_the_files_secrets_and_debug_hides_them() {
        let text = format!("{MINIMAL}token = \"from-file\"\n[inbound]\ntoken = \"in-file\"\n");
        let c = SmsConfig::parse(&text, |k| {
            (k == "GRIDSYNC_SMS_TOKEN").then(|| "from-env".to_owned())
        })
        .unwrap();
        assert_eq!(c.gateway.token.as_deref(), Some("from-env"));
        assert_eq!(c.inbound_token.as_deref(), Some("in-file"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("from-env") && !shown.contains("in-file"),
            "{shown}"
        );
    }

    #[test]
    fn a_broken_file_names_its_fault() {
        let cases = [
            ("[gateway]\nurl = 3", "invalid type"),
            (
                "[gateway]\nurl = \"ftp://x\"\nbody = \"{to}{text}\"",
                "not an http(s) address",
            ),
            (
                "[gateway]\nurl = \"http://x\"\nbody = \"{text}\"",
                "{to} and {text}",
            ),
            (
                &format!("{MINIMAL}[delivery]\nquiet_hours = \"25:00-07:00\""),
                "quiet_hours",
            ),
            (&format!("{MINIMAL}[delivery]\nquiet = 1"), "unknown field"),
        ];
        for (text, says) in cases {
            let err = SmsConfig::parse(text, |_| None).err().unwrap_or_default();
            assert!(err.contains(says), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn quiet_hours_wrap_past_midnight() {
        let q = QuietHours::parse("22:00-07:00").unwrap().unwrap();
        assert!(q.contains(23 * 60) && q.contains(0) && q.contains(6 * 60 + 59));
        assert!(!q.contains(7 * 60) && !q.contains(12 * 60));
        let day = QuietHours::parse("12:00-13:30").unwrap().unwrap();
        assert!(day.contains(12 * 60 + 5) && !day.contains(13 * 60 + 30));
        assert_eq!(QuietHours::parse("").unwrap(), None);
        // 23:00 Beijing on 2026-12-06 (15:00 UTC): quiet until 07:00 the next morning.
        let eleven_pm = 1_796_569_200_000;
        assert_eq!(q.ends_after(eleven_pm), eleven_pm + 8 * 3_600_000);
        let noon = eleven_pm - 11 * 3_600_000;
        assert_eq!(q.ends_after(noon), noon);
    }
}
