//! The `rsops` command line: sops's subcommands and legacy flags on top of the library.

pub mod args;
mod commands;
pub mod exit;
mod help;
mod io;
pub mod key_flags;
mod key_services;
mod plan;
mod ui;

use args::{Cli, Command, DecryptArgs, EncryptArgs, LegacyArgs};
use clap::{CommandFactory, Parser};
use exit::CliError;

/// Runs the CLI and returns the process exit code.
pub fn run() -> u8 {
    rsops::sys::process_guard::disable_core_dumps();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == commands::exec::SUPERVISE) {
        return commands::exec::supervise(&argv[2..]);
    }
    if argv.get(1).is_some_and(|a| a == commands::run_as::AS_USER) {
        return commands::run_as::as_user(&argv[2..]);
    }
    if let Some(code) = commands::k8s::by_program_name() {
        return code;
    }
    let cli = Cli::parse();
    if let Some(err) = args::mistyped_subcommand(&cli) {
        err.exit();
    }
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => e.report(),
    }
}

/// Starts (once) the thread that acts on every catchable terminating signal as
/// `rsops::sys::signals` decides: remove the plaintext and exit 128 + signal, or leave the signal
/// to the child that owns the decision. Only the commands that put plaintext somewhere call it, so
/// the others keep the default actions (and SIGPIPE stays ignored, writes reporting EPIPE).
pub(crate) fn catch_terminating_signals() {
    use signal_hook::iterator::{exfiltrator::WithOrigin, SignalsInfo};
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(mut signals) = SignalsInfo::<WithOrigin>::new(rsops::sys::signals::TERMINATING)
        else {
            return;
        };
        std::thread::spawn(move || {
            for origin in signals.forever() {
                let sender = origin.process.map(|p| p.pid);
                let action = rsops::sys::signals::on_signal(origin.signal, sender);
                if let rsops::sys::signals::Action::Exit(code) = action {
                    std::process::exit(code);
                }
            }
        });
    });
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    match &cli.command {
        Some(Command::Encrypt(a)) => commands::encrypt::run(global, a),
        Some(Command::Decrypt(a)) => commands::decrypt::run(global, a),
        Some(Command::Filestatus(a)) => commands::filestatus::run(global, a),
        Some(Command::K8s(a)) => commands::k8s::run_k8s(a),
        Some(Command::Helm(a)) => child_exit(commands::k8s::run_helm(a)),
        Some(Command::Kustomize(a)) => commands::k8s::run_kustomize(a),
        Some(Command::Git(a)) => commands::git::run(global, a),
        Some(Command::Edit(a)) => commands::edit::run(global, a),
        Some(Command::Set(a)) => commands::set::run_set(global, a),
        Some(Command::Unset(a)) => commands::set::run_unset(global, a),
        Some(Command::Rotate(a)) => commands::rotate::run(global, a),
        Some(Command::Updatekeys(a)) => commands::updatekeys::run(global, a),
        Some(Command::Groups(a)) => commands::groups::run(global, a),
        Some(Command::ExecEnv(a)) => child_exit(commands::exec::run_env(global, a)),
        Some(Command::ExecFile(a)) => child_exit(commands::exec::run_file(global, a)),
        Some(Command::Completion(a)) => completion(a.shell),
        Some(Command::Man) => man_page(),
        Some(Command::Keyservice(a)) => commands::keyservice::run(global, a),
        Some(Command::Publish(a)) => commands::publish::run(global, a),
        None => legacy(global, &cli.legacy),
    }
}

/// The manual page, generated from the same clap definitions as `--help` and the completions.
fn man_page() -> Result<(), CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("cannot render the manual: {e}"),
            )
        })?;
    io::write_output(&page, io::Contents::Ciphertext, None, None)
}

/// Generated into memory first: clap_complete panics when its writer fails (a closed pipe).
fn completion(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "rsops", &mut script);
    io::write_output(&script, io::Contents::Ciphertext, None, None)
}

/// A child's non-zero exit code passes through as rsops's own, without an error message.
fn child_exit(result: Result<u8, CliError>) -> Result<(), CliError> {
    match result? {
        0 => Ok(()),
        code => Err(CliError::Quiet(code)),
    }
}

/// sops's flag mode: `-e`/`-d`/`-r` with the flags before the file; a bare file is edited.
fn legacy(global: &args::GlobalArgs, l: &LegacyArgs) -> Result<(), CliError> {
    let decrypt_flags = args::DecryptFlags {
        ignore_mac: l.ignore_mac,
        decryption_order: l
            .decryption_order
            .clone()
            .or_else(|| std::env::var("SOPS_DECRYPTION_ORDER").ok()),
    };
    if let Some(file) = &l.file {
        refuse_key_changes_on_missing_file(file, &l.changes)?;
    }
    if let Some(set) = &l.set {
        return legacy_set(global, l, set, decrypt_flags);
    }
    let (mut encrypt, mut decrypt, rotate) = (l.encrypt, l.decrypt, l.rotate);
    if [encrypt, decrypt, rotate].iter().filter(|&&m| m).count() > 1 {
        // sops 3.11 only warns, then runs them in the order encrypt, decrypt, rotate, each on
        // the input file, and keeps the last one's output; an error of the discarded encrypt is
        // ignored, but its keys and config must resolve first (else exit 1, as alone). A missing
        // file is refused (100) before the warning.
        if let Some(file) = &l.file {
            io::existing_file(file)?;
        }
        eprintln!("warning: {MORE_THAN_ONE_COMMAND}");
        if encrypt {
            commands::encrypt::check_keys(
                global,
                &l.keys,
                &l.partial,
                &l.format,
                l.file.as_deref(),
            )?;
        }
        encrypt = false;
        if decrypt && rotate {
            // sops decrypts, rotates, then fails with the decryption's error (a bad `--extract`
            // path) unless the rotation failed first. Checking the decryption before rotating
            // keeps a doomed run from writing; when both would fail (the keys), the two errors
            // are the same.
            commands::decrypt::check(global, &legacy_decrypt_args(l, &decrypt_flags))?;
            decrypt = false;
        }
    }
    match (encrypt, decrypt, rotate) {
        (true, false, false) => commands::encrypt::run(
            global,
            &EncryptArgs {
                in_place: l.in_place,
                output: l.output.clone(),
                reuse: None,
                keys: l.keys.clone(),
                partial: l.partial.clone(),
                format: l.format.clone(),
                output_dir: None,
                files: l.file.clone().into_iter().collect(),
            },
        ),
        (false, true, false) => {
            commands::decrypt::run(global, &legacy_decrypt_args(l, &decrypt_flags))
        }
        (false, false, true) => {
            // `sops -r` checks the file before anything else and says "no file" (100).
            if let Some(file) = &l.file {
                io::existing_file(file)?;
            }
            commands::rotate::run(
                global,
                &args::RotateArgs {
                    in_place: l.in_place,
                    output: l.output.clone(),
                    changes: l.changes.clone(),
                    encryption_context: l.keys.encryption_context.clone(),
                    format: l.format.clone(),
                    decrypt: decrypt_flags,
                    file: l.file.clone(),
                },
            )
        }
        (false, false, false) => match &l.file {
            Some(file) => commands::edit::run(
                global,
                &args::EditArgs {
                    keys: l.keys.clone(),
                    partial: l.partial.clone(),
                    format: l.format.clone(),
                    decrypt: decrypt_flags,
                    show_master_keys: l.show_master_keys,
                    file: file.clone(),
                },
            ),
            None => {
                let _ = Cli::command().print_help();
                Ok(())
            }
        },
        _ => unreachable!("at most one of -e, -d and -r is left"),
    }
}

fn legacy_decrypt_args(l: &LegacyArgs, flags: &args::DecryptFlags) -> DecryptArgs {
    DecryptArgs {
        in_place: l.in_place,
        output: l.output.clone(),
        extract: l.extract.clone(),
        ignore_mac: l.ignore_mac,
        decryption_order: flags.decryption_order.clone(),
        format: l.format.clone(),
        output_dir: None,
        files: l.file.clone().into_iter().collect(),
    }
}

/// sops checks this before anything else in flag mode, whatever the mode.
fn refuse_key_changes_on_missing_file(
    file: &std::path::Path,
    changes: &args::KeyChanges,
) -> Result<(), CliError> {
    let absolute = rsops::config::absolute_clean(file);
    if absolute.exists() || (changes.add.is_empty() && changes.rm.is_empty()) {
        return Ok(());
    }
    Err(CliError::new(
        exit::CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE,
        format!("cannot add or remove keys on non-existent file {}", file.display()),
    )
    .sops_words(format!(
        "Error: cannot add or remove keys on non-existent file {}, use `--kms` and `--pgp` instead.",
        exit::go_quote(&absolute.to_string_lossy())
    ))
    .hint("to create a file, write its plaintext and run `rsops encrypt -i` with the keys"))
}

/// `sops --set '["a"] "v"' FILE`: always in place, as sops writes it. With `-e`/`-d`/`-r` too,
/// sops warns and keeps the last change, which is the set.
fn legacy_set(
    global: &args::GlobalArgs,
    l: &LegacyArgs,
    set: &str,
    decrypt: args::DecryptFlags,
) -> Result<(), CliError> {
    if l.encrypt || l.decrypt || l.rotate {
        eprintln!("warning: {MORE_THAN_ONE_COMMAND}");
    }
    let file = l.file.as_ref().ok_or_else(exit::no_file_specified)?;
    let invalid = || {
        CliError::new(
            exit::ERROR_INVALID_SET_FORMAT,
            "--set takes '[\"key\"] VALUE': a path, one space, then the value as JSON",
        )
        .sops_words("Invalid --set format")
    };
    // sops splits after the first "] ", so a path holding "] " cannot be set this way either.
    let split = set.find("] ").ok_or_else(invalid)? + 1;
    let (path, value) = (set[..split].trim_end(), &set[split + 1..]);
    rsops::tree::path::parse_tree_path(path).map_err(|_| invalid())?;
    commands::set::run_set(
        global,
        &args::SetArgs {
            format: l.format.clone(),
            decrypt,
            value_file: false,
            value_stdin: false,
            idempotent: false,
            shamir_secret_sharing_threshold: None,
            args: vec![
                file.to_string_lossy().into_owned(),
                path.to_string(),
                value.to_string(),
            ],
        },
    )
}

/// sops 3.11's warning for `-e`, `-d` and `-r` together, verbatim.
const MORE_THAN_ONE_COMMAND: &str = "More than one command (--encrypt, --decrypt, --rotate, --set) has been specified. Only the changes made by the last one will be visible. Note that this behavior is deprecated and will cause an error eventually.";
