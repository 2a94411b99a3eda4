//! `rsops keyservice`: lend this process's keys (the environment's age identities, gpg keyring,
//! cloud credentials …) to sops or rsops clients on other machines or in containers, over sops's
//! gRPC key service protocol.

use crate::cli::args::{GlobalArgs, KeyserviceArgs};
use crate::cli::exit::{self, CliError};

#[cfg(not(feature = "keyservice"))]
pub fn run(_: &GlobalArgs, _: &KeyserviceArgs) -> Result<(), CliError> {
    Err(CliError::new(
        exit::ERROR_GENERIC,
        "this rsops build has no key service (cargo feature `keyservice`)",
    )
    .hint("rebuild with the default features"))
}

#[cfg(feature = "keyservice")]
pub fn run(global: &GlobalArgs, args: &KeyserviceArgs) -> Result<(), CliError> {
    use rsops::keys::remote::server::{self, Listener};
    let listener = bind(args)?;
    let socket = match &listener {
        Listener::Unix(_) => Some(std::path::PathBuf::from(&args.address)),
        Listener::Tcp(_) => None,
    };
    remove_socket_on_signal(socket);
    eprintln!("Listening on {}://{}", args.network, args.address);
    let keys = rsops::keys::EnvKeys::from_env();
    let mut observer = Terminal {
        prompt: args.prompt,
        verbose: global.verbose,
    };
    server::serve(listener, &keys, &mut observer).map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("Error running keyservice: {e}"),
        )
    })
}

#[cfg(feature = "keyservice")]
fn bind(args: &KeyserviceArgs) -> Result<rsops::keys::remote::server::Listener, CliError> {
    use rsops::keys::remote::server::Listener;
    let bound = match args.network.as_str() {
        "tcp" | "tcp4" | "tcp6" => std::net::TcpListener::bind(&args.address).map(Listener::Tcp),
        "unix" => std::os::unix::net::UnixListener::bind(&args.address).map(Listener::Unix),
        other => {
            return Err(CliError::new(
                exit::ERROR_GENERIC,
                format!("Error running keyservice: listen {other}: unknown network {other}"),
            )
            .hint("use --network tcp or --network unix"))
        }
    };
    bound.map_err(|e| {
        let err = CliError::new(
            exit::ERROR_GENERIC,
            format!(
                "Error running keyservice: listen {} {}: {e}",
                args.network, args.address
            ),
        );
        if e.kind() == std::io::ErrorKind::AddrInUse && args.network == "unix" {
            err.hint(format!(
                "another key service is running there, or one was killed and left its socket: remove {} if none is running",
                args.address
            ))
        } else {
            err.hint("choose another --address")
        }
    })
}

/// sops closes the socket (which removes it) and exits 0 on SIGINT/SIGTERM; so does rsops.
#[cfg(feature = "keyservice")]
fn remove_socket_on_signal(socket: Option<std::path::PathBuf>) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            eprintln!("Caught signal {signal}: shutting down.");
            if let Some(path) = &socket {
                let _ = std::fs::remove_file(path);
            }
            std::process::exit(0);
        }
    });
}

/// `--prompt` asks on the terminal as sops does (its question on stdout, the answer from
/// stdin); `--verbose` logs each request. Neither ever shows key material.
#[cfg(feature = "keyservice")]
struct Terminal {
    prompt: bool,
    verbose: bool,
}

#[cfg(feature = "keyservice")]
impl rsops::keys::remote::server::Observer for Terminal {
    fn allow(
        &mut self,
        operation: rsops::keys::remote::server::Operation,
        key: &rsops::config::KeySpec,
    ) -> bool {
        use std::io::Write;
        if !self.prompt {
            return true;
        }
        let described = rsops::keys::remote::server::describe(key);
        loop {
            print!("\nReceived {operation} request using {described}. Respond to request? (y/n): ");
            let _ = std::io::stdout().flush();
            let mut answer = String::new();
            match std::io::stdin().read_line(&mut answer) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
            match answer.trim() {
                "y" => return true,
                "n" => return false,
                _ => continue,
            }
        }
    }

    fn log(&mut self, line: &str) {
        if self.verbose {
            crate::cli::ui::verbose_line(line);
        }
    }
}
