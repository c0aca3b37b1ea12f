//! 短信应急上报 on the phone (`crate::sms`): a case captured here and never sent, turned into
//! at most two SMS texts for the app to send with the phone's own SMS, and rebuilt on the first
//! change the server will build from them, so the later sync merges instead of duplicating.

use rusqlite::params;

use super::cases::{load_doc, store_doc};
use super::outbox::queue_new;
use super::{Replica, storage};
use crate::sms::{UrgentReport, rebuild_on, sms_key};
use crate::vocab::Millis;
use crate::{Error, Result};

impl Replica {
    /// The SMS texts of case `id`, signed with the SMS key derived from the device secret its
    /// first sign-in received; the case is rebuilt on the SMS's first change in the same
    /// transaction. Asking again gives the same texts. Refused (`sms_not_sendable`) once the
    /// server holds any of the case, or when the case has steps after its report.
    pub fn urgent_sms(
        &mut self,
        id: &str,
        device_secret: &str,
        now: Millis,
    ) -> Result<Vec<String>> {
        let who = self.who()?;
        let tx = self.conn.transaction().map_err(storage)?;
        let (doc, acked) = load_doc(&tx, &self.seal, id)?;
        if !acked.is_empty() {
            return Err(Error::Sms {
                code: "sms_not_sendable",
                reason: "the server already has this case: sync instead".into(),
            });
        }
        let case = doc.read()?;
        if case.reporter.user != who.user {
            return Err(Error::Sms {
                code: "sms_not_sendable",
                reason: "only the reporter can send a case by SMS".into(),
            });
        }
        let mut report = UrgentReport::of_case(&case, &who.device, self.rules.version())?;
        let (mut stub, first) = report.stub(self.actor.clone(), &who, &self.rules.deadlines())?;
        report.stub = UrgentReport::stub_mark(&first);
        let texts = report.texts(&sms_key(device_secret));
        let rest = rebuild_on(&mut stub, &case, &who, now.max(report.at))?;
        tx.execute("DELETE FROM outbox WHERE case_id = ?1", params![id])
            .map_err(storage)?;
        store_doc(&tx, &self.seal, id, &mut stub, &[], &[], now)?;
        queue_new(&tx, &self.seal, id, &mut stub, first, &who.user)?;
        if let Some(rest) = rest {
            queue_new(&tx, &self.seal, id, &mut stub, rest, &who.user)?;
        }
        tx.commit().map_err(storage)?;
        Ok(texts)
    }
}
