//! `rsops k8s secret`, `rsops helm …` and `rsops kustomize …`: thin shells over `rsops::k8s`.

use crate::cli::exit::{self, CliError};
use clap::{Args, Parser, Subcommand};
use rsops::k8s::helm::evaluate;
use rsops::k8s::{self, helm, kustomize, refs, secret};
use rsops::tree::path::parse_tree_path;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Args, Debug)]
pub struct K8sArgs {
    #[command(subcommand)]
    pub command: K8sCommand,
}

#[derive(Subcommand, Debug)]
pub enum K8sCommand {
    /// Print a v1/Secret made from encrypted files (decrypted, MAC verified)
    #[command(after_help = crate::cli::help::K8S_SECRET)]
    Secret(SecretArgs),
}

#[derive(Args, Debug)]
pub struct SecretArgs {
    /// metadata.name (default: from the file name; with several files, one Secret per file)
    #[arg(long)]
    pub name: Option<String>,
    /// metadata.namespace (default: none, so kubectl's current namespace)
    #[arg(long)]
    pub namespace: Option<String>,
    /// Secret type, e.g. kubernetes.io/tls (its required keys are checked)
    #[arg(long = "type", value_name = "TYPE")]
    pub secret_type: Option<String>,
    /// k=v, repeatable
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,
    /// k=v, repeatable
    #[arg(long = "annotation", value_name = "K=V")]
    pub annotations: Vec<String>,
    /// Write UTF-8 values under stringData instead of base64 data
    #[arg(long)]
    pub string_data: bool,
    /// Set `immutable: true`: Kubernetes then refuses changes to the Secret's data
    #[arg(long)]
    pub immutable: bool,
    /// KEY=FILE: the whole decrypted file under one key (repeatable; binary files too)
    #[arg(long = "from-file", value_name = "KEY=FILE")]
    pub from_file: Vec<String>,
    /// Use the mapping at this path, e.g. '["db"]', instead of the top level
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Merge every source into one Secret
    #[arg(long)]
    pub merge: bool,
    /// Encrypted files whose top-level values become keys
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct HelmArgs {
    /// Run as the helm plugin (`helm secrets …`): also maps encrypt|decrypt|edit|view
    #[arg(long, hide = true)]
    pub plugin: bool,
    /// Run as the `secrets://` downloader (helm passes certFile keyFile caFile URL)
    #[arg(long, hide = true)]
    pub downloader: bool,
    /// Run as helm's post-renderer: manifests on stdin, references resolved, on stdout
    #[arg(long, hide = true)]
    pub post_renderer: bool,
    /// helm's own arguments; encrypted -f/--values/--set-file files are decrypted in memory
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "HELM ARGS"
    )]
    pub args: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct KustomizeArgs {
    /// Legacy exec plugin: the generator config file kustomize passes; without it, a KRM
    /// ResourceList is read from stdin
    pub config: Option<PathBuf>,
}

fn k8s_error(e: k8s::Error) -> CliError {
    match e {
        k8s::Error::Decrypt { path, source } => {
            CliError::from(source).prefixed(&path.display().to_string())
        }
        k8s::Error::Read { .. } => CliError::new(exit::COULD_NOT_READ_INPUT_FILE, e.to_string()),
        k8s::Error::NotEncrypted { .. } => CliError::new(exit::ERROR_GENERIC, e.to_string())
            .hint("encrypt it first (`rsops encrypt -i FILE`)"),
        other => CliError::new(exit::ERROR_GENERIC, other.to_string()),
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| CliError::new(exit::ERROR_GENERIC, format!("could not write stdout: {e}")))
}

fn pairs(values: &[String], what: &str) -> Result<Vec<(String, String)>, CliError> {
    values
        .iter()
        .map(|v| {
            v.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    CliError::new(
                        exit::ERROR_GENERIC,
                        format!("--{what} `{v}`: write it as KEY=VALUE"),
                    )
                })
        })
        .collect()
}

pub fn run_k8s(args: &K8sArgs) -> Result<(), CliError> {
    match &args.command {
        K8sCommand::Secret(a) => run_secret(a),
    }
}

fn run_secret(args: &SecretArgs) -> Result<(), CliError> {
    if args.files.is_empty() && args.from_file.is_empty() {
        return Err(CliError::new(
            exit::NO_FILE_SPECIFIED,
            "no input: give encrypted files, or --from-file=KEY=FILE",
        ));
    }
    let extract = match &args.extract {
        Some(text) => parse_tree_path(text).map_err(|e| {
            CliError::new(exit::INVALID_TREE_PATH_FORMAT, format!("--extract: {e}"))
        })?,
        None => Vec::new(),
    };
    let one_secret = args.merge || args.files.len() + usize::from(!args.from_file.is_empty()) <= 1;
    if !one_secret && (args.name.is_some() || !args.from_file.is_empty()) {
        return Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "several files make one Secret each, named after the file; --name and --from-file need --merge",
        ));
    }
    let base = SecretMetaBase {
        namespace: args.namespace.clone(),
        secret_type: args.secret_type.clone(),
        labels: pairs(&args.labels, "label")?,
        annotations: pairs(&args.annotations, "annotation")?,
        immutable: args.immutable,
    };
    let keys = rsops::keys::EnvKeys::from_env();
    let mut groups: Vec<(String, Vec<secret::Entry>)> = Vec::new();
    for file in &args.files {
        let (doc, _) = k8s::decrypt_document(&keys, file).map_err(k8s_error)?;
        let entries = secret::entries_from_document(&doc, file, &extract, args.string_data)
            .map_err(k8s_error)?;
        groups.push((secret::name_from_path(file), entries));
    }
    let mut from_files = Vec::new();
    for spec in &args.from_file {
        let (key, path) = spec.split_once('=').ok_or_else(|| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("--from-file `{spec}`: write it as KEY=FILE"),
            )
        })?;
        let (value, _) = k8s::decrypt_required(&keys, Path::new(path)).map_err(k8s_error)?;
        from_files.push(secret::Entry {
            key: key.to_string(),
            value,
            text: args.string_data,
        });
        if groups.is_empty() && args.files.is_empty() && from_files.len() == 1 {
            groups.push((secret::name_from_path(Path::new(path)), Vec::new()));
        }
    }
    if one_secret {
        let name = groups.first().map(|g| g.0.clone()).unwrap_or_default();
        let mut all: Vec<secret::Entry> = groups.into_iter().flat_map(|g| g.1).collect();
        all.extend(from_files);
        groups = vec![(args.name.clone().unwrap_or(name), all)];
    }
    let mut resources = Vec::new();
    for (name, entries) in &groups {
        let meta = base.with_name(name);
        secret::validate(&meta, entries).map_err(k8s_error)?;
        resources.push(secret::manifest(&meta, entries));
    }
    let yaml = secret::emit_yaml(resources).map_err(k8s_error)?;
    write_stdout(&yaml)
}

struct SecretMetaBase {
    namespace: Option<String>,
    secret_type: Option<String>,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    immutable: bool,
}

impl SecretMetaBase {
    fn with_name(&self, name: &str) -> secret::SecretMeta {
        secret::SecretMeta {
            name: name.to_string(),
            namespace: self.namespace.clone(),
            secret_type: self.secret_type.clone(),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            immutable: self.immutable,
        }
    }
}

/// `rsops helm …`: returns helm's exit code, which becomes rsops's.
pub fn run_helm(args: &HelmArgs) -> Result<u8, CliError> {
    let (skip_decrypt, helm_args) = skip_decrypt(&args.args);
    if args.downloader {
        let url = helm_args
            .last()
            .and_then(|a| a.to_str())
            .ok_or_else(|| CliError::new(exit::ERROR_GENERIC, "the downloader needs a URL"))?;
        let plain = if skip_decrypt {
            helm::download_with(&mut helm::redacted_for, url)
        } else {
            helm::download(&rsops::keys::EnvKeys::from_env(), url)
        }
        .map_err(k8s_error)?;
        write_stdout(&plain)?;
        return Ok(0);
    }
    if args.post_renderer {
        return post_render(&args.args).map(|()| 0).inspect_err(|e| {
            if let Some(message) = e.message() {
                post_renderer_notes(&[], &format!("error: {message}"));
            }
        });
    }
    let (evaluate, helm_args) = evaluate::take_flags(&helm_args, evaluate_defaults());
    if args.plugin {
        if let Some(code) = plugin_command(&helm_args)? {
            return Ok(code);
        }
    }
    if skip_decrypt {
        only_rendering(&helm_args)?;
    }
    // Without keys the references stay as they are, like every other secret.
    let (helm_args, _warnings_fd) = if evaluate.enabled && !skip_decrypt {
        with_post_renderer(&helm_args, evaluate)?
    } else {
        (helm_args, None)
    };
    crate::cli::catch_terminating_signals();
    let code = if skip_decrypt {
        helm::wrap_with(&mut helm::redacted_for, &helm_args)
    } else {
        // Values files copied or edited from one encrypted file share its data key: one unwrap.
        let keys = rsops::keys::cache::Cached::new(
            rsops::keys::EnvKeys::from_env(),
            crate::cli::plan::concurrency(),
        );
        helm::wrap(&keys, &helm_args)
    }
    .map_err(k8s_error)?;
    Ok(u8::try_from(code).unwrap_or(1))
}

/// `--skip-decrypt` (anywhere before `--`; helm has no such flag) or
/// `HELM_SECRETS_SKIP_DECRYPT=true`: render with placeholders instead of secrets, with no key.
const SKIP_DECRYPT_FLAG: &str = "--skip-decrypt";
const SKIP_DECRYPT_ENV: &str = "HELM_SECRETS_SKIP_DECRYPT";

/// Whether to skip decryption, and helm's arguments without the flag.
fn skip_decrypt(args: &[OsString]) -> (bool, Vec<OsString>) {
    let from_env =
        std::env::var(SKIP_DECRYPT_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let flagged = args[..end].iter().any(|a| a == SKIP_DECRYPT_FLAG);
    let kept = args[..end]
        .iter()
        .filter(|a| *a != SKIP_DECRYPT_FLAG)
        .chain(&args[end..])
        .cloned()
        .collect();
    (from_env || flagged, kept)
}

/// Placeholders are for looking at manifests; installing them would replace real secrets in a
/// cluster, so only the commands that render and stop are allowed.
fn only_rendering(args: &[OsString]) -> Result<(), CliError> {
    let command = args
        .iter()
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    if matches!(command.as_str(), "template" | "lint") {
        return Ok(());
    }
    Err(CliError::new(
        exit::ERROR_CONFLICTING_PARAMETERS,
        format!("--skip-decrypt (or {SKIP_DECRYPT_ENV}) works with `helm template` and `helm lint` only, not `{command}`"),
    )
    .hint("other commands would install the placeholders; name the helm command first: rsops helm template --skip-decrypt …"))
}
/// helm (3 and 4) keeps a post-renderer's stderr to itself unless it fails, so the post-renderer
/// writes its warnings to this inherited descriptor: a copy of the wrapper's stderr.
const WARNINGS_FD_ENV: &str = "RSOPS_POST_RENDERER_WARNINGS_FD";

/// helm-secrets' environment switches for `--evaluate-templates`.
fn evaluate_defaults() -> evaluate::Evaluate {
    let on = |name: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    evaluate::Evaluate {
        enabled: on("HELM_SECRETS_EVALUATE_TEMPLATES"),
        decode_secrets: on("HELM_SECRETS_EVALUATE_TEMPLATES_DECODE_SECRETS"),
    }
}

/// The helm arguments with the post-renderer added, and the stderr copy helm's children inherit
/// (kept open until helm has exited).
fn with_post_renderer(
    args: &[OsString],
    evaluate: evaluate::Evaluate,
) -> Result<(Vec<OsString>, Option<std::os::fd::OwnedFd>), CliError> {
    let major = evaluate::helm_major(&helm::helm_bin()).map_err(k8s_error)?;
    let exe = std::env::current_exe().map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("cannot tell where rsops is installed: {e}"),
        )
    })?;
    let flags = evaluate::post_renderer_flags(major, &exe, evaluate);
    // dup(2) leaves the copy inheritable, so it reaches the post-renderer through helm.
    let warnings = rustix::io::dup(std::io::stderr()).ok();
    if let Some(fd) = &warnings {
        use std::os::fd::AsRawFd;
        std::env::set_var(WARNINGS_FD_ENV, fd.as_raw_fd().to_string());
    }
    Ok((evaluate::with_flags(args, flags), warnings))
}

/// The wrapper's stderr, inherited through helm, when `rsops helm` started it.
fn wrapper_stderr() -> Option<std::fs::File> {
    let n: u32 = std::env::var(WARNINGS_FD_ENV).ok()?.parse().ok()?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(format!("/dev/fd/{n}"))
        .ok()
}

/// Where the post-renderer's warnings go: the wrapper's stderr when `rsops helm` started helm,
/// else its own stderr (which helm shows only on failure). An error (`error`, already printed
/// on the post-renderer's own stderr) is copied to the wrapper's, since helm 4 drops it.
fn post_renderer_notes(warnings: &[String], error: &str) {
    let inherited = wrapper_stderr();
    if inherited.is_none() && !error.is_empty() {
        return;
    }
    let mut sink: Box<dyn Write> = match inherited {
        Some(file) => Box::new(file),
        None => Box::new(std::io::stderr()),
    };
    for warning in warnings {
        let _ = writeln!(sink, "[rsops] warning: {warning}");
    }
    if !error.is_empty() {
        let _ = writeln!(sink, "[rsops post-renderer] {error}");
    }
}

/// helm's post-renderer: the rendered manifests on stdin, every `ref+sops://`/`ref+file://`
/// resolved on stdout; a warning on stderr for each other scheme, left as it is.
fn post_render(args: &[OsString]) -> Result<(), CliError> {
    let (evaluate, rest) = evaluate::take_flags(args, evaluate_defaults());
    if let Some(extra) = rest.first() {
        return Err(CliError::new(
            exit::ERROR_GENERIC,
            format!(
                "the post-renderer takes no argument `{}`",
                extra.to_string_lossy()
            ),
        )
        .hint("pass only --evaluate-templates-decode-secrets through --post-renderer-args"));
    }
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(refs::MAX_MANIFESTS as u64 + 1)
        .read_to_end(&mut input)
        .map_err(|e| {
            CliError::new(
                exit::COULD_NOT_READ_INPUT_FILE,
                format!("could not read the manifests on stdin: {e}"),
            )
        })?;
    let options = refs::Options {
        base: PathBuf::from("."),
        decode_secrets: evaluate.decode_secrets,
    };
    let resolved = refs::resolve_manifests(&rsops::keys::EnvKeys::from_env(), &input, &options)
        .map_err(k8s_error)?;
    post_renderer_notes(&resolved.warnings, "");
    write_stdout(&resolved.manifests)
}

/// `helm secrets encrypt|decrypt|edit|view FILE…` run the matching rsops command in this
/// process: its arguments are parsed as that command's and it calls the library like any other
/// (`edit` still opens the user's editor).
fn plugin_command(args: &[OsString]) -> Result<Option<u8>, CliError> {
    let Some(first) = args.first().and_then(|a| a.to_str()) else {
        return Ok(None);
    };
    let mapped = match first {
        "encrypt" => "encrypt",
        "decrypt" | "view" => "decrypt",
        "edit" => "edit",
        _ => return Ok(None),
    };
    let argv = ["rsops", mapped]
        .into_iter()
        .map(OsString::from)
        .chain(args[1..].iter().cloned());
    // Usage errors and --help print and exit as the command itself would.
    let cli = crate::cli::args::Cli::try_parse_from(argv).unwrap_or_else(|e| e.exit());
    crate::cli::dispatch(cli).map(|()| Some(0))
}

/// `rsops kustomize [CONFIG]`, also reached as a binary named `ksops`.
pub fn run_kustomize(args: &KustomizeArgs) -> Result<(), CliError> {
    let keys = rsops::keys::EnvKeys::from_env();
    let options = kustomize_options()?;
    let out = match &args.config {
        Some(path) => kustomize::legacy(&keys, path, options),
        None => {
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input).map_err(|e| {
                CliError::new(
                    exit::COULD_NOT_READ_INPUT_FILE,
                    format!("could not read stdin: {e}"),
                )
            })?;
            kustomize::krm(&keys, &input, options)
        }
    }
    .map_err(k8s_error)?;
    write_stdout(&out)
}

/// KSOPS's `KSOPS_CONCURRENCY_LIMIT` (a positive number; default 20) bounds the files decrypted
/// at once, so a config written for KSOPS behaves the same.
fn kustomize_options() -> Result<kustomize::Options, CliError> {
    let mut options = kustomize::Options::default();
    if let Some(text) = std::env::var_os("KSOPS_CONCURRENCY_LIMIT").filter(|v| !v.is_empty()) {
        let text = text.to_string_lossy();
        options.concurrency = text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                CliError::new(
                    exit::ERROR_GENERIC,
                    format!("KSOPS_CONCURRENCY_LIMIT `{text}` is not a positive number"),
                )
                .hint("set it to the number of files to decrypt at once, e.g. 20")
            })?;
    }
    Ok(options)
}

/// When installed under a generator's name (kustomize's plugin layout wants the binary named
/// after the kind), act as that generator without a subcommand.
pub fn by_program_name() -> Option<u8> {
    let argv0 = std::env::args_os().next()?;
    let name = Path::new(&argv0).file_name()?.to_str()?.to_string();
    if !matches!(name.as_str(), "ksops" | "rsops-kustomize") {
        return None;
    }
    let config = std::env::args_os().nth(1).map(PathBuf::from);
    Some(match run_kustomize(&KustomizeArgs { config }) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(message) = e.message() {
                eprintln!("error: {message}");
            }
            e.code()
        }
    })
}
