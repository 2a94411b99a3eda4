//! A linear bound on age headers before the age crate parses them.
//!
//! The age crate re-parses its header from the start each time it needs more input, which is
//! quadratic in the header's size: a `pgp.enc`-sized field with a thousand repeated stanzas takes
//! seconds, a hundred thousand never finishes. sops wraps the data key for one recipient per
//! entry, so a sane header holds one stanza (a few with plugins' grease); anything far past that
//! is refused here, in one pass, before the crate sees it.

use base64::Engine;

/// Far above what sops or age write for one recipient (post-quantum stanzas are ~2 KiB).
pub(super) const MAX_HEADER_BYTES: usize = 16 * 1024;
pub(super) const MAX_STANZAS: usize = 32;

const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum HeaderError {
    #[error("the age header has more than {MAX_STANZAS} recipient stanzas; sops writes one per key entry")]
    TooManyStanzas,
    #[error("the age header is longer than {MAX_HEADER_BYTES} bytes; sops writes one stanza per key entry")]
    TooLong,
    #[error("the age armor is not valid base64")]
    BadArmor,
}

/// Checks the header of an armored (or binary) age file in time linear in its length.
pub(super) fn check_bounds(enc: &[u8]) -> Result<(), HeaderError> {
    let binary;
    let bytes = match dearmor_prefix(enc)? {
        Some(decoded) => {
            binary = decoded;
            &binary[..]
        }
        None => enc,
    };
    let mut stanzas = 0usize;
    let mut consumed = 0usize;
    for line in bytes.split(|&b| b == b'\n') {
        consumed += line.len() + 1;
        if line.starts_with(b"---") {
            return Ok(());
        }
        if consumed > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLong);
        }
        if line.starts_with(b"-> ") {
            stanzas += 1;
            if stanzas > MAX_STANZAS {
                return Err(HeaderError::TooManyStanzas);
            }
        }
    }
    // No header end: the age crate reports the truncation in its own words.
    Ok(())
}

/// The decoded start of an armored file: enough base64 lines to cover the header limit, so a
/// huge armored payload is not decoded twice. `None` when `enc` is not armored.
fn dearmor_prefix(enc: &[u8]) -> Result<Option<Vec<u8>>, HeaderError> {
    let text = trim_ascii_start(enc);
    if !text.starts_with(ARMOR_BEGIN.as_bytes()) {
        return Ok(None);
    }
    let mut encoded = Vec::new();
    // A few lines past the limit, so `check_bounds` can see that it was passed.
    let wanted = (MAX_HEADER_BYTES + 256) / 3 * 4;
    for line in text.split(|&b| b == b'\n').skip(1) {
        let line = trim_ascii(line);
        if line.starts_with(ARMOR_END.as_bytes()) || encoded.len() >= wanted {
            break;
        }
        encoded.extend_from_slice(line);
    }
    // Cut to whole base64 quanta; padding only ever ends the last one.
    let whole = encoded.len() / 4 * 4;
    encoded.truncate(whole);
    base64::engine::general_purpose::STANDARD
        .decode(&encoded)
        .map(Some)
        .map_err(|_| HeaderError::BadArmor)
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    trim_ascii_start(&bytes[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn encrypt_to(recipient: &age::x25519::Recipient) -> String {
        let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient as _)).unwrap();
        let mut out = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = encryptor.wrap_output(armor).unwrap();
        w.write_all(&[7u8; 32]).unwrap();
        w.finish().unwrap().finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    /// An armored file whose header repeats its one stanza `copies` times.
    pub(crate) fn with_repeated_stanza(copies: usize) -> String {
        let identity = age::x25519::Identity::generate();
        let armored = encrypt_to(&identity.to_public());
        let body: String = armored
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let binary = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let text = String::from_utf8_lossy(&binary).into_owned();
        let stanza_start = text.find("-> ").unwrap();
        let stanza_end = text.find("---").unwrap();
        let stanza = &text[stanza_start..stanza_end];
        let mut forged = text.as_bytes()[..stanza_start].to_vec();
        for _ in 0..copies {
            forged.extend_from_slice(stanza.as_bytes());
        }
        forged.extend_from_slice(&binary[stanza_end..]);
        let encoded = base64::engine::general_purpose::STANDARD.encode(forged);
        let mut out = format!("{ARMOR_BEGIN}\n");
        for chunk in encoded.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str(ARMOR_END);
        out.push('\n');
        out
    }

    #[test]
    fn one_stanza_passes() {
        let identity = age::x25519::Identity::generate();
        assert_eq!(
            check_bounds(encrypt_to(&identity.to_public()).as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn repeated_stanzas_are_refused() {
        assert_eq!(check_bounds(with_repeated_stanza(2).as_bytes()), Ok(()));
        assert_eq!(
            check_bounds(with_repeated_stanza(MAX_STANZAS + 1).as_bytes()),
            Err(HeaderError::TooManyStanzas)
        );
        assert_eq!(
            check_bounds(with_repeated_stanza(100_000).as_bytes()),
            Err(HeaderError::TooManyStanzas)
        );
    }

    #[test]
    fn a_long_stanza_body_is_refused() {
        let mut forged = b"age-encryption.org/v1\n-> X25519 abc\n".to_vec();
        for _ in 0..400 {
            forged.extend_from_slice(&[b'A'; 64]);
            forged.push(b'\n');
        }
        assert_eq!(check_bounds(&forged), Err(HeaderError::TooLong));
    }
}
