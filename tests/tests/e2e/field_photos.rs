//! Photos from the field through the phones' own library (gridsync-ffi) over a throttled
//! loopback link: an upload cut half-way resumes and sends only the rest, and the mediator's
//! phone gets the thumbnail on its next sync and the picture when asked.

use std::sync::{Arc, Mutex};

use gridsync_core::Role;
use gridsync_core::attachment::sha256_hex;
use gridsync_ffi::{FieldStore, NewCaseRecord, SyncProgress};

use crate::server::{PASSWORD, Server};
use gridsync_testkit::link::Link;

/// A photo that does not compress (noise), so its size on the wire is its size.
fn noisy_photo(bytes_wanted: usize) -> Vec<u8> {
    let side = ((bytes_wanted / 3) as f64).sqrt() as u32;
    let mut state = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[derive(Default)]
struct Progress(Mutex<Vec<(String, u64, u64)>>);

impl SyncProgress for Progress {
    fn upload_progress(&self, sha256: String, sent_bytes: u64, total_bytes: u64) {
        self.0
            .lock()
            .unwrap()
            .push((sha256, sent_bytes, total_bytes));
    }
}

fn store(dir: &tempfile::TempDir, name: &str) -> Arc<FieldStore> {
    FieldStore::open(dir.path().join(name).display().to_string(), vec![7; 32]).unwrap()
}

#[test]
fn an_upload_cut_half_way_resumes_with_only_the_rest_and_reaches_the_mediator() {
    let server = Server::start();
    server.add_user("wang", Role::GridWorker, "130322/101/201/01");
    server.add_user("zhao", Role::Mediator, "130322/101/201");
    // 256 KB/s: a 2G link is slower, but the behaviour is the same and the test stays short.
    let link = Link::start(&server.url, 256 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let worker = store(&dir, "wang.db");
    let mediator = store(&dir, "zhao.db");
    worker
        .login(link.url.clone(), "wang".into(), PASSWORD.into())
        .unwrap();
    mediator
        .login(link.url.clone(), "zhao".into(), PASSWORD.into())
        .unwrap();

    // Offline: a case with a photo.
    let id = worker
        .capture(NewCaseRecord {
            kind: "incident".into(),
            jurisdiction: "130322/101/201/01".into(),
            category: "road_damage".into(),
            title: "危房墙体开裂".into(),
            description: "东墙裂缝约两米".into(),
            lat: None,
            lon: None,
            address: "村东头".into(),
            people: vec![],
        })
        .unwrap();
    let photo = noisy_photo(300_000);
    let total = photo.len();
    let path = dir.path().join("crack.png");
    std::fs::write(&path, &photo).unwrap();
    let attached = worker
        .attach_photo(
            id.clone(),
            path.display().to_string(),
            "裂缝".into(),
            None,
            None,
        )
        .unwrap();
    let name = sha256_hex(&photo);
    assert_eq!(attached.sha256, name);
    assert!(attached.on_phone && !attached.uploaded);

    // The link drops half-way through the upload: the case is on the server, the photo not.
    let half = total / 2;
    link.cut_next_upload_after(half);
    let progress = Arc::new(Progress::default());
    let first = worker
        .sync_with_progress(link.url.clone(), None, progress.clone())
        .unwrap();
    assert!(first.accepted > 0, "the case went first: {first:?}");
    let kept = server
        .store(server.state.store.upload(&name, "wang"))
        .unwrap();
    let mut outcome = first;
    if outcome.pending_uploads > 0 {
        // The server kept what came before the cut.
        let kept = kept.expect("the first half was kept").received as usize;
        assert!(
            kept > half * 9 / 10 && kept <= half,
            "kept {kept} of {half}"
        );
        outcome = worker
            .sync_with_progress(link.url.clone(), None, progress.clone())
            .unwrap();
    }
    assert_eq!(
        (outcome.uploaded_attachments, outcome.pending_uploads),
        (1, 0)
    );
    let detail = worker.get_case(id.clone()).unwrap();
    assert!(detail.attachments[0].uploaded);

    // On the wire: the cut attempt and one more that started where the server stopped.
    let uploads: Vec<_> = link
        .seen()
        .into_iter()
        .filter(|s| s.request_line.starts_with("PUT /v1/blobs/"))
        .collect();
    assert_eq!(uploads.len(), 2, "{uploads:?}");
    assert!(uploads[0].cut);
    assert_eq!(
        uploads[0].content_range.as_deref(),
        Some(format!("bytes 0-{}/{total}", total - 1).as_str())
    );
    let resumed_at: usize = uploads[1]
        .content_range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes "))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(
        resumed_at > half * 9 / 10 && resumed_at <= half,
        "resumed at {resumed_at}"
    );
    let rest = total - resumed_at;
    // Chunked framing adds a few bytes per 16 KiB; nothing is sent twice.
    let framing = 64 + rest / 1000;
    assert!(
        uploads[1].body_bytes >= rest && uploads[1].body_bytes <= rest + framing,
        "sent {} for the remaining {rest}",
        uploads[1].body_bytes
    );
    let sent: usize = uploads.iter().map(|u| u.body_bytes).sum();
    eprintln!(
        "photo {total} B: cut after {} B, resumed at {resumed_at} B with {} B; {sent} B in all",
        uploads[0].body_bytes, uploads[1].body_bytes
    );
    assert!(
        sent <= total + 2 * framing,
        "{sent} bytes for a {total}-byte photo"
    );
    // Stored whole and correct.
    let stored = server
        .store(server.state.store.blob(&name))
        .unwrap()
        .unwrap();
    assert_eq!(stored.size as usize, total);
    assert_eq!(server.store(server.state.blobs.get(&name)).unwrap(), photo);

    // Progress: for this photo only, never backwards within an attempt, ending at the total.
    let calls = progress.0.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .all(|(n, _, t)| n == &name && *t as usize == total)
    );
    assert_eq!(calls.last().map(|c| c.1 as usize), Some(total));
    assert!(
        calls.iter().any(|(_, sent, _)| (*sent as usize) < total),
        "reported along the way"
    );

    // The mediator's phone: the thumbnail comes with the sync, the picture when opened.
    let synced = mediator.sync(link.url.clone(), None).unwrap();
    assert_eq!(synced.fetched_thumbnails, 1);
    let thumb = mediator
        .thumbnail(name.clone())
        .unwrap()
        .expect("thumbnail on the phone");
    let small = image::load_from_memory(&thumb).unwrap();
    assert!(small.width() <= 320 && small.height() <= 320);
    let seen_there = mediator.get_case(id.clone()).unwrap().attachments.remove(0);
    assert!(seen_there.thumbnail_on_phone && !seen_there.on_phone);
    assert_eq!(mediator.attachment_bytes(name.clone()).unwrap(), None);
    let full = mediator
        .fetch_attachment(link.url.clone(), name.clone())
        .unwrap();
    assert_eq!(
        image::load_from_memory(&full).unwrap().to_rgb8(),
        image::load_from_memory(&photo).unwrap().to_rgb8()
    );
    assert_eq!(mediator.attachment_bytes(name.clone()).unwrap(), Some(full));
    assert!(mediator.get_case(id).unwrap().attachments[0].on_phone);
    // Nothing more to fetch next time.
    assert_eq!(
        mediator
            .sync(link.url.clone(), None)
            .unwrap()
            .fetched_thumbnails,
        0
    );
}
