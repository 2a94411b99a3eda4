//! age as the registry sees it: the `age` list of the `sops:` block, `--age`/`SOPS_AGE_RECIPIENTS`
//! and the `age:` key of `.sops.yaml`.

use super::{parse_recipients, AgeIdentities};
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

pub const TYPE_ID: &str = "age";

pub struct Age;

pub static BACKEND: Age = Age;

static FLAG: KeyFlag = KeyFlag {
    long: "age",
    add: "add-age",
    rm: "rm-age",
    short: Some('a'),
    env: Some("SOPS_AGE_RECIPIENTS"),
    value_name: "RECIPIENTS",
    noun: "age recipients",
    format: "",
};

#[derive(Clone, Debug, PartialEq)]
pub struct AgeStanza {
    pub recipient: String,
    pub enc: String,
}

impl StanzaFields for AgeStanza {
    fn backend(&self) -> &'static dyn Backend {
        &BACKEND
    }
    fn identity(&self) -> String {
        self.recipient.clone()
    }
    fn enc(&self) -> &str {
        &self.enc
    }
    fn to_wire(&self) -> Map {
        let mut m = Map::new();
        m.push("recipient", text(&self.recipient));
        m.push("enc", text(&self.enc));
        m
    }
    fn spec(&self) -> KeySpec {
        KeySpec::Age(self.recipient.clone())
    }
}

impl Age {
    /// Each listed value may itself hold several comma-separated recipients.
    fn specs(section: &Section) -> Result<Vec<KeySpec>, String> {
        Ok(section
            .keys(TYPE_ID)?
            .iter()
            .flat_map(|r| split_list(r))
            .map(KeySpec::Age)
            .collect())
    }
}

impl Backend for Age {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }
    fn kind(&self) -> &'static str {
        "age"
    }
    fn flag(&self) -> &'static KeyFlag {
        &FLAG
    }
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError> {
        let e = Entry::new(entry, TYPE_ID);
        Ok(KeyStanza::Age(AgeStanza {
            recipient: e.required("recipient")?,
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
        Ok(values.into_iter().map(KeySpec::Age).collect())
    }
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String> {
        Age::specs(rule)
    }
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String> {
        Age::specs(group)
    }
    fn spec_identity(&self, spec: &KeySpec) -> String {
        match spec {
            KeySpec::Age(r) => r.trim().to_string(),
            other => other.identity(),
        }
    }
    fn master_keys(&self, spec: &KeySpec, _: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let KeySpec::Age(recipients) = spec else {
            return Err(foreign_spec(self, spec));
        };
        Ok(parse_recipients(recipients)?
            .into_iter()
            .map(|r| Box::new(r) as Box<dyn MasterKey>)
            .collect())
    }
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>> {
        Some(Box::new(AgeIdentities::from_env()))
    }
}
