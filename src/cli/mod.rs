//! The `rsops` command line: sops's subcommands and legacy flags on top of the library.

pub mod args;
mod commands;
pub mod exit;
mod io;
mod plan;

use args::{Cli, Command, DecryptArgs, EncryptArgs, LegacyArgs};
use clap::{CommandFactory, Parser};
use exit::CliError;

/// Runs the CLI and returns the process exit code.
pub fn run() -> u8 {
    if let Some(code) = commands::k8s::by_program_name() {
        return code;
    }
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(hint) = &e.hint {
                eprintln!("hint: {hint}");
            }
            e.code
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    match &cli.command {
        Some(Command::Encrypt(a)) => commands::encrypt::run(global, a),
        Some(Command::Decrypt(a)) => commands::decrypt::run(global, a),
        Some(Command::Filestatus(a)) => commands::filestatus::run(global, a),
        Some(Command::K8s(a)) => commands::k8s::run_k8s(a),
        Some(Command::Helm(a)) => {
            commands::k8s::run_helm(a).map(|code| std::process::exit(code.into()))
        }
        Some(Command::Kustomize(a)) => commands::k8s::run_kustomize(a),
        None => legacy(global, &cli.legacy),
    }
}

/// sops's flag mode: `-e`/`-d` with the flags before the file.
fn legacy(global: &args::GlobalArgs, l: &LegacyArgs) -> Result<(), CliError> {
    match (l.encrypt, l.decrypt) {
        (true, true) => Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "cannot use -e and -d together",
        )),
        (true, false) => commands::encrypt::run(
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
        (false, true) => commands::decrypt::run(
            global,
            &DecryptArgs {
                in_place: l.in_place,
                output: l.output.clone(),
                extract: l.extract.clone(),
                ignore_mac: l.ignore_mac,
                decryption_order: l
                    .decryption_order
                    .clone()
                    .or_else(|| std::env::var("SOPS_DECRYPTION_ORDER").ok()),
                format: l.format.clone(),
                file: l.file.clone(),
            },
        ),
        (false, false) => match &l.file {
            Some(file) => Err(CliError::new(
                exit::ERROR_GENERIC,
                format!("rsops cannot open {} in an editor yet", file.display()),
            )
            .hint("decrypt with `rsops decrypt FILE`, change the plaintext, and encrypt it again")),
            None => {
                let _ = Cli::command().print_help();
                Ok(())
            }
        },
    }
}
