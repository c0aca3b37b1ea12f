//! Notices and the SMS outbox (ADR 0027): who hears of a step, written in the step's own
//! transaction under the feed lock; each account's notices read by the sync and the console;
//! the SMS rows the delivery loop claims, sends and settles.

use gridsync_core::case::Case;
use gridsync_core::case::sealed::PERSON_PHONE;
use gridsync_core::notice::{self, Audience, Notice, NoticeDraft, NoticeKind};
use gridsync_core::{JurisdictionPath, Level, Role};
use sqlx::{Any, Row, Transaction};

use super::direct::Cols;
use super::{Result, Store};

/// A notice raised on a case, with what resolving its audience needs.
#[derive(Debug, Clone)]
pub struct Raised {
    pub case_id: String,
    pub title: String,
    pub place: JurisdictionPath,
    /// The requester's phone number (from the case's people), for requester notices.
    pub requester_phone: Option<String>,
    /// The requester's SMS when the caller has it whole (a new receipt's lookup code is known
    /// only to the transaction that issues it).
    pub requester_text: Option<String>,
    pub draft: NoticeDraft,
}

impl Raised {
    pub fn of(case: &Case, draft: NoticeDraft) -> Raised {
        Raised {
            case_id: case.id.clone(),
            title: case.title.clone(),
            place: case.jurisdiction.clone(),
            requester_phone: case
                .people
                .iter()
                .find(|p| p.role == "requester" && !p.phone.trim().is_empty())
                .map(|p| p.phone.trim().to_owned()),
            requester_text: None,
            draft,
        }
    }
}

/// What the store needs of the SMS settings when it writes (the delivery loop has the rest).
#[derive(Debug, Clone)]
pub struct SmsWriting {
    /// The requester's progress page, named in requester SMS.
    pub track_url: String,
}

/// One SMS row as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRow {
    pub id: String,
    pub user_id: Option<String>,
    pub case_id: String,
    pub kind: String,
    pub to_number: String,
    pub body: String,
    pub urgent: bool,
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// SMS row states.
pub const SMS_PENDING: &str = "pending";
pub const SMS_SENT: &str = "sent";
/// Why a row waits without having failed (the delivery loop writes these).
pub const HELD_QUIET: &str = "quiet hours";
pub const HELD_CAP: &str = "daily cap";
/// Not sent and never will be: the account opted out after the row was written.
pub const SMS_SKIPPED: &str = "skipped";

/// A notice and when its reader read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub notice: Notice,
    pub read_at: Option<i64>,
}

/// Writes the notices (and their SMS rows) of `raised`. Only inside a transaction holding the
/// feed lock: notice ids then commit in order. Returns how many notices were new.
pub(in crate::store) async fn write_notices(
    tx: &mut Transaction<'static, Any>,
    raised: &[Raised],
    sms: Option<&SmsWriting>,
    data_key: Option<&[u8; 32]>,
    now: i64,
) -> Result<usize> {
    let mut new = 0;
    for r in raised {
        let d = &r.draft;
        let urgent = d.kind.is_urgent();
        if d.audience == Audience::Requester {
            let phone = match &r.requester_phone {
                Some(p) => super::erasure::opened_in(tx, data_key, &r.case_id, PERSON_PHONE, p)
                    .await?
                    .filter(|p| !p.is_empty()),
                None => None,
            };
            if let (Some(sms), Some(phone)) = (sms, &phone) {
                let text = match &r.requester_text {
                    Some(t) => Some(t.clone()),
                    None => receipt_of(tx, &r.case_id)
                        .await?
                        .map(|no| notice::requester_text(d.kind, &no, "", &sms.track_url)),
                };
                if let Some(text) = text {
                    let key = format!("{}:requester", d.key);
                    queue_sms(tx, &key, None, r, phone, &text, urgent, now).await?;
                }
            }
            continue;
        }
        let text = notice::text_zh(d.kind, &r.title, &d.detail);
        for (user, phone, opted_out) in recipients(tx, &d.audience, &r.place).await? {
            let key = format!("{}:{user}", d.key);
            let exists = sqlx::query("SELECT 1 FROM notices WHERE notice_key = $1")
                .bind(&key)
                .fetch_optional(&mut **tx)
                .await?
                .is_some();
            if exists {
                continue;
            }
            let id: i64 = sqlx::query(
                "UPDATE counters SET value = value + 1 WHERE name = 'notices' RETURNING value",
            )
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
            sqlx::query(
                "INSERT INTO notices (id, notice_key, draft_key, user_id, case_id, kind, body, urgent,
                     created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(&key)
            .bind(&d.key)
            .bind(&user)
            .bind(&r.case_id)
            .bind(d.kind.as_str())
            .bind(&text)
            .bind(urgent as i64)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            new += 1;
            if let (Some(_), Some(phone)) = (sms, phone.filter(|_| !opted_out)) {
                queue_sms(tx, &key, Some(&user), r, &phone, &text, urgent, now).await?;
            }
        }
    }
    Ok(new)
}

#[allow(clippy::too_many_arguments)]
async fn queue_sms(
    tx: &mut Transaction<'static, Any>,
    key: &str,
    user: Option<&str>,
    r: &Raised,
    to: &str,
    body: &str,
    urgent: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sms_outbox (id, notice_key, draft_key, user_id, case_id, kind, to_number, body,
             urgent, state, next_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (notice_key) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().simple().to_string())
    .bind(key)
    .bind(&r.draft.key)
    .bind(user)
    .bind(&r.case_id)
    .bind(r.draft.kind.as_str())
    .bind(to)
    .bind(body)
    .bind(urgent as i64)
    .bind(SMS_PENDING)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The accounts an audience names: (id, phone, opted out of SMS).
async fn recipients(
    tx: &mut Transaction<'static, Any>,
    audience: &Audience,
    place: &JurisdictionPath,
) -> Result<Vec<(String, Option<String>, bool)>> {
    const COLS: &str = "SELECT id, phone, sms_opt_out FROM users WHERE disabled = 0";
    let rows = match audience {
        Audience::Holders(level) => {
            let (Some(role), Some(area)) = (holder_role(*level), place.at_level(*level)) else {
                return Ok(Vec::new());
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLS} AND role = $1 AND scope = $2 ORDER BY id"
            )))
            .bind(role.as_str())
            .bind(area.to_string())
            .fetch_all(&mut **tx)
            .await?
        }
        Audience::Department(code) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLS} AND role = $1 AND department = $2 AND scope = $3 ORDER BY id"
            )))
            .bind(Role::DepartmentHandler.as_str())
            .bind(code)
            .bind(place.county())
            .fetch_all(&mut **tx)
            .await?
        }
        Audience::User(id) => {
            sqlx::query(sqlx::AssertSqlSafe(format!("{COLS} AND id = $1")))
                .bind(id)
                .fetch_all(&mut **tx)
                .await?
        }
        Audience::Requester => return Ok(Vec::new()),
    };
    rows.iter()
        .map(|r| {
            let phone: Option<String> = r.try_get(1)?;
            Ok((
                r.try_get(0)?,
                phone.filter(|p| !p.trim().is_empty()),
                r.try_get::<i64, _>(2)? != 0,
            ))
        })
        .collect()
}

/// The role that handles cases at `level` (the people of a place).
fn holder_role(level: Level) -> Option<Role> {
    Role::ALL
        .into_iter()
        .find(|r| r.handling_level() == Some(level))
}

async fn receipt_of(tx: &mut Transaction<'static, Any>, case_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query("SELECT receipt_no FROM receipts WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?,
    )
}

/// At most this many notices ride one response (and are marked read from one request); the
/// rest come with the next sync.
pub const NOTICES_PER_SYNC: usize = 100;

/// A user's notices after `$2`. The limit is in the text: SQLite prepares a statement again
/// each time a bound LIMIT is bound (ADR 0044).
pub(in crate::store) static NOTICES_AFTER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        format!(
            "SELECT id, kind, case_id, body, created_at, urgent FROM notices
             WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT {NOTICES_PER_SYNC}"
        )
    });

impl Store {
    /// Writes notices outside a case write (the clock's reminders), under the feed lock. The
    /// clock owes the same reminders at every pass until the deadline moves, so those written
    /// already are left out first, without the lock.
    pub async fn raise_notices(&self, raised: &[Raised], now: i64) -> Result<usize> {
        let mut owed = Vec::with_capacity(raised.len());
        for r in raised {
            if !self.raised_already(&r.draft.key).await? {
                owed.push(r.clone());
            }
        }
        let raised = owed;
        if raised.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE counters SET value = value WHERE name = 'feed'")
            .execute(&mut *tx)
            .await?;
        let sms = self.sms_writing();
        let data_key = self.data_key_loaded();
        let new = write_notices(&mut tx, &raised, sms.as_ref(), data_key.as_deref(), now).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Whether any row (a notice, or a requester's SMS) was written for draft `key`.
    async fn raised_already(&self, key: &str) -> Result<bool> {
        for table in ["notices", "sms_outbox"] {
            let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT 1 FROM {table} WHERE draft_key = $1 LIMIT 1"
            )))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            if found.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Turns SMS rows on (with the settings writes need) or off: without a gateway no SMS row
    /// is written at all.
    pub fn set_sms_writing(&self, sms: Option<SmsWriting>) {
        *self.sms.write().unwrap_or_else(|e| e.into_inner()) = sms;
    }

    pub(in crate::store) fn sms_writing(&self) -> Option<SmsWriting> {
        self.sms.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `user`'s notices after `after`, oldest first, at most [`NOTICES_PER_SYNC`] (what a sync
    /// carries).
    pub async fn notices_after(&self, user: &str, after: u64) -> Result<Vec<Notice>> {
        let rows = self
            .read_rows(&NOTICES_AFTER, &[user.into(), (after as i64).into()])
            .await?;
        rows.iter().map(notice_of).collect()
    }

    /// `user`'s latest notices, newest first (the console's list).
    pub async fn notice_list(&self, user: &str, limit: i64) -> Result<Vec<NoticeRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, case_id, body, created_at, urgent, read_at FROM notices
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NoticeRow {
                    notice: notice_of(r)?,
                    read_at: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn unread_notices(&self, user: &str) -> Result<i64> {
        Ok(
            sqlx::query("SELECT count(*) FROM notices WHERE user_id = $1 AND read_at IS NULL")
                .bind(user)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }

    /// Marks `user`'s notices `ids` read (others' ids are ignored); all of them when `ids` is
    /// `None`.
    pub async fn mark_notices_read(&self, user: &str, ids: Option<&[u64]>, now: i64) -> Result<()> {
        match ids {
            None => {
                sqlx::query(
                    "UPDATE notices SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
                )
                .bind(now)
                .bind(user)
                .execute(&self.pool)
                .await?;
            }
            Some(ids) => {
                for id in ids {
                    sqlx::query(
                        "UPDATE notices SET read_at = $1
                         WHERE user_id = $2 AND id = $3 AND read_at IS NULL",
                    )
                    .bind(now)
                    .bind(user)
                    .bind(*id as i64)
                    .execute(&self.pool)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Claims up to `limit` SMS rows due at `now` for `lease_ms` (urgent first): a claim is the
    /// move of `next_at` past the lease, so a server killed while sending leaves rows that come
    /// due again, and two servers never claim one row at once.
    pub async fn claim_sms(&self, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<SmsRow>> {
        let ids: Vec<String> = sqlx::query(
            "SELECT id FROM sms_outbox WHERE state = $1 AND next_at <= $2
             ORDER BY urgent DESC, next_at LIMIT $3",
        )
        .bind(SMS_PENDING)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
        let mut claimed = Vec::new();
        for id in ids {
            let done = sqlx::query(
                "UPDATE sms_outbox SET next_at = $1, attempts = attempts + 1
                 WHERE id = $2 AND state = $3 AND next_at <= $4",
            )
            .bind(now + lease_ms)
            .bind(&id)
            .bind(SMS_PENDING)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if done == 1
                && let Some(row) = self.sms_row(&id).await?
            {
                claimed.push(row);
            }
        }
        Ok(claimed)
    }

    async fn sms_row(&self, id: &str) -> Result<Option<SmsRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SMS_COLS} FROM sms_outbox WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| sms_of(&r))
        .transpose()
    }

    /// The gateway took it: sent, and its text (a lookup code, a title) is no longer kept.
    pub async fn sms_sent(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sms_outbox SET state = $1, sent_at = $2, body = '', last_error = '' WHERE id = $3")
            .bind(SMS_SENT)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Never to be sent (the account opted out since): the text is not kept either.
    pub async fn sms_skip(&self, id: &str, why: &str) -> Result<()> {
        sqlx::query("UPDATE sms_outbox SET state = $1, body = '', last_error = $2 WHERE id = $3")
            .bind(SMS_SKIPPED)
            .bind(why)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Rows held back by quiet hours or the daily cap until after `beyond` come due at `now`:
    /// at start, so settings changed since (quiet hours shortened, the cap raised) count. A
    /// claimed row's lease ends sooner than `beyond`, so no claim is broken.
    pub async fn sms_release_held(&self, now: i64, beyond: i64) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE sms_outbox SET next_at = $1
             WHERE state = $2 AND next_at > $3 AND last_error IN ($4, $5)",
        )
        .bind(now)
        .bind(SMS_PENDING)
        .bind(beyond)
        .bind(HELD_QUIET)
        .bind(HELD_CAP)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Not sent now: try again at `next_at` (a failure, quiet hours, the daily cap), saying why.
    pub async fn sms_later(&self, id: &str, next_at: i64, why: &str, failed: bool) -> Result<()> {
        // A deferral is not an attempt: the claim counted one.
        let undo = if failed { 0 } else { 1 };
        sqlx::query(
            "UPDATE sms_outbox SET next_at = $1, last_error = $2, attempts = attempts - $3 WHERE id = $4",
        )
        .bind(next_at)
        .bind(why)
        .bind(undo)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many non-urgent SMS went to `number` since `since` (the daily cap: urgent ones are
    /// neither held by it nor counted against it).
    pub async fn sms_sent_since(&self, number: &str, since: i64) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT count(*) FROM sms_outbox
             WHERE to_number = $1 AND state = $2 AND sent_at >= $3 AND urgent = 0",
        )
        .bind(number)
        .bind(SMS_SENT)
        .bind(since)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?)
    }

    /// The outbox, latest first, for the county's delivery page.
    pub async fn sms_outbox(&self, limit: i64) -> Result<Vec<SmsRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SMS_COLS} FROM sms_outbox ORDER BY created_at DESC, id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(sms_of)
        .collect()
    }

    /// (state, rows) over the whole outbox.
    pub async fn sms_counts(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query("SELECT state, count(*) FROM sms_outbox GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// An account's phone number for SMS (`None` clears it).
    pub async fn set_user_phone(&self, user: &str, phone: Option<&str>) -> Result<bool> {
        Ok(sqlx::query("UPDATE users SET phone = $1 WHERE id = $2")
            .bind(phone)
            .bind(user)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    pub async fn set_sms_opt_out(&self, user: &str, out: bool) -> Result<bool> {
        Ok(
            sqlx::query("UPDATE users SET sms_opt_out = $1 WHERE id = $2")
                .bind(out as i64)
                .bind(user)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// (phone, opted out) of an account.
    pub async fn user_sms(&self, user: &str) -> Result<Option<(Option<String>, bool)>> {
        sqlx::query("SELECT phone, sms_opt_out FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? != 0)))
            .transpose()
    }

    /// Keeps the tag and SMS key of a device (learnt when its secret is presented).
    pub async fn set_device_sms_key(&self, device: &str, tag: &str, key_hex: &str) -> Result<()> {
        sqlx::query("UPDATE devices SET sms_tag = $1, sms_key = $2 WHERE id = $3")
            .bind(tag)
            .bind(key_hex)
            .bind(device)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The device an SMS tag names and its SMS key (hex).
    pub async fn device_by_sms_tag(&self, tag: &str) -> Result<Option<(String, String)>> {
        sqlx::query("SELECT id, sms_key FROM devices WHERE sms_tag = $1 AND sms_key IS NOT NULL")
            .bind(tag)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
    }

    /// Keeps one part of a two-part SMS report until its partner comes; returns the parts
    /// held under `link` (this one included).
    pub async fn hold_sms_part(
        &self,
        link: &str,
        part: &str,
        body: &str,
        now: i64,
    ) -> Result<Vec<(String, String)>> {
        // Parts are kept after their case opened, so a redelivered part is known as a replay;
        // after a week a report has long been whole or lost.
        sqlx::query("DELETE FROM sms_inbound_parts WHERE received_at < $1")
            .bind(now - HOLD_PARTS_MS)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sms_inbound_parts (link, part, body, received_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (link, part) DO UPDATE SET body = excluded.body, received_at = excluded.received_at",
        )
        .bind(link)
        .bind(part)
        .bind(body)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query("SELECT part, body FROM sms_inbound_parts WHERE link = $1 ORDER BY part")
            .bind(link)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Forgets one held part (it failed its check; a genuine one may still come).
    pub async fn drop_sms_part(&self, link: &str, part: &str) -> Result<()> {
        sqlx::query("DELETE FROM sms_inbound_parts WHERE link = $1 AND part = $2")
            .bind(link)
            .bind(part)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether a case with this id is stored.
    pub async fn has_case(&self, id: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM docs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }
}

const HOLD_PARTS_MS: i64 = 7 * 86_400_000;

const SMS_COLS: &str = "id, user_id, case_id, kind, to_number, body, urgent, state, attempts, next_at, last_error, created_at, sent_at";

fn sms_of(r: &sqlx::any::AnyRow) -> Result<SmsRow> {
    Ok(SmsRow {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        case_id: r.try_get(2)?,
        kind: r.try_get(3)?,
        to_number: r.try_get(4)?,
        body: r.try_get(5)?,
        urgent: r.try_get::<i64, _>(6)? != 0,
        state: r.try_get(7)?,
        attempts: r.try_get(8)?,
        next_at: r.try_get(9)?,
        last_error: r.try_get(10)?,
        created_at: r.try_get(11)?,
        sent_at: r.try_get(12)?,
    })
}

fn notice_of(r: &impl Cols) -> Result<Notice> {
    let kind: String = r.col(1)?;
    Ok(Notice {
        id: r.col::<i64>(0)? as u64,
        kind: NoticeKind::parse(&kind).map_or(kind, |k| k.as_str().to_owned()),
        case: r.col(2)?,
        text: r.col(3)?,
        at: r.col(4)?,
        urgent: r.col::<i64>(5)? != 0,
    })
}
