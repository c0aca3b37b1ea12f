//! Photos and documents attached to cases: what may be attached and how it is named.
//!
//! A blob is named by the SHA-256 of its bytes, so the same photo attached twice is stored once
//! and a name can be checked against the bytes. Phone and server sniff the content the same way
//! (here), so a file the phone accepts is never refused for its type by the server.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The largest attachment a phone accepts (a photo from a cheap phone is 2–5 MB).
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// The lower-case hex SHA-256 of `bytes`: the blob's name.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `name` is a blob name: 64 lower-case hex digits and nothing else.
pub fn is_blob_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The content type from the first bytes: images and PDF only. `None` for anything else.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(&bytes[8..12], b"heic" | b"heix" | b"mif1" | b"msf1")
    {
        // iPhones photograph in HEIC.
        Some("image/heic")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// Types the server makes thumbnails of (HEIC and PDF have none).
pub fn has_thumbnail(mime: &str) -> bool {
    matches!(mime, "image/jpeg" | "image/png" | "image/webp")
}

/// Checks that `bytes` may be attached; returns the blob's name and content type.
pub fn check_attachment(bytes: &[u8]) -> Result<(String, &'static str)> {
    if bytes.is_empty() {
        return Err(Error::InvalidInput {
            field: "attachment".into(),
            reason: "the file is empty".into(),
        });
    }
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(Error::TooLarge {
            what: "attachment",
            size: bytes.len(),
            limit: MAX_ATTACHMENT_BYTES as usize,
        });
    }
    let mime = sniff_mime(bytes).ok_or_else(|| Error::InvalidInput {
        field: "attachment".into(),
        reason: "only photos (JPEG, PNG, WebP, HEIC) and PDF documents can be attached".into(),
    })?;
    Ok((sha256_hex(bytes), mime))
}

/// The bytes without embedded metadata (EXIF with its GPS position, XMP, IPTC, text chunks),
/// for readers who may not see where a photo was taken. Image data is copied untouched, so the
/// picture is the same. `None` when that cannot be done safely: HEIC (its metadata sits inside
/// nested boxes), or bytes that do not parse as their type. PDF comes back unchanged: it carries
/// no camera position.
pub fn strip_metadata(bytes: &[u8], mime: &str) -> Option<Vec<u8>> {
    match mime {
        "image/jpeg" => strip_jpeg(bytes),
        "image/png" => strip_png(bytes),
        "image/webp" => strip_webp(bytes),
        "application/pdf" => Some(bytes.to_vec()),
        _ => None,
    }
}

/// JPEG: markers up to the start of scan; APP1 (EXIF, XMP), APP13 (IPTC) and comments dropped.
fn strip_jpeg(b: &[u8]) -> Option<Vec<u8>> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..2]);
    let mut i = 2;
    loop {
        // Fill bytes (0xFF repeated) may precede a marker.
        while b.get(i) == Some(&0xFF) && b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if b.get(i) != Some(&0xFF) {
            return None;
        }
        let marker = *b.get(i + 1)?;
        // Markers without a length.
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            out.extend_from_slice(&b[i..i + 2]);
            i += 2;
            continue;
        }
        if marker == 0xD9 {
            out.extend_from_slice(&b[i..i + 2]);
            return Some(out);
        }
        let len = usize::from(u16::from_be_bytes([*b.get(i + 2)?, *b.get(i + 3)?]));
        if len < 2 {
            return None;
        }
        let end = i.checked_add(2 + len)?;
        let segment = b.get(i..end)?;
        if marker == 0xDA {
            // Start of scan: the rest is image data (and any trailer), kept as it is.
            out.extend_from_slice(&b[i..]);
            return Some(out);
        }
        if !matches!(marker, 0xE1 | 0xED | 0xFE) {
            out.extend_from_slice(segment);
        }
        i = end;
    }
}

/// PNG: every chunk but eXIf and the text chunks (tEXt, zTXt, iTXt).
fn strip_png(b: &[u8]) -> Option<Vec<u8>> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !b.starts_with(SIGNATURE) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(SIGNATURE);
    let mut i = SIGNATURE.len();
    while i < b.len() {
        let len = u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?) as usize;
        let kind = b.get(i + 4..i + 8)?;
        let end = i.checked_add(12)?.checked_add(len)?;
        let chunk = b.get(i..end)?;
        if !matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt") {
            out.extend_from_slice(chunk);
        }
        if kind == b"IEND" {
            return Some(out);
        }
        i = end;
    }
    None
}

/// WebP: every RIFF chunk but EXIF and XMP, with the extended header's flags for them cleared.
fn strip_webp(b: &[u8]) -> Option<Vec<u8>> {
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return None;
    }
    let riff_end = (u32::from_le_bytes(b[4..8].try_into().ok()?) as usize)
        .checked_add(8)?
        .min(b.len());
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..12]);
    let mut i = 12;
    while i + 8 <= riff_end {
        let kind = &b[i..i + 4];
        let len = u32::from_le_bytes(b[i + 4..i + 8].try_into().ok()?) as usize;
        let end = i
            .checked_add(8)?
            .checked_add(len + (len & 1))?
            .min(riff_end);
        let chunk = b.get(i..end)?;
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" if chunk.len() > 8 => {
                let start = out.len();
                out.extend_from_slice(chunk);
                // Flags byte: 0x08 EXIF present, 0x04 XMP present.
                out[start + 8] &= !0x0C;
            }
            _ => out.extend_from_slice(chunk),
        }
        i = end;
    }
    let size = u32::try_from(out.len() - 8).ok()?;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Some(out)
}

/// Containers of the kinds `strip_metadata` reads, built from their chunks: for its tests and
/// the fuzzer's starting inputs.
#[cfg(any(test, feature = "testing"))]
pub(crate) mod samples {
    /// A PNG: the signature, then each chunk (length, type, data, a CRC left zero).
    pub(crate) fn png(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in chunks {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(&kind[..]);
            png.extend_from_slice(data);
            png.extend_from_slice(&[0, 0, 0, 0]);
        }
        png
    }

    /// A WebP: the RIFF header with its size, then each chunk padded to an even length.
    pub(crate) fn webp(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut webp = b"RIFF\0\0\0\0WEBP".to_vec();
        for (kind, data) in chunks {
            webp.extend_from_slice(&kind[..]);
            webp.extend_from_slice(&(data.len() as u32).to_le_bytes());
            webp.extend_from_slice(data);
            if data.len() % 2 == 1 {
                webp.push(0);
            }
        }
        let size = (webp.len() - 8) as u32;
        webp[4..8].copy_from_slice(&size.to_le_bytes());
        webp
    }
}

/// The largest side of a thumbnail, in pixels.
pub const THUMBNAIL_PX: u32 = 320;

/// A JPEG thumbnail of an uploaded photo (untrusted bytes), at most [`THUMBNAIL_PX`] wide or
/// high and turned upright as its EXIF says; `None` when the bytes do not decode as an image.
/// Re-encoding drops EXIF, location included.
pub fn make_thumbnail(original: &[u8]) -> Option<Vec<u8>> {
    // A small file may claim a huge image: bound what decoding may allocate.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    let mut reader = image::ImageReader::new(std::io::Cursor::new(original))
        .with_guessed_format()
        .ok()?;
    reader.limits(limits);
    use image::ImageDecoder as _;
    let mut decoder = reader.into_decoder().ok()?;
    // Phones store pictures as the sensor saw them and say in EXIF how to turn them.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).ok()?;
    img.apply_orientation(orientation);
    let mut out = std::io::Cursor::new(Vec::new());
    img.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX)
        .to_rgb8()
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_sha256_of_the_bytes() {
        // The SHA-256 test vector for "abc" (FIPS 180-2).
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_blob_name(&sha256_hex(b"abc")));
        assert!(!is_blob_name("../../etc/passwd"));
        assert!(!is_blob_name(&sha256_hex(b"abc").to_uppercase()));
    }

    #[test]
    fn only_images_and_pdf_are_accepted() {
        assert_eq!(sniff_mime(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(sniff_mime(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff_mime(b"\0\0\0\x18ftypheic...."), Some("image/heic"));
        assert_eq!(sniff_mime(b"<html>"), None);
        assert!(matches!(
            check_attachment(b"MZ\x90\0"),
            Err(Error::InvalidInput { .. })
        ));
        assert!(check_attachment(b"").is_err());
        let (name, mime) = check_attachment(b"\x89PNG\r\n\x1a\nxxxx").unwrap();
        assert_eq!((name.len(), mime), (64, "image/png"));
    }

    /// A JPEG with an EXIF segment holding a (fake) GPS tag, then the image data.
    fn jpeg_with_exif() -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        b.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
        let exif = b"Exif\0\0GPSLatitude=39.9";
        b.extend_from_slice(&[0xFF, 0xE1]);
        b.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        b.extend_from_slice(exif);
        b.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x04, 1, 2, 0xAA, 0xBB, 0xFF, 0xD9]);
        b
    }

    #[test]
    fn stripping_drops_exif_and_keeps_the_picture() {
        let jpeg = jpeg_with_exif();
        let plain = strip_metadata(&jpeg, "image/jpeg").unwrap();
        assert!(!plain.windows(3).any(|w| w == b"GPS"));
        assert!(plain.windows(4).any(|w| w == b"JFIF"));
        assert!(plain.ends_with(&[0xFF, 0xDA, 0x00, 0x04, 1, 2, 0xAA, 0xBB, 0xFF, 0xD9]));
        assert_eq!(
            plain.len(),
            jpeg.len() - 4 - b"Exif\0\0GPSLatitude=39.9".len()
        );

        let png = samples::png(&[
            (b"IHDR", b"0123456789abc"),
            (b"eXIf", b"GPS"),
            (b"IEND", b""),
        ]);
        let plain = strip_metadata(&png, "image/png").unwrap();
        assert!(!plain.windows(4).any(|w| w == b"eXIf"));
        assert!(plain.windows(4).any(|w| w == b"IHDR"));

        let webp = samples::webp(&[
            (b"VP8X", &[0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            (b"EXIF", b"GPS!"),
            (b"VP8L", b"pix"),
        ]);
        let plain = strip_metadata(&webp, "image/webp").unwrap();
        assert!(!plain.windows(4).any(|w| w == b"EXIF"));
        assert_eq!(plain[20] & 0x0C, 0, "the EXIF/XMP flags are cleared");
        assert_eq!(
            u32::from_le_bytes(plain[4..8].try_into().unwrap()) as usize,
            plain.len() - 8
        );
    }

    #[test]
    fn stripping_refuses_what_it_cannot_parse() {
        assert_eq!(
            strip_metadata(b"\0\0\0\x18ftypheic....", "image/heic"),
            None
        );
        let jpeg = jpeg_with_exif();
        // Every truncation either strips cleanly or is refused; none panics.
        for n in 0..jpeg.len() {
            let _ = strip_metadata(&jpeg[..n], "image/jpeg");
        }
        assert_eq!(strip_metadata(&jpeg[..10], "image/jpeg"), None);
        assert_eq!(
            strip_metadata(b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffIHDR", "image/png"),
            None
        );
    }
}
