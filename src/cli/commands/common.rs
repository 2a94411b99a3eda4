//! What the commands that change an encrypted file share: open it (decrypting with an IV stash,
//! so unchanged values keep their ciphertext), and write it back.

use crate::cli::args::{DecryptFlags, FormatArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::crypto::{DataKey, IvStash};
use rsops::metadata::{Metadata, WRITTEN_VERSION};
use rsops::ops;
use rsops::stores::Store;
use rsops::tree::Document;
use std::path::{Path, PathBuf};

pub struct Opened {
    pub path: PathBuf,
    pub in_store: Box<dyn Store>,
    pub out_store: Box<dyn Store>,
    pub doc: Document,
    pub meta: Metadata,
    pub data_key: DataKey,
    pub stash: IvStash,
}

/// The input and output stores for a file.
pub type StorePair = (Box<dyn Store>, Box<dyn Store>);

pub fn stores(
    global: &GlobalArgs,
    file: &Path,
    format: &FormatArgs,
) -> Result<StorePair, CliError> {
    let setup = plan::Setup::new(global, Some(file), format)?;
    Ok((setup.in_store(), setup.out_store()))
}

/// The file a subcommand works on. sops's subcommands report a missing one as unreadable input
/// (exit 2); only `encrypt`/`decrypt` and the legacy flags say "no file" (100).
pub fn input_file(file: &Path) -> Result<PathBuf, CliError> {
    io::existing_file(file).map_err(|e| CliError {
        code: exit::COULD_NOT_READ_INPUT_FILE,
        ..e
    })
}

/// Reads and decrypts `file`, remembering every value's IV.
pub fn open(
    global: &GlobalArgs,
    file: &Path,
    format: &FormatArgs,
    flags: &DecryptFlags,
) -> Result<Opened, CliError> {
    let path = input_file(file)?;
    let (in_store, out_store) = stores(global, &path, format)?;
    let order = plan::decryption_order(flags.decryption_order.as_deref())?;
    let bytes = io::read_input(Some(&path))?;
    let encrypted = ops::load_encrypted(in_store.as_ref(), &bytes)?;
    let stash = IvStash::default();
    let keys = rsops::keys::EnvKeys::from_env();
    let options = ops::DecryptOptions {
        keys: &keys,
        decryption_order: &order,
        ignore_mac: flags.ignore_mac,
        stash: Some(&stash),
    };
    let decrypted = ops::decrypt(encrypted, &options)?;
    Ok(Opened {
        path,
        in_store,
        out_store,
        doc: decrypted.doc,
        meta: decrypted.meta,
        data_key: decrypted.data_key,
        stash,
    })
}

/// Files written by older sops versions are upgraded to the version rsops writes.
pub fn bump_version(meta: &mut Metadata) {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let core = v.trim_start_matches('v').split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        Some((
            parts.next()??,
            parts.next()??,
            parts.next().flatten().unwrap_or(0),
        ))
    };
    let older = match (parse(&meta.version), parse(WRITTEN_VERSION)) {
        (Some(old), Some(new)) => old < new,
        _ => true,
    };
    if older {
        meta.version = WRITTEN_VERSION.to_string();
    }
}

/// Encrypts the (changed) document again under its data key and emits the file.
pub fn reseal(opened: Opened) -> Result<(PathBuf, Vec<u8>), CliError> {
    let Opened {
        path,
        out_store,
        mut doc,
        mut meta,
        data_key,
        stash,
        ..
    } = opened;
    bump_version(&mut meta);
    ops::seal(&mut doc, &mut meta, &data_key, Some(&stash))?;
    let bytes = ops::emit_encrypted(out_store.as_ref(), doc, &meta)?;
    Ok((path, bytes))
}
