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
}
