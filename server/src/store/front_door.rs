//! The front door's rows: receipts a requester looks a case up with, the intake channels other
//! platforms send work orders through, and the orders already taken (a retry is the same case).
//! The case itself and these rows are written in one transaction ([`Store::open_case`]).

use sqlx::{Any, Row, Transaction};

use super::{Result, Store};

/// What is written beside a new case opened at the front door, in its transaction.
#[derive(Debug, Clone, Default)]
pub struct FrontDoorRows {
    /// (receipt number, hash of the lookup code).
    pub receipt: Option<(String, String)>,
    /// The intake channel's work order this case answers.
    pub order: Option<IntakeOrder>,
    /// The receipt's lookup code in clear, only for the requester's 已受理 SMS (kept in the SMS
    /// outbox until the gateway takes it, then erased).
    pub lookup_code: Option<String>,
}

/// One work order an intake channel sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeOrder {
    pub channel_id: String,
    pub order_ref: String,
    /// SHA-256 of the order's canonical body: a retry with other content is refused.
    pub body_hash: String,
    pub case_id: String,
    /// The JSON answer first given (receipt and lookup code included), given again on a retry:
    /// a retry is what a lost answer looks like.
    pub response: String,
}

/// A receipt as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRow {
    pub receipt_no: String,
    pub case_id: String,
    pub code_hash: String,
}

impl FrontDoorRows {
    pub(super) async fn write(
        &self,
        tx: &mut Transaction<'static, Any>,
        case_id: &str,
        now: i64,
    ) -> Result<()> {
        if let Some((no, hash)) = &self.receipt {
            sqlx::query(
                "INSERT INTO receipts (receipt_no, case_id, code_hash, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(no)
            .bind(case_id)
            .bind(hash)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        if let Some(o) = &self.order {
            sqlx::query(
                "INSERT INTO intake_orders (channel_id, order_ref, body_hash, case_id, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&o.channel_id)
            .bind(&o.order_ref)
            .bind(&o.body_hash)
            .bind(case_id)
            .bind(&o.response)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// The receipt numbered `no`, if any.
    pub async fn receipt(&self, no: &str) -> Result<Option<ReceiptRow>> {
        let row = sqlx::query(
            "SELECT receipt_no, case_id, code_hash FROM receipts WHERE receipt_no = $1",
        )
        .bind(no)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ReceiptRow {
                receipt_no: r.try_get(0)?,
                case_id: r.try_get(1)?,
                code_hash: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// The receipt number of a case opened at the front door, if it has one.
    pub async fn receipt_of_case(&self, case_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT receipt_no FROM receipts WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The order `order_ref` of channel `channel_id`, if it was taken already.
    pub async fn intake_order(
        &self,
        channel_id: &str,
        order_ref: &str,
    ) -> Result<Option<IntakeOrder>> {
        let row = sqlx::query(
            "SELECT channel_id, order_ref, body_hash, case_id, response FROM intake_orders WHERE channel_id = $1 AND order_ref = $2",
        )
        .bind(channel_id)
        .bind(order_ref)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(IntakeOrder {
                channel_id: r.try_get(0)?,
                order_ref: r.try_get(1)?,
                body_hash: r.try_get(2)?,
                case_id: r.try_get(3)?,
                response: r.try_get(4)?,
            })
        })
        .transpose()
    }
}
