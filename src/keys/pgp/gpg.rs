//! Running the GnuPG binary the way sops does (`pgp/keysource.go: gpgExec`).

use crate::keys::discovery::Env;
use std::io::Write;
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// What a gpg run produced; stdout may hold a data key, so it is zeroized.
pub(super) struct GpgOutput {
    pub stdout: Zeroizing<Vec<u8>>,
}

/// Runs `gpg [--homedir $GNUPGHOME] ARGS` with `stdin`. `--homedir` is only passed when
/// `GNUPGHOME` is set, so an unset one leaves gpg its own default (`~/.gnupg`).
pub(super) fn run(env: &Env, args: &[&str], stdin: &[u8]) -> Result<GpgOutput, String> {
    let binary = env.gpg_binary();
    let mut cmd = Command::new(&binary);
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
    let mut child = cmd
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
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`{binary}` failed: {e}"))?;
    let _ = feeder.join();
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(format!(
            "`{binary}` exited with {}: {}",
            out.status,
            short_reason(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    Ok(GpgOutput { stdout })
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
