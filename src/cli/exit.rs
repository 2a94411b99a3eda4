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
    /// Printed as `error: {message}` (and `hint: {hint}`), then exit with `code`.
    Report {
        code: u8,
        message: String,
        hint: Option<String>,
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
        }
    }

    /// What to try; a quiet exit stays quiet.
    pub fn hint(self, text: impl Into<String>) -> CliError {
        match self {
            CliError::Report { code, message, .. } => CliError::Report {
                code,
                message,
                hint: Some(text.into()),
            },
            quiet @ CliError::Quiet(_) => quiet,
        }
    }

    pub fn code(&self) -> u8 {
        match self {
            CliError::Report { code, .. } | CliError::Quiet(code) => *code,
        }
    }

    /// The same error under another exit code.
    pub fn with_code(self, code: u8) -> CliError {
        match self {
            CliError::Report { message, hint, .. } => CliError::Report {
                code,
                message,
                hint,
            },
            CliError::Quiet(_) => CliError::Quiet(code),
        }
    }

    /// The same error with `{prefix}: ` before its message.
    pub fn prefixed(self, prefix: &str) -> CliError {
        match self {
            CliError::Report {
                code,
                message,
                hint,
            } => CliError::Report {
                code,
                message: format!("{prefix}: {message}"),
                hint,
            },
            quiet @ CliError::Quiet(_) => quiet,
        }
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
        if let CliError::Report { message, hint, .. } = self {
            eprintln!("error: {message}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
        }
        self.code()
    }
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
        let err = CliError::new(code, e.to_string());
        match hint {
            Some(hint) => err.hint(hint),
            None => err,
        }
    }
}

impl From<rsops::config::ConfigError> for CliError {
    fn from(e: rsops::config::ConfigError) -> CliError {
        CliError::new(ERROR_GENERIC, e.to_string())
    }
}
