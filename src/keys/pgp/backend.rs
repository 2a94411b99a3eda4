//! PGP as the registry sees it: the `pgp` list of the `sops:` block, `--pgp`/`SOPS_PGP_FP` and
//! the `pgp:` key of `.sops.yaml`.

use super::{PgpDecryptor, PgpKey};
use crate::config::Section;
use crate::keys::discovery::Env;
use crate::keys::registry::{
    foreign_spec, Backend, KeyFlag, KeySpec, KeyStanza, SpecError, SpecOptions, StanzaFields,
};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::stores::metadata_wire::{text, Entry};
use crate::stores::StoreError;
use crate::tree::Map;

pub const TYPE_ID: &str = "pgp";

pub struct Pgp;

pub static BACKEND: Pgp = Pgp;

static FLAG: KeyFlag = KeyFlag {
    long: "pgp",
    add: "add-pgp",
    rm: "rm-pgp",
    short: Some('p'),
    env: Some("SOPS_PGP_FP"),
    value_name: "FINGERPRINTS",
    noun: "PGP fingerprints",
    format: "",
};

#[derive(Clone, Debug, PartialEq)]
pub struct PgpStanza {
    pub fp: String,
    pub created_at: String,
    pub enc: String,
}

impl StanzaFields for PgpStanza {
    fn backend(&self) -> &'static dyn Backend {
        &BACKEND
    }
    fn identity(&self) -> String {
        self.fp.clone()
    }
    fn enc(&self) -> &str {
        &self.enc
    }
    fn to_wire(&self) -> Map {
        let mut m = Map::new();
        m.push("created_at", text(&self.created_at));
        m.push("enc", text(&self.enc));
        m.push("fp", text(&self.fp));
        m
    }
    fn spec(&self) -> KeySpec {
        KeySpec::Pgp(self.fp.clone())
    }
}

fn without_spaces(fp: String) -> KeySpec {
    KeySpec::Pgp(fp.replace(' ', ""))
}

impl Backend for Pgp {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }
    fn kind(&self) -> &'static str {
        "PGP"
    }
    fn flag(&self) -> &'static KeyFlag {
        &FLAG
    }
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError> {
        let e = Entry::new(entry, TYPE_ID);
        Ok(KeyStanza::Pgp(PgpStanza {
            fp: e.required("fp")?,
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
        Ok(values.into_iter().map(without_spaces).collect())
    }
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String> {
        Ok(rule
            .keys(TYPE_ID)?
            .into_iter()
            .map(without_spaces)
            .collect())
    }
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String> {
        Ok(group.keys(TYPE_ID)?.into_iter().map(KeySpec::Pgp).collect())
    }
    fn spec_identity(&self, spec: &KeySpec) -> String {
        match spec {
            KeySpec::Pgp(fp) => fp.replace(' ', ""),
            other => other.identity(),
        }
    }
    fn master_keys(&self, spec: &KeySpec, env: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let KeySpec::Pgp(fp) = spec else {
            return Err(foreign_spec(self, spec));
        };
        Ok(vec![Box::new(PgpKey::with_env(fp, env.clone())?)])
    }
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>> {
        Some(Box::new(PgpDecryptor::from_env()))
    }
}
