use crate::cli::args::{DecryptFlags, FormatArgs, GlobalArgs, GroupsAction, GroupsArgs, KeyArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::file::{EncryptedFile, Error as FileError};
use rsops::keys::KeyService;
use std::path::Path;

/// Re-splits the file's data key over new groups (values and MAC untouched) and writes it.
fn rewrite(
    global: &GlobalArgs,
    file: &Path,
    decrypt: &DecryptFlags,
    in_place: bool,
    change: impl FnOnce(&mut EncryptedFile, &dyn KeyService, &[String]) -> Result<(), FileError>,
) -> Result<(), CliError> {
    let target = super::common::Target::new(global, file, &FormatArgs::default())?;
    let mut encrypted = target.load()?;
    let order = plan::decryption_order(decrypt.decryption_order.as_deref())?;
    let keys = rsops::keys::EnvKeys::from_env();
    change(&mut encrypted, &keys, &order)?;
    let out = encrypted.emit(target.in_store.as_ref())?;
    io::write_output(
        &out,
        io::Contents::Ciphertext,
        in_place.then_some(target.path.as_path()),
        None,
    )
}

pub fn run(global: &GlobalArgs, args: &GroupsArgs) -> Result<(), CliError> {
    match &args.action {
        GroupsAction::Add {
            file,
            age,
            pgp,
            kms,
            aws_profile,
            gcp_kms,
            azure_kv,
            hc_vault_transit,
            encryption_context,
            in_place,
            shamir_secret_sharing_threshold,
            decrypt,
        } => {
            let flags = KeyArgs {
                age: age.clone(),
                pgp: pgp.clone(),
                kms: kms.clone(),
                aws_profile: aws_profile.clone(),
                gcp_kms: gcp_kms.clone(),
                azure_kv: azure_kv.clone(),
                hc_vault_transit: hc_vault_transit.clone(),
                encryption_context: encryption_context.clone(),
                shamir_secret_sharing_threshold: None,
            };
            let new_group = plan::keys_from_flags(&flags)?.ok_or_else(|| {
                CliError::new(
                    exit::ERROR_GENERIC,
                    "name the keys of the new group with --age, --pgp, …",
                )
            })?;
            rewrite(global, file, decrypt, *in_place, |f, keys, order| {
                f.add_group(keys, order, new_group, *shamir_secret_sharing_threshold)
            })
        }
        GroupsAction::Delete {
            file,
            in_place,
            shamir_secret_sharing_threshold,
            decrypt,
            index,
        } => rewrite(global, file, decrypt, *in_place, |f, keys, order| {
            f.remove_group(keys, order, *index, *shamir_secret_sharing_threshold)
        }),
    }
}
