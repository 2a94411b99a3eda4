use crate::cli::args::{EncryptArgs, GlobalArgs, KeyArgs, PartialArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::file::{self, EncryptPlan, SopsFile};

pub fn run(global: &GlobalArgs, args: &EncryptArgs) -> Result<(), CliError> {
    if args.file.is_none() {
        if args.in_place {
            return Err(CliError::new(
                exit::ERROR_CONFLICTING_PARAMETERS,
                "cannot use --in-place when reading from stdin",
            ));
        }
        if args.format.filename_override.is_none() {
            return Err(CliError::new(exit::ERROR_CONFLICTING_PARAMETERS, "must specify --filename-override when reading from stdin")
                .hint("the name decides the format and the .sops.yaml rule, e.g. --filename-override secrets.yaml"));
        }
    }
    if args.in_place && args.output.is_some() {
        return Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "cannot operate on both --output and --in-place",
        ));
    }
    let file = args.file.as_deref().map(io::existing_file).transpose()?;
    let setup = plan::Setup::new(global, file.as_deref(), &args.format)?;

    let service = crate::cli::plan::key_service(global);
    let keys = NewFileKeys::resolve(global, &args.keys, &args.partial, &setup, &service)?;
    let input = io::read_input(file.as_deref())?;
    let in_store = setup.in_store();
    let out_store = setup.out_store();
    let doc = in_store.load_plain(&input).map_err(file::Error::from)?;
    // The tree holds everything now: free the plaintext input before the output grows.
    drop(input);
    if doc.branches.is_empty() {
        return Err(file::Error::EmptyDocument.into());
    }
    if out_store.has_metadata(&doc) {
        return Err(file::Error::AlreadyEncrypted.into());
    }
    let bytes = SopsFile::encrypt_new(doc, &keys.plan(), out_store.as_ref())?;
    let in_place = if args.in_place { file.as_deref() } else { None };
    io::write_output(
        &bytes,
        io::Contents::Ciphertext,
        in_place,
        args.output.as_deref(),
    )
}

/// Resolves the keys and options a new encrypted file would get, and nothing else: what sops
/// checks for a `-e` given together with `-d` or `-r`, whose own output is then discarded.
pub fn check_keys(
    global: &GlobalArgs,
    keys: &KeyArgs,
    partial: &PartialArgs,
    format: &crate::cli::args::FormatArgs,
    file: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let setup = plan::Setup::new(global, file, format)?;
    let service = plan::key_service(global);
    NewFileKeys::resolve(global, keys, partial, &setup, service.as_ref()).map(|_| ())
}

/// The keys and options of a new encrypted file: from the key flags if any is given, else from
/// the matching `.sops.yaml` creation rule.
pub struct NewFileKeys {
    master_keys: Vec<Vec<Box<dyn rsops::keys::MasterKey>>>,
    threshold: usize,
    partial: rsops::metadata::PartialRule,
    mac_only: bool,
}

impl NewFileKeys {
    pub fn resolve(
        global: &GlobalArgs,
        keys: &KeyArgs,
        partial: &PartialArgs,
        setup: &plan::Setup,
        service: &dyn rsops::keys::KeyService,
    ) -> Result<NewFileKeys, CliError> {
        let (config, rule_path, input) = (
            setup.config.as_ref(),
            setup.rule_path.as_deref(),
            setup.formats.input,
        );
        let flag_keys = plan::keys_from_flags(keys)?;
        // Like sops, a config with creation rules must have one for this file, even when the
        // keys come from flags: the rule also carries the partial-encryption options.
        let rule = match (config, rule_path) {
            (Some(c), Some(p)) => {
                let rule = c.rule_for(p)?;
                plan::log_rule(global, c, rule.as_ref());
                rule
            }
            _ => None,
        };
        let (partial, mac_only) = plan::partial_rule(partial, global, rule.as_ref(), input)?;
        let (groups, threshold) = match (flag_keys, &rule) {
            (Some(specs), r) => (
                vec![specs],
                keys.shamir_secret_sharing_threshold
                    .unwrap_or(r.as_ref().map_or(0, |r| r.shamir_threshold)),
            ),
            (None, Some(r)) => (
                r.key_groups.clone(),
                keys.shamir_secret_sharing_threshold.unwrap_or(r.shamir_threshold),
            ),
            (None, None) => {
                return Err(CliError::new(
                    exit::ERROR_GENERIC,
                    "config file not found, or has no creation rules, and no keys provided through command line options",
                )
                .hint("pass --age RECIPIENT or --pgp FINGERPRINT, or add a creation rule to .sops.yaml"))
            }
        };
        Ok(NewFileKeys {
            master_keys: file::master_keys(service, &groups)?,
            threshold,
            partial,
            mac_only,
        })
    }

    pub fn plan(&self) -> EncryptPlan<'_> {
        EncryptPlan {
            key_groups: &self.master_keys,
            shamir_threshold: self.threshold,
            rule: self.partial.clone(),
            mac_only_encrypted: self.mac_only,
        }
    }
}
