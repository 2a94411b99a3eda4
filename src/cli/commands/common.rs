//! What the commands that change an encrypted file share: where the file is and which stores
//! read and write it; the operations themselves are `rsops::file`'s.

use crate::cli::args::{DecryptFlags, FormatArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::file::{EncryptedFile, MacCheck, SopsFile};
use rsops::keys::KeyService;
use rsops::stores::Store;
use std::path::{Path, PathBuf};

/// The file a command changes, and the stores that read and write it.
pub struct Target {
    pub path: PathBuf,
    pub in_store: Box<dyn Store>,
    pub out_store: Box<dyn Store>,
}

impl Target {
    pub fn new(global: &GlobalArgs, file: &Path, format: &FormatArgs) -> Result<Target, CliError> {
        let path = input_file(file)?;
        let setup = plan::Setup::new(global, Some(&path), format)?;
        Ok(Target {
            in_store: setup.in_store(),
            out_store: setup.out_store(),
            path,
        })
    }

    /// The file as its store reads it, values still encrypted.
    pub fn load(&self) -> Result<EncryptedFile, CliError> {
        let bytes = io::read_input(Some(&self.path))?;
        Ok(EncryptedFile::load(self.in_store.as_ref(), &bytes)?)
    }

    /// Encrypts the (changed) file again, keeping unchanged values' ciphertext, and writes it.
    pub fn reseal(&self, file: SopsFile) -> Result<(), CliError> {
        let bytes = file.reseal(self.out_store.as_ref())?;
        io::write_atomic(&self.path, &bytes, io::Contents::Ciphertext)
    }
}

/// The file a subcommand works on. sops's subcommands report a missing one as unreadable input
/// (exit 2); only `encrypt`/`decrypt` and the legacy flags say "no file" (100).
pub fn input_file(file: &Path) -> Result<PathBuf, CliError> {
    io::existing_file(file).map_err(|e| e.with_code(exit::COULD_NOT_READ_INPUT_FILE))
}

pub fn mac_check(flags: &DecryptFlags) -> MacCheck {
    if flags.ignore_mac {
        MacCheck::Ignore
    } else {
        MacCheck::Verify
    }
}

/// Reads and decrypts `file`.
pub fn open(
    global: &GlobalArgs,
    file: &Path,
    format: &FormatArgs,
    flags: &DecryptFlags,
    keys: &dyn KeyService,
) -> Result<(Target, SopsFile), CliError> {
    let target = Target::new(global, file, format)?;
    let order = plan::decryption_order(flags.decryption_order.as_deref())?;
    let opened = target.load()?.open(keys, &order, mac_check(flags))?;
    Ok((target, opened))
}
