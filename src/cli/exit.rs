//! Every exit code rsops uses, in one table, and the CLI's error type that carries one.
//!
//! The numbered codes are sops's (`cmd/sops/codes/codes.go`, same names in upper snake case),
//! a public contract that scripts test for. The last two are shell conventions for a child
//! process rsops runs. A child's own exit code passes through unchanged ([`CliError::Quiet`]).

/// Anything without a more specific code.
pub const ERROR_GENERIC: u8 = 1;
pub const COULD_NOT_READ_INPUT_FILE: u8 = 2;
pub const COULD_NOT_WRITE_OUTPUT_FILE: u8 = 3;
pub const ERROR_DUMPING_TREE: u8 = 4;
pub const ERROR_INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT: u8 = 6;
pub const ERROR_INVALID_SET_FORMAT: u8 = 7;
pub const ERROR_CONFLICTING_PARAMETERS: u8 = 8;
pub const ERROR_ENCRYPTING_TREE: u8 = 23;
pub const ERROR_DECRYPTING_TREE: u8 = 25;
/// Legacy mode: `--add-*`/`--rm-*` on a file that does not exist.
pub const CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE: u8 = 49;
pub const MAC_MISMATCH: u8 = 51;
pub const INVALID_TREE_PATH_FORMAT: u8 = 91;
pub const NEED_AT_LEAST_ONE_DOCUMENT: u8 = 92;
pub const NO_FILE_SPECIFIED: u8 = 100;
pub const DUPLICATE_DECRYPTION_KEY_TYPE: u8 = 112;
pub const COULD_NOT_RETRIEVE_KEY: u8 = 128;
/// `edit`: the editor saved the file unchanged.
pub const FILE_HAS_NOT_BEEN_MODIFIED: u8 = 200;
/// `edit`: no `$SOPS_EDITOR`/`$EDITOR`, and none of vim, nano, vi on `$PATH`.
pub const NO_EDITOR_FOUND: u8 = 201;
pub const FILE_ALREADY_ENCRYPTED: u8 = 203;

/// Shell convention: the command to run could not be started (`exec-*`'s supervisor).
pub const COMMAND_NOT_FOUND: u8 = 127;
/// Shell convention: a child killed by signal `n` is reported as `KILLED_BY_SIGNAL + n`.
pub const KILLED_BY_SIGNAL: u8 = 128;

/// An error on its way out of the CLI: what went wrong, what to try, and the exit code.
#[derive(Debug)]
pub enum CliError {
    /// Printed as sops's line (when sops reports this failure with a fixed message: scripts
    /// grep it), then `error: {message}` and `hint: {hint}`; then exit with `code`.
    Report {
        code: u8,
        message: String,
        hint: Option<String>,
        sops_line: Option<String>,
    },
    /// Exit with `code` and print nothing: a child's failure, which the child has reported.
    Quiet(u8),
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError::Report {
            code,
            message: message.into(),
            hint: None,
            sops_line: None,
        }
    }

    /// What to try; a quiet exit stays quiet.
    pub fn hint(mut self, text: impl Into<String>) -> CliError {
        if let CliError::Report { hint, .. } = &mut self {
            *hint = Some(text.into());
        }
        self
    }

    /// sops 3.11's own words for this failure, printed as the first line of stderr.
    pub fn sops_words(mut self, text: impl Into<String>) -> CliError {
        if let CliError::Report { sops_line, .. } = &mut self {
            *sops_line = Some(text.into());
        }
        self
    }

    pub fn code(&self) -> u8 {
        match self {
            CliError::Report { code, .. } | CliError::Quiet(code) => *code,
        }
    }

    /// The same error under another exit code.
    pub fn with_code(mut self, new_code: u8) -> CliError {
        match &mut self {
            CliError::Report { code, .. } => *code = new_code,
            CliError::Quiet(code) => *code = new_code,
        }
        self
    }

    /// The same error with `{prefix}: ` before its message.
    pub fn prefixed(mut self, prefix: &str) -> CliError {
        if let CliError::Report { message, .. } = &mut self {
            *message = format!("{prefix}: {message}");
        }
        self
    }

    /// The message, unless the exit is quiet.
    pub fn message(&self) -> Option<&str> {
        match self {
            CliError::Report { message, .. } => Some(message),
            CliError::Quiet(_) => None,
        }
    }

    /// Prints the error (unless quiet) on stderr and returns its exit code.
    pub fn report(&self) -> u8 {
        if let CliError::Report {
            message,
            hint,
            sops_line,
            ..
        } = self
        {
            match sops_line {
                // rsops's message already opens with sops's words (the key recovery report).
                Some(line) if message.starts_with(line.as_str()) => eprintln!("{message}"),
                Some(line) => {
                    eprintln!("{line}");
                    if !line.to_lowercase().contains(&message.to_lowercase()) {
                        eprintln!("error: {message}");
                    }
                }
                None => eprintln!("error: {message}"),
            }
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
        }
        self.code()
    }
}

/// `-i` with `--output`.
pub fn output_and_in_place() -> CliError {
    CliError::new(
        ERROR_CONFLICTING_PARAMETERS,
        "cannot operate on both --output and --in-place",
    )
    .sops_words("Error: cannot operate on both --output and --in-place")
}

/// A command that needs a file got none.
pub fn no_file_specified() -> CliError {
    CliError::new(NO_FILE_SPECIFIED, "no file specified").sops_words("Error: no file specified")
}

/// Go's `%q` of a string, as sops quotes file names: double quotes, with quotes, backslashes
/// and control characters escaped.
pub fn go_quote(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl From<rsops::file::Error> for CliError {
    fn from(e: rsops::file::Error) -> CliError {
        use rsops::file::Error as E;
        use rsops::stores::StoreError;
        let code = match &e {
            E::Store(StoreError::Unsupported { .. }) => ERROR_ENCRYPTING_TREE,
            E::Store(StoreError::Emit { .. }) => ERROR_DUMPING_TREE,
            E::Store(_) => COULD_NOT_READ_INPUT_FILE,
            E::NotEncrypted | E::Load(_) => ERROR_GENERIC,
            E::AlreadyEncrypted => FILE_ALREADY_ENCRYPTED,
            E::EmptyDocument => NEED_AT_LEAST_ONE_DOCUMENT,
            E::Regex(_) | E::Keys(_) | E::MasterKey(_) => ERROR_GENERIC,
            E::NoSuchGroup { .. } | E::ThresholdUnreachable { .. } => ERROR_GENERIC,
            E::NoDocument | E::NothingToExtract | E::Extract(_) | E::Unset(_) => ERROR_GENERIC,
            E::Recover(_) => COULD_NOT_RETRIEVE_KEY,
            E::Decrypt(_) => ERROR_DECRYPTING_TREE,
            E::Encrypt(_) => ERROR_ENCRYPTING_TREE,
            E::MacMismatch | E::MacMissing | E::MacUnreadable(_) => MAC_MISMATCH,
        };
        let hint = match &e {
            E::ThresholdUnreachable { .. } => {
                Some("lower the threshold with --shamir-secret-sharing-threshold")
            }
            E::Unset(_) => Some("use --idempotent to succeed when the value is already absent"),
            E::Recover(_) if e.to_string().contains("the key service at") => Some(
                "start the key service named above (`rsops keyservice` or `sops keyservice`) or fix --keyservice/SOPS_KEYSERVICE; without --enable-local-keyservice=false the local keys are tried first",
            ),
            _ => None,
        };
        let mut err = CliError::new(code, e.to_string());
        if let Some(hint) = hint {
            err = err.hint(hint);
        }
        match sops_line(&e) {
            Some(line) => err.sops_words(line),
            None => err,
        }
    }
}

/// sops 3.11's first line for the failures it reports with fixed words (`cmd/sops/common`,
/// `encrypt.go`, `keyservice`); MACs are never shown, unlike sops's line.
fn sops_line(e: &rsops::file::Error) -> Option<String> {
    use rsops::crypto::CryptoError;
    use rsops::file::Error as E;
    use rsops::tree::path::LookupError;
    const AES_GCM_FAILED: &str =
        "Could not decrypt with AES_GCM: cipher: message authentication failed";
    Some(match e {
        E::NotEncrypted => "sops metadata not found".to_string(),
        E::AlreadyEncrypted => ALREADY_ENCRYPTED.to_string(),
        E::EmptyDocument => {
            "File cannot be completely empty, it must contain at least one document".to_string()
        }
        E::MacMismatch => "MAC mismatch. File has [not shown], computed [not shown]".to_string(),
        E::MacMissing => "MAC mismatch. File has no MAC, computed [not shown]".to_string(),
        E::MacUnreadable(CryptoError::Authentication { .. }) => {
            format!("Cannot decrypt MAC: {AES_GCM_FAILED}")
        }
        E::Decrypt(CryptoError::Authentication { .. }) => format!(
            "Error decrypting tree: Error walking tree: Could not decrypt value: {AES_GCM_FAILED}"
        ),
        E::Recover(_) => {
            "Failed to get the data key required to decrypt the SOPS file.".to_string()
        }
        // Already in sops's words.
        E::Extract(_) => e.to_string(),
        E::Unset(LookupError::KeyNotFound(key)) => format!("Key not found: {key}"),
        E::Unset(LookupError::OutOfBounds(index)) => format!("Index {index} out of bounds"),
        _ => return None,
    })
}

/// sops's whole message for a plaintext that already has a `sops` entry.
const ALREADY_ENCRYPTED: &str =
    "The file you have provided contains a top-level entry called 'sops', or for
flat file formats top-level entries starting with 'sops_'. This is
generally due to the file already being encrypted. SOPS uses a top-level
entry called 'sops' to store the metadata required to decrypt the file. For
this reason, SOPS can not encrypt files that already contain such an entry.

If this is an unencrypted file, rename the 'sops' entry.

If this is an encrypted file and you want to edit it, use the editor mode,
for example: `sops my_file.yaml`";

impl From<rsops::config::ConfigError> for CliError {
    fn from(e: rsops::config::ConfigError) -> CliError {
        use rsops::config::ConfigError as E;
        let err = CliError::new(ERROR_GENERIC, e.to_string());
        match e {
            E::NoMatchingRule { .. } => {
                err.sops_words("error loading config: no matching creation rules found")
            }
            _ => err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_go_percent_q() {
        assert_eq!(go_quote("/tmp/a b.yaml"), r#""/tmp/a b.yaml""#);
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(go_quote("x\u{1}"), r#""x\x01""#);
    }

    #[test]
    fn mac_lines_keep_sops_words_and_show_no_hash() {
        for e in [
            rsops::file::Error::MacMismatch,
            rsops::file::Error::MacMissing,
        ] {
            let line = sops_line(&e).unwrap();
            assert!(line.starts_with("MAC mismatch. File has "), "{line}");
            assert!(
                !line
                    .chars()
                    .any(|c| c.is_ascii_hexdigit() && c.is_ascii_digit()),
                "{line}"
            );
        }
    }
}
