use super::many::{self, Destination, Request};
use crate::cli::args::{DecryptArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::file::{EncryptedFile, MacCheck};
use rsops::keys::KeyService;
use rsops::tree::path::parse_tree_path;
use std::path::Path;
use zeroize::Zeroizing;

pub fn run(global: &GlobalArgs, args: &DecryptArgs) -> Result<(), CliError> {
    let request = Request {
        files: &args.files,
        in_place: args.in_place,
        output: args.output.as_deref(),
        output_dir: args.output_dir.as_deref(),
        filename_override: args.format.filename_override.as_deref(),
    };
    if let Some(destination) = request.destination()? {
        return run_many(global, args, &destination);
    }
    let file = args.files.first();
    if file.is_none() && args.in_place {
        return Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "cannot use --in-place when reading from stdin",
        ));
    }
    if args.in_place && args.output.is_some() {
        return Err(exit::output_and_in_place());
    }
    let file = file.map(|f| io::existing_file(f)).transpose()?;
    let keys = plan::key_service(global);
    let output = decrypt_file(global, args, file.as_deref(), keys.as_ref())?;
    let in_place = if args.in_place { file.as_deref() } else { None };
    io::write_output(
        &output,
        io::Contents::Plaintext,
        in_place,
        args.output.as_deref(),
    )
}

/// Every file decrypted with one key service (each data key unwrapped once), on several
/// threads; each result written atomically as soon as it is ready.
fn run_many(
    global: &GlobalArgs,
    args: &DecryptArgs,
    destination: &Destination,
) -> Result<(), CliError> {
    let keys = plan::key_service(global);
    many::transform_each(
        &args.files,
        destination,
        io::Contents::Plaintext,
        plan::concurrency(),
        |file| decrypt_file(global, args, Some(file), keys.as_ref()),
    )
}

/// Decrypts (and extracts) without writing anything: legacy `-d` next to `-r`, where sops
/// discards the decryption's output but still fails with its error.
pub fn check(global: &GlobalArgs, args: &DecryptArgs) -> Result<(), CliError> {
    let file = args
        .files
        .first()
        .map(|f| io::existing_file(f))
        .transpose()?;
    let keys = plan::key_service(global);
    decrypt_file(global, args, file.as_deref(), keys.as_ref()).map(drop)
}

/// One file's (or stdin's) plaintext, or the `--extract`ed part of it.
fn decrypt_file(
    global: &GlobalArgs,
    args: &DecryptArgs,
    file: Option<&Path>,
    keys: &dyn KeyService,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let setup = plan::Setup::new(global, file, &args.format)?;
    let order = plan::decryption_order(args.decryption_order.as_deref())?;
    let extract = match args.extract.as_deref() {
        Some(text) => parse_tree_path(text).map_err(|e| {
            CliError::new(
                exit::INVALID_TREE_PATH_FORMAT,
                format!("error parsing --extract path: {e}"),
            )
            .sops_words(format!("error parsing --extract path: {e}"))
            .hint(r#"write it as '["key"]["nested"][0]'"#)
        })?,
        None => Vec::new(),
    };

    let input = io::read_input(file)?;
    let in_store = setup.in_store();
    let out_store = setup.out_store();
    let mac = if args.ignore_mac {
        MacCheck::Ignore
    } else {
        MacCheck::Verify
    };
    let loaded = EncryptedFile::load(in_store.as_ref(), &input)?;
    // The tree holds everything now: free the input before the plaintext output grows beside it.
    drop(input);
    let mut opened = loaded.decrypt(keys, &order, mac)?;
    if opened.plain_comments() > 0 {
        eprintln!(
            "warning: {} comment(s) in the file were not encrypted; this is expected for files written by old sops versions",
            opened.plain_comments()
        );
    }
    let output = if extract.is_empty() {
        opened.emit_plain(out_store.as_ref())?
    } else {
        opened.extract(&extract, out_store.as_ref())?
    };
    opened.into_document().wipe_and_leak();
    Ok(output)
}
