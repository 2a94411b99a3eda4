use super::common;
use crate::cli::args::{GlobalArgs, SetArgs, UnsetArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::io;
use rsops::stores::{json::JsonStore, Store, StoreOptions};
use rsops::tree::path::{parse_tree_path, LookupError, PathComponent};
use rsops::tree::{Node, Scalar};
use std::io::Read;
use std::path::PathBuf;

fn tree_path(text: &str, what: &str) -> Result<Vec<PathComponent>, CliError> {
    parse_tree_path(text).map_err(|e| {
        CliError::new(
            exit::ERROR_INVALID_SET_FORMAT,
            format!("invalid {what} index format: {e}"),
        )
        .sops_words(format!("Invalid {what} index format"))
        .hint(r#"write it as '["key"]["nested"][0]'"#)
    })
}

/// A JSON value as sops inserts it: a bare number is a float (`type:float`, even for `5`),
/// objects and arrays become mappings and lists.
fn json_value(text: &str) -> Result<Node, CliError> {
    let invalid = || {
        CliError::new(exit::ERROR_INVALID_SET_FORMAT, "the value is not valid JSON")
            .sops_words("Value for --set is not valid JSON")
        .hint(r#"strings need JSON quotes, e.g. '"s3cr3t"'; numbers, true/false, objects and arrays are written as in JSON"#)
    };
    let wrapped = format!("{{\"v\": {text}\n}}");
    let doc = JsonStore::new(StoreOptions::default())
        .load_plain(wrapped.as_bytes())
        .map_err(|_| invalid())?;
    let value = doc
        .branches
        .first()
        .and_then(|b| b.get("v"))
        .cloned()
        .ok_or_else(invalid)?;
    Ok(match value {
        Node::Scalar(Scalar::Int(i)) => Node::Scalar(Scalar::Float(i as f64)),
        other => other,
    })
}

pub fn run_set(global: &GlobalArgs, args: &SetArgs) -> Result<(), CliError> {
    if args.value_file && args.value_stdin {
        return Err(CliError::new(
            exit::ERROR_GENERIC,
            "cannot use both --value-file and --value-stdin",
        ));
    }
    let needed = if args.value_stdin { 2 } else { 3 };
    if args.args.len() != needed {
        return Err(CliError::new(
            exit::NO_FILE_SPECIFIED,
            format!(
                "need precisely {needed} positional arguments: FILE PATH{}",
                if args.value_stdin { "" } else { " VALUE" }
            ),
        ));
    }
    let file = PathBuf::from(&args.args[0]);
    let path = tree_path(&args.args[1], "set")?;
    let text = if args.value_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| {
            CliError::new(
                exit::COULD_NOT_READ_INPUT_FILE,
                format!("could not read stdin: {e}"),
            )
        })?;
        s
    } else if args.value_file {
        let value_path = PathBuf::from(&args.args[2]);
        String::from_utf8(io::read_input(Some(&value_path))?.to_vec()).map_err(|_| {
            CliError::new(
                exit::ERROR_INVALID_SET_FORMAT,
                "the value file is not UTF-8 JSON",
            )
        })?
    } else {
        args.args[2].clone()
    };
    let value = json_value(&text)?;
    let keys = crate::cli::plan::key_service(global);
    let (target, mut file) = common::open(global, &file, &args.format, &args.decrypt, &keys)?;
    let changed = file.set(&path, value)?;
    if !changed && args.idempotent {
        return Ok(());
    }
    target.reseal(file)
}

pub fn run_unset(global: &GlobalArgs, args: &UnsetArgs) -> Result<(), CliError> {
    if args.args.len() != 2 {
        return Err(CliError::new(
            exit::NO_FILE_SPECIFIED,
            "need precisely 2 positional arguments: FILE PATH",
        ));
    }
    let file = PathBuf::from(&args.args[0]);
    let path = tree_path(&args.args[1], "unset")?;
    let keys = crate::cli::plan::key_service(global);
    let (target, mut file) = common::open(global, &file, &args.format, &args.decrypt, &keys)?;
    match file.unset(&path) {
        Err(rsops::file::Error::Unset(
            LookupError::KeyNotFound(_) | LookupError::OutOfBounds(_),
        )) if args.idempotent => Ok(()),
        Err(e) => Err(e.into()),
        Ok(()) => target.reseal(file),
    }
}
