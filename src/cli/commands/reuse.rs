//! Churn-free re-encryption: when the previous encrypted version of a plaintext is known, keep
//! its data key, its key stanzas and the ciphertext of every unchanged value, so a one-value
//! edit is a one-value diff (plus `mac` and `lastmodified`).

use super::encrypt::Wanted;
use crate::cli::args::{EncryptArgs, GlobalArgs};
use crate::cli::exit::CliError;
use crate::cli::{io, plan};
use rsops::config::KeySpec;
use rsops::file::{EncryptedFile, SopsFile};
use rsops::git::merge::Same;
use rsops::keys::KeyService;
use rsops::stores::Store;
use rsops::tree::Document;
use std::path::Path;

/// The previous version, opened: its bytes (returned as they are when nothing changed) and the
/// file with its data key and IVs.
pub struct Previous {
    bytes: Vec<u8>,
    file: SopsFile,
    name: String,
}

/// `--reuse OLD` (which must open), else the `--output` file, else for `-i` git's staged
/// version of the file: the last two only when they are sops files the keys at hand open.
pub fn previous_version(
    global: &GlobalArgs,
    args: &EncryptArgs,
    file: Option<&Path>,
    setup: &plan::Setup,
    service: &dyn KeyService,
) -> Result<Option<Previous>, CliError> {
    let store = setup.out_store();
    if let Some(old) = &args.reuse {
        let bytes = io::read_input(Some(&io::existing_file(old)?))?.to_vec();
        let name = old.display().to_string();
        return open(service, store.as_ref(), bytes, name)
            .map(Some)
            .map_err(|e| {
                e.hint("--reuse needs the previous encrypted version, openable with your keys")
            });
    }
    let candidate = match (&args.output, args.in_place.then_some(file).flatten()) {
        (Some(output), _) => std::fs::read(output)
            .ok()
            .map(|b| (b, output.display().to_string())),
        (None, Some(path)) => {
            staged_version(path).map(|b| (b, format!("{} (git index)", path.display())))
        }
        (None, None) => None,
    };
    let Some((bytes, name)) = candidate else {
        return Ok(None);
    };
    // Plaintext (or anything not a sops file) there is simply not a previous version.
    if EncryptedFile::load(store.as_ref(), &bytes).is_err() {
        return Ok(None);
    }
    match open(service, store.as_ref(), bytes, name.clone()) {
        Ok(previous) => Ok(Some(previous)),
        Err(e) => {
            if !global.quiet {
                // The first line only: a key-recovery failure goes on with a report per key.
                let reason = e
                    .message()
                    .and_then(|m| m.lines().next())
                    .unwrap_or("it cannot be opened");
                eprintln!("rsops: not reusing {name}: {reason}; encrypting with a new data key");
            }
            Ok(None)
        }
    }
}

fn open(
    service: &dyn KeyService,
    store: &dyn Store,
    bytes: Vec<u8>,
    name: String,
) -> Result<Previous, CliError> {
    let order_flag = std::env::var("SOPS_DECRYPTION_ORDER").ok();
    let order = plan::decryption_order(order_flag.as_deref())?;
    let file = SopsFile::open(store, &bytes, service, &order)?;
    Ok(Previous { bytes, file, name })
}

/// The version of `path` in git's index, when `path` is in a git work tree and is tracked.
pub fn staged_version(path: &Path) -> Option<Vec<u8>> {
    let dir = path.parent()?;
    let name = path.file_name()?;
    let mut spec = std::ffi::OsString::from(":./");
    spec.push(name);
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "blob"])
        .arg(spec)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// Encrypts `doc` as the next version of `previous`: same data key, same IV for every value
/// whose path, type and plaintext are unchanged. When the flags or the creation rule ask for
/// other keys than the previous version has, the data key is rewrapped for them (as
/// `updatekeys` does) and the change is said on stderr.
pub fn reencrypt(
    previous: Previous,
    doc: Document,
    wanted: &Wanted,
    service: &dyn KeyService,
    store: &dyn Store,
) -> Result<Vec<u8>, CliError> {
    let Previous {
        bytes,
        mut file,
        name,
    } = previous;
    let mut changed = false;
    if let Some((groups, threshold)) = &wanted.groups {
        if keys_differ(file.metadata(), groups, *threshold) {
            eprintln!(
                "rsops: the keys asked for differ from those of {name}: rewrapping its data key for them, as `rsops updatekeys` would"
            );
            file.update_keys(service, groups, *threshold)?;
            changed = true;
        }
    }
    let meta = file.metadata();
    if meta.rule != wanted.partial || meta.mac_only_encrypted != wanted.mac_only {
        file.set_partial(wanted.partial.clone(), wanted.mac_only);
        changed = true;
    }
    if !changed && file.document().same(&doc) {
        return Ok(bytes);
    }
    file.replace(doc, None);
    file.reseal(store)
        .map_err(|e| CliError::from(e).hint("the previous version was left as it was"))
}

/// Compares who can open the file (identities per group, and the threshold where it matters)
/// with what is asked for; the wrapped keys themselves always differ.
fn keys_differ(
    meta: &rsops::metadata::Metadata,
    groups: &[Vec<KeySpec>],
    threshold: usize,
) -> bool {
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let have: Vec<Vec<String>> = meta
        .key_groups
        .iter()
        .map(|g| sorted(g.keys.iter().map(|k| k.identity()).collect()))
        .collect();
    let want: Vec<Vec<String>> = groups
        .iter()
        .map(|g| sorted(g.iter().map(KeySpec::identity).collect()))
        .collect();
    let threshold_matters = groups.len() > 1 && threshold != 0;
    have != want || (threshold_matters && meta.shamir_threshold != threshold)
}
