//! User interaction for age: passphrases of encrypted identity files and SSH keys, and plugin
//! prompts, all on the controlling terminal (never on stdin/stdout, which carry file data).

use age::secrecy::SecretString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// age callbacks that talk to `/dev/tty`; without a terminal every request returns `None`,
/// which age turns into a clean "could not decrypt" error.
#[derive(Clone, Copy, Debug, Default)]
pub struct TtyCallbacks;

fn open_tty() -> Option<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()
}

/// Switches terminal echo via `stty` so no `unsafe` termios call is needed.
fn set_echo(tty: &File, on: bool) -> bool {
    let Ok(input) = tty.try_clone() else {
        return false;
    };
    Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(Stdio::from(input))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn read_line(tty: &File) -> Option<String> {
    let mut line = String::new();
    let reader = tty.try_clone().ok()?;
    BufReader::new(reader).read_line(&mut line).ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Asks for a secret on the terminal with echo off.
pub fn prompt_secret(prompt: &str) -> Option<SecretString> {
    let mut tty = open_tty()?;
    // Echo goes off before the prompt shows, so nothing typed after the prompt is echoed.
    if !set_echo(&tty, false) {
        // Refuse rather than echo a passphrase to the screen.
        return None;
    }
    if write!(tty, "{prompt} ").and_then(|_| tty.flush()).is_err() {
        set_echo(&tty, true);
        return None;
    }
    let line = read_line(&tty);
    set_echo(&tty, true);
    let _ = writeln!(tty);
    line.map(SecretString::from)
}

impl age::Callbacks for TtyCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let mut tty = open_tty()?;
        let choices = match no_string {
            Some(no) => format!("[{yes_string}/{no}]"),
            None => format!("[{yes_string}]"),
        };
        write!(tty, "{message} {choices} ").ok()?;
        tty.flush().ok()?;
        let answer = read_line(&tty)?;
        Some(no_string.is_none_or(|no| answer.trim() != no))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        let mut tty = open_tty()?;
        write!(tty, "{description} ").ok()?;
        tty.flush().ok()?;
        read_line(&tty)
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        prompt_secret(description)
    }
}
