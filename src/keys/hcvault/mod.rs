//! HashiCorp Vault transit: the `hc_vault` list of the `sops:` block,
//! `--hc-vault-transit`/`SOPS_VAULT_URIS` and `hc_vault_transit_uri:` (rules) / `hc_vault:`
//! (key groups) in `.sops.yaml`; the client (`client.rs`) is built with the `hc-vault` feature.

#[cfg(feature = "hc-vault")]
mod allowlist;
#[cfg(feature = "hc-vault")]
mod client;
mod uri;
#[cfg(feature = "hc-vault")]
pub use client::*;
pub use uri::parse_uri;

use crate::config::Section;
use crate::keys::discovery::Env;
use crate::keys::registry::{
    foreign_spec, Backend, KeyFlag, KeySpec, KeyStanza, SpecError, SpecOptions, StanzaFields,
};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::stores::metadata_wire::{text, Entry};
use crate::stores::StoreError;
use crate::tree::Map;

pub const TYPE_ID: &str = "hc_vault";

pub struct HcVault;

pub static BACKEND: HcVault = HcVault;

static FLAG: KeyFlag = KeyFlag {
    long: "hc-vault-transit",
    add: "add-hc-vault-transit",
    rm: "rm-hc-vault-transit",
    short: None,
    env: Some("SOPS_VAULT_URIS"),
    value_name: "URIS",
    noun: "Vault transit key URIs",
    format: "",
};

#[derive(Clone, Debug, PartialEq)]
pub struct HcVaultStanza {
    pub vault_address: String,
    pub engine_path: String,
    pub key_name: String,
    pub created_at: String,
    pub enc: String,
}

impl StanzaFields for HcVaultStanza {
    fn backend(&self) -> &'static dyn Backend {
        &BACKEND
    }
    fn identity(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.vault_address, self.engine_path, self.key_name
        )
    }
    fn enc(&self) -> &str {
        &self.enc
    }
    fn to_wire(&self) -> Map {
        let mut m = Map::new();
        m.push("vault_address", text(&self.vault_address));
        m.push("engine_path", text(&self.engine_path));
        m.push("key_name", text(&self.key_name));
        m.push("created_at", text(&self.created_at));
        m.push("enc", text(&self.enc));
        m
    }
    fn spec(&self) -> KeySpec {
        KeySpec::HcVault(self.identity())
    }
}

impl Backend for HcVault {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }
    fn kind(&self) -> &'static str {
        "HashiCorp Vault transit"
    }
    fn flag(&self) -> &'static KeyFlag {
        &FLAG
    }
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError> {
        let e = Entry::new(entry, TYPE_ID);
        Ok(KeyStanza::HcVault(HcVaultStanza {
            vault_address: e.required("vault_address")?,
            engine_path: e.required("engine_path")?,
            key_name: e.required("key_name")?,
            created_at: e.created_at()?,
            enc: e.enc(),
        }))
    }
    fn always_in_groups(&self) -> bool {
        true
    }
    fn specs_from_flag(
        &self,
        values: Vec<String>,
        _: &SpecOptions,
    ) -> Result<Vec<KeySpec>, SpecError> {
        Ok(values.into_iter().map(KeySpec::HcVault).collect())
    }
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String> {
        Ok(rule
            .keys("hc_vault_transit_uri")?
            .into_iter()
            .map(KeySpec::HcVault)
            .collect())
    }
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String> {
        Ok(group
            .keys(TYPE_ID)?
            .into_iter()
            .map(KeySpec::HcVault)
            .collect())
    }
    fn spec_identity(&self, spec: &KeySpec) -> String {
        match spec {
            KeySpec::HcVault(uri) => uri.clone(),
            other => other.identity(),
        }
    }
    fn master_keys(&self, spec: &KeySpec, _: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let KeySpec::HcVault(uri) = spec else {
            return Err(foreign_spec(self, spec));
        };
        #[cfg(feature = "hc-vault")]
        return Ok(vec![Box::new(VaultKey::from_uri(uri)?)]);
        #[cfg(not(feature = "hc-vault"))]
        {
            let _ = uri;
            Err(crate::keys::registry::not_built(self, "hc-vault"))
        }
    }
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>> {
        #[cfg(feature = "hc-vault")]
        return Some(Box::new(VaultUnwrapper::from_env()));
        #[cfg(not(feature = "hc-vault"))]
        None
    }
}
