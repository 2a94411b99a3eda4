use crate::cli::args::{DecryptFlags, FormatArgs, GlobalArgs, GroupsAction, GroupsArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::file::{EncryptedFile, Error as FileError};
use rsops::keys::registry::SpecOptions;
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
    let keys = crate::cli::plan::key_service(global);
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
