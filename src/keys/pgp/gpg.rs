//! Running the GnuPG binary the way sops does (`pgp/keysource.go: gpgExec`).

use crate::keys::discovery::Env;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// What a gpg run produced; stdout may hold a data key, so it is zeroized.
pub(super) struct GpgOutput {
    pub stdout: Zeroizing<Vec<u8>>,
    /// Kept for `--status-fd 2` lines; never holds plaintext.
    pub stderr: String,
}

/// gpg's stderr is only read for its last lines; a flood past this is drained, not kept.
const MAX_STDERR: u64 = 1 << 20;

/// Runs `gpg [--homedir $GNUPGHOME] ARGS` with `stdin`. `--homedir` is only passed when
/// `GNUPGHOME` is set, so an unset one leaves gpg its own default (`~/.gnupg`).
pub(super) fn run(env: &Env, args: &[&str], stdin: &[u8]) -> Result<GpgOutput, String> {
    run_limited(env, args, stdin, usize::MAX)
}

/// As `run`, but gpg is killed once its stdout passes `max_stdout` bytes: a compressed message
/// can inflate to gigabytes, and a data key is 32 bytes.
pub(super) fn run_limited(
    env: &Env,
    args: &[&str],
    stdin: &[u8],
    max_stdout: usize,
) -> Result<GpgOutput, String> {
    let binary = env.gpg_binary();
    let mut child = command(env, &binary, args)
        .spawn()
        .map_err(|e| format!("cannot run `{binary}`: {e} (install GnuPG or set SOPS_GPG_EXEC)"))?;
    // Feed stdin from a thread: gpg may fill its stdout pipe before it has read all input.
    let mut pipe = child.stdin.take();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        if let Some(pipe) = pipe.as_mut() {
            // A gpg that exits early closes the pipe; its exit status tells why.
            let _ = pipe.write_all(&input);
        }
        drop(pipe);
        drop(Zeroizing::new(input));
    });
    let stderr_pipe = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || read_stderr(stderr_pipe));
    let mut stdout = Zeroizing::new(Vec::new());
    let read = match child.stdout.take() {
        Some(pipe) => pipe
            .take(max_stdout.saturating_add(1) as u64)
            .read_to_end(&mut stdout),
        None => Ok(0),
    };
    let too_long = stdout.len() > max_stdout;
    if too_long {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| format!("`{binary}` failed: {e}"))?;
    let _ = feeder.join();
    let stderr = stderr_reader.join().unwrap_or_default();
    if too_long {
        return Err(format!(
            "`{binary}` wrote more than {max_stdout} bytes; that is not a sops data key"
        ));
    }
    read.map_err(|e| format!("reading from `{binary}`: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`{binary}` exited with {status}: {}",
            short_reason(&stderr)
        ));
    }
    Ok(GpgOutput { stdout, stderr })
}

fn command(env: &Env, binary: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary);
    // gpg sees the same environment as the snapshot (they differ only when one was given).
    match env.non_empty("GNUPGHOME") {
        Some(home) => {
            cmd.arg("--homedir").arg(home).env("GNUPGHOME", home);
        }
        None => {
            cmd.env_remove("GNUPGHOME");
        }
    }
    if let Some(home) = env.lookup("HOME") {
        cmd.env("HOME", home);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn read_stderr(pipe: Option<std::process::ChildStderr>) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let _ = (&mut pipe).take(MAX_STDERR).read_to_end(&mut kept);
    // Drain the rest so gpg never blocks on a full stderr pipe.
    let _ = std::io::copy(&mut pipe, &mut std::io::sink());
    String::from_utf8_lossy(&kept).into_owned()
}

/// The most telling line of gpg's stderr (its last `gpg: …` message), without the prefix.
pub(super) fn short_reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("gpg: "))
        .or(lines.last());
    match pick {
        Some(line) => line.trim_start_matches("gpg: ").to_string(),
        None => "no error message".to_string(),
    }
}

/// sops's `shortenFingerprint`: the last 16 hex digits (keeping a trailing `!`).
pub(super) fn short_fingerprint(fp: &str) -> &str {
    let mut offset = fp.len().saturating_sub(16);
    if fp.ends_with('!') {
        offset = offset.saturating_sub(1);
    }
    &fp[offset..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_fingerprint_like_sops() {
        let fp = "1BA4BB945673E83C054AF26813DC73C8F49DE51A";
        assert_eq!(short_fingerprint(fp), "13DC73C8F49DE51A");
        assert_eq!(
            short_fingerprint("1BA4BB945673E83C054AF26813DC73C8F49DE51A!"),
            "13DC73C8F49DE51A!"
        );
        assert_eq!(short_fingerprint("ABCD"), "ABCD");
    }

    #[test]
    fn reason_is_last_gpg_line() {
        let stderr = "gpg: encrypted with 3072-bit RSA key, ID 1, created 2026\n      \"x\"\ngpg: decryption failed: No secret key\n";
        assert_eq!(short_reason(stderr), "decryption failed: No secret key");
        assert_eq!(short_reason(""), "no error message");
    }

    #[test]
    fn missing_binary_is_reported() {
        let env = Env::from_pairs([("SOPS_GPG_EXEC", "/nonexistent/gpg")]);
        let err = run(&env, &["--version"], b"").err().unwrap();
        assert!(err.contains("SOPS_GPG_EXEC"), "{err}");
    }
}
