use crate::cli::args::{DecryptArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::ops;
use rsops::stores::Store;
use rsops::tree::path::{lookup, parse_tree_path, Found, PathComponent};
use rsops::tree::{Node, Scalar};
use zeroize::Zeroizing;

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
    let encrypted = ops::load_encrypted(in_store.as_ref(), &input)?;
    let keys = rsops::keys::EnvKeys::from_env();
    let options = ops::DecryptOptions {
        keys: &keys,
        decryption_order: &order,
        ignore_mac: args.ignore_mac,
        stash: None,
    };
    let decrypted = ops::decrypt(encrypted, &options)?;
    if decrypted.plain_comments > 0 {
        eprintln!(
            "warning: {} comment(s) in the file were not encrypted; this is expected for files written by old sops versions",
            decrypted.plain_comments
        );
    }
    let mut doc = decrypted.doc;
    let output = if extract.is_empty() {
        Zeroizing::new(out_store.emit_plain(&doc).map_err(ops::Error::from)?)
    } else {
        extract_value(&mut doc, &extract, out_store.as_ref())?
    };
    doc.wipe_and_leak();
    let in_place = if args.in_place { file.as_deref() } else { None };
    io::write_output(
        &output,
        io::Contents::Plaintext,
        in_place,
        args.output.as_deref(),
    )
}

/// `--extract`: a string prints raw, a mapping as a whole document, anything else through the
/// output store's single-value form.
fn extract_value(
    doc: &mut rsops::tree::Document,
    path: &[PathComponent],
    store: &dyn Store,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let first = doc
        .branches
        .first()
        .ok_or_else(|| CliError::new(exit::ERROR_GENERIC, "the document is empty"))?;
    let not_found = |e: rsops::tree::path::LookupError| {
        CliError::new(exit::ERROR_GENERIC, format!("error truncating tree: {e}"))
    };
    let bytes = match lookup(first, path).map_err(not_found)? {
        Found::Map(map) => {
            let map = map.clone();
            doc.branches[0] = map;
            out(store.emit_plain(doc))?
        }
        Found::Node(Node::Scalar(Scalar::Str(s))) => s.as_bytes().to_vec(),
        Found::Node(Node::Scalar(Scalar::Bytes(b))) => b.clone(),
        Found::Comment(c) => c.as_bytes().to_vec(),
        Found::Node(node) => {
            let node = node.clone();
            out(store.emit_value(&node))?
        }
    };
    Ok(Zeroizing::new(bytes))
}

fn out(result: Result<Vec<u8>, rsops::stores::StoreError>) -> Result<Vec<u8>, CliError> {
    result.map_err(|e| CliError::from(ops::Error::from(e)))
}
