//! `rsops git …`: the textconv filter behind `git diff`, the merge driver, `setup` and `check`.
//! The merging and masking are `rsops::git`; this file reads what git hands over, calls the
//! library with the environment's keys, and answers git the way git expects.

use crate::cli::args::{FormatArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use clap::{Args, Subcommand};
use rsops::file::{spec_groups, EncryptedFile, MacCheck, SopsFile};
use rsops::git::{masked, merge};
use rsops::keys::KeyService;
use rsops::stores::Store;
use rsops::tree::{Document, Map};
use std::io::Write;
use std::path::{Path, PathBuf};

mod check;
mod mergetool;
mod setup;

#[derive(Args, Debug)]
pub struct GitArgs {
    #[command(subcommand)]
    pub command: GitCommand,
}

#[derive(Subcommand, Debug)]
pub enum GitCommand {
    /// Print a file for `git diff`: decrypted with your keys, masked without (never fails)
    #[command(after_help = crate::cli::help::GIT_TEXTCONV)]
    Textconv(TextconvArgs),
    /// git merge driver: rsops git merge-driver %O %A %B %P
    #[command(after_help = crate::cli::help::GIT_MERGE_DRIVER)]
    MergeDriver(MergeDriverArgs),
    /// Write the .gitattributes lines and git config entries for textconv and the merge driver
    #[command(after_help = crate::cli::help::GIT_SETUP)]
    Setup(setup::SetupArgs),
    /// Refuse staged files that a .sops.yaml creation rule matches but that are not encrypted
    #[command(after_help = crate::cli::help::GIT_CHECK)]
    Check(check::CheckArgs),
    /// Resolve a conflicted encrypted file in your merge tool (plaintext only in a private
    /// scratch directory), then encrypt and stage the result
    #[command(after_help = crate::cli::help::GIT_MERGETOOL)]
    Mergetool(mergetool::MergetoolArgs),
}

#[derive(Args, Debug)]
pub struct TextconvArgs {
    /// The file git hands over (a temporary copy named after the real one)
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct MergeDriverArgs {
    /// %O: the common ancestor's version
    pub base: PathBuf,
    /// %A: our version; the merge result is written here
    pub ours: PathBuf,
    /// %B: their version
    pub theirs: PathBuf,
    /// %P: the path in the repository (decides the format and the .sops.yaml rule)
    pub path: PathBuf,
}

pub fn run(global: &GlobalArgs, args: &GitArgs) -> Result<(), CliError> {
    match &args.command {
        GitCommand::Textconv(a) => textconv(global, a),
        GitCommand::MergeDriver(a) => merge_driver(global, a),
        GitCommand::Setup(a) => setup::run(a),
        GitCommand::Check(a) => check::run(global, a),
        GitCommand::Mergetool(a) => mergetool::run(global, a),
    }
}

/// The store for a path as named in the repository (git's temporary copies keep the name's end).
fn store_for_name(global: &GlobalArgs, name: &Path) -> Result<Box<dyn Store>, CliError> {
    let config = plan::load_config(global).unwrap_or(None);
    let options = plan::store_options(global, config.as_ref())?;
    let format = plan::formats(Some(name), &FormatArgs::default()).input;
    Ok(plan::store(format, options))
}

fn decryption_order() -> Result<Vec<String>, CliError> {
    let flag = std::env::var("SOPS_DECRYPTION_ORDER").ok();
    plan::decryption_order(flag.as_deref())
}

// ------------------------------------------------------------------------------- textconv

/// git shows whatever a textconv prints, and a failing one breaks `git diff` and `git log -p`
/// altogether: so every failure degrades to a lesser view instead (decrypted → masked → the
/// bytes as they are), and only a failed write to stdout is an error.
fn textconv(global: &GlobalArgs, args: &TextconvArgs) -> Result<(), CliError> {
    let bytes = std::fs::read(&args.file).unwrap_or_default();
    let view = store_for_name(global, &args.file)
        .ok()
        .and_then(|store| view_of(store.as_ref(), &bytes))
        .unwrap_or_else(|| zeroize::Zeroizing::new(bytes));
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&view)
        .and_then(|_| stdout.flush())
        .map_err(|e| {
            CliError::new(
                exit::COULD_NOT_WRITE_OUTPUT_FILE,
                format!("could not write to stdout: {e}"),
            )
        })
}

fn view_of(store: &dyn Store, bytes: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let order = decryption_order().ok()?;
    let keys = rsops::keys::EnvKeys::from_env();
    let decrypted = EncryptedFile::load(store, bytes)
        .ok()?
        .decrypt(&keys, &order, MacCheck::Verify)
        .ok()
        .and_then(|file| file.emit_plain(store).ok());
    decrypted.or_else(|| masked_view(store, bytes))
}

fn masked_view(store: &dyn Store, bytes: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let mut file = EncryptedFile::load(store, bytes).ok()?;
    masked::mask(&mut file.doc);
    store
        .emit_plain(&file.doc)
        .ok()
        .map(zeroize::Zeroizing::new)
}

// --------------------------------------------------------------------------- merge driver

/// git's contract: exit 0 with the result in %A, or non-zero for a conflict (git then leaves %A
/// in the work tree and marks the path conflicted). On a conflict %A keeps ours's encrypted
/// bytes, and nothing in plaintext is written anywhere.
fn merge_driver(global: &GlobalArgs, args: &MergeDriverArgs) -> Result<(), CliError> {
    let shown = args.path.display().to_string();
    let conflict = |why: String| {
        CliError::new(exit::ERROR_GENERIC, format!("merge conflict in {shown}: {why}"))
            .hint(format!("{shown} holds our encrypted version; resolve with `rsops git mergetool {shown}`, or `rsops edit {shown}` then `git add {shown}`"))
    };
    let store = store_for_name(global, &args.path)?;
    let read = |p: &Path| io::read_input(Some(p)).map(|b| b.to_vec());
    let (base, ours, theirs) = (read(&args.base)?, read(&args.ours)?, read(&args.theirs)?);
    if [&ours, &theirs]
        .iter()
        .all(|b| EncryptedFile::load(store.as_ref(), b).is_err())
    {
        return plain_merge(args);
    }
    let keys = plan::key_service(global);
    let sides = Sides::open(store.as_ref(), keys.as_ref(), &base, &ours, &theirs).map_err(|e| {
        conflict(format!(
            "cannot decrypt all three versions ({})",
            e.message().unwrap_or("error")
        ))
    })?;
    let merged = sides
        .merge(keys.as_ref(), store.as_ref())
        .map_err(|e| match e {
            MergeFailure::Conflicts(paths) => conflict(format!(
                "both sides changed {} differently:\n  {}",
                if paths.len() == 1 {
                    "this value"
                } else {
                    "these values"
                },
                paths.join("\n  ")
            )),
            MergeFailure::Error(e) => conflict(e.message().unwrap_or("error").to_string()),
        })?;
    match merged {
        Some(bytes) => io::write_atomic(&args.ours, &bytes, io::Contents::Ciphertext),
        None => Ok(()),
    }
}

/// A pattern in .gitattributes may catch files that are not encrypted: those get git's own
/// line merge, with its conflict markers, as if no driver were set.
fn plain_merge(args: &MergeDriverArgs) -> Result<(), CliError> {
    let status = std::process::Command::new("git")
        .args(["merge-file", "-L", "ours", "-L", "base", "-L", "theirs"])
        .args([&args.ours, &args.base, &args.theirs])
        .status()
        .map_err(|e| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("cannot run git merge-file: {e}"),
            )
        })?;
    match status.code() {
        Some(0) => Ok(()),
        _ => Err(CliError::Quiet(1)),
    }
}

enum MergeFailure {
    Conflicts(Vec<String>),
    Error(CliError),
}

impl From<rsops::file::Error> for MergeFailure {
    fn from(e: rsops::file::Error) -> Self {
        MergeFailure::Error(e.into())
    }
}

/// The three versions, opened. The base is only read; ours is resealed, keeping its IVs and
/// (same data key) theirs's, so every value either side left alone keeps its ciphertext.
struct Sides {
    base: Document,
    base_keys: Vec<Vec<String>>,
    ours: SopsFile,
    theirs: SopsFile,
}

impl Sides {
    fn open(
        store: &dyn Store,
        keys: &dyn KeyService,
        base: &[u8],
        ours: &[u8],
        theirs: &[u8],
    ) -> Result<Sides, CliError> {
        let order = decryption_order()?;
        let ours = SopsFile::open(store, ours, keys, &order)?;
        let theirs = SopsFile::open(store, theirs, keys, &order)?;
        // Both sides added the file: git's base is empty, as if every key were new.
        let (base, base_keys) = if base.iter().all(u8::is_ascii_whitespace) {
            let empty = Document {
                branches: vec![Map::new(); ours.document().branches.len()],
            };
            (empty, Vec::new())
        } else {
            let file = SopsFile::decrypt(store, base, keys, &order)?;
            let ids = identities(file.metadata());
            (file.into_document(), ids)
        };
        Ok(Sides {
            base,
            base_keys,
            ours,
            theirs,
        })
    }

    /// The merged file's bytes, or `None` when the result is ours as it is.
    fn merge(
        self,
        keys: &dyn KeyService,
        store: &dyn Store,
    ) -> Result<Option<Vec<u8>>, MergeFailure> {
        let Sides {
            base,
            base_keys,
            mut ours,
            theirs,
        } = self;
        let merged = merge::merge(&base, ours.document(), theirs.document());
        if !merged.is_clean() {
            return Err(MergeFailure::Conflicts(merged.conflicts.clone()));
        }
        let (our_keys, their_keys) = (identities(ours.metadata()), identities(theirs.metadata()));
        let keys_changed = if our_keys == their_keys || their_keys == base_keys {
            false
        } else if our_keys == base_keys {
            true
        } else {
            return Err(MergeFailure::Conflicts(vec![
                "sops key groups (both sides changed who can decrypt)".into(),
            ]));
        };
        if !keys_changed && merge::Same::same(&merged.doc, ours.document()) {
            return Ok(None);
        }
        if keys_changed {
            let threshold = theirs.metadata().shamir_threshold;
            ours.update_keys(keys, &spec_groups(theirs.metadata()), threshold)?;
        }
        ours.adopt_ivs(&theirs);
        let mut merged = merged;
        ours.replace(std::mem::take(&mut merged.doc), None);
        Ok(Some(ours.reseal(store)?))
    }
}

/// Who can open a file: the identities of each key group, sorted within the group.
fn identities(meta: &rsops::metadata::Metadata) -> Vec<Vec<String>> {
    meta.key_groups
        .iter()
        .map(|g| {
            let mut ids: Vec<String> = g.keys.iter().map(|k| k.identity()).collect();
            ids.sort();
            ids
        })
        .collect()
}
