//! `rsops publish FILE|DIR`: sends files to the destination of their `.sops.yaml` destination
//! rule, as sops 3.11 does (`cmd/sops/subcommand/publish`): S3 and GCS get the encrypted file
//! (re-encrypted for the rule's `recreation_rule` keys when it names any), Vault KV gets the
//! decrypted values.

use crate::cli::args::{FormatArgs, GlobalArgs, PublishArgs};
use crate::cli::commands::common::Target;
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::config::{ConfigFile, Destination, DestinationRule};
use rsops::file::{EncryptPlan, MacCheck};
use rsops::keys::KeyService;
use std::path::{Path, PathBuf};

pub fn run(global: &GlobalArgs, args: &PublishArgs) -> Result<(), CliError> {
    let config = plan::load_config(global)?.ok_or_else(|| {
        CliError::new(exit::ERROR_GENERIC, "config file not found")
            .hint("publish needs a .sops.yaml with destination_rules")
    })?;
    let keys = plan::key_service(global);
    if args.recursive && args.file.is_dir() {
        for file in files_below(&args.file)? {
            publish(
                global,
                args,
                &config,
                keys.as_ref(),
                &file,
                Some(&args.file),
            )?;
        }
        return Ok(());
    }
    publish(global, args, &config, keys.as_ref(), &args.file, None)
}

/// Every file below `root`, in `filepath.Walk`'s lexical order.
fn files_below(root: &Path) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| CliError::new(exit::ERROR_GENERIC, format!("{}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries.into_iter().rev() {
            if entry.is_dir() {
                dirs.push(entry);
            } else {
                files.push(entry);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn publish(
    global: &GlobalArgs,
    args: &PublishArgs,
    config: &ConfigFile,
    keys: &dyn KeyService,
    file: &Path,
    root: Option<&Path>,
) -> Result<(), CliError> {
    let rule = config
        .destination_for(&file.to_string_lossy())
        .map_err(|e| CliError::new(exit::ERROR_GENERIC, e.to_string()))?;
    let name = destination_name(file, root, args.omit_extensions || rule.omit_extensions);
    let target = Target::new(global, file, &FormatArgs::default())?;
    let encrypted = target.load()?;
    let order = plan::decryption_order(args.decryption_order.as_deref())?;
    let payload = match &rule.destination {
        Destination::Vault { .. } => {
            let opened = encrypted.decrypt(keys, &order, MacCheck::Verify)?;
            let json = rsops::stores::store_for(
                rsops::stores::Format::Json,
                rsops::stores::StoreOptions::default(),
            );
            let text = opened.emit_plain(json.as_ref())?;
            Payload::Values(serde_json::from_slice(&text).map_err(|e| {
                CliError::new(
                    exit::ERROR_GENERIC,
                    format!("cannot publish {}: {e}", file.display()),
                )
            })?)
        }
        _ if rule
            .recreation
            .key_groups
            .first()
            .is_some_and(|g| !g.is_empty()) =>
        {
            Payload::File(reencrypt(&target, encrypted, &rule, keys, &order)?)
        }
        _ => Payload::File(io::read_input(Some(&target.path))?.to_vec()),
    };
    let vault_address = vault_address(&rule.destination);
    let shown = rule.destination.path(&name, &vault_address);
    let absolute = rsops::config::absolute_clean(file);
    if !args.yes && !confirmed(&absolute, &shown)? {
        let message = format!("Publication of {} canceled", absolute.display());
        if root.is_some() {
            println!("{message}");
            return Ok(());
        }
        return Err(CliError::new(exit::ERROR_GENERIC, message));
    }
    if global.verbose {
        crate::cli::ui::verbose_line(&format!("publishing {} to {shown}", file.display()));
    }
    upload(&rule.destination, &name, &payload, &vault_address)
}

enum Payload {
    File(Vec<u8>),
    Values(serde_json::Value),
}

/// sops's destination name: the path below the walked root, else the file name; without its
/// extension with `--omit-extensions`.
fn destination_name(file: &Path, root: Option<&Path>, omit_extension: bool) -> String {
    let relative = root
        .and_then(|r| file.strip_prefix(r).ok())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| file.file_name().map(PathBuf::from).unwrap_or_default());
    let mut name = relative.to_string_lossy().into_owned();
    if omit_extension {
        if let Some(ext) = file.extension() {
            let suffix = format!(".{}", ext.to_string_lossy());
            if let Some(stripped) = name.strip_suffix(&suffix) {
                name = stripped.to_string();
            }
        }
    }
    name
}

/// The file decrypted and encrypted again, with a new data key, for the recreation rule's keys.
fn reencrypt(
    target: &Target,
    encrypted: rsops::file::EncryptedFile,
    rule: &DestinationRule,
    keys: &dyn KeyService,
    order: &[String],
) -> Result<Vec<u8>, CliError> {
    let opened = encrypted.decrypt(keys, order, MacCheck::Verify)?;
    let master_keys = rsops::file::master_keys(keys, &rule.recreation.key_groups)?;
    let plan = EncryptPlan {
        key_groups: &master_keys,
        shamir_threshold: rule.recreation.shamir_threshold,
        rule: rule.recreation.rule.clone(),
        mac_only_encrypted: rule.recreation.mac_only_encrypted,
    };
    let doc = opened.into_document();
    Ok(rsops::file::SopsFile::encrypt_new(
        doc,
        &plan,
        target.out_store.as_ref(),
    )?)
}

/// The rule's `vault_address`, else `VAULT_ADDR`, else Vault's default.
fn vault_address(destination: &Destination) -> String {
    match destination {
        Destination::Vault { address, .. } if !address.is_empty() => address.clone(),
        _ => std::env::var("VAULT_ADDR").unwrap_or_else(|_| "https://127.0.0.1:8200".into()),
    }
}

/// sops's question, on stdout; the answer from stdin.
fn confirmed(file: &Path, destination: &str) -> Result<bool, CliError> {
    use std::io::Write;
    loop {
        print!("uploading {} to {destination} ? (y/n): ", file.display());
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        match std::io::stdin().read_line(&mut answer) {
            Ok(0) | Err(_) => {
                return Err(CliError::new(exit::ERROR_GENERIC, "unexpected newline")
                    .hint("answer y or n, or pass --yes"))
            }
            Ok(_) => {}
        }
        match answer.trim() {
            "y" => return Ok(true),
            "n" => return Ok(false),
            _ => continue,
        }
    }
}

fn upload(
    destination: &Destination,
    name: &str,
    payload: &Payload,
    vault_address: &str,
) -> Result<(), CliError> {
    let publish_error = |e: rsops::publish::PublishError| {
        CliError::new(exit::ERROR_GENERIC, e.message.clone()).hint(e.hint)
    };
    match (destination, payload) {
        #[cfg(feature = "aws-kms")]
        (Destination::S3 { bucket, prefix }, Payload::File(bytes)) => {
            let http = rsops::keys::http::Client::new();
            rsops::publish::s3::put_object(&http, bucket, &format!("{prefix}{name}"), bytes)
                .map_err(publish_error)
        }
        #[cfg(feature = "http")]
        (Destination::Vault { .. }, Payload::Values(values)) => {
            let token = vault_token().ok_or_else(|| {
                CliError::new(exit::ERROR_GENERIC, "no Vault token")
                    .hint("set VAULT_TOKEN or log in with `vault login`")
            })?;
            let http = rsops::keys::http::Client::new();
            let kv = rsops::publish::vault_kv::VaultKv {
                http: &http,
                address: vault_address,
                token: &token,
            };
            let written = kv.write(destination, name, values).map_err(publish_error)?;
            if written == rsops::publish::vault_kv::Written::AlreadyUpToDate {
                eprintln!(
                    "Secret in {} is already up-to-date.",
                    destination.secrets_path(name)
                );
            }
            Ok(())
        }
        #[cfg(feature = "gcp-kms")]
        (Destination::Gcs { bucket, prefix }, Payload::File(bytes)) => {
            let http = rsops::keys::http::Client::new();
            // As sops's storage client: an emulator is reached over plain HTTP, without auth.
            let emulator_host = std::env::var("STORAGE_EMULATOR_HOST")
                .ok()
                .filter(|h| !h.trim().is_empty());
            let gcs = rsops::publish::gcs::Gcs {
                http: &http,
                emulator_host: emulator_host.as_deref(),
            };
            gcs.upload(bucket, &format!("{prefix}{name}"), bytes)
                .map_err(publish_error)
        }
        _ => {
            let _ = (name, payload, vault_address, publish_error);
            Err(CliError::new(
                exit::ERROR_GENERIC,
                "this rsops build cannot publish to that destination",
            )
            .hint("rebuild with the default cargo features"))
        }
    }
}

/// `VAULT_TOKEN`, else the file `vault login` writes.
#[cfg(feature = "http")]
fn vault_token() -> Option<zeroize::Zeroizing<String>> {
    if let Ok(token) = std::env::var("VAULT_TOKEN") {
        if !token.trim().is_empty() {
            return Some(zeroize::Zeroizing::new(token.trim().to_string()));
        }
    }
    let home = std::env::var_os("HOME")?;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(Path::new(&home).join(".vault-token")).ok()?,
    );
    Some(zeroize::Zeroizing::new(text.trim().to_string())).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::destination_name;
    use std::path::Path;

    #[test]
    fn names_as_sops_builds_them() {
        let f = Path::new("dir/sub/app.enc.yaml");
        assert_eq!(destination_name(f, None, false), "app.enc.yaml");
        assert_eq!(destination_name(f, None, true), "app.enc");
        assert_eq!(
            destination_name(f, Some(Path::new("dir")), false),
            "sub/app.enc.yaml"
        );
    }
}
