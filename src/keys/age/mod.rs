//! age master keys (`age/keysource.go`): the data key (or a Shamir share) wrapped in an
//! armored age file with one recipient stanza.

mod header;
mod identities;
mod tty;

use self::identities::{load_from_cmd, load_static, BoxedIdentity, Loaded};
use crate::keys::discovery::Env;
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::KeyStanza;
use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::OnceLock;
use zeroize::Zeroizing;

mod backend;
pub use backend::{AgeStanza, BACKEND, TYPE_ID};

#[derive(Clone)]
enum Parsed {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
    /// The plugin binary is only looked up when wrapping, as sops does.
    Plugin(age::plugin::Recipient),
}

/// One age recipient, kept verbatim (after trimming) as sops stores it.
#[derive(Clone)]
pub struct AgeRecipient {
    text: String,
    parsed: Parsed,
}

impl std::fmt::Debug for AgeRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AgeRecipient").field(&self.text).finish()
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Invalid {
        backend: TYPE_ID,
        key: key.to_string(),
        reason: reason.into(),
    }
}

impl AgeRecipient {
    /// Parses a recipient as sops's `parseRecipient` does: `age1…` with more than one `1` is a
    /// plugin recipient, other `age1…` are X25519, `ssh-…` are SSH public keys.
    pub fn parse(s: &str) -> Result<AgeRecipient, KeyError> {
        let text = s.trim().to_string();
        let parsed = if text.starts_with("age1") && text.matches('1').count() > 1 {
            let r = age::plugin::Recipient::from_str(&text).map_err(|e| {
                invalid(
                    &text,
                    format!("failed to parse input as age key from age plugin: {e}"),
                )
            })?;
            Parsed::Plugin(r)
        } else if text.starts_with("age1") {
            let r = age::x25519::Recipient::from_str(&text).map_err(|e| {
                invalid(
                    &text,
                    format!("failed to parse input as Bech32-encoded age public key: {e}"),
                )
            })?;
            Parsed::X25519(r)
        } else if text.starts_with("ssh-") {
            let r = age::ssh::Recipient::from_str(&text).map_err(|e| {
                invalid(
                    &text,
                    format!("failed to parse input as age-ssh public key: {e:?}"),
                )
            })?;
            Parsed::Ssh(r)
        } else {
            return Err(invalid(&text, "unknown recipient type"));
        };
        Ok(AgeRecipient { text, parsed })
    }

    pub fn recipient(&self) -> &str {
        &self.text
    }

    fn encrypt(&self, secret: &[u8], recipient: &dyn age::Recipient) -> Result<String, String> {
        let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .map_err(|e| e.to_string())?;
        let mut writer = encryptor.wrap_output(armor).map_err(|e| e.to_string())?;
        writer.write_all(secret).map_err(|e| e.to_string())?;
        writer
            .finish()
            .and_then(|armor| armor.finish())
            .map_err(|e| e.to_string())?;
        String::from_utf8(out).map_err(|_| "armored output is not text".to_string())
    }
}

/// A comma-separated recipient list, as `--age` and `.sops.yaml` give it.
pub fn parse_recipients(list: &str) -> Result<Vec<AgeRecipient>, KeyError> {
    list.split(',')
        .filter(|r| !r.trim().is_empty())
        .map(AgeRecipient::parse)
        .collect()
}

impl MasterKey for AgeRecipient {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }

    fn identity(&self) -> String {
        self.text.clone()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let result = match &self.parsed {
            Parsed::X25519(r) => self.encrypt(secret, r),
            Parsed::Ssh(r) => self.encrypt(secret, r),
            Parsed::Plugin(r) => age::plugin::RecipientPluginV1::new(
                r.plugin(),
                std::slice::from_ref(r),
                &[],
                tty::TtyCallbacks,
            )
            .map_err(|e| format!("cannot use plugin recipient: {e}"))
            .and_then(|plugin| self.encrypt(secret, &plugin)),
        };
        let enc = result.map_err(|e| KeyError::Failed {
            backend: TYPE_ID,
            key: self.text.clone(),
            message: format!("failed to encrypt sops data key with age: {e}"),
        })?;
        Ok(KeyStanza::Age(AgeStanza {
            recipient: self.text.clone(),
            enc,
        }))
    }
}

/// The decrypt side: every identity sops would find, merged and tried together.
pub struct AgeIdentities {
    env: Env,
    loaded: OnceLock<Loaded>,
}

impl AgeIdentities {
    /// Cheap: identities are read on the first unwrap.
    pub fn from_env() -> AgeIdentities {
        AgeIdentities::with_env(Env::process())
    }

    pub fn with_env(env: Env) -> AgeIdentities {
        AgeIdentities {
            env,
            loaded: OnceLock::new(),
        }
    }

    fn unwrap_age(&self, stanza: &AgeStanza) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let fail = |message: String| KeyError::Failed {
            backend: TYPE_ID,
            key: stanza.recipient.clone(),
            message,
        };
        let loaded = self.loaded.get_or_init(|| load_static(&self.env));
        let from_cmd = load_from_cmd(&self.env, &stanza.recipient);
        let plain: Vec<&BoxedIdentity> = loaded
            .identities
            .iter()
            .chain(from_cmd.identities.iter())
            .collect();
        let encrypted: Vec<_> = loaded.encrypted.iter().chain(&from_cmd.encrypted).collect();

        if plain.is_empty() && encrypted.is_empty() {
            return Err(fail(self.report(
                "failed to load age identities",
                loaded,
                &from_cmd,
            )));
        }

        let mut last_error = None;
        if !plain.is_empty() {
            match decrypt(&stanza.enc, &plain) {
                Ok(secret) => return Ok(secret),
                Err(e) => last_error = Some(e),
            }
        }
        let mut open_errors = Vec::new();
        for file in encrypted {
            match file.identities() {
                Ok(ids) => match decrypt(&stanza.enc, &ids.iter().collect::<Vec<_>>()) {
                    Ok(secret) => return Ok(secret),
                    Err(e) => last_error = Some(e),
                },
                Err(e) => open_errors.push(e),
            }
        }
        let mut message = String::from("failed to decrypt sops data key with age");
        if let Some(e) = last_error {
            message.push_str(&format!(": {e}"));
        }
        for e in open_errors {
            message.push_str(&format!("; {e}"));
        }
        Err(fail(self.report(&message, loaded, &from_cmd)))
    }

    /// An error message in sops's shape, plus where identities were looked for and what to set.
    fn report(&self, headline: &str, loaded: &Loaded, from_cmd: &Loaded) -> String {
        let mut out = headline.to_string();
        let errors: Vec<&String> = loaded.errors.iter().chain(&from_cmd.errors).collect();
        if !errors.is_empty() {
            let joined: Vec<&str> = errors.iter().map(|s| s.as_str()).collect();
            out.push_str(&format!(
                ". Errors while loading age identities: {}",
                joined.join("; ")
            ));
        }
        let found: Vec<&String> = loaded.found_in.iter().chain(&from_cmd.found_in).collect();
        if !found.is_empty() {
            let joined: Vec<&str> = found.iter().map(|s| s.as_str()).collect();
            out.push_str(&format!(
                ". Tried the identities from {}",
                joined.join(", ")
            ));
        }
        let unused: Vec<&String> = loaded.unused.iter().chain(&from_cmd.unused).collect();
        if !unused.is_empty() {
            out.push_str(&format!(". Did not find keys in {}", quote_list(&unused)));
        }
        let default = self
            .env
            .user_config_dir()
            .map(|d| d.join("sops/age/keys.txt").display().to_string())
            .unwrap_or_else(|_| "$XDG_CONFIG_HOME/sops/age/keys.txt".to_string());
        out.push_str(&format!(
            ". Set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY, SOPS_AGE_KEY_CMD, \
             SOPS_AGE_SSH_PRIVATE_KEY_FILE) to the identity of this recipient, or put it in {default}"
        ));
        out
    }
}

fn quote_list(items: &[&String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => format!("location {}", quoted[0]),
        2 => format!("locations {} and {}", quoted[0], quoted[1]),
        n => format!(
            "locations {}, and {}",
            quoted[..n - 1].join(", "),
            quoted[n - 1]
        ),
    }
}

fn decrypt(enc: &str, identities: &[&BoxedIdentity]) -> Result<Zeroizing<Vec<u8>>, String> {
    header::check_bounds(enc.as_bytes()).map_err(|e| e.to_string())?;
    let open = || -> Result<Zeroizing<Vec<u8>>, age::DecryptError> {
        // Buffered: the crate then re-parses its header once per line, not once per byte.
        let reader = std::io::BufReader::new(age::armor::ArmoredReader::new(enc.as_bytes()));
        let decryptor = age::Decryptor::new_buffered(reader)?;
        let mut stream =
            decryptor.decrypt(identities.iter().map(|b| b.as_ref() as &dyn age::Identity))?;
        let mut secret = Zeroizing::new(Vec::new());
        // A data key is 32 bytes (a Shamir share a few more): never read a bomb to the end.
        (&mut stream)
            .take(MAX_KEY_BYTES as u64 + 1)
            .read_to_end(&mut secret)?;
        Ok(secret)
    };
    let secret = open().map_err(|e| e.to_string())?;
    if secret.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the age payload is longer than {MAX_KEY_BYTES} bytes; it is not a sops data key"
        ));
    }
    Ok(secret)
}

/// A data key is 32 bytes and a Shamir share one more; anything past a few KiB is not one.
const MAX_KEY_BYTES: usize = 4096;

impl KeyUnwrapper for AgeIdentities {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        match stanza {
            KeyStanza::Age(age) => Some(self.unwrap_age(age)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPIENT: &str = "age14razmsckj3l3lk4l0t6rh84cgd5w37acf77540hk74x7v3ed9elqhq54uz";
    const IDENTITY: &str =
        "AGE-SECRET-KEY-1W9E09T2A34Z9NJNYNF9LAWFZSC4Z2D8PGVLQF5HPGV0UNT0Y23GQGLKS2M";

    fn env_with_key() -> Env {
        Env::from_pairs([(identities::KEY_ENV, IDENTITY)])
    }

    #[test]
    fn parse_kinds_and_trim() {
        let r = AgeRecipient::parse(&format!("  {RECIPIENT}\n")).unwrap();
        assert_eq!(r.identity(), RECIPIENT);
        assert!(matches!(r.parsed, Parsed::X25519(_)));
        let ssh = include_str!("../../../keys/ssh_ed25519.pub");
        let r = AgeRecipient::parse(ssh).unwrap();
        assert_eq!(r.identity(), ssh.trim());
        assert!(matches!(r.parsed, Parsed::Ssh(_)));
        let ssh = include_str!("../../../keys/ssh_rsa.pub");
        assert!(matches!(
            AgeRecipient::parse(ssh).unwrap().parsed,
            Parsed::Ssh(_)
        ));
        assert!(AgeRecipient::parse("age1nope").is_err());
        assert!(AgeRecipient::parse("pgp:ABC").is_err());
    }

    #[test]
    fn plugin_recipient_parses_and_fails_cleanly_without_binary() {
        let r = AgeRecipient::parse(
            "age1yubikey1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0jqmenk29",
        )
        .unwrap();
        assert!(matches!(r.parsed, Parsed::Plugin(_)));
        let err = r.wrap(&[7; 32]).unwrap_err().to_string();
        assert!(err.contains("age-plugin-yubikey"), "{err}");
    }

    #[test]
    fn recipient_list_is_split_and_trimmed() {
        let list = format!("{RECIPIENT}, ,\n{RECIPIENT} ,");
        let keys = parse_recipients(&list).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.identity() == RECIPIENT));
        assert!(parse_recipients("").unwrap().is_empty());
    }

    #[test]
    fn armor_shape_matches_sops() {
        let stanza = AgeRecipient::parse(RECIPIENT)
            .unwrap()
            .wrap(&[1; 32])
            .unwrap();
        let KeyStanza::Age(s) = stanza else {
            panic!("not an age stanza")
        };
        assert_eq!(s.recipient, RECIPIENT);
        assert!(s.enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(s.enc.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
        assert!(s.enc.lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn round_trip_and_not_mine() {
        let secret = [9u8; 33];
        let stanza = AgeRecipient::parse(RECIPIENT)
            .unwrap()
            .wrap(&secret)
            .unwrap();
        let ids = AgeIdentities::with_env(env_with_key());
        assert_eq!(ids.unwrap(&stanza).unwrap().unwrap().as_slice(), &secret);
        let pgp = KeyStanza::Pgp(crate::metadata::PgpStanza {
            fp: "X".into(),
            created_at: String::new(),
            enc: String::new(),
        });
        assert!(ids.unwrap(&pgp).is_none());
    }

    #[test]
    fn no_identities_names_the_sources() {
        let stanza = AgeRecipient::parse(RECIPIENT)
            .unwrap()
            .wrap(&[1; 32])
            .unwrap();
        let home = tempfile::tempdir().unwrap();
        let ids =
            AgeIdentities::with_env(Env::from_pairs([("HOME", home.path().to_str().unwrap())]));
        let err = ids.unwrap(&stanza).unwrap().unwrap_err().to_string();
        assert!(err.contains("failed to load age identities"), "{err}");
        assert!(err.contains("SOPS_AGE_KEY_FILE"), "{err}");
        assert!(err.contains("sops/age/keys.txt"), "{err}");
    }

    #[test]
    fn wrong_identity_fails_without_leaking() {
        let stanza = AgeRecipient::parse(RECIPIENT)
            .unwrap()
            .wrap(&[1; 32])
            .unwrap();
        let other = "AGE-SECRET-KEY-1DEN538RR86P9AR2F2S7Z6F4HWJ7ZCFYRJUD0MEH08MFMHU8H3LKQ06LLVL";
        let ids = AgeIdentities::with_env(Env::from_pairs([(identities::KEY_ENV, other)]));
        let err = ids.unwrap(&stanza).unwrap().unwrap_err().to_string();
        assert!(
            err.contains("Tried the identities from SOPS_AGE_KEY"),
            "{err}"
        );
        assert!(!err.contains(other), "{err}");
    }
}
