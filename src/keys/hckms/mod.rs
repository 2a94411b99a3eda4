//! HuaweiCloud KMS (sops 3.12+): the `hckms` list of the `sops:` block,
//! `--hckms`/`SOPS_HUAWEICLOUD_KMS_IDS` and the `hckms:` key of `.sops.yaml`; the client
//! (`client.rs`) is built with the `hckms` feature.

#[cfg(feature = "hckms")]
mod client;
#[cfg(feature = "hckms")]
mod sign;
#[cfg(feature = "hckms")]
pub use client::{HckmsKey, HckmsUnwrapper};

use crate::config::Section;
use crate::keys::discovery::Env;
use crate::keys::registry::{
    foreign_spec, split_list, Backend, KeyFlag, KeySpec, KeyStanza, SpecError, SpecOptions,
    StanzaFields,
};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::stores::metadata_wire::{text, Entry};
use crate::stores::StoreError;
use crate::tree::Map;

pub const TYPE_ID: &str = "hckms";

pub struct Hckms;

pub static BACKEND: Hckms = Hckms;

static FLAG: KeyFlag = KeyFlag {
    long: "hckms",
    add: "add-hckms",
    rm: "rm-hckms",
    short: None,
    env: Some("SOPS_HUAWEICLOUD_KMS_IDS"),
    value_name: "IDS",
    noun: "HuaweiCloud KMS key IDs",
    format: " (REGION:KEY_UUID)",
};

#[derive(Clone, Debug, PartialEq)]
pub struct HckmsStanza {
    /// `region:key-uuid`
    pub key_id: String,
    pub created_at: String,
    pub enc: String,
}

impl StanzaFields for HckmsStanza {
    fn backend(&self) -> &'static dyn Backend {
        &BACKEND
    }
    fn identity(&self) -> String {
        self.key_id.clone()
    }
    fn enc(&self) -> &str {
        &self.enc
    }
    fn to_wire(&self) -> Map {
        let mut m = Map::new();
        m.push("key_id", text(&self.key_id));
        m.push("created_at", text(&self.created_at));
        m.push("enc", text(&self.enc));
        m
    }
    fn spec(&self) -> KeySpec {
        KeySpec::Hckms(self.key_id.clone())
    }
}

/// `(region, key uuid)` of a `region:key-uuid` key id, with sops's wording for what is wrong.
pub fn parse_key_id(key_id: &str) -> Result<(String, String), String> {
    let key_id = key_id.trim();
    let Some((region, uuid)) = key_id.split_once(':') else {
        return Err(format!(
            "invalid key ID format: expected 'region:key-uuid', got \"{key_id}\""
        ));
    };
    let (region, uuid) = (region.trim(), uuid.trim());
    if region.is_empty() {
        return Err(format!("region cannot be empty in key ID: \"{key_id}\""));
    }
    if uuid.is_empty() {
        return Err(format!("key UUID cannot be empty in key ID: \"{key_id}\""));
    }
    Ok((region.to_string(), uuid.to_string()))
}

fn checked(ids: Vec<String>) -> Result<Vec<KeySpec>, String> {
    ids.into_iter()
        .map(|id| parse_key_id(&id).map(|_| KeySpec::Hckms(id.trim().to_string())))
        .collect()
}

impl Hckms {
    /// Like sops: a list of `{key_id: …}` mappings (each may hold several comma-separated ids),
    /// or a string / list of strings.
    fn specs(section: &Section) -> Result<Vec<KeySpec>, String> {
        let ids = if section.holds_mappings(TYPE_ID) {
            let mut ids = Vec::new();
            for m in section.entries(
                TYPE_ID,
                "`hckms` entries must all be mappings with `key_id`",
            )? {
                ids.extend(split_list(&m.string("key_id")?));
            }
            ids
        } else {
            section.keys(TYPE_ID)?
        };
        checked(ids)
    }
}

impl Backend for Hckms {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }
    fn kind(&self) -> &'static str {
        "HuaweiCloud KMS"
    }
    fn flag(&self) -> &'static KeyFlag {
        &FLAG
    }
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError> {
        let e = Entry::new(entry, TYPE_ID);
        Ok(KeyStanza::Hckms(HckmsStanza {
            key_id: e.required("key_id")?,
            created_at: e.created_at()?,
            enc: e.enc(),
        }))
    }
    fn written_after_mac(&self) -> bool {
        true
    }
    fn specs_from_flag(
        &self,
        values: Vec<String>,
        _: &SpecOptions,
    ) -> Result<Vec<KeySpec>, SpecError> {
        checked(values).map_err(|message| {
            SpecError::new(
                message,
                "name a HuaweiCloud KMS key as REGION:KEY_UUID, e.g. tr-west-1:abc12345-6789-0123-4567-890123456789",
            )
        })
    }
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String> {
        Hckms::specs(rule)
    }
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String> {
        Hckms::specs(group)
    }
    fn spec_identity(&self, spec: &KeySpec) -> String {
        match spec {
            KeySpec::Hckms(id) => id.clone(),
            other => other.identity(),
        }
    }
    fn master_keys(&self, spec: &KeySpec, _: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let KeySpec::Hckms(id) = spec else {
            return Err(foreign_spec(self, spec));
        };
        #[cfg(feature = "hckms")]
        return Ok(vec![Box::new(HckmsKey::new(id)?)]);
        #[cfg(not(feature = "hckms"))]
        {
            let _ = id;
            Err(crate::keys::registry::not_built(self, "hckms"))
        }
    }
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>> {
        #[cfg(feature = "hckms")]
        return Some(Box::new(HckmsUnwrapper::from_env()));
        #[cfg(not(feature = "hckms"))]
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_need_a_region_and_a_uuid() {
        assert_eq!(
            parse_key_id(" tr-west-1:abc-123 ").unwrap(),
            ("tr-west-1".into(), "abc-123".into())
        );
        for bad in ["abc", ":abc", "tr-west-1:", ""] {
            assert!(parse_key_id(bad).is_err(), "{bad}");
        }
    }
}
