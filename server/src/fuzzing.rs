//! The bodies of the blob fuzz targets in `fuzz/` (ADR 0014), shared with the test below that
//! replays the committed corpus and crashers, so target and test cannot drift apart. The
//! attachment checks the blob route shares with the phones are fuzzed in
//! `gridsync_core::fuzzing::attachment`.

use crate::blobs::{THUMBNAIL_PX, make_thumbnail, parse_range};

/// A `Content-Range` header (the route reads it with `to_str`, so only text gets here): a range
/// it accepts is ordered, within its total, writes back to itself, and its length
/// (`END - START + 1`, computed by the route) does not overflow.
pub fn content_range(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((a, b, total)) = parse_range(value) else {
        return;
    };
    assert!(0 <= a && a <= b && b < total, "accepted {value:?}");
    assert!(
        b.checked_sub(a).and_then(|n| n.checked_add(1)).is_some(),
        "the length of {value:?} overflows"
    );
    let again = parse_range(&format!("bytes {a}-{b}/{total}")).ok();
    assert_eq!(again, Some((a, b, total)), "{value:?} does not write back");
}

/// An uploaded photo made into a thumbnail: what comes out is a JPEG no larger than
/// [`THUMBNAIL_PX`] either way.
pub fn thumbnail(data: &[u8]) {
    let Some(thumb) = make_thumbnail(data) else {
        return;
    };
    let img = image::load_from_memory_with_format(&thumb, image::ImageFormat::Jpeg)
        .expect("a thumbnail decodes as JPEG");
    assert!(
        img.width() <= THUMBNAIL_PX && img.height() <= THUMBNAIL_PX,
        "a thumbnail of {}x{}",
        img.width(),
        img.height()
    );
}

/// Starting inputs for [`content_range`].
pub fn content_range_seeds() -> Vec<Vec<u8>> {
    [
        "bytes 0-99/100",
        "bytes 100-199/20971520",
        " bytes 5-5/6 ",
        "bytes 0-0/1",
    ]
    .into_iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Starting inputs for [`thumbnail`]: tiny images of each type the server makes thumbnails
/// of, a tall one, and a JPEG whose EXIF says to turn it.
pub fn thumbnail_seeds() -> Vec<Vec<u8>> {
    use image::{ImageFormat, RgbImage, RgbaImage};
    let encode = |img: image::DynamicImage, format: ImageFormat| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encoding into a Vec");
        out.into_inner()
    };
    let rgb = |w, h| {
        image::DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 40 % 256) as u8, (y * 40 % 256) as u8, 128])
        }))
    };
    let rgba = image::DynamicImage::ImageRgba8(RgbaImage::from_fn(4, 4, |x, y| {
        image::Rgba([x as u8 * 60, y as u8 * 60, 0, 200])
    }));
    let jpeg = encode(rgb(8, 4), ImageFormat::Jpeg);
    // The same JPEG with an EXIF segment saying "rotate 90° clockwise" (orientation 6).
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0]);
    exif.extend_from_slice(&[0, 0, 0, 0]);
    let mut turned = jpeg[..2].to_vec();
    turned.extend_from_slice(&[0xFF, 0xE1]);
    turned.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    turned.extend_from_slice(&exif);
    turned.extend_from_slice(&jpeg[2..]);
    vec![
        jpeg,
        turned,
        encode(rgb(2, 40), ImageFormat::Png),
        encode(rgba.clone(), ImageFormat::Png),
        encode(rgba, ImageFormat::WebP),
    ]
}

#[cfg(test)]
mod tests {
    //! The committed corpus and every crasher (`fuzz/corpus/<target>/`,
    //! `fuzz/regressions/<target>/`), replayed on stable without cargo-fuzz.
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

    fn replay(target: &str, body: fn(&[u8])) {
        gridsync_core::fuzzing::replay_committed(target, 4, body);
    }

    #[test]
    fn content_range_corpus() {
        replay("content_range", super::content_range);
    }

    #[test]
    fn thumbnail_corpus() {
        replay("thumbnail", super::thumbnail);
    }

    #[test]
    fn seeds_pass_their_targets() {
        super::content_range_seeds()
            .iter()
            .for_each(|s| super::content_range(s));
        let thumbs = super::thumbnail_seeds();
        thumbs.iter().for_each(|s| super::thumbnail(s));
        // The target checks something only for images that decode: the seeds all do.
        assert!(
            thumbs
                .iter()
                .all(|s| crate::blobs::make_thumbnail(s).is_some())
        );
        // EXIF orientation 6 turns the 8x4 JPEG upright: twice as high as wide (and scaled to
        // the thumbnail's size).
        let turned = crate::blobs::make_thumbnail(&thumbs[1]).unwrap();
        let img = image::load_from_memory(&turned).unwrap();
        assert_eq!((img.width(), img.height()), (160, 320));
    }
}
