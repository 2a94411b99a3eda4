//! Placeholder API until the pgp backend lands.
use super::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::KeyStanza;
use zeroize::Zeroizing;

pub struct PgpKey(String);
impl PgpKey {
    pub fn new(s: &str) -> Result<PgpKey, KeyError> {
        Ok(PgpKey(s.trim().to_string()))
    }
}
pub fn parse_recipients(list: &str) -> Result<Vec<PgpKey>, KeyError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PgpKey::new)
        .collect()
}
impl MasterKey for PgpKey {
    fn type_id(&self) -> &'static str {
        "pgp"
    }
    fn identity(&self) -> String {
        self.0.clone()
    }
    fn wrap(&self, _secret: &[u8]) -> Result<KeyStanza, KeyError> {
        Err(KeyError::Failed {
            backend: "pgp",
            key: self.0.clone(),
            message: "pending".into(),
        })
    }
}
pub struct PgpDecryptor;
impl PgpDecryptor {
    pub fn from_env() -> PgpDecryptor {
        PgpDecryptor
    }
}
impl KeyUnwrapper for PgpDecryptor {
    fn unwrap(&self, _stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        None
    }
}
