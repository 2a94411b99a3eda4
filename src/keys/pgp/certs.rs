//! Finding an OpenPGP certificate for a fingerprint, and encrypting to it in-process.

use super::gpg;
use crate::keys::discovery::Env;
use openpgp::cert::{Cert, CertParser};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient};
use openpgp::types::{DataFormat, Features};
use openpgp::KeyHandle;
use sequoia_openpgp as openpgp;
use std::io::Write;
use std::path::Path;

/// Env var naming an armored or binary keyring with public certificates (rsops-specific).
pub const PUBLIC_KEYS_ENV: &str = "RSOPS_PGP_PUBLIC_KEYS";

/// A fingerprint or key id as the user wrote it, reduced to what we compare against: upper
/// case hex, and whether a trailing `!` asked for exactly that (sub)key, as in gpg.
pub(super) struct Wanted {
    pub hex: String,
    pub exact: bool,
}

impl Wanted {
    pub fn new(fp: &str) -> Wanted {
        let exact = fp.ends_with('!');
        Wanted {
            hex: fp.trim_end_matches('!').to_ascii_uppercase(),
            exact,
        }
    }

    fn matches(&self, handle: &KeyHandle) -> bool {
        match handle {
            KeyHandle::Fingerprint(fp) => fp.to_hex() == self.hex,
            KeyHandle::KeyID(id) => id.to_hex() == self.hex,
        }
    }

    fn matches_key(&self, fp: &openpgp::Fingerprint) -> bool {
        self.matches(&KeyHandle::from(fp.clone()))
            || self.matches(&KeyHandle::from(openpgp::KeyID::from(fp)))
    }

    fn matches_cert(&self, cert: &Cert) -> bool {
        cert.keys()
            .any(|ka| self.matches_key(&ka.key().fingerprint()))
    }
}

/// Parses every certificate in `bytes`, skipping ones sequoia cannot read (gpg keyrings may hold
/// keys of algorithms it does not support).
fn certs_from_bytes(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    let parser = CertParser::from_bytes(bytes).map_err(|e| e.to_string())?;
    Ok(parser.filter_map(Result::ok).collect())
}

fn certs_from_file(path: &Path) -> Result<Vec<Cert>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    certs_from_bytes(&bytes).map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

/// Looks for the certificate in, in order: `$RSOPS_PGP_PUBLIC_KEYS`, the legacy
/// `$GNUPGHOME/pubring.gpg`, and `gpg --export`. Returns the certificate, or notes on where it
/// was looked for.
pub(super) fn find_public(env: &Env, wanted: &Wanted) -> Result<Cert, Vec<String>> {
    let mut notes = Vec::new();
    if let Some(path) = env.non_empty(PUBLIC_KEYS_ENV) {
        match certs_from_file(Path::new(path)) {
            Ok(certs) => match certs.into_iter().find(|c| wanted.matches_cert(c)) {
                Some(cert) => return Ok(cert),
                None => notes.push(format!("not in {PUBLIC_KEYS_ENV} ({path})")),
            },
            Err(e) => notes.push(format!("{PUBLIC_KEYS_ENV}: {e}")),
        }
    }
    if let Some(ring) = env.gnupg_home().map(|h| h.join("pubring.gpg")) {
        if ring.is_file() {
            match certs_from_file(&ring) {
                Ok(certs) => match certs.into_iter().find(|c| wanted.matches_cert(c)) {
                    Some(cert) => return Ok(cert),
                    None => notes.push(format!("not in {}", ring.display())),
                },
                Err(e) => notes.push(e),
            }
        }
    }
    match gpg::run(env, &["--batch", "--export", &wanted.hex], b"") {
        Ok(out) if out.stdout.is_empty() => notes.push("gpg --export found no such key".into()),
        Ok(out) => match certs_from_bytes(&out.stdout) {
            Ok(certs) => match certs.into_iter().find(|c| wanted.matches_cert(c)) {
                Some(cert) => return Ok(cert),
                None => notes.push("gpg --export returned no usable certificate".into()),
            },
            Err(e) => notes.push(format!("cannot parse gpg --export output: {e}")),
        },
        Err(e) => notes.push(format!("gpg --export: {e}")),
    }
    Err(notes)
}

/// Why a certificate that was found cannot take the data key.
#[derive(Debug)]
pub(super) enum EncryptError {
    /// Not one of its keys may encrypt (a sign-only key, as `gpg --quick-gen-key NAME rsa3072`
    /// makes): importing it again cannot help, so the caller says so instead of the import hint.
    NoEncryptionKey(String),
    Other(String),
}

impl From<String> for EncryptError {
    fn from(message: String) -> EncryptError {
        EncryptError::Other(message)
    }
}

/// Encrypts `secret` to the certificate as sops's Go code does: PKESK v3 + SEIPD v1 (GnuPG 2.2
/// cannot read v6/v2), one literal packet in binary mode, no compression, armored, without a
/// trailing newline.
pub(super) fn encrypt(cert: &Cert, wanted: &Wanted, secret: &[u8]) -> Result<String, EncryptError> {
    let policy = StandardPolicy::new();
    let valid = cert
        .with_policy(&policy, None)
        .map_err(|e| format!("certificate {} is not usable: {e}", cert.fingerprint()))?;
    // Expired or revoked encryption keys are a different problem (and message) from none at all.
    let can_encrypt = valid
        .keys()
        .for_transport_encryption()
        .for_storage_encryption()
        .next()
        .is_some();
    if !can_encrypt {
        return Err(EncryptError::NoEncryptionKey(cert.fingerprint().to_hex()));
    }
    let candidates: Vec<_> = valid
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption()
        .for_storage_encryption()
        .collect();
    // Like gpg and Go's `Entity.EncryptionKey`: one key, the newest capable one, unless a
    // specific subkey was asked for with `!`.
    let chosen = if wanted.exact {
        candidates
            .iter()
            .find(|ka| wanted.matches_key(&ka.key().fingerprint()))
    } else {
        candidates.iter().max_by_key(|ka| ka.key().creation_time())
    };
    let ka = chosen.ok_or_else(|| {
        format!(
            "certificate {} has no valid encryption key",
            cert.fingerprint()
        )
    })?;
    let recipient = Recipient::new(
        Features::empty().set_seipdv1(),
        KeyHandle::from(ka.key().keyid()),
        ka.key(),
    );

    let mut sink = Vec::new();
    let message = Message::new(&mut sink);
    let message = Armorer::new(message)
        .kind(openpgp::armor::Kind::Message)
        .build()
        .map_err(|e| e.to_string())?;
    let message = Encryptor::for_recipients(message, [recipient])
        .build()
        .map_err(|e| e.to_string())?;
    let mut literal = LiteralWriter::new(message)
        .format(DataFormat::Binary)
        .build()
        .map_err(|e| e.to_string())?;
    literal.write_all(secret).map_err(|e| e.to_string())?;
    literal.finalize().map_err(|e| e.to_string())?;
    let text = String::from_utf8(sink).map_err(|_| "armored output is not text".to_string())?;
    Ok(text.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::cert::CertBuilder;

    fn cert(with_encryption: bool) -> Cert {
        let builder = CertBuilder::new()
            .add_userid("me <me@example.org>")
            .add_signing_subkey();
        let builder = if with_encryption {
            builder.add_transport_encryption_subkey()
        } else {
            builder
        };
        builder.generate().expect("generate cert").0
    }

    #[test]
    fn a_sign_only_certificate_is_named_as_such() {
        let cert = cert(false);
        let fpr = cert.fingerprint().to_hex();
        match encrypt(&cert, &Wanted::new(&fpr), b"data key") {
            Err(EncryptError::NoEncryptionKey(got)) => assert_eq!(got, fpr),
            other => panic!("expected NoEncryptionKey, got {other:?}"),
        }
    }

    #[test]
    fn a_certificate_with_an_encryption_subkey_encrypts() {
        let cert = cert(true);
        let fpr = cert.fingerprint().to_hex();
        let message = encrypt(&cert, &Wanted::new(&fpr), b"data key").expect("encrypt");
        assert!(message.starts_with("-----BEGIN PGP MESSAGE-----"));
    }
}
