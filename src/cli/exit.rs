//! sops's exit codes (cmd/sops/codes), and the CLI's error type that carries one.

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
pub const FILE_ALREADY_ENCRYPTED: u8 = 203;

/// An error on its way out of the CLI: what went wrong, what to try, and sops's exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
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
