//! `.sops.yaml`: finding it (walking up from the working directory, as sops does), parsing it,
//! and picking the creation rule for a file.

use crate::keys::registry::BACKENDS;
use crate::metadata::PartialRule;
use crate::stores::{scalar_text, Store, StoreOptions};
use crate::tree::{ListItem, Map, Node, Scalar};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod destination;
pub use destination::{Destination, DestinationRule};

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

pub use crate::keys::registry::KeySpec;

/// Identity used to drop duplicates within a group, as sops does (type + ToString).
fn dedup_key(spec: &KeySpec) -> String {
    format!("{spec:?}")
}

/// What a matching creation rule says about a new file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleConfig {
    pub key_groups: Vec<Vec<KeySpec>>,
    pub shamir_threshold: usize,
    pub rule: PartialRule,
    pub mac_only_encrypted: bool,
    /// Which rule of the file this is (0-based), for `--verbose`.
    pub index: usize,
    /// Its `path_regex` (empty: matches every file).
    pub path_regex: String,
}

#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// `None` when the file has no `creation_rules` key at all (sops then treats it as absent).
    creation_rules: Option<Vec<Map>>,
    /// `destination_rules` (for `publish`), see `destination.rs`.
    destination_rules: Vec<Map>,
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

/// A mapping of `.sops.yaml` (a creation rule or one of its key groups) as a backend reads
/// its keys from it.
pub struct Section<'a> {
    map: &'a Map,
}

impl<'a> Section<'a> {
    pub fn new(map: &'a Map) -> Section<'a> {
        Section { map }
    }

    /// A key field: a comma-separated string or a list of strings.
    pub fn keys(&self, name: &str) -> Result<Vec<String>, String> {
        let wrong = || format!("`{name}` must be a string or a list of strings");
        match self.map.get(name) {
            None | Some(Node::Scalar(Scalar::Null)) => Ok(Vec::new()),
            Some(list @ Node::List(_)) => list_values(list)
                .into_iter()
                .map(|v| scalar_text(v).ok_or_else(wrong))
                .collect(),
            Some(node) => Ok(crate::keys::registry::split_list(
                &scalar_text(node).ok_or_else(wrong)?,
            )),
        }
    }

    /// A string field; absent or null reads as empty.
    pub fn string(&self, name: &str) -> Result<String, String> {
        match self.map.get(name) {
            None | Some(Node::Scalar(Scalar::Null)) => Ok(String::new()),
            Some(node) => scalar_text(node).ok_or_else(|| format!("`{name}` must be a string")),
        }
    }

    /// A list of mappings; `not_a_map` is the error for an entry that is not one.
    pub fn entries(&self, name: &str, not_a_map: &str) -> Result<Vec<Section<'a>>, String> {
        self.map
            .get(name)
            .map(list_values)
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                e.as_map()
                    .map(Section::new)
                    .ok_or_else(|| not_a_map.to_string())
            })
            .collect()
    }

    /// Whether `name` is a list whose first entry is a mapping (sops's test for the long form).
    pub fn holds_mappings(&self, name: &str) -> bool {
        self.map
            .get(name)
            .map(list_values)
            .and_then(|l| l.first().map(|n| n.as_map().is_some()))
            .unwrap_or(false)
    }

    /// A nested mapping of strings (AWS KMS's `context`); anything else reads as empty.
    pub fn string_map(&self, name: &str) -> BTreeMap<String, String> {
        self.map
            .get(name)
            .and_then(Node::as_map)
            .map(|m| {
                m.entries()
                    .map(|(k, v)| (k.to_string(), scalar_text(v).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
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

    fn string(&self, map: &Map, name: &str) -> Result<String, ConfigError> {
        Section::new(map).string(name).map_err(|e| self.invalid(e))
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

    /// One entry of `key_groups`, `merge`d groups first.
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
        let section = Section::new(map);
        for backend in BACKENDS {
            keys.extend(
                backend
                    .specs_from_group(&section)
                    .map_err(|e| self.invalid(e))?,
            );
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
            index: 0,
            path_regex: String::new(),
        })
    }

    /// The rule-level key lists, in the registry's order.
    fn flat_group(&self, map: &Map) -> Result<Vec<KeySpec>, ConfigError> {
        let section = Section::new(map);
        let mut keys = Vec::new();
        for backend in BACKENDS {
            keys.extend(
                backend
                    .specs_from_rule(&section)
                    .map_err(|e| self.invalid(e))?,
            );
        }
        Ok(keys)
    }
}

pub use crate::keys::azkv::parse_azure_url;

fn dedup(keys: Vec<KeySpec>) -> Vec<KeySpec> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(dedup_key(k)))
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
        let destination_rules = root
            .get("destination_rules")
            .map(list_values)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.as_map().cloned())
            .collect();
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
            destination_rules,
            stores,
        })
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
        for (index, rule) in rules.iter().enumerate() {
            let pattern = ctx.string(rule, "path_regex")?;
            let matches = pattern.is_empty()
                || regex::Regex::new(&pattern)
                    .map_err(|e| {
                        ctx.invalid(format!("path_regex `{pattern}` does not compile: {e}"))
                    })?
                    .is_match(relative);
            if matches {
                let mut matched = ctx.rule(rule)?;
                matched.index = index;
                matched.path_regex = pattern;
                return Ok(Some(matched));
            }
        }
        Err(ConfigError::NoMatchingRule {
            path: self.path.clone(),
            file: relative.to_string(),
        })
    }
}
