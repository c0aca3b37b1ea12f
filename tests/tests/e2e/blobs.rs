//! Photos over HTTP: resumable, content-addressed uploads, refused bad bytes and names, and
//! access only through a case the reader may read.

use gridsync_core::Role;
use gridsync_core::attachment::sha256_hex;
use gridsync_core::replica::AttachmentMeta;

use gridsync_core::case::Attachment;

use crate::server::{Phone, Server, T0, agent, phone, report};

/// A real photo (a PNG with some texture) so the thumbnail can be made from it.
pub(crate) fn photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A response header as text.
fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn put(
    server: &Server,
    token: &str,
    name: &str,
    range: Option<String>,
    body: &[u8],
) -> (u16, Option<String>, String) {
    let mut req = agent()
        .put(format!("{}/v1/blobs/{name}", server.url))
        .header("Authorization", &format!("Bearer {token}"));
    if let Some(r) = range {
        req = req.header("Content-Range", &r);
    }
    let mut resp = req.send(body).unwrap();
    let offset = header(&resp, "upload-offset");
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (resp.status().as_u16(), offset, text)
}

fn head(server: &Server, token: &str, name: &str) -> (u16, Option<String>) {
    let resp = agent()
        .head(format!("{}/v1/blobs/{name}", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let offset = header(&resp, "upload-offset");
    (resp.status().as_u16(), offset)
}

pub(crate) fn get(server: &Server, token: &str, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = get_with_variant(server, token, path);
    (status, body)
}

/// Status, `x-gridsync-variant` and body of a GET.
fn get_with_variant(server: &Server, token: &str, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut resp = agent()
        .get(format!("{}{path}", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let variant = header(&resp, "x-gridsync-variant");
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    (status, variant, body)
}

/// Signed-in phones of the village's grid worker (wang), its mediator (zhao), a township staff
/// member (li) and another village's worker (sun), with their accounts.
struct Village {
    w: Phone,
    m: Phone,
    t: Phone,
    other: Phone,
}

fn village(server: &Server) -> Village {
    let people = [
        ("wang", Role::GridWorker, "130322/101/201/01"),
        ("zhao", Role::Mediator, "130322/101/201"),
        ("li", Role::TownshipStaff, "130322/101"),
        ("sun", Role::GridWorker, "130322/101/202/01"),
    ];
    let [w, m, t, other] = people.map(|(user, role, scope)| {
        server.add_user(user, role, scope);
        phone(server, user, role, scope, &format!("p-{user}"))
    });
    Village { w, m, t, other }
}

#[test]
fn a_photo_uploads_in_resumable_parts_and_only_its_readers_get_it() {
    let server = Server::start();
    let Village {
        mut w,
        mut m,
        other,
        ..
    } = village(&server);

    let bytes = photo(7);
    let name = sha256_hex(&bytes);
    let id = w
        .replica
        .capture(&report("危房墙体开裂", "130322/101/201/01"), T0 + 1)
        .unwrap();
    let meta = AttachmentMeta {
        caption: "现场照片".into(),
        ..Default::default()
    };
    w.replica.attach(&id, &bytes, &meta, T0 + 2).unwrap();
    // A second photo whose upload will carry the wrong bytes, and a third of the wrong type.
    let second = photo(8);
    w.replica.attach(&id, &second, &meta, T0 + 3).unwrap();
    let third = photo(9);
    w.replica.attach(&id, &third, &meta, T0 + 4).unwrap();
    // Not yet referenced by anything the server holds: nobody may upload it.
    assert_eq!(put(&server, &w.token, &name, None, &bytes).0, 404);
    w.sync(&server);

    // The link breaks half-way: the server keeps what came, the phone resumes from there.
    let total = bytes.len();
    let half = total / 2;
    let first_half = || {
        put(
            &server,
            &w.token,
            &name,
            Some(format!("bytes 0-{}/{total}", half - 1)),
            &bytes[..half],
        )
    };
    let (status, offset, _) = first_half();
    assert_eq!(
        (status, offset.as_deref()),
        (202, Some(half.to_string().as_str()))
    );
    assert_eq!(
        head(&server, &w.token, &name),
        (200, Some(half.to_string()))
    );
    // Starting anywhere else is refused with where to continue.
    let (status, offset, body) = first_half();
    assert_eq!(
        (status, offset.as_deref()),
        (409, Some(half.to_string().as_str())),
        "{body}"
    );
    let rest = &bytes[half..];
    let (status, _, body) = put(
        &server,
        &w.token,
        &name,
        Some(format!("bytes {half}-{}/{total}", total - 1)),
        rest,
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        head(&server, &w.token, &name),
        (200, Some(total.to_string()))
    );
    // Sent again (the same photo attached twice): done at once, stored once.
    assert_eq!(put(&server, &w.token, &name, None, &bytes).0, 201);

    // The mediator of the village reads it and its thumbnail; another village's worker gets 404.
    m.sync(&server);
    assert_eq!(
        get(&server, &m.token, &format!("/v1/blobs/{name}")),
        (200, bytes.clone())
    );
    let (status, thumb) = get(&server, &m.token, &format!("/v1/blobs/{name}?thumb=1"));
    assert_eq!(status, 200);
    assert!(thumb.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG thumbnail");
    let small = image::load_from_memory(&thumb).unwrap();
    assert!(small.width() <= 320 && small.height() <= 320);
    // A photo without EXIF reaches the mediator as it is, labelled so.
    assert_eq!(
        get_with_variant(&server, &m.token, &format!("/v1/blobs/{name}"))
            .1
            .as_deref(),
        Some("original")
    );
    // `thumb=0` is the photo itself.
    assert_eq!(
        get(&server, &m.token, &format!("/v1/blobs/{name}?thumb=0")),
        (200, bytes.clone())
    );
    assert_eq!(
        get(&server, &other.token, &format!("/v1/blobs/{name}")).0,
        404
    );
    assert_eq!(head(&server, &other.token, &name).0, 404);

    // Bytes that do not match their name: refused, nothing kept.
    let second_name = sha256_hex(&second);
    let (status, _, body) = put(&server, &w.token, &second_name, None, &photo(10));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("hash_mismatch"), "{body}");
    assert_eq!(
        head(&server, &w.token, &second_name),
        (200, Some("0".into()))
    );
    assert_eq!(
        get(&server, &w.token, &format!("/v1/blobs/{second_name}")).0,
        404
    );
    // Not a photo or PDF at all.
    let (status, _, body) = put(
        &server,
        &w.token,
        &sha256_hex(&third),
        None,
        b"#!/bin/sh\nrm -rf /\n",
    );
    assert_eq!(status, 415, "{body}");
    // Malformed names and traversal attempts never reach the store.
    for bad in [
        "abc",
        &name.to_uppercase(),
        "..%2F..%2Fetc%2Fpasswd",
        &format!("{name}x"),
    ] {
        let (status, _, body) = put(&server, &w.token, bad, None, &bytes);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("bad_name"), "{body}");
    }
    // Too large for a part.
    let (status, _, _) = put(
        &server,
        &w.token,
        &name,
        Some(format!("bytes 0-9/{}", 64 << 20)),
        &bytes[..10],
    );
    assert_eq!(status, 413);
    let (status, _, body) = put(
        &server,
        &w.token,
        &second_name,
        Some(format!("bytes 0-9/{}", 64 << 20)),
        &second[..10],
    );
    assert_eq!(status, 413, "{body}");

    // Every byte arrived but the server died before finishing: the next attempt finishes it.
    let fourth = photo(11);
    w.replica.attach(&id, &fourth, &meta, T0 + 5).unwrap();
    w.sync(&server);
    let fourth_name = sha256_hex(&fourth);
    assert!(
        server
            .store(server.state.store.add_part(
                &fourth_name,
                "wang",
                0,
                fourth.len() as i64,
                "image/png",
                &fourth,
                6,
            ))
            .unwrap()
    );
    let (status, _, body) = put(&server, &w.token, &fourth_name, None, &fourth);
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        get(&server, &m.token, &format!("/v1/blobs/{fourth_name}")).1,
        fourth
    );
}

/// A landscape JPEG whose EXIF says "turn 90° clockwise" (as a phone held upright writes it)
/// and carries a GPS position (here as text after the tags, enough to look for).
fn photo_with_gps() -> Vec<u8> {
    let img = image::RgbImage::from_fn(400, 300, |x, y| {
        image::Rgb([(x % 200) as u8, (y % 200) as u8, 90])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let jpeg = jpeg.into_inner();
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    // One IFD entry: Orientation (0x0112), SHORT, 1 value: 6; then no next IFD.
    exif.extend_from_slice(b"\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0");
    exif.extend_from_slice(b"GPSLatitude 39.90N GPSLongitude 116.40E");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn get_variant(server: &Server, token: &str, name: &str) -> (u16, Option<String>, Vec<u8>) {
    get_with_variant(server, token, &format!("/v1/blobs/{name}"))
}

#[test]
fn exif_location_reaches_only_the_centres_and_a_known_name_grants_nothing() {
    let server = Server::start();
    let Village {
        mut w,
        mut m,
        mut t,
        mut other,
    } = village(&server);

    let bytes = photo_with_gps();
    let name = sha256_hex(&bytes);
    let id = w
        .replica
        .capture(&report("占道堆放", "130322/101/201/01"), T0 + 1)
        .unwrap();
    w.replica
        .attach(&id, &bytes, &AttachmentMeta::default(), T0 + 2)
        .unwrap();
    w.sync(&server);
    assert_eq!(put(&server, &w.token, &name, None, &bytes).0, 201);
    m.sync(&server);
    t.sync(&server);

    // The mediator sees the picture without where it was taken; the township and the one who
    // took it see it as taken.
    let (status, variant, plain) = get_variant(&server, &m.token, &name);
    assert_eq!((status, variant.as_deref()), (200, Some("stripped")));
    assert!(!plain.windows(11).any(|w| w == b"GPSLatitude"));
    assert_eq!(
        image::load_from_memory(&plain).unwrap().to_rgb8(),
        image::load_from_memory(&bytes).unwrap().to_rgb8(),
        "the same picture"
    );
    assert_eq!(
        get_variant(&server, &t.token, &name),
        (200, Some("original".into()), bytes.clone())
    );
    assert_eq!(
        get_variant(&server, &w.token, &name),
        (200, Some("original".into()), bytes.clone())
    );
    // Thumbnails carry no EXIF for anyone, and stand upright as EXIF said.
    let (status, thumb) = get(&server, &m.token, &format!("/v1/blobs/{name}?thumb=1"));
    assert_eq!(status, 200);
    assert!(!thumb.windows(11).any(|w| w == b"GPSLatitude"));
    let small = image::load_from_memory(&thumb).unwrap();
    assert_eq!(
        (small.width(), small.height()),
        (240, 320),
        "turned to portrait"
    );

    // Another village's worker lists the name (learnt somewhere) in a case of his own: the
    // reference is stored, but it does not open the photo to him.
    let own = other
        .replica
        .capture(&report("路灯不亮", "130322/101/202/01"), T0 + 3)
        .unwrap();
    let forged = Attachment {
        sha256: name.clone(),
        mime: "image/jpeg".into(),
        bytes: bytes.len() as u64,
        captured_at: T0 + 4,
        ..Default::default()
    };
    other
        .replica
        .edit(&own, T0 + 4, |e| e.add_attachment(&forged))
        .unwrap();
    other.sync(&server);
    assert_eq!(
        get(&server, &other.token, &format!("/v1/blobs/{name}")).0,
        404
    );
    assert_eq!(
        get(&server, &other.token, &format!("/v1/blobs/{name}?thumb=1")).0,
        404
    );
    // He may upload (his case references it) but has sent nothing: the server says 0 and
    // not complete, revealing nothing of the stored copy.
    let resp = agent()
        .head(format!("{}/v1/blobs/{name}", server.url))
        .header("Authorization", &format!("Bearer {}", other.token))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers().get("upload-offset").unwrap(), "0");
    assert_eq!(resp.headers().get("upload-complete").unwrap(), "false");
    // A reference from before provenance was kept (no `blob_refs` row, as after migrating an
    // old database) still opens the photo to the case's readers; his own forged one does not.
    server
        .store(
            sqlx::query("DELETE FROM blob_refs WHERE user_id = 'wang'")
                .execute(server.state.store.pool()),
        )
        .unwrap();
    assert_eq!(get_variant(&server, &m.token, &name).0, 200);
    assert_eq!(
        get(&server, &other.token, &format!("/v1/blobs/{name}")).0,
        404
    );
    // Wrong bytes do not make him a holder; the right ones (he has the photo after all) do.
    assert_eq!(put(&server, &other.token, &name, None, &photo(3)).0, 422);
    assert_eq!(
        get(&server, &other.token, &format!("/v1/blobs/{name}")).0,
        404
    );
    assert_eq!(put(&server, &other.token, &name, None, &bytes).0, 201);
    assert_eq!(
        get(&server, &other.token, &format!("/v1/blobs/{name}")).0,
        200
    );
    // Stored once all the same.
    let stored = server
        .store(server.state.store.blob(&name))
        .unwrap()
        .unwrap();
    assert_eq!(stored.size, bytes.len() as i64);
}

#[test]
fn abandoned_uploads_are_forgotten() {
    let server = Server::start();
    let store = &server.state.store;
    let name = sha256_hex(b"%PDF-1.7 agreement");
    assert!(
        server
            .store(store.add_part(&name, "wang", 0, 100, "application/pdf", b"%PDF-1.7", 1_000))
            .unwrap()
    );
    let recent = sha256_hex(b"%PDF-1.7 other");
    let day = 24 * 3_600_000;
    assert!(
        server
            .store(store.add_part(
                &recent,
                "wang",
                0,
                100,
                "application/pdf",
                b"%PDF-1.7",
                6 * day
            ))
            .unwrap()
    );
    // An upload begun long ago but continued recently keeps its old parts.
    // Begun before the cutoff (day 0), continued since (day 7): kept whole.
    let moving = sha256_hex(b"%PDF-1.7 moving");
    assert!(
        server
            .store(store.add_part(&moving, "wang", 0, 100, "application/pdf", b"%PDF-1.7", 0))
            .unwrap()
    );
    assert!(
        server
            .store(store.add_part(
                &moving,
                "wang",
                8,
                100,
                "application/pdf",
                b" more",
                7 * day
            ))
            .unwrap()
    );
    let dropped = server
        .store(gridsync_server::blobs::BlobStore::drop_abandoned(
            store,
            8 * day,
            7,
        ))
        .unwrap();
    assert_eq!(dropped, 1);
    assert_eq!(
        server
            .store(store.upload(&moving, "wang"))
            .unwrap()
            .unwrap()
            .received,
        13
    );
    assert!(server.store(store.upload(&name, "wang")).unwrap().is_none());
    assert_eq!(
        server
            .store(store.upload(&recent, "wang"))
            .unwrap()
            .unwrap()
            .received,
        8
    );
}
