//! Photos over HTTP: resumable, content-addressed uploads, refused bad bytes and names, and
//! access only through a case the reader may read.

use gridsync_core::Role;
use gridsync_core::attachment::sha256_hex;
use gridsync_core::replica::AttachmentMeta;

use crate::server::{Server, agent, phone, report};

/// A real photo (a PNG with some texture) so the thumbnail can be made from it.
fn photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
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
    let offset = resp
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (resp.status().as_u16(), offset, text)
}

fn head(server: &Server, token: &str, name: &str) -> (u16, Option<String>) {
    let resp = agent()
        .head(format!("{}/v1/blobs/{name}", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let offset = resp
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (resp.status().as_u16(), offset)
}

fn get(server: &Server, token: &str, path: &str) -> (u16, Vec<u8>) {
    let mut resp = agent()
        .get(format!("{}{path}", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        resp.body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap(),
    )
}

#[test]
fn a_photo_uploads_in_resumable_parts_and_only_its_readers_get_it() {
    let server = Server::start();
    server.add_user("wang", Role::GridWorker, "130322/101/201/01");
    server.add_user("zhao", Role::Mediator, "130322/101/201");
    server.add_user("sun", Role::GridWorker, "130322/101/202/01");
    let mut w = phone(
        &server,
        "wang",
        Role::GridWorker,
        "130322/101/201/01",
        "p-wang",
    );
    let mut m = phone(&server, "zhao", Role::Mediator, "130322/101/201", "p-zhao");
    let other = phone(
        &server,
        "sun",
        Role::GridWorker,
        "130322/101/202/01",
        "p-sun",
    );

    let bytes = photo(7);
    let name = sha256_hex(&bytes);
    let id = w
        .replica
        .capture(&report("危房墙体开裂", "130322/101/201/01"), 1)
        .unwrap();
    let meta = AttachmentMeta {
        caption: "现场照片".into(),
        ..Default::default()
    };
    w.replica.attach(&id, &bytes, &meta, 2).unwrap();
    // A second photo whose upload will carry the wrong bytes, and a third of the wrong type.
    let second = photo(8);
    w.replica.attach(&id, &second, &meta, 3).unwrap();
    let third = photo(9);
    w.replica.attach(&id, &third, &meta, 4).unwrap();
    // Not yet referenced by anything the server holds: nobody may upload it.
    assert_eq!(put(&server, &w.token, &name, None, &bytes).0, 404);
    w.sync(&server);

    // The link breaks half-way: the server keeps what came, the phone resumes from there.
    let total = bytes.len();
    let half = total / 2;
    let (status, offset, _) = put(
        &server,
        &w.token,
        &name,
        Some(format!("bytes 0-{}/{total}", half - 1)),
        &bytes[..half],
    );
    assert_eq!(
        (status, offset.as_deref()),
        (202, Some(half.to_string().as_str()))
    );
    assert_eq!(
        head(&server, &w.token, &name),
        (200, Some(half.to_string()))
    );
    // Starting anywhere else is refused with where to continue.
    let (status, offset, body) = put(
        &server,
        &w.token,
        &name,
        Some(format!("bytes 0-{}/{total}", half - 1)),
        &bytes[..half],
    );
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
    assert!(
        status == 201 || status == 413,
        "complete blobs answer 201, others 413: {status}"
    );
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
    w.replica.attach(&id, &fourth, &meta, 5).unwrap();
    w.sync(&server);
    let fourth_name = sha256_hex(&fourth);
    assert!(
        server
            .store(server.state.store.add_part(
                &fourth_name,
                0,
                fourth.len() as i64,
                "image/png",
                &fourth
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
