//! 短信应急上报 from the phone: an urgent case captured with no data link, turned into at most
//! two SMS texts the app sends with the phone's own SMS to the county's number. The texts are
//! signed with a key derived from the device secret the first online sign-in kept (sealed, in
//! the transport's secrets); the case stays queued, and its later sync merges into the case the
//! SMS opened.

use crate::log::{LogLevel, emit};
use crate::transport::device_secret;
use crate::{FfiError, FieldStore};

#[uniffi::export]
impl FieldStore {
    /// The SMS texts (one or two, in order) reporting a case captured on this phone and not yet
    /// synced: send each as one SMS, in order, to the county's SMS number. Asking again gives
    /// the same texts, so a failed send can be repeated. `FfiError.Sms` with code
    /// `sms_not_sendable` when the case cannot go by SMS (steps after its report, already on
    /// the server, captured by someone else); `Auth` when this phone never signed in online.
    pub fn urgent_sms(&self, case_id: String) -> Result<Vec<String>, FfiError> {
        let mut r = self.lock();
        let secret = device_secret(&r)?.ok_or_else(|| FfiError::Auth {
            reason: "this phone has never signed in online, so it holds no device secret to \
                     sign an SMS report with: sign in once with a data link"
                .into(),
        })?;
        let texts = r.urgent_sms(&case_id, &secret, crate::now_ms())?;
        emit(LogLevel::Info, || {
            format!("case {case_id} ready to send as {} SMS", texts.len())
        });
        Ok(texts)
    }
}

#[cfg(test)]
mod tests {
    use gridsync_core::sms::{SmsPart, parse, sms_key};

    use super::*;
    use crate::{NewCaseRecord, SignedInRecord};

    const SECRET: &str = "device-secret-from-the-first-sign-in";

    fn store(with_secret: bool) -> (std::sync::Arc<FieldStore>, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("gs-urgent-{}.db", uuid::Uuid::new_v4()));
        let store = FieldStore::open(path.display().to_string(), vec![7; 32]).unwrap();
        {
            let mut r = store.lock();
            let who = SignedInRecord {
                user: "wang".into(),
                role: "grid_worker".into(),
                scope: "130322/101/201/01".into(),
                department: None,
            };
            crate::sign_in(&mut r, &who).unwrap();
            if with_secret {
                r.set_secret("device_secret", SECRET.as_bytes()).unwrap();
            }
        }
        (store, path)
    }

    fn remove(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    fn capture(store: &FieldStore, title: &str) -> String {
        store
            .capture(NewCaseRecord {
                kind: "incident".into(),
                jurisdiction: "130322/101/201/01".into(),
                category: "fire_hazard".into(),
                title: title.into(),
                description: "现场无人员被困".into(),
                address: String::new(),
                lat: Some(39.9123),
                lon: Some(116.3987),
                people: Vec::new(),
            })
            .unwrap()
    }

    #[test]
    fn the_texts_are_signed_with_the_key_of_the_kept_device_secret() {
        let (store, path) = store(true);
        let id = capture(&store, &"村口粮库起火冒烟".repeat(6));
        let texts = store.urgent_sms(id.clone()).unwrap();
        assert_eq!(texts.len(), 2);
        assert!(texts.iter().all(|t| t.encode_utf16().count() <= 160));
        assert!(texts[1].encode_utf16().count() <= 70);
        let (SmsPart::Head(head), SmsPart::Tail { title, .. }) =
            (parse(&texts[0]).unwrap(), parse(&texts[1]).unwrap())
        else {
            panic!("not a part A and a part B: {texts:?}");
        };
        let whole = head.with_title(&title);
        assert_eq!(whole.report.case_id, id);
        assert!(whole.verify(&sms_key(SECRET)));
        assert!(!whole.verify(&sms_key("another device's secret")));
        assert_eq!(store.urgent_sms(id.clone()).unwrap(), texts);
        // The case keeps everything the SMS could not carry.
        let held = store.get_case(id).unwrap();
        assert_eq!(held.title, "村口粮库起火冒烟".repeat(6));
        assert_eq!(held.description, "现场无人员被困");
        remove(&path);
    }

    #[test]
    fn refusals_keep_their_codes() {
        let (store, path) = store(true);
        let id = capture(&store, "Smoke at grain store");
        store
            .append_event(id.clone(), crate::EventKind::Accepted, String::new())
            .unwrap();
        match store.urgent_sms(id) {
            Err(FfiError::Sms { code, .. }) => assert_eq!(code, "sms_not_sendable"),
            other => panic!("expected sms_not_sendable, got {other:?}"),
        }
        remove(&path);
    }

    #[test]
    fn a_phone_without_a_device_secret_is_told_to_sign_in_online() {
        let (store, path) = store(false);
        let id = capture(&store, "Smoke at grain store");
        match store.urgent_sms(id) {
            Err(FfiError::Auth { reason }) => assert!(reason.contains("sign in")),
            other => panic!("expected Auth, got {other:?}"),
        }
        remove(&path);
    }
}
