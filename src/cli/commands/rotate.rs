use super::common;
use crate::cli::args::{GlobalArgs, KeyChanges, RotateArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::ui::Reporter;
use crate::cli::{io, plan};
use rsops::config::KeySpec;
use rsops::keys::registry::SpecOptions;

/// Applies `--add-*` (to the first group) and `--rm-*` (from every group) to the file's keys.
pub fn changed_groups(
    current: &[Vec<KeySpec>],
    changes: &KeyChanges,
    context: &Option<String>,
) -> Result<Vec<Vec<KeySpec>>, CliError> {
    let added = plan::specs_from_flags(
        &changes.add,
        &SpecOptions {
            encryption_context: context.clone(),
            ..SpecOptions::default()
        },
    )?
    .unwrap_or_default();
    let removed: Vec<String> = plan::specs_from_flags(&changes.rm, &SpecOptions::default())?
        .unwrap_or_default()
        .iter()
        .map(KeySpec::identity)
        .collect();
    let mut groups: Vec<Vec<KeySpec>> = current
        .iter()
        .map(|g| {
            g.iter()
                .filter(|k| !removed.contains(&k.identity()))
                .cloned()
                .collect()
        })
        .collect();
    if groups.is_empty() {
        groups.push(Vec::new());
    }
    for spec in added {
        if !groups[0].iter().any(|k| k.identity() == spec.identity()) {
            groups[0].push(spec);
        }
    }
    Ok(groups)
}

pub fn run(global: &GlobalArgs, args: &RotateArgs) -> Result<(), CliError> {
    if args.in_place && args.output.is_some() {
        return Err(exit::output_and_in_place());
    }
    let file = args.file.as_deref().ok_or_else(exit::no_file_specified)?;
    let progress = Reporter::status(global.quiet);
    progress.step(format!("rotate {}: decrypting", file.display()));
    let keys = crate::cli::plan::key_service(global);
    let (target, mut opened) = common::open(global, file, &args.format, &args.decrypt, &keys)?;
    let current = rsops::file::spec_groups(opened.metadata());
    let groups = changed_groups(&current, &args.changes, &args.encryption_context)?;
    progress.step(format!(
        "rotate {}: wrapping the new data key for {} key(s)",
        file.display(),
        groups.iter().map(Vec::len).sum::<usize>()
    ));
    opened.rotate(&keys, &groups)?;
    progress.step(format!(
        "rotate {}: re-encrypting every value",
        file.display()
    ));
    let bytes = opened.reseal(target.out_store.as_ref())?;
    let path = target.path;
    drop(progress);
    let in_place = if args.in_place {
        Some(path.as_path())
    } else {
        None
    };
    io::write_output(
        &bytes,
        io::Contents::Ciphertext,
        in_place,
        args.output.as_deref(),
    )
}
