//! Flags, environment and `.sops.yaml` resolved into what a command needs: stores, key groups,
//! the partial-encryption rule.

use super::args::{FormatArgs, GlobalArgs, KeyArgs, PartialArgs};
use super::exit::{self, CliError};
use super::key_flags::{BackendFlags, Role};
use rsops::config::{find_config, ConfigFile, KeySpec, RuleConfig};
use rsops::keys::cache::Cached;
use rsops::keys::logged::Logged;
use rsops::keys::registry::{split_list, SpecError, SpecOptions, BACKENDS};
use rsops::keys::KeyService;

use rsops::metadata::PartialRule;
use rsops::stores::{store_for, Format, Store, StoreOptions};
use std::path::{Path, PathBuf};

/// The key service every command hands to the library: the environment's keys and any
/// `--keyservice`, each distinct wrapped data key unwrapped once per run (many files, one KMS
/// call per data key), and with `--verbose` a log on stderr of which key opened (or failed to open)
/// the data key and which keys a new one was wrapped for.
pub fn key_service(global: &GlobalArgs) -> Box<dyn KeyService> {
    let keys = super::key_services::compose(global);
    let limit = concurrency();
    if global.verbose {
        // Logged inside the cache: the log shows the calls that really happen.
        let logged = Logged::new(keys, super::ui::verbose_line);
        Box::new(Cached::new(logged, limit))
    } else {
        Box::new(Cached::new(keys, limit))
    }
}

/// How many files are worked on, and how many data keys unwrapped, at the same time.
const CONCURRENCY_ENV: &str = "RSOPS_CONCURRENCY";

/// `RSOPS_CONCURRENCY`, else four per core (the work is mostly waiting on KMS round trips), at
/// least 4 and at most 32.
pub fn concurrency() -> usize {
    let from_env = std::env::var(CONCURRENCY_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0);
    from_env.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (4 * cores).clamp(4, 32)
    })
}

/// `--verbose`: which creation rule of `config` the file matched.
pub fn log_rule(global: &GlobalArgs, config: &ConfigFile, rule: Option<&RuleConfig>) {
    if let (true, Some(rule)) = (global.verbose, rule) {
        super::ui::verbose_line(&format!(
            "creation rule {} of {} matches (path_regex: {:?})",
            rule.index,
            config.path.display(),
            rule.path_regex
        ));
    }
}

/// Loads `--config`/`SOPS_CONFIG`, else the first `.sops.yaml` up from the working directory.
pub fn load_config(global: &GlobalArgs) -> Result<Option<ConfigFile>, CliError> {
    let path = match &global.config {
        Some(p) => Some(p.clone()),
        None => std::env::current_dir().ok().and_then(|d| find_config(&d)),
    };
    match path {
        None => Ok(None),
        Some(p) => ConfigFile::load(&p)
            .map(Some)
            .map_err(|e| CliError::new(exit::ERROR_GENERIC, e.to_string())),
    }
}

/// What every command derives from the file name, the format flags and `.sops.yaml`.
pub struct Setup {
    /// The path `.sops.yaml` rules are matched against.
    pub rule_path: Option<PathBuf>,
    pub formats: Formats,
    pub config: Option<ConfigFile>,
    pub options: StoreOptions,
}

impl Setup {
    pub fn new(
        global: &GlobalArgs,
        file: Option<&Path>,
        format: &FormatArgs,
    ) -> Result<Setup, CliError> {
        let rule_path = rule_path(file, format);
        let formats = formats(rule_path.as_deref(), format);
        let config = load_config(global)?;
        let options = store_options(global, config.as_ref())?;
        Ok(Setup {
            rule_path,
            formats,
            config,
            options,
        })
    }

    pub fn in_store(&self) -> Box<dyn Store> {
        store_for(self.formats.input, self.options)
    }

    pub fn out_store(&self) -> Box<dyn Store> {
        store_for(self.formats.output, self.options)
    }
}

pub struct Formats {
    pub input: Format,
    pub output: Format,
}

fn parse_type(name: &Option<String>) -> Option<Format> {
    name.as_deref().and_then(Format::from_name)
}

/// `--input-type`/`--output-type`, else the extension of the (overridden) file name; the output
/// type defaults to the file's extension, not to the input type, as in sops.
pub fn formats(name_for_type: Option<&Path>, args: &FormatArgs) -> Formats {
    let by_name = name_for_type
        .map(Format::from_path)
        .unwrap_or(Format::Binary);
    Formats {
        input: parse_type(&args.input_type).unwrap_or(by_name),
        output: parse_type(&args.output_type).unwrap_or(by_name),
    }
}

pub fn store_options(
    global: &GlobalArgs,
    config: Option<&ConfigFile>,
) -> Result<StoreOptions, CliError> {
    let mut options = config.map(|c| c.stores).unwrap_or_default();
    if let Some(indent) = global.indent {
        if indent < 0 {
            return Err(CliError::new(
                exit::ERROR_GENERIC,
                "--indent cannot be negative",
            ));
        }
        options.yaml_indent = indent as usize;
        options.json_indent = Some(indent as usize);
        options.json_binary_indent = Some(indent as usize);
    }
    Ok(options)
}

pub fn store(format: Format, options: StoreOptions) -> Box<dyn Store> {
    store_for(format, options)
}

/// The path `.sops.yaml` rules are matched against: `--filename-override` or the file, absolute.
pub fn rule_path(file: Option<&Path>, format: &FormatArgs) -> Option<PathBuf> {
    format
        .filename_override
        .as_deref()
        .or(file)
        .map(rsops::config::absolute_clean)
}

/// The single partial-encryption rule from the flags, else from the creation rule; sops refuses
/// more than one (exit 8). Binary files are always encrypted whole, with no rule recorded.
pub fn partial_rule(
    partial: &PartialArgs,
    global: &GlobalArgs,
    rule: Option<&RuleConfig>,
    input: Format,
) -> Result<(PartialRule, bool), CliError> {
    if input == Format::Binary {
        return Ok((PartialRule::None, false));
    }
    let from_flags = [
        ("unencrypted_suffix", &partial.unencrypted_suffix),
        ("encrypted_suffix", &partial.encrypted_suffix),
        ("unencrypted_regex", &partial.unencrypted_regex),
        ("encrypted_regex", &partial.encrypted_regex),
        (
            "unencrypted_comment_regex",
            &global.unencrypted_comment_regex,
        ),
        ("encrypted_comment_regex", &global.encrypted_comment_regex),
    ];
    let mut chosen: Vec<PartialRule> = Vec::new();
    for (name, flag) in from_flags {
        let value = flag.clone().filter(|v| !v.is_empty()).or_else(|| {
            rule.filter(|r| r.rule.field_name() == Some(name))
                .and_then(|r| r.rule.value().map(String::from))
        });
        if let Some(v) = value {
            chosen.push(PartialRule::from_field(name, v).expect("known field"));
        }
    }
    if chosen.len() > 1 {
        return Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file",
        ));
    }
    let rule_value = chosen
        .pop()
        .unwrap_or_else(|| PartialRule::UnencryptedSuffix("_unencrypted".to_string()));
    let mac_only = global.mac_only_encrypted || rule.is_some_and(|r| r.mac_only_encrypted);
    Ok((rule_value, mac_only))
}

/// Key specs from the key flags of a new file; `None` when no key flag is set.
pub fn keys_from_flags(keys: &KeyArgs) -> Result<Option<Vec<KeySpec>>, CliError> {
    specs_from_flags(
        &keys.backends,
        &SpecOptions {
            encryption_context: keys.encryption_context.clone(),
            aws_profile: keys.aws_profile.clone().unwrap_or_default(),
        },
    )
}

/// Key specs from one family of backend flags, in the registry's order; `None` when none is set.
pub fn specs_from_flags<R: Role>(
    flags: &BackendFlags<R>,
    options: &SpecOptions,
) -> Result<Option<Vec<KeySpec>>, CliError> {
    let given: Vec<_> = BACKENDS
        .iter()
        .filter_map(|b| Some((*b, flags.get(*b).filter(|v| !v.trim().is_empty())?)))
        .collect();
    if given.is_empty() {
        return Ok(None);
    }
    let mut specs = Vec::new();
    for (backend, value) in given {
        specs.extend(
            backend
                .specs_from_flag(split_list(value), options)
                .map_err(spec_error)?,
        );
    }
    Ok(Some(specs))
}

fn spec_error(e: SpecError) -> CliError {
    let code = if e.bad_encryption_context {
        exit::ERROR_INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT
    } else {
        exit::ERROR_GENERIC
    };
    let error = CliError::new(code, e.message);
    match e.hint {
        Some(hint) => error.hint(hint),
        None => error,
    }
}

/// `--decryption-order`/`SOPS_DECRYPTION_ORDER`; a repeated type is an error (exit 112).
pub fn decryption_order(flag: Option<&str>) -> Result<Vec<String>, CliError> {
    let Some(text) = flag.filter(|t| !t.is_empty()) else {
        return Ok(rsops::keys::groups::DEFAULT_DECRYPTION_ORDER
            .iter()
            .map(|s| s.to_string())
            .collect());
    };
    let mut order: Vec<String> = Vec::new();
    for t in text.split(',') {
        if order.iter().any(|o| o == t) {
            return Err(CliError::new(
                exit::DUPLICATE_DECRYPTION_KEY_TYPE,
                format!("Duplicate decryption key type: {t}"),
            ));
        }
        order.push(t.to_string());
    }
    Ok(order)
}
