//! GCP KMS: the `gcp_kms` list of the `sops:` block, `--gcp-kms`/`SOPS_GCP_KMS_IDS` and the
//! `gcp_kms:` key of `.sops.yaml`; the client (`client.rs`) is built with the `gcp-kms` feature.

#[cfg(feature = "gcp-kms")]
mod client;
#[cfg(feature = "gcp-kms")]
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

pub const TYPE_ID: &str = "gcp_kms";

pub struct GcpKms;

pub static BACKEND: GcpKms = GcpKms;

static FLAG: KeyFlag = KeyFlag {
    long: "gcp-kms",
    add: "add-gcp-kms",
    rm: "rm-gcp-kms",
    short: None,
    env: Some("SOPS_GCP_KMS_IDS"),
    value_name: "IDS",
    noun: "GCP KMS resource IDs",
    format: "",
};

#[derive(Clone, Debug, PartialEq)]
pub struct GcpKmsStanza {
    pub resource_id: String,
    pub created_at: String,
    pub enc: String,
}

impl StanzaFields for GcpKmsStanza {
    fn backend(&self) -> &'static dyn Backend {
        &BACKEND
    }
    fn identity(&self) -> String {
        self.resource_id.clone()
    }
    fn enc(&self) -> &str {
        &self.enc
    }
    fn to_wire(&self) -> Map {
        let mut m = Map::new();
        m.push("resource_id", text(&self.resource_id));
        m.push("created_at", text(&self.created_at));
        m.push("enc", text(&self.enc));
        m
    }
    fn spec(&self) -> KeySpec {
        KeySpec::GcpKms(self.resource_id.clone())
    }
}

impl Backend for GcpKms {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }
    fn kind(&self) -> &'static str {
        "GCP KMS"
    }
    fn flag(&self) -> &'static KeyFlag {
        &FLAG
    }
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError> {
        let e = Entry::new(entry, TYPE_ID);
        Ok(KeyStanza::GcpKms(GcpKmsStanza {
            resource_id: e.required("resource_id")?,
            created_at: e.created_at()?,
            enc: e.enc(),
        }))
    }
    fn specs_from_flag(
        &self,
        values: Vec<String>,
        _: &SpecOptions,
    ) -> Result<Vec<KeySpec>, SpecError> {
        Ok(values.into_iter().map(KeySpec::GcpKms).collect())
    }
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String> {
        Ok(rule
            .keys(TYPE_ID)?
            .into_iter()
            .map(KeySpec::GcpKms)
            .collect())
    }
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String> {
        group
            .entries(
                TYPE_ID,
                "`gcp_kms` entries must be mappings with `resource_id`",
            )?
            .iter()
            .map(|m| m.string("resource_id").map(KeySpec::GcpKms))
            .collect()
    }
    fn spec_identity(&self, spec: &KeySpec) -> String {
        match spec {
            KeySpec::GcpKms(id) => id.clone(),
            other => other.identity(),
        }
    }
    fn master_keys(&self, spec: &KeySpec, _: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let KeySpec::GcpKms(id) = spec else {
            return Err(foreign_spec(self, spec));
        };
        #[cfg(feature = "gcp-kms")]
        return Ok(vec![Box::new(GcpKmsKey::new(id)?)]);
        #[cfg(not(feature = "gcp-kms"))]
        {
            let _ = id;
            Err(crate::keys::registry::not_built(self, "gcp-kms"))
        }
    }
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>> {
        #[cfg(feature = "gcp-kms")]
        return Some(Box::new(GcpKmsUnwrapper::from_env()));
        #[cfg(not(feature = "gcp-kms"))]
        None
    }
}
