//! Rewriting helm's arguments: every file named by `-f/--values` (comma lists included) and
//! `--set-file`, in each of pflag's spellings, goes through a caller's decision; everything else
//! passes through byte for byte.

use super::super::Error;
use std::ffi::OsString;

/// What a file argument is used for: values are YAML for helm; `--set-file` content is the
/// file's own plaintext, as `sops decrypt` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    Values,
    SetFile,
}

/// What becomes of one file argument.
#[derive(Debug, PartialEq, Eq)]
pub enum Swapped {
    Keep,
    Path(String),
    /// An optional file (`?path`, as in helm-secrets) that does not exist: left out.
    Drop,
}

/// Decides what becomes of one file argument.
pub type Swap<'a> = dyn FnMut(&str, Use) -> Result<Swapped, Error> + 'a;

/// Rewrites helm's arguments, calling `swap` for each file named by `-f/--values` (comma lists
/// included) and `--set-file`; a flag whose files are all dropped is left out with its value.
/// Everything else, and everything after `--`, passes through byte for byte.
pub fn rewrite_args(args: &[OsString], swap: &mut Swap) -> Result<Vec<OsString>, Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(text) = arg.to_str() else {
            out.push(arg.clone());
            continue;
        };
        if text == "--" {
            out.extend(args[i - 1..].iter().cloned());
            break;
        }
        let Some((flag, attached, kind)) = split_flag(text) else {
            out.push(arg.clone());
            continue;
        };
        let value = match attached {
            Some(v) => v.to_string(),
            None => match args.get(i).and_then(|a| a.to_str()) {
                Some(v) => {
                    i += 1;
                    v.to_string()
                }
                None => {
                    out.push(arg.clone());
                    continue;
                }
            },
        };
        let value = match kind {
            Use::Values => rewrite_list(&value, |f| swap(f, Use::Values))?,
            Use::SetFile => rewrite_set_file(&value, |f| swap(f, Use::SetFile))?,
        };
        if let Some(value) = value {
            out.push(OsString::from(flag));
            out.push(OsString::from(value));
        }
    }
    Ok(out)
}

/// `-f X`, `-fX`, `-f=X`, `--values X`, `--values=X`, `--set-file X`, `--set-file=X`.
fn split_flag(text: &str) -> Option<(&'static str, Option<&str>, Use)> {
    for (long, kind) in [("--values", Use::Values), ("--set-file", Use::SetFile)] {
        if text == long {
            return Some((long, None, kind));
        }
        if let Some(v) = text.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            return Some((long, Some(v), kind));
        }
    }
    let rest = text.strip_prefix("-f")?;
    if text.starts_with("--") {
        return None;
    }
    Some(match rest {
        "" => ("--values", None, Use::Values),
        _ => (
            "--values",
            Some(rest.strip_prefix('=').unwrap_or(rest)),
            Use::Values,
        ),
    })
}

/// pflag's string slices split on commas; `None` when every part was dropped.
fn rewrite_list(
    value: &str,
    mut swap: impl FnMut(&str) -> Result<Swapped, Error>,
) -> Result<Option<String>, Error> {
    let mut out = Vec::new();
    for part in value.split(',') {
        match swap(part)? {
            Swapped::Keep => out.push(part.to_string()),
            Swapped::Path(new) => out.push(new),
            Swapped::Drop => {}
        }
    }
    Ok((!out.is_empty()).then(|| out.join(",")))
}

/// `key=path[,key2=path2]`; helm escapes a literal comma as `\,`.
fn rewrite_set_file(
    value: &str,
    mut swap: impl FnMut(&str) -> Result<Swapped, Error>,
) -> Result<Option<String>, Error> {
    let mut out = Vec::new();
    for pair in split_unescaped_commas(value) {
        match pair.split_once('=') {
            Some((key, path)) => match swap(&path.replace("\\,", ","))? {
                Swapped::Keep => out.push(pair.to_string()),
                Swapped::Path(new) => out.push(format!("{key}={new}")),
                Swapped::Drop => {}
            },
            None => out.push(pair.to_string()),
        }
    }
    Ok((!out.is_empty()).then(|| out.join(",")))
}

fn split_unescaped_commas(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b',' && (i == 0 || bytes[i - 1] != b'\\') {
            parts.push(&value[start..i]);
            start = i + 1;
        }
    }
    parts.push(&value[start..]);
    parts
}

/// The local file an argument names, if any: `secrets://` is stripped; URLs and `-` are not files.
pub fn local_file(spec: &str) -> Option<&str> {
    if let Some(path) = spec.strip_prefix("secrets://") {
        return Some(path);
    }
    if spec == "-" || spec.contains("://") || spec.is_empty() {
        return None;
    }
    Some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn rewrite(args: &[&str]) -> Vec<String> {
        let mut seen = Vec::new();
        let out = rewrite_args(&os(args), &mut |f, u| {
            seen.push((f.to_string(), u));
            Ok(if f.starts_with("enc") {
                Swapped::Path(format!("/dev/fd/{}", seen.len()))
            } else if f.starts_with("gone") {
                Swapped::Drop
            } else {
                Swapped::Keep
            })
        })
        .unwrap();
        out.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn every_spelling_of_values_is_rewritten() {
        assert_eq!(
            rewrite(&[
                "template",
                "x",
                "-f",
                "enc.yaml",
                "-fenc2.yaml",
                "-f=plain.yaml"
            ]),
            [
                "template",
                "x",
                "--values",
                "/dev/fd/1",
                "--values",
                "/dev/fd/2",
                "--values",
                "plain.yaml"
            ]
        );
        assert_eq!(
            rewrite(&["--values=enc.yaml,plain.yaml", "--values", "enc3"]),
            ["--values", "/dev/fd/1,plain.yaml", "--values", "/dev/fd/3"]
        );
    }

    #[test]
    fn dropped_files_leave_out_their_flag() {
        assert_eq!(
            rewrite(&[
                "-f",
                "gone.yaml",
                "-f",
                "enc.yaml,gone2.yaml",
                "--set-file",
                "a=gone"
            ]),
            ["--values", "/dev/fd/2"]
        );
    }

    #[test]
    fn set_file_pairs_and_escaped_commas() {
        assert_eq!(
            rewrite(&["--set-file", "a=enc.txt,b=plain\\,x.txt"]),
            ["--set-file", "a=/dev/fd/1,b=plain\\,x.txt"]
        );
        assert_eq!(
            rewrite(&["--set-file=k=enc"]),
            ["--set-file", "k=/dev/fd/1"]
        );
    }

    #[test]
    fn other_flags_and_after_double_dash_pass_through() {
        assert_eq!(
            rewrite(&["--set", "f=enc", "--force", "--", "-f", "enc"]),
            ["--set", "f=enc", "--force", "--", "-f", "enc"]
        );
        assert_eq!(rewrite(&["-f"]), ["-f"]);
    }

    #[test]
    fn urls_are_not_files_but_secrets_urls_are() {
        assert_eq!(local_file("https://x/y.yaml"), None);
        assert_eq!(local_file("-"), None);
        assert_eq!(local_file("secrets://a/b.yaml"), Some("a/b.yaml"));
        assert_eq!(local_file("values.yaml"), Some("values.yaml"));
    }
}
