//! The account's notices on the phone (通知, ADR 0027): dispatches, supervisions, deadlines and
//! urgent reports the server sent with a sync response, listed for the app's inbox and marked
//! read here; the read marks reach the server with the next sync.

use gridsync_core::notice::NoticeKind;
use gridsync_core::replica::HeldNotice;

use crate::{FfiError, FieldStore};

/// One notice, as the app's inbox shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoticeRecord {
    /// The server's number for it: pass it to `mark_notice_read`.
    pub id: u64,
    /// `dispatched`, `sign_due_soon`, `supervised`, `due_soon`, `overdue`, `accountability`,
    /// `urgent_report`, …: a newer server may send kinds this build does not know.
    pub kind: String,
    /// The kind's Chinese name for the badge (转办, 督办, …); `通知` for a kind unknown here.
    pub kind_zh: String,
    /// The case it is about: open it with `get_case` (after a sync it is on the phone).
    pub case_id: String,
    /// The line to show, written by the server (what happened to which case).
    pub text: String,
    /// When the server raised it, ms since the epoch.
    pub at_ms: i64,
    /// Urgent notices (an SMS report) deserve a louder alert.
    pub urgent: bool,
    pub read: bool,
}

impl From<HeldNotice> for NoticeRecord {
    fn from(h: HeldNotice) -> Self {
        let n = h.notice;
        NoticeRecord {
            kind_zh: NoticeKind::parse(&n.kind)
                .map_or("通知", NoticeKind::name_zh)
                .to_owned(),
            id: n.id,
            kind: n.kind,
            case_id: n.case,
            text: n.text,
            at_ms: n.at,
            urgent: n.urgent,
            read: h.read,
        }
    }
}

#[uniffi::export]
impl FieldStore {
    /// The notices held on this phone, newest first, read or not: the app's inbox works
    /// offline, and a notice stays after it is read.
    pub fn notices(&self) -> Result<Vec<NoticeRecord>, FfiError> {
        Ok(self
            .lock()
            .notices()?
            .into_iter()
            .map(NoticeRecord::from)
            .collect())
    }

    /// How many notices the user has not read: the badge on the app's icon and inbox.
    pub fn unread_notices(&self) -> Result<u32, FfiError> {
        let n = self.lock().unread_notices()?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Marks a notice read here at once; the next sync tells the server, so the console's
    /// unread count follows. An id this phone does not hold is `InvalidInput`.
    pub fn mark_notice_read(&self, id: u64) -> Result<(), FfiError> {
        Ok(self.lock().mark_notice_read(id)?)
    }
}

#[cfg(test)]
mod tests {
    use gridsync_core::notice::Notice;
    use gridsync_core::protocol::{SyncResponse, decode_request, encode_response};

    use super::*;
    use crate::{HttpReply, SignedInRecord, SyncStep};

    fn store() -> (std::sync::Arc<FieldStore>, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("gs-notices-{}.db", uuid::Uuid::new_v4()));
        let store = FieldStore::open(path.display().to_string(), vec![9; 32]).unwrap();
        let who = SignedInRecord {
            user: "dept.fire".into(),
            role: "department_handler".into(),
            scope: "130322".into(),
            department: Some("fire".into()),
        };
        crate::sign_in(&mut store.lock(), &who).unwrap();
        (store, path)
    }

    fn notice(id: u64, kind: &str) -> Notice {
        Notice {
            id,
            kind: kind.into(),
            case: "0b9e6a40-3c1e-4c55-9f53-1d2b3c4d5e6f".into(),
            text: format!("【转办】notice {id}"),
            at: 1_733_400_000_000 + id as i64,
            urgent: kind == "urgent_report",
        }
    }

    fn response(notices: Vec<Notice>) -> Vec<u8> {
        encode_response(&SyncResponse {
            generation: None,
            recovered: None,
            accepted: Vec::new(),
            rejected: Vec::new(),
            pull: Vec::new(),
            cursor: 0,
            more: false,
            server_time: 0,
            rules: None,
            notices,
            case_keys: Vec::new(),
            erased: Vec::new(),
            server_key: None,
            keys_taken: Vec::new(),
            erased_upto: None,
            certificate: None,
            revoked: Vec::new(),
        })
        .unwrap()
    }

    fn remove(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[test]
    fn notices_arrive_with_a_response_and_their_read_marks_go_back() {
        let (store, path) = store();
        let two = vec![notice(4, "dispatched"), notice(7, "from_a_newer_server")];
        let outcome = store.apply_sync_response(response(two)).unwrap();
        assert_eq!(outcome.notices, 2);
        let held = store.notices().unwrap();
        assert_eq!(held.iter().map(|n| n.id).collect::<Vec<_>>(), [7, 4]);
        assert_eq!(held[0].kind_zh, "通知");
        assert_eq!(held[1].kind_zh, "转办");
        assert_eq!(held[1].at_ms, 1_733_400_000_004);
        assert!(held.iter().all(|n| !n.read && !n.urgent));
        assert_eq!(store.unread_notices().unwrap(), 2);

        store.mark_notice_read(4).unwrap();
        store.mark_notice_read(4).unwrap();
        assert_eq!(store.unread_notices().unwrap(), 1);
        assert!(matches!(
            store.mark_notice_read(5),
            Err(FfiError::InvalidInput { .. })
        ));
        let req = decode_request(&store.next_sync_request().unwrap()).unwrap();
        assert_eq!(req.notices_after, Some(7));
        assert_eq!(req.notices_read, [4]);
        remove(&path);
    }

    #[test]
    fn an_app_driven_sync_counts_the_notices_it_received() {
        let (store, path) = store();
        let driver = store.clone().begin_sync();
        assert!(matches!(driver.next_step().unwrap(), SyncStep::Sync { .. }));
        driver
            .answer(HttpReply {
                status: 200,
                upload_offset: None,
                upload_complete: false,
                body: response(vec![notice(1, "urgent_report")]),
            })
            .unwrap();
        assert_eq!(driver.outcome().notices, 1);
        let held = store.notices().unwrap();
        assert!(held[0].urgent);
        assert_eq!(held[0].kind_zh, "紧急上报");
        remove(&path);
    }
}
