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
        Some(Command::Edit(a)) => commands::edit::run(global, a),
        Some(Command::Set(a)) => commands::set::run_set(global, a),
        Some(Command::Unset(a)) => commands::set::run_unset(global, a),
        Some(Command::Rotate(a)) => commands::rotate::run(global, a),
        Some(Command::Updatekeys(a)) => commands::updatekeys::run(global, a),
        Some(Command::Groups(a)) => commands::groups::run(global, a),
        Some(Command::ExecEnv(a)) => child_exit(commands::exec::run_env(global, a)),
        Some(Command::ExecFile(a)) => child_exit(commands::exec::run_file(global, a)),
        Some(Command::Completion(a)) => completion(a.shell),
        Some(Command::Keyservice(a)) => commands::keyservice::run(global, a),
        Some(Command::Publish(a)) => commands::publish::run(global, a),
        None => legacy(global, &cli.legacy),
    }
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
        decrypt &= !rotate;
    }
    match (encrypt, decrypt, rotate) {
        (true, false, false) => commands::encrypt::run(
            global,
            &EncryptArgs {
                in_place: l.in_place,
                output: l.output.clone(),
                keys: l.keys.clone(),
                partial: l.partial.clone(),
                format: l.format.clone(),
                file: l.file.clone(),
            },
        ),
        (false, true, false) => commands::decrypt::run(
            global,
            &DecryptArgs {
                in_place: l.in_place,
                output: l.output.clone(),
                extract: l.extract.clone(),
                ignore_mac: l.ignore_mac,
                decryption_order: decrypt_flags.decryption_order.clone(),
                format: l.format.clone(),
                file: l.file.clone(),
            },
        ),
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

/// sops 3.11's warning for `-e`, `-d` and `-r` together, verbatim.
const MORE_THAN_ONE_COMMAND: &str = "More than one command (--encrypt, --decrypt, --rotate, --set) has been specified. Only the changes made by the last one will be visible. Note that this behavior is deprecated and will cause an error eventually.";
