//! The command line, spelled as sops 3.x spells it: subcommands, plus the legacy flag mode
//! (`rsops -d file`), with global flags before the subcommand (`rsops --config c.yaml encrypt f`).

use super::help;
use super::key_flags::{self, BackendFlags};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "rsops",
    version,
    disable_version_flag = true,
    about = "rsops: a fast, SOPS-compatible secrets encryptor",
    subcommand_precedence_over_arg = true,
    after_help = help::ROOT
)]
pub struct Cli {
    /// Print the version (`-v` as in sops)
    #[arg(short = 'v', short_alias = 'V', long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub legacy: LegacyArgs,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Path to the .sops.yaml config (skips the search from the working directory)
    #[arg(long, global = true, env = "SOPS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print what is done (never secrets)
    #[arg(long, global = true)]
    pub verbose: bool,
    /// No progress and no informational messages on stderr; errors still show
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Accepted for sops compatibility; rsops never checks for updates over the network
    #[arg(long, global = true, env = "SOPS_DISABLE_VERSION_CHECK", num_args = 0..=1, default_missing_value = "true")]
    pub disable_version_check: Option<String>,
    /// Accepted for sops compatibility; rsops never checks for updates over the network
    #[arg(long, global = true)]
    pub check_for_updates: bool,
    /// Keep plain every value below a comment matching this regex
    #[arg(long, global = true, value_name = "REGEX")]
    pub unencrypted_comment_regex: Option<String>,
    /// Encrypt only values below a comment matching this regex
    #[arg(long, global = true, value_name = "REGEX")]
    pub encrypted_comment_regex: Option<String>,
    /// Compute the MAC over encrypted values only
    #[arg(long, global = true)]
    pub mac_only_encrypted: bool,
    /// Indentation of YAML/JSON output
    #[arg(long, global = true, value_name = "N", allow_hyphen_values = true)]
    pub indent: Option<i64>,
    /// Use this process's own keys (false: only the --keyservice services)
    #[arg(long, global = true, env = "SOPS_ENABLE_LOCAL_KEYSERVICE", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub enable_local_keyservice: Option<String>,
    /// Also use the key service at URI (unix:///path.sock, tcp://host:port); repeatable; env SOPS_KEYSERVICE
    #[arg(long, global = true, value_name = "URI")]
    pub keyservice: Vec<String>,
}

/// Key flags shared by encrypt, edit and legacy mode.
#[derive(Args, Debug, Clone, Default)]
pub struct KeyArgs {
    // `--age`, `--pgp`, `--kms` …: one per key backend.
    #[command(flatten)]
    pub backends: BackendFlags<key_flags::Keys>,
    /// AWS profile for KMS requests
    #[arg(long, value_name = "PROFILE")]
    pub aws_profile: Option<String>,
    /// KMS encryption context: k1:v1,k2:v2
    #[arg(long, value_name = "CONTEXT")]
    pub encryption_context: Option<String>,
    /// Number of key groups needed to decrypt (Shamir)
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
}

/// Partial-encryption flags (at most one).
#[derive(Args, Debug, Clone, Default)]
pub struct PartialArgs {
    /// Leave plain the values whose key ends with this suffix (default: _unencrypted)
    #[arg(long, value_name = "SUFFIX")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only the values whose key ends with this suffix
    #[arg(long, value_name = "SUFFIX")]
    pub encrypted_suffix: Option<String>,
    /// Leave plain the values whose key matches this regex
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only the values whose key matches this regex
    #[arg(long, value_name = "REGEX")]
    pub encrypted_regex: Option<String>,
}

/// Input/output selection shared by most commands.
#[derive(Args, Debug, Clone, Default)]
pub struct FormatArgs {
    /// yaml, json, dotenv, ini or binary (default: from the file extension)
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// yaml, json, dotenv, ini or binary (default: from the file extension)
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
    /// Use this name (for the format and the .sops.yaml rules) instead of the file's
    #[arg(long, value_name = "PATH")]
    pub filename_override: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct EncryptArgs {
    /// Write the result back to the file
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The previous encrypted version: keep its data key, keys and the ciphertext of every
    /// unchanged value (default: the --output file, or for -i git's staged version, when it is
    /// a sops file you can open)
    #[arg(long, value_name = "OLD")]
    pub reuse: Option<PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub partial: PartialArgs,
    #[command(flatten)]
    pub format: FormatArgs,
    /// Write each file's result into this directory, under the file's name (several files)
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// The files to encrypt (stdin when absent; then --filename-override is required); several
    /// need --output-dir or --in-place
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct DecryptArgs {
    /// Write the result back to the file
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print only this part of the document, e.g. '["db"]["password"]' or '["list"][0]'
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Do not verify the MAC (values still have to authenticate)
    #[arg(long)]
    pub ignore_mac: bool,
    /// Key types to try first, comma-separated (default age,pgp)
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    pub decryption_order: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    /// Write each file's result into this directory, under the file's name (several files)
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// The files to decrypt (stdin when absent); several need --output-dir or --in-place
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct FileStatusArgs {
    /// yaml, json, dotenv, ini or binary (default: from the file extension)
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// The file to check (stdin when absent)
    pub file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Encrypt a file (to stdout unless -i/--output)
    #[command(after_help = help::ENCRYPT)]
    Encrypt(EncryptArgs),
    /// Decrypt a file (to stdout unless -i/--output)
    #[command(after_help = help::DECRYPT)]
    Decrypt(DecryptArgs),
    /// Print {"encrypted":true|false} for a file
    #[command(after_help = help::FILESTATUS)]
    Filestatus(FileStatusArgs),
    /// Kubernetes manifests from encrypted files
    #[command(after_help = help::K8S)]
    K8s(super::commands::k8s::K8sArgs),
    /// Run helm with encrypted -f/--values/--set-file files decrypted in memory
    #[command(
        after_help = help::HELM,
        help_template = help::HELM_TEMPLATE,
        override_usage = "rsops helm <HELM COMMAND> [HELM ARGS]..."
    )]
    Helm(super::commands::k8s::HelmArgs),
    /// git integration: diff textconv, merge driver, setup, commit check
    #[command(after_help = help::GIT)]
    Git(super::commands::git::GitArgs),
    /// kustomize generator (KSOPS schema): KRM function on stdin, or legacy exec plugin
    #[command(after_help = help::KUSTOMIZE)]
    Kustomize(super::commands::k8s::KustomizeArgs),
    /// Edit an encrypted file in $SOPS_EDITOR/$EDITOR (creates it when missing)
    #[command(after_help = help::EDIT)]
    Edit(EditArgs),
    /// Set one value in an encrypted file, in place: rsops set FILE '["a"]["b"]' '<json>'
    #[command(after_help = help::SET)]
    Set(SetArgs),
    /// Remove one value from an encrypted file, in place: rsops unset FILE '["a"]["b"]'
    #[command(after_help = help::UNSET)]
    Unset(UnsetArgs),
    /// New data key, every value re-encrypted; add or remove keys on the way
    #[command(after_help = help::ROTATE)]
    Rotate(RotateArgs),
    /// Re-wrap the data key for the keys of the matching .sops.yaml creation rule
    #[command(after_help = help::UPDATEKEYS)]
    Updatekeys(UpdateKeysArgs),
    /// Add or delete key groups
    #[command(after_help = help::GROUPS)]
    Groups(GroupsArgs),
    /// Run a command with the file's top-level values as environment variables
    #[command(after_help = help::EXEC_ENV)]
    ExecEnv(ExecEnvArgs),
    /// Run a command with the decrypted file as a FIFO (or temp file); {} is its path
    #[command(after_help = help::EXEC_FILE)]
    ExecFile(ExecFileArgs),
    /// Print a shell completion script
    #[command(after_help = help::COMPLETION)]
    Completion(CompletionArgs),
    /// Print the manual page (roff); read it with `rsops man | man -l -`
    #[command(after_help = help::MAN)]
    Man,
    /// Serve this process's keys to sops/rsops clients (sops's key service protocol)
    #[command(after_help = help::KEYSERVICE)]
    Keyservice(KeyserviceArgs),
    /// Publish a file (or, with --recursive, a directory) to its .sops.yaml destination_rules target
    #[command(after_help = help::PUBLISH)]
    Publish(PublishArgs),
}

#[derive(Args, Debug, Clone)]
pub struct PublishArgs {
    /// Pre-approve every upload (no question on the terminal)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Drop the file extension from the destination name
    #[arg(long)]
    pub omit_extensions: bool,
    /// Publish every file below a directory (names keep their relative path)
    #[arg(long)]
    pub recursive: bool,
    /// Key types to try first, comma-separated (default age,pgp)
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    pub decryption_order: Option<String>,
    /// The encrypted file to publish (a directory with --recursive)
    pub file: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct KeyserviceArgs {
    /// Network to listen on: tcp or unix
    #[arg(
        long,
        visible_alias = "net",
        default_value = "tcp",
        value_name = "NETWORK"
    )]
    pub network: String,
    /// Address to listen on, e.g. 127.0.0.1:5000 or /tmp/sops.sock
    #[arg(
        long,
        visible_alias = "addr",
        default_value = "127.0.0.1:5000",
        value_name = "ADDRESS"
    )]
    pub address: String,
    /// Ask on the terminal before answering each request
    #[arg(long)]
    pub prompt: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags every command that decrypts shares.
#[derive(Args, Debug, Clone, Default)]
pub struct DecryptFlags {
    /// Do not verify the MAC (values still have to authenticate)
    #[arg(long)]
    pub ignore_mac: bool,
    /// Key types to try first, comma-separated (default age,pgp)
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    pub decryption_order: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct EditArgs {
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub partial: PartialArgs,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// Edit the sops metadata too
    #[arg(short = 's', long)]
    pub show_master_keys: bool,
    /// The file to edit (created with the given keys when it does not exist)
    pub file: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct SetArgs {
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// The third argument is a file holding the value
    #[arg(long)]
    pub value_file: bool,
    /// Read the value from stdin (then only FILE and PATH are given)
    #[arg(long)]
    pub value_stdin: bool,
    /// Do not write the file when the value is already set
    #[arg(long)]
    pub idempotent: bool,
    /// Accepted for sops compatibility; the file keeps its threshold
    #[arg(long, value_name = "N", hide = true)]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// FILE PATH VALUE (or FILE PATH with --value-stdin)
    #[arg(num_args = 0..=3)]
    pub args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UnsetArgs {
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// Succeed without writing when the value is not there
    #[arg(long)]
    pub idempotent: bool,
    /// Accepted for sops compatibility; the file keeps its threshold
    #[arg(long, value_name = "N", hide = true)]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// FILE PATH
    #[arg(num_args = 0..=2)]
    pub args: Vec<String>,
}

/// `--add-*` and `--rm-*`: one pair per key backend.
#[derive(Args, Debug, Clone, Default)]
pub struct KeyChanges {
    #[command(flatten)]
    pub add: BackendFlags<key_flags::Add>,
    #[command(flatten)]
    pub rm: BackendFlags<key_flags::Remove>,
}

#[derive(Args, Debug, Clone)]
pub struct RotateArgs {
    /// Write the result back to the file
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub changes: KeyChanges,
    /// KMS encryption context for added KMS keys: k1:v1,k2:v2
    #[arg(long, value_name = "CONTEXT")]
    pub encryption_context: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// The file to rotate (stdin when absent)
    pub file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct UpdateKeysArgs {
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Walk directories given as arguments
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// yaml, json, dotenv, ini or binary (default: from each file's extension)
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// Files (or, with -r, directories)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct GroupsArgs {
    #[command(subcommand)]
    pub action: GroupsAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum GroupsAction {
    /// Add a key group made of the given keys
    #[command(after_help = help::GROUPS_ADD)]
    Add {
        /// The encrypted file
        #[arg(short = 'f', long)]
        file: PathBuf,
        // `--age`, `--pgp`, `--kms` …: one per key backend.
        #[command(flatten)]
        keys: BackendFlags<key_flags::Group>,
        /// AWS profile for KMS requests
        #[arg(long, value_name = "PROFILE")]
        aws_profile: Option<String>,
        /// KMS encryption context for the group's KMS keys: k1:v1,k2:v2
        #[arg(long, value_name = "CONTEXT")]
        encryption_context: Option<String>,
        /// Write the result back to the file (else to stdout)
        #[arg(short = 'i', long)]
        in_place: bool,
        /// Number of key groups needed to decrypt (Shamir)
        #[arg(long, value_name = "N")]
        shamir_secret_sharing_threshold: Option<usize>,
        #[command(flatten)]
        decrypt: DecryptFlags,
    },
    /// Delete the key group at INDEX
    #[command(after_help = help::GROUPS_DELETE)]
    Delete {
        /// The encrypted file
        #[arg(short = 'f', long)]
        file: PathBuf,
        /// Write the result back to the file (else to stdout)
        #[arg(short = 'i', long)]
        in_place: bool,
        /// Number of key groups needed to decrypt (Shamir) afterwards
        #[arg(long, value_name = "N")]
        shamir_secret_sharing_threshold: Option<usize>,
        #[command(flatten)]
        decrypt: DecryptFlags,
        /// The group's position, from 0
        index: usize,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ExecEnvArgs {
    /// Run the command with only the file's values in its environment
    #[arg(long)]
    pub pristine: bool,
    /// Replace rsops with the command (exec) instead of running it as a child
    #[arg(long)]
    pub same_process: bool,
    /// Accepted for sops compatibility; the command always runs in the foreground
    #[arg(long, hide = true)]
    pub background: bool,
    /// Run the command as this user (needs the privileges to switch)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// The encrypted files; where two set the same variable, the later file wins
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The command, run by `sh -c`
    #[arg(required = true)]
    pub command: String,
}

#[derive(Args, Debug, Clone)]
pub struct ExecFileArgs {
    /// Write a 0600 temporary file instead of a FIFO
    #[arg(long)]
    pub no_fifo: bool,
    /// The name of the file (or FIFO) inside the private directory (default: tmp-file)
    #[arg(long, value_name = "NAME")]
    pub filename: Option<String>,
    /// Accepted for sops compatibility; the command always runs in the foreground
    #[arg(long, hide = true)]
    pub background: bool,
    /// Run the command as this user (needs the privileges to switch)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// The encrypted files; with several, each keeps its own name and {} is all their paths
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The command, run by `sh -c`; {} is replaced by the decrypted file's path
    #[arg(required = true)]
    pub command: String,
}

/// sops's legacy mode: `rsops -e|-d [flags] FILE`.
#[derive(Args, Debug, Clone, Default)]
pub struct LegacyArgs {
    /// Encrypt the file
    #[arg(short = 'e', long = "encrypt")]
    pub encrypt: bool,
    /// Decrypt the file
    #[arg(short = 'd', long = "decrypt")]
    pub decrypt: bool,
    /// Rotate the data key
    #[arg(short = 'r', long = "rotate")]
    pub rotate: bool,
    /// With edit: edit the sops metadata too
    #[arg(short = 's', long = "show-master-keys")]
    pub show_master_keys: bool,
    #[command(flatten)]
    pub changes: KeyChanges,
    /// Write the result back to the file
    #[arg(short = 'i', long = "in-place")]
    pub in_place: bool,
    /// Write the result to this file
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With -d: print only this part of the document
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Set one value in place, written '["key"] VALUE' (VALUE is JSON), as `rsops set`
    #[arg(long, value_name = "'PATH VALUE'")]
    pub set: Option<String>,
    /// With -d: do not verify the MAC
    #[arg(long)]
    pub ignore_mac: bool,
    /// With -d: key types to try first
    #[arg(long, value_name = "TYPES")]
    pub decryption_order: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub partial: PartialArgs,
    #[command(flatten)]
    pub format: FormatArgs,
    /// The file for -e, -d or -r; alone, it is edited (created when missing), as `sops FILE`
    pub file: Option<PathBuf>,
}

/// Words that are no rsops subcommand but would be read as one: sops's subcommands rsops does not
/// have, and common guesses.
const KNOWN_WORDS: &[&str] = &["version", "completions", "h"];

/// A typo is at most this many edits from a subcommand's name.
const MAX_TYPO_DISTANCE: usize = 2;

/// sops's legacy `sops FILE` edits FILE, creating it when missing, so `rsops completoin` would
/// open an editor on a new file named after the typo. A bare word that names no file and looks
/// like a subcommand gets clap's "unrecognized subcommand" error instead.
pub fn mistyped_subcommand(cli: &Cli) -> Option<clap::Error> {
    let l = &cli.legacy;
    if cli.command.is_some() || l.encrypt || l.decrypt || l.rotate {
        return None;
    }
    let file = l.file.as_deref()?;
    if file.symlink_metadata().is_ok() {
        return None;
    }
    let word = file.to_str()?;
    let suggestion = typo_of_subcommand(word)?;
    Some(unrecognized_subcommand(word, suggestion))
}

/// `None`: not a subcommand-like word. `Some(suggestion)`: a typo or a known word, with the
/// closest subcommand if one is near enough.
fn typo_of_subcommand(word: &str) -> Option<Option<String>> {
    let looks_like_a_word = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit());
    if !looks_like_a_word {
        return None;
    }
    let closest = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .map(|name| (strsim::levenshtein(word, &name), name))
        .min()
        .filter(|(distance, _)| *distance <= MAX_TYPO_DISTANCE)
        .map(|(_, name)| name);
    (closest.is_some() || KNOWN_WORDS.contains(&word)).then_some(closest)
}

fn unrecognized_subcommand(word: &str, suggestion: Option<String>) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut cmd = Cli::command();
    let mut err = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(&cmd);
    err.insert(
        ContextKind::InvalidSubcommand,
        ContextValue::String(word.to_string()),
    );
    if let Some(name) = suggestion {
        err.insert(ContextKind::SuggestedSubcommand, ContextValue::String(name));
    }
    err.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![format!(
            "to edit a new file named '{word}', use 'rsops edit {word}'"
        )
        .into()]),
    );
    err.insert(
        ContextKind::Usage,
        ContextValue::StyledStr(cmd.render_usage()),
    );
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Walks the whole tree, as `--help` shows it (global flags propagated).
    #[test]
    fn every_arg_has_help_and_every_command_has_examples() {
        let mut root = Cli::command();
        root.build();
        let mut missing = Vec::new();
        check_help(&root, "rsops", &mut missing);
        assert!(missing.is_empty(), "\n{}", missing.join("\n"));
    }

    fn check_help(cmd: &clap::Command, name: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin
                && arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
            {
                missing.push(format!("{name}: {} has no help text", arg.get_id()));
            }
        }
        let after = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let examples = after.split_once("Examples:\n").map_or(0, |(_, list)| {
            list.lines().filter(|l| l.starts_with("  ")).count()
        });
        if examples < 2 {
            missing.push(format!("{name}: fewer than two examples after its help"));
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            check_help(sub, &format!("{name} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn helm_help_shows_what_applies_to_helm() {
        let mut root = Cli::command();
        root.build();
        let helm = root.find_subcommand_mut("helm").expect("helm subcommand");
        let text = helm.render_long_help().to_string();
        for absent in ["--config", "--indent", "--mac-only-encrypted", "--verbose"] {
            assert!(!text.contains(absent), "{absent} in:\n{text}");
        }
        for present in [
            "HELM_BIN",
            "RSOPS_HELM_VALUES=tempdir",
            "Examples:\n  rsops helm",
        ] {
            assert!(text.contains(present), "no {present} in:\n{text}");
        }
    }

    #[test]
    fn global_flags_go_before_the_subcommand() {
        let cli = Cli::try_parse_from([
            "rsops", "--config", "c.yaml", "encrypt", "--age", "age1x", "f.yaml",
        ])
        .unwrap();
        assert_eq!(
            cli.global.config.as_deref(),
            Some(std::path::Path::new("c.yaml"))
        );
        assert!(matches!(cli.command, Some(Command::Encrypt(_))));
    }

    #[test]
    fn typos_of_subcommands_are_recognised() {
        assert_eq!(typo_of_subcommand("encrpyt"), Some(Some("encrypt".into())));
        assert_eq!(
            typo_of_subcommand("completoin"),
            Some(Some("completion".into()))
        );
        assert_eq!(
            typo_of_subcommand("updatekey"),
            Some(Some("updatekeys".into()))
        );
        assert_eq!(typo_of_subcommand("version"), Some(None));
        for file in ["secrets.yaml", "prod/app", "Makefile", "database", ""] {
            assert_eq!(typo_of_subcommand(file), None, "{file}");
        }
    }

    #[test]
    fn a_bare_typo_is_an_error_not_a_file_to_edit() {
        let cli = Cli::try_parse_from(["rsops", "decrpyt"]).unwrap();
        let err = mistyped_subcommand(&cli).expect("a typo");
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidSubcommand);
        let text = err.to_string();
        assert!(text.contains("unrecognized subcommand 'decrpyt'"), "{text}");
        assert!(text.contains("'decrypt'"), "{text}");
        for not_typo in [
            &["rsops", "-d", "decrpyt"][..],
            &["rsops", "decrypt", "x.yaml"],
        ] {
            let cli = Cli::try_parse_from(not_typo).unwrap();
            assert!(mistyped_subcommand(&cli).is_none(), "{not_typo:?}");
        }
    }

    #[test]
    fn legacy_flags_and_bare_file() {
        let cli = Cli::try_parse_from(["rsops", "-d", "--extract", r#"["a"]"#, "f.yaml"]).unwrap();
        assert!(cli.command.is_none() && cli.legacy.decrypt);
        assert_eq!(
            cli.legacy.file.as_deref(),
            Some(std::path::Path::new("f.yaml"))
        );
        let cli = Cli::try_parse_from(["rsops", "secrets.yaml"]).unwrap();
        assert!(cli.command.is_none() && !cli.legacy.decrypt);
    }
}
