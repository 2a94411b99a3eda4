//! Placeholder API until the age backend lands.
use super::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::KeyStanza;
use zeroize::Zeroizing;

pub struct AgeRecipient(String);
impl AgeRecipient {
    pub fn parse(s: &str) -> Result<AgeRecipient, KeyError> {
        Ok(AgeRecipient(s.trim().to_string()))
    }
}
pub fn parse_recipients(list: &str) -> Result<Vec<AgeRecipient>, KeyError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(AgeRecipient::parse)
        .collect()
}
impl MasterKey for AgeRecipient {
    fn type_id(&self) -> &'static str {
        "age"
    }
    fn identity(&self) -> String {
        self.0.clone()
    }
    fn wrap(&self, _secret: &[u8]) -> Result<KeyStanza, KeyError> {
        Err(KeyError::Failed {
            backend: "age",
            key: self.0.clone(),
            message: "pending".into(),
        })
    }
}
pub struct AgeIdentities;
impl AgeIdentities {
    pub fn from_env() -> AgeIdentities {
        AgeIdentities
    }
}
impl KeyUnwrapper for AgeIdentities {
    fn unwrap(&self, _stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        None
    }
}
