use crate::cli::args::{DecryptFlags, FormatArgs, GlobalArgs, GroupsAction, GroupsArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::config::KeySpec;
use rsops::keys::groups::{recover, wrap_groups};
use rsops::keys::registry::SpecOptions;
use rsops::ops;
use std::path::Path;

/// Re-splits the file's data key over `groups` (values and MAC untouched) and writes the file.
fn rewrite(
    global: &GlobalArgs,
    file: &Path,
    decrypt: &DecryptFlags,
    in_place: bool,
    change: impl FnOnce(&mut Vec<Vec<KeySpec>>, usize) -> Result<usize, CliError>,
) -> Result<(), CliError> {
    let path = super::common::input_file(file)?;
    let (store, _) = super::common::stores(global, &path, &FormatArgs::default())?;
    let bytes = io::read_input(Some(&path))?;
    let mut encrypted = ops::load_encrypted(store.as_ref(), &bytes)?;
    let order = plan::decryption_order(decrypt.decryption_order.as_deref())?;
    let keys = rsops::keys::EnvKeys::from_env();
    let data_key = recover(&encrypted.meta, &keys, &order).map_err(ops::Error::from)?;
    let mut groups: Vec<Vec<KeySpec>> = encrypted
        .meta
        .key_groups
        .iter()
        .map(|g| g.keys.iter().map(KeySpec::from_stanza).collect())
        .collect();
    let threshold = change(&mut groups, encrypted.meta.shamir_threshold)?;
    let master_keys = plan::master_key_groups(&keys, &groups)?;
    let (wrapped, threshold) =
        wrap_groups(&data_key, &master_keys, threshold).map_err(ops::Error::from)?;
    encrypted.meta.key_groups = wrapped;
    encrypted.meta.shamir_threshold = threshold;
    let out = ops::emit_encrypted(store.as_ref(), encrypted.doc, &encrypted.meta)?;
    io::write_output(
        &out,
        io::Contents::Ciphertext,
        in_place.then_some(path.as_path()),
        None,
    )
}

pub fn run(global: &GlobalArgs, args: &GroupsArgs) -> Result<(), CliError> {
    match &args.action {
        GroupsAction::Add {
            file,
            keys,
            aws_profile,
            encryption_context,
            in_place,
            shamir_secret_sharing_threshold,
            decrypt,
        } => {
            let options = SpecOptions {
                encryption_context: encryption_context.clone(),
                aws_profile: aws_profile.clone().unwrap_or_default(),
            };
            let new_group = plan::specs_from_flags(keys, &options)?.ok_or_else(|| {
                CliError::new(
                    exit::ERROR_GENERIC,
                    "name the keys of the new group with --age, --pgp, …",
                )
            })?;
            rewrite(global, file, decrypt, *in_place, |groups, threshold| {
                groups.push(new_group);
                Ok(shamir_secret_sharing_threshold.unwrap_or(threshold))
            })
        }
        GroupsAction::Delete {
            file,
            in_place,
            shamir_secret_sharing_threshold,
            decrypt,
            index,
        } => rewrite(global, file, decrypt, *in_place, |groups, threshold| {
            if *index >= groups.len() {
                return Err(CliError::new(
                    exit::ERROR_GENERIC,
                    format!(
                        "the file has no key group {index} (it has {})",
                        groups.len()
                    ),
                ));
            }
            groups.remove(*index);
            let threshold = shamir_secret_sharing_threshold.unwrap_or(threshold);
            // sops refuses this even when one group would be left, rather than silently
            // dropping the threshold.
            if groups.len() < threshold {
                return Err(CliError::new(
                    exit::ERROR_GENERIC,
                    format!("removing this key group will make the Shamir threshold impossible to satisfy: the threshold is {threshold}, but {} key group(s) would be left", groups.len()),
                )
                .hint("lower the threshold with --shamir-secret-sharing-threshold"));
            }
            Ok(threshold)
        }),
    }
}
