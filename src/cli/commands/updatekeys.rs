use crate::cli::args::{FormatArgs, GlobalArgs, UpdateKeysArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::ui::{self, Reporter};
use crate::cli::{io, plan};
use rsops::config::{ConfigFile, KeySpec};
use rsops::file::EncryptedFile;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The files to update: the arguments, with directories walked when `-r` is given.
fn expand(args: &UpdateKeysArgs) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for path in &args.files {
        let path = io::existing_file(path)?;
        if path.is_dir() {
            if !args.recursive {
                return Err(CliError::new(
                    exit::ERROR_GENERIC,
                    format!("{} is a directory", path.display()),
                )
                .hint("pass -r/--recursive to update every encrypted file below it"));
            }
            walk(&path, &mut files);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

struct Diff {
    common: Vec<String>,
    added: Vec<String>,
    removed: Vec<String>,
}

fn diff_groups(ours: &[Vec<String>], theirs: &[Vec<String>]) -> Vec<Diff> {
    (0..ours.len().max(theirs.len()))
        .map(|i| {
            let our = ours.get(i).cloned().unwrap_or_default();
            let their = theirs.get(i).cloned().unwrap_or_default();
            Diff {
                common: their.iter().filter(|k| our.contains(k)).cloned().collect(),
                added: their.iter().filter(|k| !our.contains(k)).cloned().collect(),
                removed: our.iter().filter(|k| !their.contains(k)).cloned().collect(),
            }
        })
        .collect()
}

fn confirm() -> Result<bool, CliError> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    let question = ui::stdout_colour().question("Is this okay? (y/n):");
    loop {
        print!("{question}");
        let _ = std::io::stdout().flush();
        line.clear();
        let read = stdin.lock().read_line(&mut line).map_err(|e| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("could not read the answer: {e}"),
            )
        })?;
        if read == 0 {
            return Err(CliError::new(exit::ERROR_GENERIC, "no answer on stdin")
                .hint("pass -y to update without asking"));
        }
        match line.trim() {
            "y" => return Ok(true),
            "n" => return Ok(false),
            _ => {}
        }
    }
}

enum Outcome {
    Updated,
    UpToDate,
    Declined,
    NotEncrypted,
}

fn update_file(
    keys: &dyn rsops::keys::KeyService,
    global: &GlobalArgs,
    args: &UpdateKeysArgs,
    config: &ConfigFile,
    path: &Path,
    walking: bool,
    reporter: &Reporter,
) -> Result<Outcome, CliError> {
    let format = FormatArgs {
        input_type: args.input_type.clone(),
        ..FormatArgs::default()
    };
    let options = plan::store_options(global, Some(config))?;
    let store = plan::store(plan::formats(Some(path), &format).input, options);
    let bytes = io::read_input(Some(path))?;
    let mut file = match EncryptedFile::load(store.as_ref(), &bytes) {
        Ok(f) => f,
        Err(_) if walking => return Ok(Outcome::NotEncrypted),
        Err(e) => return Err(e.into()),
    };
    let rule = config.rule_for(path)?;
    plan::log_rule(global, config, rule.as_ref());
    let rule = rule.ok_or_else(|| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!(
                "the config file {} does not contain any creation rule",
                config.path.display()
            ),
        )
    })?;
    let ours: Vec<Vec<String>> = file
        .meta
        .key_groups
        .iter()
        .map(|g| g.keys.iter().map(|k| k.identity()).collect())
        .collect();
    let theirs: Vec<Vec<String>> = rule
        .key_groups
        .iter()
        .map(|g| g.iter().map(KeySpec::identity).collect())
        .collect();
    let diffs = diff_groups(&ours, &theirs);
    let threshold = file.meta.shamir_threshold.min(rule.key_groups.len());
    let keys_change = diffs
        .iter()
        .any(|d| !d.added.is_empty() || !d.removed.is_empty());
    if !keys_change && threshold == file.meta.shamir_threshold {
        reporter.info(&format!("File {} already up to date", path.display()));
        return Ok(Outcome::UpToDate);
    }
    let (from, to) = (file.meta.shamir_threshold, threshold);
    let accepted = reporter.suspend(|| {
        print_changes(&diffs, (from != to).then_some((from, to)));
        if args.yes {
            Ok(true)
        } else {
            confirm()
        }
    })?;
    if !accepted {
        reporter.info(&format!("File {} left unchanged", path.display()));
        return Ok(Outcome::Declined);
    }
    let order = plan::decryption_order(args.decrypt.decryption_order.as_deref())?;
    file.update_keys(keys, &order, &rule.key_groups, threshold)?;
    let out = file.emit(store.as_ref())?;
    io::write_atomic(path, &out, io::Contents::Ciphertext)?;
    reporter.info(&format!("File {} synced with new keys", path.display()));
    Ok(Outcome::Updated)
}

/// sops's listing of the change, with added keys green and removed ones red on a terminal.
fn print_changes(diffs: &[Diff], threshold: Option<(usize, usize)>) {
    let colour = ui::stdout_colour();
    println!("The following changes will be made to the file's groups:");
    if let Some((from, to)) = threshold {
        println!("Shamir threshold: {from} → {to}");
    }
    for (i, d) in diffs.iter().enumerate() {
        println!("Group {}", i + 1);
        d.common.iter().for_each(|k| println!("    {k}"));
        d.added
            .iter()
            .for_each(|k| println!("{}", colour.added(&format!("+++ {k}"))));
        d.removed
            .iter()
            .for_each(|k| println!("{}", colour.removed(&format!("--- {k}"))));
    }
}

pub fn run(global: &GlobalArgs, args: &UpdateKeysArgs) -> Result<(), CliError> {
    let config = plan::load_config(global)?.ok_or_else(|| {
        CliError::new(exit::ERROR_GENERIC, "no .sops.yaml found from the working directory upwards")
            .hint("updatekeys takes the keys from the matching creation rule; pass --config PATH or run it inside the repository")
    })?;
    let files = expand(args)?;
    let walking = args.files.iter().any(|p| p.is_dir());
    let reporter = Reporter::bar(global.quiet, files.len());
    let (mut updated, mut skipped) = (0, 0);
    // One service for every file: files that share a data key unwrap it once.
    let keys = plan::key_service(global);
    for path in &files {
        reporter.step(path.display().to_string());
        match update_file(
            keys.as_ref(),
            global,
            args,
            &config,
            path,
            walking,
            &reporter,
        )? {
            Outcome::Updated => updated += 1,
            Outcome::NotEncrypted => skipped += 1,
            Outcome::UpToDate | Outcome::Declined => {}
        }
        reporter.advance();
    }
    if walking {
        reporter.info(&format!(
            "updatekeys: {updated} file(s) updated, {skipped} not encrypted and skipped, {} checked",
            files.len()
        ));
    }
    Ok(())
}
