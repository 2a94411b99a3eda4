//! AWS KMS: the `kms` list of the `sops:` block, `--kms`/`SOPS_KMS_ARN` and the `kms:` key of
//! `.sops.yaml`; the client (`client.rs`) is built with the `aws-kms` feature.

#[cfg(feature = "aws-kms")]
mod client;
#[cfg(feature = "aws-kms")]
mod credentials;
#[cfg(feature = "aws-kms")]
mod sign;
#[cfg(feature = "aws-kms")]
mod sts;

#[cfg(feature = "aws-kms")]
pub use client::*;
#[cfg(feature = "aws-kms")]
pub use credentials::{resolve as resolve_credentials, Context as CredentialContext, Credentials};
#[cfg(feature = "aws-kms")]
pub use sign::sign_request;

use crate::config::Section;
use crate::keys::discovery::Env;
use crate::keys::registry::{
    foreign_spec, Backend, KeyFlag, KeySpec, KeyStanza, SpecError, SpecOptions, StanzaFields,
};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::stores::metadata_wire::{text, Entry};
use crate::stores::StoreError;
use crate::tree::{Map, Node};
use std::collections::BTreeMap;

pub const TYPE_ID: &str = "kms";

pub struct AwsKms;

pub static BACKEND: AwsKms = AwsKms;

static FLAG: KeyFlag = KeyFlag {
    long: "kms",
    add: "add-kms",
    rm: "rm-kms",
    short: Some('k'),
    env: Some("SOPS_KMS_ARN"),
    value_name: "ARNS",
    noun: "AWS KMS ARNs",
    format: " (ARN[+ROLE_ARN])",
};

#[derive(Clone, Debug, PartialEq)]
pub struct KmsStanza {
    pub arn: String,
    pub role: String,
    pub context: BTreeMap<String, String>,
    pub created_at: String,
    pub enc: String,
    pub aws_profile: String,
}

/// sops's ToString: `ARN[+ROLE]|CONTEXT|PROFILE`, with `|CONTEXT` alone when there is no
/// profile and nothing after the ARN when there is neither.
fn identity(arn: &str, role: &str, context: &BTreeMap<String, String>, profile: &str) -> String {
    let mut s = arn.to_string();
    if !role.is_empty() {
        s.push('+');
        s.push_str(role);
    }
    let pairs: Vec<String> = context.iter().map(|(a, b)| format!("{a}:{b}")).collect();
    if !profile.is_empty() {
        s.push('|');
        s.push_str(&pairs.join(","));
        s.push('|');
        s.push_str(profile);
    } else if !pairs.is_empty() {
        s.push('|');
        s.push_str(&pairs.join(","));
    }
    s
}

impl StanzaFields for KmsStanza {
    fn backend(&self) -> &'static dyn Backend {
        &BACKEND
    }
    fn identity(&self) -> String {
        identity(&self.arn, &self.role, &self.context, &self.aws_profile)
    }
    fn enc(&self) -> &str {
        &self.enc
    }
    fn to_wire(&self) -> Map {
        let mut m = Map::new();
        m.push("arn", text(&self.arn));
        if !self.role.is_empty() {
            m.push("role", text(&self.role));
        }
        if !self.context.is_empty() {
            let mut ctx = Map::new();
            for (a, b) in &self.context {
                ctx.push(a.as_str(), text(b));
            }
            m.push("context", Node::Map(ctx));
        }
        m.push("created_at", text(&self.created_at));
        m.push("enc", text(&self.enc));
        // Always written, as sops does (no omitempty).
        m.push("aws_profile", text(&self.aws_profile));
        m
    }
    fn spec(&self) -> KeySpec {
        KeySpec::Kms {
            arn: self.arn.clone(),
            role: self.role.clone(),
            context: self.context.clone(),
            aws_profile: self.aws_profile.clone(),
        }
    }
}

/// `ARN[+ROLE_ARN]`.
fn with_role(arn: String, context: BTreeMap<String, String>, aws_profile: String) -> KeySpec {
    let (arn, role) = match arn.split_once('+') {
        Some((a, r)) => (a.to_string(), r.to_string()),
        None => (arn, String::new()),
    };
    KeySpec::Kms {
        arn,
        role,
        context,
        aws_profile,
    }
}

/// `k1:v1,k2:v2`; a pair without exactly one `:` makes the whole context invalid.
fn parse_encryption_context(text: Option<&str>) -> Result<BTreeMap<String, String>, SpecError> {
    let mut context = BTreeMap::new();
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(context);
    };
    for pair in text.split(',') {
        let parts: Vec<&str> = pair.split(':').collect();
        if parts.len() != 2 {
            return Err(SpecError {
                bad_encryption_context: true,
                ..SpecError::new(
                    "Invalid KMS encryption context format".into(),
                    "write it as key1:value1,key2:value2",
                )
            });
        }
        context.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(context)
}

impl Backend for AwsKms {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }
    fn kind(&self) -> &'static str {
        "AWS KMS"
    }
    fn flag(&self) -> &'static KeyFlag {
        &FLAG
    }
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError> {
        let e = Entry::new(entry, TYPE_ID);
        Ok(KeyStanza::Kms(KmsStanza {
            arn: e.required("arn")?,
            role: e.optional("role"),
            context: e.string_map("context"),
            created_at: e.created_at()?,
            enc: e.enc(),
            aws_profile: e.optional("aws_profile"),
        }))
    }
    fn specs_from_flag(
        &self,
        values: Vec<String>,
        options: &SpecOptions,
    ) -> Result<Vec<KeySpec>, SpecError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let context = parse_encryption_context(options.encryption_context.as_deref())?;
        Ok(values
            .into_iter()
            .map(|arn| with_role(arn, context.clone(), options.aws_profile.clone()))
            .collect())
    }
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String> {
        let aws_profile = rule.string("aws_profile")?;
        Ok(rule
            .keys(TYPE_ID)?
            .into_iter()
            .map(|arn| with_role(arn, BTreeMap::new(), aws_profile.clone()))
            .collect())
    }
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String> {
        group
            .entries(TYPE_ID, "`kms` entries must be mappings with `arn`")?
            .iter()
            .map(|m| {
                Ok(KeySpec::Kms {
                    arn: m.string("arn")?,
                    role: m.string("role")?,
                    context: m.string_map("context"),
                    aws_profile: m.string("aws_profile")?,
                })
            })
            .collect()
    }
    fn spec_identity(&self, spec: &KeySpec) -> String {
        match spec {
            KeySpec::Kms {
                arn,
                role,
                context,
                aws_profile,
            } => identity(arn, role, context, aws_profile),
            other => other.identity(),
        }
    }
    fn master_keys(&self, spec: &KeySpec, _: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let KeySpec::Kms {
            arn,
            role,
            context,
            aws_profile,
        } = spec
        else {
            return Err(foreign_spec(self, spec));
        };
        #[cfg(feature = "aws-kms")]
        return Ok(vec![Box::new(KmsKey::new(
            arn,
            role,
            context.clone(),
            aws_profile,
        )?)]);
        #[cfg(not(feature = "aws-kms"))]
        {
            let _ = (arn, role, context, aws_profile);
            Err(crate::keys::registry::not_built(self, "aws-kms"))
        }
    }
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>> {
        #[cfg(feature = "aws-kms")]
        return Some(Box::new(KmsUnwrapper::from_env()));
        #[cfg(not(feature = "aws-kms"))]
        None
    }
}
