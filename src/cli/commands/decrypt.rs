use crate::cli::args::{DecryptArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::file::{EncryptedFile, MacCheck};
use rsops::tree::path::parse_tree_path;

pub fn run(global: &GlobalArgs, args: &DecryptArgs) -> Result<(), CliError> {
    if args.file.is_none() && args.in_place {
        return Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "cannot use --in-place when reading from stdin",
        ));
    }
    if args.in_place && args.output.is_some() {
        return Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "cannot operate on both --output and --in-place",
        ));
    }
    let file = args.file.as_deref().map(io::existing_file).transpose()?;
    let setup = plan::Setup::new(global, file.as_deref(), &args.format)?;
    let order = plan::decryption_order(args.decryption_order.as_deref())?;
    let extract = match args.extract.as_deref() {
        Some(text) => parse_tree_path(text).map_err(|e| {
            CliError::new(
                exit::INVALID_TREE_PATH_FORMAT,
                format!("error parsing --extract path: {e}"),
            )
            .hint(r#"write it as '["key"]["nested"][0]'"#)
        })?,
        None => Vec::new(),
    };

    let input = io::read_input(file.as_deref())?;
    let in_store = setup.in_store();
    let out_store = setup.out_store();
    let keys = crate::cli::plan::key_service(global);
    let mac = if args.ignore_mac {
        MacCheck::Ignore
    } else {
        MacCheck::Verify
    };
    let loaded = EncryptedFile::load(in_store.as_ref(), &input)?;
    // The tree holds everything now: free the input before the plaintext output grows beside it.
    drop(input);
    let mut opened = loaded.decrypt(&keys, &order, mac)?;
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
    let in_place = if args.in_place { file.as_deref() } else { None };
    io::write_output(
        &output,
        io::Contents::Plaintext,
        in_place,
        args.output.as_deref(),
    )
}
