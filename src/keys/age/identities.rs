//! Loading age identities from the places sops looks (`age/keysource.go: loadIdentities`).

use super::tty::{prompt_secret, TtyCallbacks};
use crate::keys::discovery::Env;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;
use zeroize::Zeroizing;

pub(super) type BoxedIdentity = Box<dyn age::Identity + Send + Sync>;

pub(super) const KEY_ENV: &str = "SOPS_AGE_KEY";
pub(super) const KEY_FILE_ENV: &str = "SOPS_AGE_KEY_FILE";
pub(super) const KEY_CMD_ENV: &str = "SOPS_AGE_KEY_CMD";
pub(super) const SSH_KEY_FILE_ENV: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
pub(super) const SSH_KEY_CMD_ENV: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
pub(super) const RECIPIENT_ENV: &str = "SOPS_AGE_RECIPIENT";
const USER_CONFIG_PATH: &str = "sops/age/keys.txt";
/// The largest scrypt work factor (log2 N) Go's age accepts for a passphrase-protected file.
const GO_AGE_MAX_WORK_FACTOR: u8 = 22;
/// age's own limit for identity files (16 MiB).
const IDENTITY_SIZE_LIMIT: u64 = 1 << 24;

/// An identity file that is itself age-encrypted with a passphrase; it is only opened (and the
/// passphrase asked for) when no plain identity matched.
pub(super) struct EncryptedIdentityFile {
    pub location: String,
    contents: Vec<u8>,
    opened: OnceLock<Result<Vec<BoxedIdentity>, String>>,
}

impl EncryptedIdentityFile {
    pub fn identities(&self) -> Result<&[BoxedIdentity], String> {
        self.opened
            .get_or_init(|| open_encrypted(&self.location, &self.contents))
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }
}

/// What loading found: identities, and for error messages where they came from, which sources
/// were empty or unset, and what went wrong.
#[derive(Default)]
pub(super) struct Loaded {
    pub identities: Vec<BoxedIdentity>,
    pub encrypted: Vec<EncryptedIdentityFile>,
    pub found_in: Vec<String>,
    pub unused: Vec<String>,
    pub errors: Vec<String>,
}

impl Loaded {
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty() && self.encrypted.is_empty()
    }

    fn add(&mut self, location: &str, result: Result<Found, String>) {
        match result {
            Ok(Found::Plain(ids)) if ids.is_empty() => self.unused.push(location.to_string()),
            Ok(Found::Plain(ids)) => {
                self.found_in.push(location.to_string());
                self.identities.extend(ids);
            }
            Ok(Found::Encrypted(file)) => {
                self.found_in.push(location.to_string());
                self.encrypted.push(file);
            }
            Err(e) => self.errors.push(e),
        }
    }
}

pub(super) enum Found {
    Plain(Vec<BoxedIdentity>),
    Encrypted(EncryptedIdentityFile),
}

/// All sources except `SOPS_AGE_KEY_CMD` (which depends on the recipient), in sops's order.
pub(super) fn load_static(env: &Env) -> Loaded {
    let mut loaded = Loaded::default();
    load_ssh(env, &mut loaded);

    match env.lookup(KEY_ENV) {
        Some(text) => loaded.add(
            KEY_ENV,
            parse_identity_text(KEY_ENV, text, true).map(Found::Plain),
        ),
        None => loaded.unused.push(KEY_ENV.to_string()),
    }
    match env.lookup(KEY_FILE_ENV) {
        Some(path) => {
            let location = format!("{KEY_FILE_ENV} ({path})");
            let result = read_limited(Path::new(path))
                .map_err(|e| format!("failed to open {KEY_FILE_ENV} file {path}: {e}"))
                .and_then(|bytes| unwrap_identities(&location, bytes));
            loaded.add(&location, result);
        }
        None => loaded.unused.push(KEY_FILE_ENV.to_string()),
    }
    for cmd_env in [SSH_KEY_CMD_ENV, KEY_CMD_ENV] {
        if env.lookup(cmd_env).is_none() {
            loaded.unused.push(cmd_env.to_string());
        }
    }
    load_user_config(env, &mut loaded);
    loaded
}

fn load_ssh(env: &Env, loaded: &mut Loaded) {
    match env.lookup(SSH_KEY_FILE_ENV) {
        Some(path) => {
            let result = load_ssh_identity(Path::new(path)).map(|id| Found::Plain(vec![id]));
            loaded.add(&format!("{SSH_KEY_FILE_ENV} ({path})"), result);
        }
        None => loaded.unused.push(SSH_KEY_FILE_ENV.to_string()),
    }
    let Some(home) = env.home_dir() else {
        return;
    };
    for name in ["id_ed25519", "id_rsa"] {
        let path = home.join(".ssh").join(name);
        let location = path.display().to_string();
        if path.exists() {
            let result = load_ssh_identity(&path).map(|id| Found::Plain(vec![id]));
            loaded.add(&location, result);
        } else {
            loaded.unused.push(location);
        }
    }
}

/// `$XDG_CONFIG_HOME/sops/age/keys.txt`; its absence only matters when nothing else was found.
fn load_user_config(env: &Env, loaded: &mut Loaded) {
    let cmd_set = env.lookup(KEY_CMD_ENV).is_some();
    let dir = match env.user_config_dir() {
        Ok(dir) => dir,
        Err(e) => {
            if loaded.is_empty() && !cmd_set {
                loaded.errors.push(format!(
                    "user config directory could not be determined: {e}"
                ));
            }
            return;
        }
    };
    let path = dir.join(USER_CONFIG_PATH);
    let location = path.display().to_string();
    match read_limited(&path) {
        Ok(bytes) => loaded.add(&location, unwrap_identities(&location, bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if loaded.is_empty() && !cmd_set {
                loaded.unused.push(location);
            }
        }
        Err(e) => loaded
            .errors
            .push(format!("failed to open file {location}: {e}")),
    }
}

/// `SOPS_AGE_SSH_PRIVATE_KEY_CMD` (sops 3.12+) and `SOPS_AGE_KEY_CMD`, each run without a shell
/// (shlex split) and told in `SOPS_AGE_RECIPIENT` which recipient is wanted.
pub(super) fn load_from_cmd(env: &Env, recipient: &str) -> Loaded {
    let mut loaded = Loaded::default();
    if let Some(cmd) = env.lookup(SSH_KEY_CMD_ENV) {
        let result = run_key_cmd(SSH_KEY_CMD_ENV, cmd, recipient)
            .and_then(|out| ssh_identity_from_cmd(&out))
            .map(|id| Found::Plain(vec![id]));
        loaded.add(SSH_KEY_CMD_ENV, result);
    }
    if let Some(cmd) = env.lookup(KEY_CMD_ENV) {
        let result = run_key_cmd(KEY_CMD_ENV, cmd, recipient)
            .and_then(|out| unwrap_identities(KEY_CMD_ENV, out));
        loaded.add(KEY_CMD_ENV, result);
    }
    loaded
}

/// An SSH private key printed by `SOPS_AGE_SSH_PRIVATE_KEY_CMD`; as in sops, one protected by a
/// passphrase is refused (the command is expected to hand out a usable key).
fn ssh_identity_from_cmd(out: &[u8]) -> Result<BoxedIdentity, String> {
    let identity = age::ssh::Identity::from_buffer(BufReader::new(out), None).map_err(|e| {
        format!("malformed SSH identity returned by running {SSH_KEY_CMD_ENV}: {e}")
    })?;
    match identity {
        age::ssh::Identity::Unencrypted(_) => Ok(Box::new(identity)),
        age::ssh::Identity::Encrypted(_) => Err(format!(
            "the SSH key returned by running {SSH_KEY_CMD_ENV} is password protected, which is unsupported"
        )),
        age::ssh::Identity::Unsupported(_) => Err(format!(
            "unsupported SSH key type returned by running {SSH_KEY_CMD_ENV}"
        )),
    }
}

fn run_key_cmd(variable: &str, cmd: &str, recipient: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let args = shlex::split(cmd)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("failed to parse command from {variable}"))?;
    // Stderr stays on the terminal so a password manager behind the command can prompt.
    let out = Command::new(&args[0])
        .args(&args[1..])
        .env(RECIPIENT_ENV, recipient)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("failed to execute command {} from {variable}: {e}", args[0]))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(format!(
            "failed to execute command {} from {variable}: {}",
            args[0], out.status
        ));
    }
    Ok(stdout)
}

fn read_limited(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(IDENTITY_SIZE_LIMIT).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn load_ssh_identity(path: &Path) -> Result<BoxedIdentity, String> {
    let shown = path.display();
    let bytes = read_limited(path).map_err(|e| format!("failed to open file {shown}: {e}"))?;
    let identity =
        age::ssh::Identity::from_buffer(BufReader::new(bytes.as_slice()), Some(shown.to_string()))
            .map_err(|e| format!("malformed SSH identity in {shown}: {e}"))?;
    match identity {
        age::ssh::Identity::Unsupported(_) => Err(format!("unsupported SSH key type in {shown}")),
        id => Ok(Box::new(id.with_callbacks(TtyCallbacks))),
    }
}

/// sops's `unwrapIdentities`: an age-encrypted identity file (binary or armored), or text.
pub(super) fn unwrap_identities(
    location: &str,
    bytes: Zeroizing<Vec<u8>>,
) -> Result<Found, String> {
    if bytes.starts_with(b"age-encryption") || bytes.starts_with(b"-----BEGIN AGE") {
        return Ok(Found::Encrypted(EncryptedIdentityFile {
            location: location.to_string(),
            contents: bytes.to_vec(),
            opened: OnceLock::new(),
        }));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| format!("failed to parse '{location}' age identities: not UTF-8 text"))?;
    parse_identity_text(location, text, false).map(Found::Plain)
}

/// One identity per line (blank and `#` lines ignored); with `several_per_line`, as sops 3.13
/// does for `SOPS_AGE_KEY`, a line may hold several whitespace-separated identities.
pub(super) fn parse_identity_text(
    location: &str,
    text: &str,
    several_per_line: bool,
) -> Result<Vec<BoxedIdentity>, String> {
    let mut identities = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tokens: Vec<&str> = if several_per_line {
            line.split_whitespace().collect()
        } else {
            vec![line]
        };
        for token in tokens {
            let identity = parse_identity(token).map_err(|reason| {
                format!(
                    "failed to parse '{location}' age identities: line {}: {reason}",
                    index + 1
                )
            })?;
            identities.push(identity);
        }
    }
    Ok(identities)
}

fn parse_identity(s: &str) -> Result<BoxedIdentity, String> {
    if s.starts_with("AGE-PLUGIN-") {
        let identity = age::plugin::Identity::from_str(s)
            .map_err(|_| "malformed plugin identity".to_string())?;
        let plugin = identity.plugin().to_string();
        let resolved = age::plugin::IdentityPluginV1::new(&plugin, &[identity], TtyCallbacks)
            .map_err(|e| format!("plugin identity needs age-plugin-{plugin}: {e}"))?;
        return Ok(Box::new(resolved));
    }
    if s.starts_with("AGE-SECRET-KEY-1") {
        return age::x25519::Identity::from_str(s)
            .map(|id| Box::new(id) as BoxedIdentity)
            .map_err(|_| "malformed X25519 identity".to_string());
    }
    Err("unknown identity type".to_string())
}

fn open_encrypted(location: &str, contents: &[u8]) -> Result<Vec<BoxedIdentity>, String> {
    let reader = std::io::BufReader::new(age::armor::ArmoredReader::new(contents));
    let decryptor = age::Decryptor::new_buffered(reader)
        .map_err(|e| format!("failed to read encrypted identity file '{location}': {e}"))?;
    if !decryptor.is_scrypt() {
        return Err(format!(
            "identity file '{location}' is age-encrypted, but not with a passphrase"
        ));
    }
    let passphrase = prompt_secret(&format!("Enter passphrase for identity '{location}':"))
        .ok_or_else(|| {
            format!("cannot ask for the passphrase of encrypted identity file '{location}': no terminal")
        })?;
    let mut identity = age::scrypt::Identity::new(passphrase);
    // Go's age (and so sops) accepts work factors up to 2^22; the age crate's default limit
    // depends on how fast this machine runs scrypt and refused age -p's 2^18 on a busy one.
    identity.set_max_work_factor(GO_AGE_MAX_WORK_FACTOR);
    let mut stream = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                format!("incorrect passphrase for identity file '{location}'")
            }
            other => format!("cannot open identity file '{location}': {other}"),
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    stream
        .read_to_end(&mut plain)
        .map_err(|e| format!("failed to decrypt identity file '{location}': {e}"))?;
    let text = std::str::from_utf8(&plain)
        .map_err(|_| format!("decrypted identity file '{location}' is not UTF-8 text"))?;
    parse_identity_text(location, text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A public test key (keys/age1.txt).
    const KEY: &str = "AGE-SECRET-KEY-1W9E09T2A34Z9NJNYNF9LAWFZSC4Z2D8PGVLQF5HPGV0UNT0Y23GQGLKS2M";

    #[test]
    fn text_identities_skip_comments_and_blank_lines() {
        let text = format!("# created: today\n\n{KEY}\r\n  # another\n");
        assert_eq!(parse_identity_text("t", &text, false).unwrap().len(), 1);
    }

    #[test]
    fn several_per_line_only_when_allowed() {
        let text = format!("{KEY} {KEY}\n{KEY}");
        assert_eq!(parse_identity_text("t", &text, true).unwrap().len(), 3);
        assert!(parse_identity_text("t", &text, false).is_err());
    }

    #[test]
    fn bad_line_reports_line_number_not_content() {
        let err = parse_identity_text("src", "# ok\nAGE-SECRET-KEY-1SECRETSTUFF\n", false)
            .err()
            .unwrap();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("SECRETSTUFF"), "{err}");
        let err = parse_identity_text("src", "hunter2", false).err().unwrap();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn encrypted_identity_file_is_detected() {
        let found = unwrap_identities("f", Zeroizing::new(b"age-encryption.org/v1\n".to_vec()));
        assert!(matches!(found, Ok(Found::Encrypted(_))));
        let found = unwrap_identities(
            "f",
            Zeroizing::new(b"-----BEGIN AGE ENCRYPTED FILE-----\n".to_vec()),
        );
        assert!(matches!(found, Ok(Found::Encrypted(_))));
    }
}
