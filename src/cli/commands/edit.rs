//! `rsops edit`: plaintext goes to a 0600 file in a private 0700 directory, the editor runs, the
//! result is re-encrypted keeping the IV of every unchanged value (one-line edit, one-line diff).

use super::common::{self, Target};
use super::encrypt::NewFileKeys;
use crate::cli::args::{EditArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::plan;
use rsops::file::SopsFile;
use rsops::keys::KeyService;
use rsops::metadata::Metadata;
use rsops::stores::Format;
use rsops::sys::scratch::ScratchDir;
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// What a new file starts with, per format (the content sops's stores offer as an example).
fn example(format: Format) -> &'static str {
    match format {
        Format::Yaml => "hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n# Example comment\nexample_array:\n    - example_value1\n    - example_value2\nexample_number: 1234.5678\nexample_booleans:\n    - true\n    - false\n",
        Format::Json => "{\n\t\"hello\": \"Welcome to SOPS! Edit this file as you please!\",\n\t\"example_key\": \"example_value\",\n\t\"example_array\": [\n\t\t\"example_value1\",\n\t\t\"example_value2\"\n\t],\n\t\"example_number\": 1234.5678,\n\t\"example_booleans\": [\n\t\ttrue,\n\t\tfalse\n\t]\n}\n",
        Format::Dotenv => "hello=Welcome to SOPS! Edit this file as you please!\nexample_key=example_value\n",
        Format::Ini => "[Welcome!]\nhello = Welcome to SOPS! Edit this file as you please!\nexample_key = example_value\n",
        Format::Toml => "hello = \"Welcome to SOPS! Edit this file as you please!\"\nexample_key = \"example_value\"\n# Example comment\nexample_array = [\"example_value1\", \"example_value2\"]\nexample_number = 1234.5678\nexample_booleans = [true, false]\n",
        Format::Binary => "Welcome to SOPS! Edit this file as you please!",
    }
}

/// The editor command: `$SOPS_EDITOR`, `$EDITOR` (split like a shell would), else vim, nano, vi.
fn editor_command() -> Result<Vec<String>, CliError> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Ok(value) = std::env::var(var) {
            if !value.trim().is_empty() {
                return shlex::split(&value)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        CliError::new(
                            exit::ERROR_GENERIC,
                            format!("${var} cannot be split into a command"),
                        )
                    });
            }
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for candidate in ["vim", "nano", "vi"] {
        if std::env::split_paths(&path).any(|dir| dir.join(candidate).is_file()) {
            return Ok(vec![candidate.to_string()]);
        }
    }
    Err(CliError::new(exit::NO_EDITOR_FOUND, "no editor found")
        .hint("set $EDITOR (or $SOPS_EDITOR)"))
}

fn run_editor(file: &Path) -> Result<(), CliError> {
    let command = editor_command()?;
    let status = rsops::sys::signals::with_foreground_child(|| {
        std::process::Command::new(&command[0])
            .args(&command[1..])
            .arg(file)
            .status()
    })
    .map_err(|e| {
        CliError::new(exit::NO_EDITOR_FOUND, format!("Could not run editor: {e}")).hint(format!(
            "check the editor `{}` (SOPS_EDITOR, EDITOR)",
            command[0]
        ))
    })?;
    if !status.success() {
        // sops's words and code (201) for an editor that fails; Go spells the status this way.
        let how = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => status.to_string(),
        };
        return Err(CliError::new(
            exit::NO_EDITOR_FOUND,
            format!("Could not run editor: {how}"),
        )
        .hint("the file was left unchanged"));
    }
    Ok(())
}

/// Waits for Enter before reopening the editor; end of input (or Ctrl+C) gives up.
fn ask_to_reopen() -> Result<(), CliError> {
    eprintln!("Press Enter to return to the editor, or Ctrl+C to exit.");
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => Err(CliError::new(
            exit::ERROR_GENERIC,
            "the edited file is invalid; nothing was written",
        )),
        Ok(_) => Ok(()),
    }
}

/// A file that does not exist yet starts as its format's example, keyed as `encrypt` would.
fn new_file(
    global: &GlobalArgs,
    args: &EditArgs,
    path: PathBuf,
    service: &dyn KeyService,
) -> Result<(Target, SopsFile), CliError> {
    let setup = plan::Setup::new(global, Some(&path), &args.format)?;
    let keys = NewFileKeys::resolve(global, &args.keys, &args.partial, &setup, service)?;
    let target = Target {
        path,
        in_store: setup.in_store(),
        out_store: setup.out_store(),
    };
    let doc = target
        .in_store
        .load_plain(example(setup.formats.input).as_bytes())
        .map_err(rsops::file::Error::from)?;
    let file = SopsFile::create(doc, &keys.plan())?;
    Ok((target, file))
}

pub fn run(global: &GlobalArgs, args: &EditArgs) -> Result<(), CliError> {
    let path = std::path::absolute(&args.file).unwrap_or_else(|_| args.file.clone());
    let keys = crate::cli::plan::key_service(global);
    let (target, mut file) = if path.exists() {
        common::open(global, &path, &args.format, &args.decrypt, &keys)?
    } else {
        new_file(global, args, path, &keys)?
    };
    let plaintext = if args.show_master_keys {
        file.emit_with_metadata(target.out_store.as_ref())?
    } else {
        file.emit_plain(target.out_store.as_ref())?
    };
    crate::cli::catch_terminating_signals();
    let scratch = ScratchDir::new().map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not create a private temporary directory: {e}"),
        )
    })?;
    let name = target
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let temp = scratch.write_private(&name, &plaintext).map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not write the temporary file: {e}"),
        )
    })?;
    let before = Sha256::digest(&plaintext[..]);
    loop {
        run_editor(&temp)?;
        let edited = Zeroizing::new(std::fs::read(&temp).map_err(|e| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("could not read the edited file: {e}"),
            )
        })?);
        if Sha256::digest(&edited[..]) == before {
            return Err(CliError::new(
                exit::FILE_HAS_NOT_BEEN_MODIFIED,
                "File has not changed, exiting.",
            )
            .sops_words("File has not changed, exiting."));
        }
        match parse_edit(&target, &edited, args.show_master_keys) {
            Ok((doc, meta)) => {
                file.replace(doc, meta);
                break;
            }
            Err(e) => {
                e.report();
                ask_to_reopen()?;
            }
        }
    }
    drop(scratch);
    target.reseal(file)
}

type Edited = (rsops::tree::Document, Option<Metadata>);

fn parse_edit(target: &Target, edited: &[u8], with_metadata: bool) -> Result<Edited, CliError> {
    let invalid = |e: String| {
        CliError::new(
            exit::COULD_NOT_READ_INPUT_FILE,
            format!("the edited file is invalid: {e}"),
        )
    };
    let (doc, meta) = if with_metadata {
        let (doc, meta) = target
            .in_store
            .load_encrypted(edited)
            .map_err(|e| invalid(e.to_string()))?;
        let meta = meta.ok_or_else(|| invalid("the sops metadata section is missing".into()))?;
        (doc, Some(meta))
    } else {
        (
            target
                .in_store
                .load_plain(edited)
                .map_err(|e| invalid(e.to_string()))?,
            None,
        )
    };
    if doc.branches.is_empty() {
        return Err(invalid(
            "the file must contain at least one document".into(),
        ));
    }
    if !with_metadata && target.out_store.has_metadata(&doc) {
        return Err(invalid(
            "it contains a `sops` entry; edit with --show-master-keys to change the metadata"
                .into(),
        ));
    }
    Ok((doc, meta))
}
