//! Azure Key Vault: the `azure_kv` list of the `sops:` block,
//! `--azure-kv`/`SOPS_AZURE_KEYVAULT_URLS` and the `azure_keyvault:` key of `.sops.yaml`; the
//! client (`client.rs`) is built with the `azure-kv` feature.

#[cfg(feature = "azure-kv")]
mod client;
#[cfg(feature = "azure-kv")]
pub use client::*;

use crate::config::Section;
use crate::keys::discovery::Env;
use crate::keys::registry::{
    foreign_spec, Backend, KeyFlag, KeySpec, KeyStanza, SpecError, SpecOptions, StanzaFields,
};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::stores::metadata_wire::{text, Entry};
use crate::stores::StoreError;
use crate::tree::Map;

pub const TYPE_ID: &str = "azure_kv";

/// The `.sops.yaml` key, which sops spells differently from the type id.
const CONFIG_KEY: &str = "azure_keyvault";

pub struct AzureKv;

pub static BACKEND: AzureKv = AzureKv;

static FLAG: KeyFlag = KeyFlag {
    long: "azure-kv",
    add: "add-azure-kv",
    rm: "rm-azure-kv",
    short: None,
    env: Some("SOPS_AZURE_KEYVAULT_URLS"),
    value_name: "URLS",
    noun: "Azure Key Vault key URLs",
    format: "",
};

#[derive(Clone, Debug, PartialEq)]
pub struct AzureKvStanza {
    pub vault_url: String,
    pub name: String,
    pub version: String,
    pub created_at: String,
    pub enc: String,
}

fn identity(vault_url: &str, name: &str, version: &str) -> String {
    format!("{vault_url}/keys/{name}/{version}")
}

impl StanzaFields for AzureKvStanza {
    fn backend(&self) -> &'static dyn Backend {
        &BACKEND
    }
    fn identity(&self) -> String {
        identity(&self.vault_url, &self.name, &self.version)
    }
    fn enc(&self) -> &str {
        &self.enc
    }
    fn to_wire(&self) -> Map {
        let mut m = Map::new();
        m.push("vault_url", text(&self.vault_url));
        m.push("name", text(&self.name));
        m.push("version", text(&self.version));
        m.push("created_at", text(&self.created_at));
        m.push("enc", text(&self.enc));
        m
    }
    fn spec(&self) -> KeySpec {
        KeySpec::AzureKv {
            vault_url: self.vault_url.clone(),
            key: self.name.clone(),
            version: self.version.clone(),
        }
    }
}

/// `https://VAULT/keys/NAME[/VERSION]`, as sops's azkv URL regex accepts it.
pub fn parse_azure_url(url: &str) -> Option<KeySpec> {
    let rest = url.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    let path = path.strip_prefix("keys/")?;
    let (key, version) = match path.split_once('/') {
        Some((k, v)) => (k, v),
        None => (path, ""),
    };
    if host.is_empty() || key.is_empty() || version.contains('/') {
        return None;
    }
    Some(KeySpec::AzureKv {
        vault_url: format!("https://{host}"),
        key: key.to_string(),
        version: version.to_string(),
    })
}

impl Backend for AzureKv {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }
    fn kind(&self) -> &'static str {
        "Azure Key Vault"
    }
    fn flag(&self) -> &'static KeyFlag {
        &FLAG
    }
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError> {
        let e = Entry::new(entry, TYPE_ID);
        Ok(KeyStanza::AzureKv(AzureKvStanza {
            vault_url: e.required("vault_url")?,
            name: e.required("name")?,
            version: e.optional("version"),
            created_at: e.created_at()?,
            enc: e.enc(),
        }))
    }
    fn specs_from_flag(
        &self,
        values: Vec<String>,
        _: &SpecOptions,
    ) -> Result<Vec<KeySpec>, SpecError> {
        values
            .iter()
            .map(|url| {
                parse_azure_url(url).ok_or_else(|| {
                    SpecError::new(
                        format!("`{url}` is not an Azure Key Vault key URL"),
                        "use https://VAULT.vault.azure.net/keys/NAME[/VERSION]",
                    )
                })
            })
            .collect()
    }
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String> {
        rule.keys(CONFIG_KEY)?
            .iter()
            .map(|url| {
                parse_azure_url(url).ok_or_else(|| {
                    format!(
                        "`{url}` is not an Azure Key Vault key URL (https://VAULT/keys/NAME[/VERSION])"
                    )
                })
            })
            .collect()
    }
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String> {
        group
            .entries(
                CONFIG_KEY,
                "`azure_keyvault` entries must be mappings with `vaultUrl` and `key`",
            )?
            .iter()
            .map(|m| {
                Ok(KeySpec::AzureKv {
                    vault_url: m.string("vaultUrl")?,
                    key: m.string("key")?,
                    version: m.string("version")?,
                })
            })
            .collect()
    }
    fn spec_identity(&self, spec: &KeySpec) -> String {
        match spec {
            KeySpec::AzureKv {
                vault_url,
                key,
                version,
            } => identity(vault_url, key, version),
            other => other.identity(),
        }
    }
    fn master_keys(&self, spec: &KeySpec, _: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let KeySpec::AzureKv {
            vault_url,
            key,
            version,
        } = spec
        else {
            return Err(foreign_spec(self, spec));
        };
        #[cfg(feature = "azure-kv")]
        return Ok(vec![Box::new(AzureKvKey::new(vault_url, key, version))]);
        #[cfg(not(feature = "azure-kv"))]
        {
            let _ = (vault_url, key, version);
            Err(crate::keys::registry::not_built(self, "azure-kv"))
        }
    }
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>> {
        #[cfg(feature = "azure-kv")]
        return Some(Box::new(AzureKvUnwrapper::from_env()));
        #[cfg(not(feature = "azure-kv"))]
        None
    }
}
