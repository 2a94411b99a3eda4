use crate::cli::args::{FileStatusArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};

/// Prints `{"encrypted":true}` when the file has sops metadata with a version and a MAC.
pub fn run(global: &GlobalArgs, args: &FileStatusArgs) -> Result<(), CliError> {
    let file = args.file.as_deref().ok_or_else(exit::no_file_specified)?;
    let format_args = crate::cli::args::FormatArgs {
        input_type: args.input_type.clone(),
        ..Default::default()
    };
    let formats = plan::formats(Some(file), &format_args);
    let config = plan::load_config(global)?;
    let options = plan::store_options(global, config.as_ref())?;
    let bytes = io::read_input(Some(file))?;
    let store = plan::store(formats.input, options);
    let (_, meta) = store.load_encrypted(&bytes).map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("cannot check file status: {e}"),
        )
    })?;
    let encrypted = meta.is_some_and(|meta| !meta.version.is_empty() && meta.mac.is_some());
    println!("{{\"encrypted\":{encrypted}}}");
    Ok(())
}
