//! In-process decryption with secret keys rsops can read without gpg: an armored/binary secret
//! keyring named by `$RSOPS_PGP_SECRET_KEYS`, and the legacy `$GNUPGHOME/secring.gpg`.

use crate::keys::discovery::Env;
use openpgp::cert::{Cert, CertParser};
use openpgp::crypto::SessionKey;
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::types::SymmetricAlgorithm;
use openpgp::KeyHandle;
use sequoia_openpgp as openpgp;
use std::cell::Cell;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use zeroize::Zeroizing;

pub const SECRET_KEYS_ENV: &str = "RSOPS_PGP_SECRET_KEYS";

/// The secret keys found, and what went wrong reading the sources (for error messages).
#[derive(Default)]
pub(super) struct SecretKeys {
    pub certs: Vec<Cert>,
    pub sources: Vec<String>,
    pub errors: Vec<String>,
}

fn read_tsks(path: &Path) -> Result<Vec<Cert>, String> {
    // The keyring holds secret key material: wipe the raw bytes once parsed.
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    );
    let parser = CertParser::from_bytes(&bytes[..])
        .map_err(|e| format!("cannot parse {}: {e}", path.display()))?;
    Ok(parser.filter_map(Result::ok).filter(Cert::is_tsk).collect())
}

pub(super) fn load(env: &Env) -> SecretKeys {
    let mut keys = SecretKeys::default();
    let mut paths = Vec::new();
    if let Some(path) = env.non_empty(SECRET_KEYS_ENV) {
        paths.push((
            format!("{SECRET_KEYS_ENV} ({path})"),
            Path::new(path).to_path_buf(),
        ));
    }
    if let Some(ring) = env.gnupg_home().map(|h| h.join("secring.gpg")) {
        if ring.is_file() {
            paths.push((ring.display().to_string(), ring));
        }
    }
    for (label, path) in paths {
        match read_tsks(&path) {
            Ok(certs) => {
                keys.sources.push(label);
                keys.certs.extend(certs);
            }
            Err(e) => keys.errors.push(e),
        }
    }
    keys
}

/// Why in-process decryption did not produce the data key.
pub(super) enum Miss {
    /// None of our secret keys is a recipient of the message (not an error: gpg may have it).
    NoKey,
    Failed(String),
}

const NO_KEY: &str = "no secret key could decrypt the session key";

struct Helper<'a> {
    certs: &'a [Cert],
    had_key: Rc<Cell<bool>>,
    /// Set once a session key opened the message; a literal-only message never sets it.
    opened: Rc<Cell<bool>>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(Vec::new())
    }

    // sops's messages are not signed; nothing to check.
    fn check(&mut self, _structure: MessageStructure) -> openpgp::Result<()> {
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for pkesk in pkesks {
            for cert in self.certs {
                // Keys protected by a passphrase are left to gpg and its agent.
                for ka in cert.keys().unencrypted_secret() {
                    let aliases = match pkesk.recipient() {
                        Some(handle) => handle.aliases(ka.key().key_handle()),
                        None => true,
                    };
                    if !aliases {
                        continue;
                    }
                    self.had_key.set(true);
                    let Ok(mut pair) = ka.key().clone().into_keypair() else {
                        continue;
                    };
                    if pkesk
                        .decrypt(&mut pair, sym_algo)
                        .is_some_and(|(algo, sk)| decrypt(algo, &sk))
                    {
                        self.opened.set(true);
                        return Ok(Some(cert.clone()));
                    }
                }
            }
        }
        Err(anyhow::anyhow!(NO_KEY))
    }
}

/// Tries to decrypt the armored message with the loaded secret keys.
pub(super) fn decrypt(certs: &[Cert], enc: &str) -> Result<Zeroizing<Vec<u8>>, Miss> {
    if certs.is_empty() {
        return Err(Miss::NoKey);
    }
    let had_key = Rc::new(Cell::new(false));
    let opened = Rc::new(Cell::new(false));
    let helper = Helper {
        certs,
        had_key: had_key.clone(),
        opened: opened.clone(),
    };
    let policy = StandardPolicy::new();
    // A small look-ahead: sequoia otherwise inflates up to 25 MiB before handing anything over.
    let result = DecryptorBuilder::from_bytes(enc.as_bytes())
        .map(|b| b.buffer_size(super::MAX_KEY_BYTES))
        .and_then(|b| b.with_policy(&policy, None, helper));
    let mut decryptor = match result {
        Ok(d) => d,
        Err(e) if !had_key.get() && e.to_string() == NO_KEY => return Err(Miss::NoKey),
        Err(e) => return Err(Miss::Failed(e.to_string())),
    };
    let mut plain = Zeroizing::new(Vec::new());
    (&mut decryptor)
        .take(super::MAX_KEY_BYTES as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| Miss::Failed(e.to_string()))?;
    if !opened.get() {
        return Err(Miss::Failed(super::NOT_ENCRYPTED.to_string()));
    }
    if plain.len() > super::MAX_KEY_BYTES {
        return Err(Miss::Failed(format!(
            "the message holds more than {} bytes; that is not a sops data key",
            super::MAX_KEY_BYTES
        )));
    }
    Ok(plain)
}
