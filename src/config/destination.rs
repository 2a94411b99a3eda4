//! `destination_rules` of `.sops.yaml`: where `publish` sends a file (an S3 or GCS bucket, or
//! a Vault KV path) and the `recreation_rule` it is re-encrypted with first, as sops 3.11 reads
//! them (`config.LoadDestinationRuleForFile`).

use super::{ConfigError, ConfigFile, Ctx, RuleConfig};
use crate::tree::{Map, Node, Scalar};

/// One publishing target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    S3 {
        bucket: String,
        prefix: String,
    },
    Gcs {
        bucket: String,
        prefix: String,
    },
    /// `path` ends with `/`, `mount` too (default `secret/`); `version` is 1 or 2 (default 2).
    Vault {
        address: String,
        path: String,
        mount: String,
        version: u8,
    },
}

impl Destination {
    /// Where a file named `name` goes, as sops prints it in its question.
    pub fn path(&self, name: &str, default_vault_address: &str) -> String {
        match self {
            Destination::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}{name}"),
            Destination::Gcs { bucket, prefix } => format!("gcs://{bucket}/{prefix}{name}"),
            Destination::Vault { address, .. } => {
                let address = if address.is_empty() {
                    default_vault_address
                } else {
                    address
                };
                format!("{address}/v1/{}", self.secrets_path(name))
            }
        }
    }

    /// The Vault API path below `/v1/` (KV v2 puts `data/` after the mount).
    pub fn secrets_path(&self, name: &str) -> String {
        match self {
            Destination::Vault {
                path,
                mount,
                version: 1,
                ..
            } => format!("{mount}{path}{name}"),
            Destination::Vault { path, mount, .. } => format!("{mount}data/{path}{name}"),
            Destination::S3 { prefix, .. } | Destination::Gcs { prefix, .. } => {
                format!("{prefix}{name}")
            }
        }
    }
}

/// The destination rule matching a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationRule {
    pub destination: Destination,
    /// Empty key groups (`key_groups == [[]]`) mean: publish the file as it is.
    pub recreation: RuleConfig,
    pub omit_extensions: bool,
}

impl ConfigFile {
    /// The first destination rule whose `path_regex` is empty or matches `file` as given on the
    /// command line (sops matches the path as typed here, not relative to the config).
    pub fn destination_for(&self, file: &str) -> Result<DestinationRule, ConfigError> {
        let ctx = Ctx { path: &self.path };
        for rule in &self.destination_rules {
            let pattern = ctx.string(rule, "path_regex")?;
            let matches = pattern.is_empty()
                || regex::Regex::new(&pattern)
                    .map_err(|e| ctx.invalid(format!("path_regex `{pattern}`: {e}")))?
                    .is_match(file);
            if matches {
                return parse(&ctx, rule);
            }
        }
        Err(ctx.invalid("error loading config: no matching destination found in config"))
    }
}

fn parse(ctx: &Ctx, rule: &Map) -> Result<DestinationRule, ConfigError> {
    let s3 = ctx.string(rule, "s3_bucket")?;
    let gcs = ctx.string(rule, "gcs_bucket")?;
    let vault = ctx.string(rule, "vault_path")?;
    if [&s3, &gcs, &vault].iter().filter(|v| !v.is_empty()).count() > 1 {
        return Err(ctx.invalid("error loading config: more than one destinations were found in a single destination rule, you can only use one per rule"));
    }
    let destination = if !s3.is_empty() {
        Destination::S3 {
            bucket: s3,
            prefix: ctx.string(rule, "s3_prefix")?,
        }
    } else if !gcs.is_empty() {
        Destination::Gcs {
            bucket: gcs,
            prefix: ctx.string(rule, "gcs_prefix")?,
        }
    } else if !vault.is_empty() {
        vault_destination(ctx, rule, vault)?
    } else {
        return Err(ctx.invalid("no destination configured for this file"));
    };
    let empty = Map::new();
    let recreation = match rule.get("recreation_rule") {
        Some(Node::Map(m)) => ctx.rule(m)?,
        _ => ctx.rule(&empty)?,
    };
    Ok(DestinationRule {
        destination,
        recreation,
        omit_extensions: ctx.boolean(rule, "omit_extensions")?,
    })
}

/// sops's `NewVaultDestination` defaults: trailing slashes, mount `secret/`, version 2.
fn vault_destination(ctx: &Ctx, rule: &Map, path: String) -> Result<Destination, ConfigError> {
    let slash = |mut s: String| {
        if !s.ends_with('/') {
            s.push('/');
        }
        s
    };
    let mut mount = ctx.string(rule, "vault_kv_mount_name")?;
    if mount.is_empty() {
        mount = "secret/".into();
    }
    let version = match rule.get("vault_kv_version") {
        Some(Node::Scalar(Scalar::Int(1))) => 1,
        _ => 2,
    };
    Ok(Destination::Vault {
        address: ctx.string(rule, "vault_address")?,
        path: slash(path),
        mount: slash(mount),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("/c/.sops.yaml"), text.as_bytes()).unwrap()
    }

    #[test]
    fn rules_match_in_order_with_sops_defaults() {
        let c = config(
            "destination_rules:\n- path_regex: s3/.*\n  s3_bucket: b\n  s3_prefix: p/\n- vault_path: app\n  vault_kv_version: 1\n",
        );
        let s3 = c.destination_for("s3/x.yaml").unwrap();
        assert_eq!(
            s3.destination.path("x.yaml", ""),
            "s3://b/p/x.yaml".to_string()
        );
        assert_eq!(s3.recreation.key_groups, vec![vec![]]);
        let vault = c.destination_for("other.yaml").unwrap();
        assert_eq!(
            vault.destination,
            Destination::Vault {
                address: String::new(),
                path: "app/".into(),
                mount: "secret/".into(),
                version: 1
            }
        );
        assert_eq!(vault.destination.secrets_path("f"), "secret/app/f");
    }

    #[test]
    fn two_destinations_in_one_rule_are_refused() {
        let c = config("destination_rules:\n- s3_bucket: b\n  vault_path: v\n");
        let err = c.destination_for("f").unwrap_err().to_string();
        assert!(err.contains("more than one destinations"), "{err}");
        let none = config("creation_rules: []\n");
        assert!(none.destination_for("f").is_err());
    }
}
