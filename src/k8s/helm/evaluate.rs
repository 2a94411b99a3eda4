//! `--evaluate-templates` (helm-secrets' flag): helm renders, then a post-renderer resolves the
//! `ref+sops://` and `ref+file://` references in the manifests ([`crate::k8s::refs`]). helm 4
//! runs post-renderers only as plugins (`postrenderer/v1`, helm-plugin/secrets-post-renderer);
//! helm 3 runs an executable, so there it is rsops itself.

use super::super::Error;
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The helm 4 post-renderer plugin's name (the same as helm-secrets', so one replaces the other).
pub const PLUGIN_NAME: &str = "secrets-post-renderer";
/// What rsops is told to run as the post-renderer (helm 3, and the plugin's script).
pub const POST_RENDERER_FLAG: &str = "--post-renderer";
pub const DECODE_SECRETS_FLAG: &str = "--evaluate-templates-decode-secrets";
const EVALUATE_FLAG: &str = "--evaluate-templates";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evaluate {
    pub enabled: bool,
    pub decode_secrets: bool,
}

/// helm-secrets' spelling: `--flag`, `--flag true|false` or `--flag=true|false`.
fn flag_value(args: &[OsString], i: usize, name: &str) -> Option<(bool, usize)> {
    let text = args[i].to_str()?;
    if text == name {
        return match args.get(i + 1).and_then(|a| a.to_str()) {
            Some("true") => Some((true, 2)),
            Some("false") => Some((false, 2)),
            _ => Some((true, 1)),
        };
    }
    match text.strip_prefix(name)?.strip_prefix('=')? {
        "true" => Some((true, 1)),
        "false" => Some((false, 1)),
        _ => None,
    }
}

/// Takes the two evaluate flags out of helm's arguments (helm knows neither); anything after
/// `--` is left alone. `defaults` come from the environment (`HELM_SECRETS_EVALUATE_TEMPLATES`…).
pub fn take_flags(args: &[OsString], defaults: Evaluate) -> (Evaluate, Vec<OsString>) {
    let mut evaluate = defaults;
    let mut rest = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--" {
            rest.extend_from_slice(&args[i..]);
            break;
        }
        if let Some((on, used)) = flag_value(args, i, DECODE_SECRETS_FLAG) {
            evaluate.decode_secrets = on;
            i += used;
        } else if let Some((on, used)) = flag_value(args, i, EVALUATE_FLAG) {
            evaluate.enabled = on;
            i += used;
        } else {
            rest.push(args[i].clone());
            i += 1;
        }
    }
    (evaluate, rest)
}

/// helm's major version, from `helm version --template {{.Version}}` (`v4.1.4` → 4).
pub fn helm_major(helm: &OsStr) -> Result<u32, Error> {
    let out = std::process::Command::new(helm)
        .args(["version", "--template", "{{.Version}}"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Error::Usage(format!(
                "could not run helm ({}): {e}; install helm or set HELM_BIN",
                Path::new(helm).display()
            ))
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .ok_or_else(|| Error::Usage(format!("cannot tell helm's version from `{}`", text.trim())))
}

/// The flags that make helm run the reference resolver on what it rendered: the plugin for
/// helm 4, `rsops_exe` for helm 3 (helm 3 runs an executable with `--post-renderer-args`).
pub fn post_renderer_flags(helm_major: u32, rsops_exe: &Path, evaluate: Evaluate) -> Vec<OsString> {
    let mut flags: Vec<OsString> = Vec::new();
    let mut arg = |a: &OsStr| {
        flags.push("--post-renderer-args".into());
        flags.push(a.to_os_string());
    };
    let mut head: Vec<OsString> = vec!["--post-renderer".into()];
    if helm_major >= 4 {
        head.push(PLUGIN_NAME.into());
    } else {
        head.push(rsops_exe.as_os_str().to_os_string());
        arg(OsStr::new("helm"));
        arg(OsStr::new(POST_RENDERER_FLAG));
    }
    if evaluate.decode_secrets {
        arg(OsStr::new(DECODE_SECRETS_FLAG));
    }
    head.extend(flags);
    head
}

/// `args` with `flags` added before any `--`.
pub fn with_flags(args: &[OsString], flags: Vec<OsString>) -> Vec<OsString> {
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut out = args[..split].to_vec();
    out.extend(flags);
    out.extend_from_slice(&args[split..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_are_taken_in_every_spelling_and_not_after_double_dash() {
        let (e, rest) = take_flags(
            &os(&[
                "--evaluate-templates",
                "template",
                "x",
                DECODE_SECRETS_FLAG,
                "--",
                "--evaluate-templates",
            ]),
            Evaluate::default(),
        );
        assert_eq!(
            e,
            Evaluate {
                enabled: true,
                decode_secrets: true
            }
        );
        assert_eq!(rest, os(&["template", "x", "--", "--evaluate-templates"]));
        let on = Evaluate {
            enabled: true,
            decode_secrets: false,
        };
        let (e, rest) = take_flags(&os(&["--evaluate-templates", "false", "template"]), on);
        assert!(!e.enabled);
        assert_eq!(rest, os(&["template"]));
        let (e, rest) = take_flags(
            &os(&["--evaluate-templates=true", "lint"]),
            Evaluate::default(),
        );
        assert!(e.enabled);
        assert_eq!(rest, os(&["lint"]));
    }

    #[test]
    fn helm_4_names_the_plugin_and_helm_3_runs_rsops() {
        let e = Evaluate {
            enabled: true,
            decode_secrets: true,
        };
        assert_eq!(
            post_renderer_flags(4, Path::new("/bin/rsops"), e),
            os(&[
                "--post-renderer",
                PLUGIN_NAME,
                "--post-renderer-args",
                DECODE_SECRETS_FLAG
            ])
        );
        assert_eq!(
            post_renderer_flags(
                3,
                Path::new("/bin/rsops"),
                Evaluate {
                    enabled: true,
                    decode_secrets: false
                }
            ),
            os(&[
                "--post-renderer",
                "/bin/rsops",
                "--post-renderer-args",
                "helm",
                "--post-renderer-args",
                POST_RENDERER_FLAG
            ])
        );
        assert_eq!(
            with_flags(&os(&["template", ".", "--", "x"]), os(&["-a"])),
            os(&["template", ".", "-a", "--", "x"])
        );
    }
}
