//! `.sops.yaml`: finding it (walking up from the working directory, as sops does), parsing it,
//! and picking the creation rule for a file.

use crate::metadata::PartialRule;
use crate::stores::{Store, StoreOptions};
use crate::tree::{ListItem, Map, Node, Scalar};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE_NAME: &str = ".sops.yaml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the config file {path} is invalid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no creation rule in {path} matches {file}; add a rule whose path_regex matches it, or pass the keys as flags")]
    NoMatchingRule { path: PathBuf, file: String },
}

/// A master key as named in the config or on the command line, before its backend is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySpec {
    Age(String),
    Pgp(String),
    Kms {
        arn: String,
        role: String,
        context: BTreeMap<String, String>,
        aws_profile: String,
    },
    GcpKms(String),
    AzureKv {
        vault_url: String,
        key: String,
        version: String,
    },
    HcVault(String),
    Hckms(String),
}

impl KeySpec {
    /// The backend's name as users read it in messages.
    pub fn kind(&self) -> &'static str {
        match self {
            KeySpec::Age(_) => "age",
            KeySpec::Pgp(_) => "PGP",
            KeySpec::Kms { .. } => "AWS KMS",
            KeySpec::GcpKms(_) => "GCP KMS",
            KeySpec::AzureKv { .. } => "Azure Key Vault",
            KeySpec::HcVault(_) => "HashiCorp Vault transit",
            KeySpec::Hckms(_) => "HuaweiCloud KMS",
        }
    }

    /// Identity used to drop duplicates within a group, as sops does (type + ToString).
    fn dedup_key(&self) -> String {
        format!("{self:?}")
    }
}

/// What a matching creation rule says about a new file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleConfig {
    pub key_groups: Vec<Vec<KeySpec>>,
    pub shamir_threshold: usize,
    pub rule: PartialRule,
    pub mac_only_encrypted: bool,
}

#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// `None` when the file has no `creation_rules` key at all (sops then treats it as absent).
    creation_rules: Option<Vec<Map>>,
    pub stores: StoreOptions,
}

/// An absolute path with `.` and `..` resolved lexically, as Go's `filepath.Abs` gives it (sops
/// matches `.sops.yaml` rules against that form).
pub fn absolute_clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut clean = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    clean
}

/// Looks for `.sops.yaml` in `start` and up to 100 of its parents.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    for _ in 0..=100 {
        let current = dir?;
        let candidate = current.join(CONFIG_FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = current.parent();
    }
    None
}

fn text(node: &Node) -> Option<String> {
    match node {
        Node::Scalar(Scalar::Str(s)) => Some(s.clone()),
        Node::Scalar(Scalar::Int(i)) => Some(i.to_string()),
        Node::Scalar(Scalar::Bool(b)) => Some(b.to_string()),
        Node::Scalar(Scalar::Float(f)) => Some(crate::crypto::format_float_f(*f)),
        Node::Scalar(Scalar::Time(t)) => Some(t.clone()),
        _ => None,
    }
}

fn list_values(node: &Node) -> Vec<&Node> {
    match node {
        Node::List(items) => items
            .iter()
            .filter_map(|i| match i {
                ListItem::Value(v) => Some(v),
                ListItem::Comment(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A key field: a comma-separated string or a list of strings.
    fn key_field(&self, map: &Map, name: &str) -> Result<Vec<String>, ConfigError> {
        match map.get(name) {
            None | Some(Node::Scalar(Scalar::Null)) => Ok(Vec::new()),
            Some(Node::List(_)) => list_values(map.get(name).expect("present"))
                .into_iter()
                .map(|v| {
                    text(v).ok_or_else(|| {
                        self.invalid(format!("`{name}` must be a string or a list of strings"))
                    })
                })
                .collect(),
            Some(node) => Ok(text(node)
                .ok_or_else(|| {
                    self.invalid(format!("`{name}` must be a string or a list of strings"))
                })?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()),
        }
    }

    fn string(&self, map: &Map, name: &str) -> Result<String, ConfigError> {
        match map.get(name) {
            None | Some(Node::Scalar(Scalar::Null)) => Ok(String::new()),
            Some(node) => {
                text(node).ok_or_else(|| self.invalid(format!("`{name}` must be a string")))
            }
        }
    }

    fn number(&self, map: &Map, name: &str) -> Result<usize, ConfigError> {
        match map.get(name) {
            None | Some(Node::Scalar(Scalar::Null)) => Ok(0),
            Some(Node::Scalar(Scalar::Int(i))) if *i >= 0 => Ok(*i as usize),
            Some(_) => Err(self.invalid(format!("`{name}` must be a non-negative number"))),
        }
    }

    fn boolean(&self, map: &Map, name: &str) -> Result<bool, ConfigError> {
        match map.get(name) {
            None | Some(Node::Scalar(Scalar::Null)) => Ok(false),
            Some(Node::Scalar(Scalar::Bool(b))) => Ok(*b),
            Some(_) => Err(self.invalid(format!("`{name}` must be true or false"))),
        }
    }

    fn kms_context(&self, node: Option<&Node>) -> BTreeMap<String, String> {
        node.and_then(Node::as_map)
            .map(|m| {
                m.entries()
                    .map(|(k, v)| (k.to_string(), text(v).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn group(&self, map: &Map) -> Result<Vec<KeySpec>, ConfigError> {
        let mut keys = Vec::new();
        if let Some(merge) = map.get("merge") {
            for sub in list_values(merge) {
                let sub = sub
                    .as_map()
                    .ok_or_else(|| self.invalid("`merge` entries must be key groups"))?;
                keys.extend(self.group(sub)?);
            }
        }
        for recipients in self.key_field(map, "age")? {
            keys.extend(split_list(&recipients).map(KeySpec::Age));
        }
        keys.extend(self.key_field(map, "pgp")?.into_iter().map(KeySpec::Pgp));
        for entry in map.get("kms").map(list_values).unwrap_or_default() {
            let m = entry
                .as_map()
                .ok_or_else(|| self.invalid("`kms` entries must be mappings with `arn`"))?;
            keys.push(KeySpec::Kms {
                arn: self.string(m, "arn")?,
                role: self.string(m, "role")?,
                context: self.kms_context(m.get("context")),
                aws_profile: self.string(m, "aws_profile")?,
            });
        }
        for entry in map.get("gcp_kms").map(list_values).unwrap_or_default() {
            let m = entry.as_map().ok_or_else(|| {
                self.invalid("`gcp_kms` entries must be mappings with `resource_id`")
            })?;
            keys.push(KeySpec::GcpKms(self.string(m, "resource_id")?));
        }
        for entry in map
            .get("azure_keyvault")
            .map(list_values)
            .unwrap_or_default()
        {
            let m = entry.as_map().ok_or_else(|| {
                self.invalid("`azure_keyvault` entries must be mappings with `vaultUrl` and `key`")
            })?;
            keys.push(KeySpec::AzureKv {
                vault_url: self.string(m, "vaultUrl")?,
                key: self.string(m, "key")?,
                version: self.string(m, "version")?,
            });
        }
        keys.extend(
            self.key_field(map, "hc_vault")?
                .into_iter()
                .map(KeySpec::HcVault),
        );
        for entry in map.get("hckms").map(list_values).unwrap_or_default() {
            let m = entry
                .as_map()
                .ok_or_else(|| self.invalid("`hckms` entries must be mappings with `key_id`"))?;
            keys.push(KeySpec::Hckms(self.string(m, "key_id")?));
        }
        Ok(dedup(keys))
    }

    fn rule(&self, map: &Map) -> Result<RuleConfig, ConfigError> {
        let mut rule = PartialRule::None;
        for name in PartialRule::FIELDS {
            let value = self.string(map, name)?;
            if value.is_empty() {
                continue;
            }
            if rule != PartialRule::None {
                return Err(self.invalid("a creation rule may use only one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, unencrypted_comment_regex"));
            }
            rule = PartialRule::from_field(name, value).expect("known field");
        }
        let key_groups = match map.get("key_groups") {
            Some(groups) if !list_values(groups).is_empty() => list_values(groups)
                .into_iter()
                .map(|g| match g {
                    Node::Map(m) => self.group(m),
                    _ => Ok(Vec::new()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => vec![self.flat_group(map)?],
        };
        Ok(RuleConfig {
            key_groups,
            shamir_threshold: self.number(map, "shamir_threshold")?,
            rule,
            mac_only_encrypted: self.boolean(map, "mac_only_encrypted")?,
        })
    }

    /// The rule-level key lists, in sops's order: age, pgp, kms, gcp_kms, azure_keyvault, vault.
    fn flat_group(&self, map: &Map) -> Result<Vec<KeySpec>, ConfigError> {
        let mut keys: Vec<KeySpec> = Vec::new();
        for recipients in self.key_field(map, "age")? {
            keys.extend(split_list(&recipients).map(KeySpec::Age));
        }
        keys.extend(
            self.key_field(map, "pgp")?
                .into_iter()
                .map(|fp| KeySpec::Pgp(fp.replace(' ', ""))),
        );
        let aws_profile = self.string(map, "aws_profile")?;
        for arn in self.key_field(map, "kms")? {
            let (arn, role) = match arn.split_once('+') {
                Some((a, r)) => (a.to_string(), r.to_string()),
                None => (arn, String::new()),
            };
            keys.push(KeySpec::Kms {
                arn,
                role,
                context: BTreeMap::new(),
                aws_profile: aws_profile.clone(),
            });
        }
        keys.extend(
            self.key_field(map, "gcp_kms")?
                .into_iter()
                .map(KeySpec::GcpKms),
        );
        for url in self.key_field(map, "azure_keyvault")? {
            keys.push(parse_azure_url(&url).ok_or_else(|| {
                self.invalid(format!(
                    "`{url}` is not an Azure Key Vault key URL (https://VAULT/keys/NAME[/VERSION])"
                ))
            })?);
        }
        keys.extend(
            self.key_field(map, "hc_vault_transit_uri")?
                .into_iter()
                .map(KeySpec::HcVault),
        );
        Ok(keys)
    }
}

fn split_list(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
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

fn dedup(keys: Vec<KeySpec>) -> Vec<KeySpec> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(k.dedup_key()))
        .collect()
}

fn store_indent(ctx: &Ctx, stores: &Map, name: &str) -> Result<Option<i64>, ConfigError> {
    match stores
        .get(name)
        .and_then(Node::as_map)
        .and_then(|m| m.get("indent"))
    {
        None | Some(Node::Scalar(Scalar::Null)) => Ok(None),
        Some(Node::Scalar(Scalar::Int(i))) => Ok(Some(*i)),
        Some(_) => Err(ctx.invalid(format!("`stores.{name}.indent` must be a number"))),
    }
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(path, &bytes)
    }

    pub fn parse(path: &Path, bytes: &[u8]) -> Result<ConfigFile, ConfigError> {
        let ctx = Ctx { path };
        let doc = crate::stores::yaml::YamlStore::new(StoreOptions::default())
            .load_plain(bytes)
            .map_err(|e| ctx.invalid(e.to_string()))?;
        let empty = Map::new();
        let root = doc.branches.first().unwrap_or(&empty);
        let creation_rules = match root.get("creation_rules") {
            None | Some(Node::Scalar(Scalar::Null)) => None,
            Some(rules) => Some(
                list_values(rules)
                    .into_iter()
                    .map(|r| {
                        r.as_map()
                            .cloned()
                            .ok_or_else(|| ctx.invalid("each creation rule must be a mapping"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let mut stores = StoreOptions::default();
        if let Some(Node::Map(s)) = root.get("stores") {
            if let Some(i) = store_indent(&ctx, s, "yaml")? {
                if i < 0 {
                    return Err(ctx.invalid("`stores.yaml.indent` cannot be negative"));
                }
                stores.yaml_indent = i as usize;
            }
            stores.json_indent =
                store_indent(&ctx, s, "json")?.and_then(|i| usize::try_from(i).ok());
            stores.json_binary_indent =
                store_indent(&ctx, s, "json_binary")?.and_then(|i| usize::try_from(i).ok());
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            creation_rules,
            stores,
        })
    }

    pub fn has_creation_rules(&self) -> bool {
        self.creation_rules.is_some()
    }

    /// The first rule whose `path_regex` is empty or matches `file` (with the config file's
    /// directory stripped). `Ok(None)` when the config has no creation rules at all.
    pub fn rule_for(&self, file: &Path) -> Result<Option<RuleConfig>, ConfigError> {
        let Some(rules) = &self.creation_rules else {
            return Ok(None);
        };
        let ctx = Ctx { path: &self.path };
        let config_dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => absolute_clean(d),
            _ => absolute_clean(Path::new(".")),
        };
        // The CLI passes an absolute path for real files and `--filename-override` verbatim,
        // which is what sops matches against.
        let full = file.to_string_lossy().into_owned();
        let prefix = format!(
            "{}{}",
            config_dir.to_string_lossy(),
            std::path::MAIN_SEPARATOR
        );
        let relative = full.strip_prefix(&prefix).unwrap_or(&full);
        for rule in rules {
            let pattern = ctx.string(rule, "path_regex")?;
            let matches = pattern.is_empty()
                || regex::Regex::new(&pattern)
                    .map_err(|e| {
                        ctx.invalid(format!("path_regex `{pattern}` does not compile: {e}"))
                    })?
                    .is_match(relative);
            if matches {
                return ctx.rule(rule).map(Some);
            }
        }
        Err(ConfigError::NoMatchingRule {
            path: self.path.clone(),
            file: relative.to_string(),
        })
    }
}

impl KeySpec {
    /// The spec of a key already in a file, to re-wrap a data key for it (rotate, groups).
    pub fn from_stanza(stanza: &crate::metadata::KeyStanza) -> KeySpec {
        use crate::metadata::KeyStanza as S;
        match stanza {
            S::Age(k) => KeySpec::Age(k.recipient.clone()),
            S::Pgp(k) => KeySpec::Pgp(k.fp.clone()),
            S::Kms(k) => KeySpec::Kms {
                arn: k.arn.clone(),
                role: k.role.clone(),
                context: k.context.clone(),
                aws_profile: k.aws_profile.clone(),
            },
            S::GcpKms(k) => KeySpec::GcpKms(k.resource_id.clone()),
            S::AzureKv(k) => KeySpec::AzureKv {
                vault_url: k.vault_url.clone(),
                key: k.name.clone(),
                version: k.version.clone(),
            },
            S::HcVault(_) => KeySpec::HcVault(stanza.identity()),
            S::Hckms(k) => KeySpec::Hckms(k.key_id.clone()),
        }
    }
}

impl KeySpec {
    /// The key as sops prints it (`ToString`), matching [`crate::metadata::KeyStanza::identity`].
    pub fn identity(&self) -> String {
        match self {
            KeySpec::Age(r) => r.trim().to_string(),
            KeySpec::Pgp(fp) => fp.replace(' ', ""),
            KeySpec::Kms {
                arn,
                role,
                context,
                aws_profile,
            } => {
                let mut s = arn.clone();
                if !role.is_empty() {
                    s.push('+');
                    s.push_str(role);
                }
                // sops's ToString: `ARN[+ROLE]|CONTEXT|PROFILE`, with `|CONTEXT` alone when there
                // is no profile and nothing after the ARN when there is neither.
                let pairs: Vec<String> = context.iter().map(|(a, b)| format!("{a}:{b}")).collect();
                if !aws_profile.is_empty() {
                    s.push('|');
                    s.push_str(&pairs.join(","));
                    s.push('|');
                    s.push_str(aws_profile);
                } else if !pairs.is_empty() {
                    s.push('|');
                    s.push_str(&pairs.join(","));
                }
                s
            }
            KeySpec::GcpKms(id) | KeySpec::HcVault(id) | KeySpec::Hckms(id) => id.clone(),
            KeySpec::AzureKv {
                vault_url,
                key,
                version,
            } => format!("{vault_url}/keys/{key}/{version}"),
        }
    }
}
