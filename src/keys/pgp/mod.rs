//! OpenPGP master keys (`pgp/keysource.go`): the data key (or a Shamir share) in an armored
//! OpenPGP message, written in-process with sequoia when the public certificate can be found,
//! else by `gpg --encrypt`; read in-process with secret keys rsops can see, else by `gpg -d`.

mod certs;
mod gpg;
mod secret;

use crate::keys::discovery::Env;
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::KeyStanza;
use std::sync::OnceLock;
use zeroize::Zeroizing;

pub use certs::PUBLIC_KEYS_ENV;
pub use secret::SECRET_KEYS_ENV;

mod backend;
pub use backend::{PgpStanza, BACKEND, TYPE_ID};

/// A data key is 32 bytes and a Shamir share one more: decrypted or decompressed key material
/// past a few KiB is a bomb, not a key, and reading stops there.
const MAX_KEY_BYTES: usize = 4096;

const NOT_ENCRYPTED: &str =
    "the message is not encrypted to any key (a bare literal cannot hold a sops data key)";

/// One PGP recipient, identified by the fingerprint the user gave (spaces removed, as sops).
#[derive(Clone, Debug)]
pub struct PgpKey {
    fp: String,
    env: Env,
}

impl PgpKey {
    /// Accepts a fingerprint (40 hex digits, normally the primary key's) or a 16-digit key id,
    /// optionally with gpg's trailing `!`; spaces are removed as sops does.
    pub fn new(fp: &str) -> Result<PgpKey, KeyError> {
        PgpKey::with_env(fp, Env::process())
    }

    pub fn with_env(fp: &str, env: Env) -> Result<PgpKey, KeyError> {
        let fp: String = fp.chars().filter(|c| *c != ' ').collect();
        let hex = fp.strip_suffix('!').unwrap_or(&fp);
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(KeyError::Invalid {
                backend: TYPE_ID,
                key: fp.clone(),
                reason: "expected a key fingerprint in hexadecimal".to_string(),
            });
        }
        Ok(PgpKey { fp, env })
    }

    pub fn fingerprint(&self) -> &str {
        &self.fp
    }

    /// sops's `encryptWithGnuPG`, same arguments; its output is trimmed like sops does.
    fn encrypt_with_gpg(&self, secret: &[u8]) -> Result<String, String> {
        let args = [
            "--no-default-recipient",
            "--yes",
            "--encrypt",
            "-a",
            "-r",
            &self.fp,
            "--trusted-key",
            gpg::short_fingerprint(&self.fp),
            "--no-encrypt-to",
        ];
        let out = gpg::run(&self.env, &args, secret)?;
        let text = String::from_utf8(out.stdout.to_vec())
            .map_err(|_| "gpg wrote a non-text message".to_string())?;
        Ok(text.trim().to_string())
    }

    fn encrypt(&self, secret: &[u8]) -> Result<String, String> {
        let wanted = certs::Wanted::new(&self.fp);
        let mut notes = match certs::find_public(&self.env, &wanted) {
            Ok(cert) => match certs::encrypt(&cert, &wanted, secret) {
                Ok(enc) => return Ok(enc),
                Err(certs::EncryptError::NoEncryptionKey(fpr)) => {
                    return Err(no_encryption_subkey(&fpr))
                }
                Err(certs::EncryptError::Other(e)) => vec![e],
            },
            Err(notes) => notes,
        };
        match self.encrypt_with_gpg(secret) {
            Ok(enc) => Ok(enc),
            Err(e) => {
                notes.push(format!("gpg --encrypt: {e}"));
                Err(format!(
                    "could not encrypt the data key: {}. Import the public key (`gpg --import \
                     KEY.asc`, with GNUPGHOME pointing at the keyring you use) or set {} to a \
                     keyring file that contains it",
                    notes.join("; "),
                    PUBLIC_KEYS_ENV
                ))
            }
        }
    }
}

/// gpg would refuse the key as well ("unusable public key"), so it is not asked.
fn no_encryption_subkey(fpr: &str) -> String {
    format!(
        "this key has no encryption subkey: certificate {fpr} can only sign. Add one with \
         `gpg --quick-add-key {fpr} default encr` (and export the key again if it comes from a \
         keyring file), or use a key that `gpg --list-keys` shows with an [E] subkey"
    )
}

impl MasterKey for PgpKey {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }

    fn identity(&self) -> String {
        self.fp.clone()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let enc = self.encrypt(secret).map_err(|message| KeyError::Failed {
            backend: TYPE_ID,
            key: self.fp.clone(),
            message,
        })?;
        Ok(KeyStanza::Pgp(PgpStanza {
            fp: self.fp.clone(),
            created_at: crate::compat::rfc3339::now_rfc3339(),
            enc,
        }))
    }
}

/// The decrypt side for every `pgp` stanza.
pub struct PgpDecryptor {
    env: Env,
    secret_keys: OnceLock<secret::SecretKeys>,
}

impl PgpDecryptor {
    /// Cheap: keyrings are read on the first unwrap.
    pub fn from_env() -> PgpDecryptor {
        PgpDecryptor::with_env(Env::process())
    }

    pub fn with_env(env: Env) -> PgpDecryptor {
        PgpDecryptor {
            env,
            secret_keys: OnceLock::new(),
        }
    }

    fn decrypt(&self, stanza: &PgpStanza) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let keys = self.secret_keys.get_or_init(|| secret::load(&self.env));
        let mut notes: Vec<String> = keys.errors.clone();
        match secret::decrypt(&keys.certs, &stanza.enc) {
            Ok(plain) => return Ok(plain),
            Err(secret::Miss::NoKey) => {}
            Err(secret::Miss::Failed(e)) => notes.push(format!(
                "in-process decryption with {}: {e}",
                keys.sources.join(", ")
            )),
        }
        // Messages from old Go sops are rejected by sequoia; gpg reads them.
        // The status lines say whether gpg decrypted anything: `gpg -d` prints a message that
        // was never encrypted (a bare literal) as if it had opened it.
        let args = ["--status-fd", "2", "-d"];
        match gpg::run_limited(&self.env, &args, stanza.enc.as_bytes(), MAX_KEY_BYTES) {
            Ok(out) if !out.stderr.contains("[GNUPG:] DECRYPTION_OKAY") => {
                notes.push(format!("gpg -d: {NOT_ENCRYPTED}"))
            }
            Ok(out) if out.stdout.is_empty() => {
                notes.push("gpg -d returned zero bytes".to_string())
            }
            Ok(out) => return Ok(out.stdout),
            Err(e) => notes.push(format!("gpg -d: {e}")),
        }
        let home = self
            .env
            .gnupg_home()
            .map(|h| h.display().to_string())
            .unwrap_or_else(|| "~/.gnupg".to_string());
        Err(KeyError::Failed {
            backend: TYPE_ID,
            key: stanza.fp.clone(),
            message: format!(
                "could not decrypt the data key: {}. Import the secret key for {} into GnuPG \
                 (GNUPGHOME is {home}) or set {} to a secret keyring file",
                notes.join("; "),
                stanza.fp,
                SECRET_KEYS_ENV
            ),
        })
    }
}

impl KeyUnwrapper for PgpDecryptor {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        match stanza {
            KeyStanza::Pgp(pgp) => Some(self.decrypt(pgp)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_spaces_removed_and_validated() {
        let k = PgpKey::with_env(
            "1BA4 BB94 5673 E83C 054A  F268 13DC 73C8 F49D E51A",
            Env::default(),
        )
        .unwrap();
        assert_eq!(k.identity(), "1BA4BB945673E83C054AF26813DC73C8F49DE51A");
        assert!(PgpKey::with_env("13DC73C8F49DE51A!", Env::default()).is_ok());
        assert!(PgpKey::with_env("", Env::default()).is_err());
        assert!(PgpKey::with_env("user@example.com", Env::default()).is_err());
    }

    #[test]
    fn other_stanzas_are_not_mine() {
        let d = PgpDecryptor::with_env(Env::default());
        let age = KeyStanza::Age(crate::metadata::AgeStanza {
            recipient: "age1x".into(),
            enc: String::new(),
        });
        assert!(d.unwrap(&age).is_none());
    }
}
