//! The per-backend key flags (`--kms`, `--add-kms`, `--rm-kms`, `groups add --kms` …), declared
//! once here from the key registry instead of once per backend and per command.

use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use rsops::keys::registry::{Backend, KeyFlag, BACKENDS};
use std::marker::PhantomData;

/// Which of the four flag families a set of backend flags is.
pub trait Role: Clone + std::fmt::Debug + Default + Send + Sync + 'static {
    fn name(flag: &'static KeyFlag) -> &'static str;
    fn help(flag: &'static KeyFlag) -> String;
    /// Only the encrypt flags have a short form and an environment variable, as in sops.
    fn from_env() -> bool {
        false
    }
}

/// `--age`, `-a`, `SOPS_AGE_RECIPIENTS`: the keys of a new file.
#[derive(Clone, Debug, Default)]
pub struct Keys;
/// `--add-age`: keys added to the first group (rotate, legacy mode).
#[derive(Clone, Debug, Default)]
pub struct Add;
/// `--rm-age`: keys removed from every group.
#[derive(Clone, Debug, Default)]
pub struct Remove;
/// `groups add --age`: the keys of a new group.
#[derive(Clone, Debug, Default)]
pub struct Group;

impl Role for Keys {
    fn name(flag: &'static KeyFlag) -> &'static str {
        flag.long
    }
    fn help(flag: &'static KeyFlag) -> String {
        format!("Comma-separated {}{}", flag.noun, flag.format)
    }
    fn from_env() -> bool {
        true
    }
}

impl Role for Add {
    fn name(flag: &'static KeyFlag) -> &'static str {
        flag.add
    }
    fn help(flag: &'static KeyFlag) -> String {
        format!(
            "Add these {} (comma-separated) to the first key group",
            flag.noun
        )
    }
}

impl Role for Remove {
    fn name(flag: &'static KeyFlag) -> &'static str {
        flag.rm
    }
    fn help(flag: &'static KeyFlag) -> String {
        format!(
            "Remove these {} (comma-separated) from every key group",
            flag.noun
        )
    }
}

impl Role for Group {
    fn name(flag: &'static KeyFlag) -> &'static str {
        flag.long
    }
    fn help(flag: &'static KeyFlag) -> String {
        format!(
            "{} of the new group, comma-separated{}",
            flag.noun, flag.format
        )
    }
}

/// The values given to one family of backend flags, by backend.
#[derive(Clone, Debug)]
pub struct BackendFlags<R> {
    values: Vec<(&'static str, String)>,
    role: PhantomData<R>,
}

impl<R> Default for BackendFlags<R> {
    fn default() -> Self {
        BackendFlags {
            values: Vec::new(),
            role: PhantomData,
        }
    }
}

impl<R: Role> BackendFlags<R> {
    /// True when no flag of this family was given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value given for `backend`, if any.
    pub fn get(&self, backend: &dyn Backend) -> Option<&str> {
        self.values
            .iter()
            .find(|(id, _)| *id == backend.type_id())
            .map(|(_, v)| v.as_str())
    }

    fn arg(backend: &dyn Backend) -> Arg {
        let flag = backend.flag();
        let mut arg = Arg::new(R::name(flag))
            .long(R::name(flag))
            .value_name(flag.value_name)
            .help(R::help(flag));
        if R::from_env() {
            if let Some(short) = flag.short {
                arg = arg.short(short);
            }
            if let Some(env) = flag.env {
                arg = arg.env(env);
            }
        }
        arg
    }
}

impl<R: Role> Args for BackendFlags<R> {
    fn augment_args(cmd: Command) -> Command {
        cmd.args(BACKENDS.iter().map(|b| Self::arg(*b)))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<R: Role> FromArgMatches for BackendFlags<R> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = BackendFlags::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for backend in BACKENDS {
            let name = R::name(backend.flag());
            if let Some(value) = matches.get_one::<String>(name) {
                self.values.retain(|(id, _)| *id != backend.type_id());
                self.values.push((backend.type_id(), value.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::args::{Cli, Command};
    use clap::Parser;
    use rsops::keys::{aws, hckms};

    #[test]
    fn every_backend_gets_its_flags() {
        let cli = Cli::try_parse_from([
            "rsops",
            "rotate",
            "--add-hckms",
            "r:u",
            "--rm-kms",
            "arn",
            "f.yaml",
        ])
        .unwrap();
        let Some(Command::Rotate(args)) = cli.command else {
            panic!("not rotate")
        };
        let (hckms, kms) = (&hckms::BACKEND, &aws::BACKEND);
        assert_eq!(args.changes.add.get(hckms), Some("r:u"));
        assert_eq!(args.changes.rm.get(kms), Some("arn"));
        assert_eq!(args.changes.add.get(kms), None);
    }
}
