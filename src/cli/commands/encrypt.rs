use super::many::{self, Destination, Request};
use crate::cli::args::{EncryptArgs, GlobalArgs, KeyArgs, PartialArgs};
use crate::cli::commands::reuse;
use crate::cli::exit::{self, CliError};
use crate::cli::{io, plan};
use rsops::config::KeySpec;
use rsops::file::{self, EncryptPlan, SopsFile};
use rsops::keys::KeyService;
use std::path::Path;

pub fn run(global: &GlobalArgs, args: &EncryptArgs) -> Result<(), CliError> {
    let request = Request {
        files: &args.files,
        in_place: args.in_place,
        output: args.output.as_deref(),
        output_dir: args.output_dir.as_deref(),
        filename_override: args.format.filename_override.as_deref(),
    };
    if let Some(destination) = request.destination()? {
        return run_many(global, args, &destination);
    }
    let file = args.files.first();
    if file.is_none() {
        if args.in_place {
            return Err(CliError::new(
                exit::ERROR_CONFLICTING_PARAMETERS,
                "cannot use --in-place when reading from stdin",
            ));
        }
        if args.format.filename_override.is_none() {
            return Err(CliError::new(exit::ERROR_CONFLICTING_PARAMETERS, "must specify --filename-override when reading from stdin")
                .sops_words("Error: must specify --filename-override when reading from stdin")
                .hint("the name decides the format and the .sops.yaml rule, e.g. --filename-override secrets.yaml"));
        }
    }
    if args.in_place && args.output.is_some() {
        return Err(exit::output_and_in_place());
    }
    let file = file.map(|f| io::existing_file(f)).transpose()?;
    let service = crate::cli::plan::key_service(global);
    let bytes = encrypt_file(global, args, file.as_deref(), service.as_ref())?;
    let in_place = if args.in_place { file.as_deref() } else { None };
    io::write_output(
        &bytes,
        io::Contents::Ciphertext,
        in_place,
        args.output.as_deref(),
    )
}

/// Every file encrypted under its own new data key, with the keys of its own creation rule, on
/// several threads; each result written atomically as soon as it is ready.
fn run_many(
    global: &GlobalArgs,
    args: &EncryptArgs,
    destination: &Destination,
) -> Result<(), CliError> {
    let service = plan::key_service(global);
    many::transform_each(
        &args.files,
        destination,
        io::Contents::Ciphertext,
        plan::concurrency(),
        |file| encrypt_file(global, args, Some(file), service.as_ref()),
    )
}

/// One file (or stdin) encrypted for the keys the flags or its creation rule name.
fn encrypt_file(
    global: &GlobalArgs,
    args: &EncryptArgs,
    file: Option<&Path>,
    service: &dyn KeyService,
) -> Result<Vec<u8>, CliError> {
    let setup = plan::Setup::new(global, file, &args.format)?;
    let wanted = Wanted::resolve(global, &args.keys, &args.partial, &setup)?;
    // Without a previous version the keys are checked before the input is read, as sops does.
    let may_reuse = args.reuse.is_some() || args.output.is_some() || args.in_place;
    let mut new_keys = match may_reuse {
        false => Some(wanted.new_file_keys(service)?),
        true => None,
    };
    let input = io::read_input(file)?;
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
    let previous = reuse::previous_version(global, args, file, &setup, service)?;
    Ok(match previous {
        Some(previous) => reuse::reencrypt(previous, doc, &wanted, service, out_store.as_ref())?,
        None => {
            let keys = match new_keys.take() {
                Some(keys) => keys,
                None => wanted.new_file_keys(service)?,
            };
            SopsFile::encrypt_new(doc, &keys.plan(), out_store.as_ref())?
        }
    })
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

/// The keys and options the flags and the matching `.sops.yaml` creation rule ask for; `groups`
/// is `None` when neither names a key (a re-encryption then keeps the previous version's).
pub struct Wanted {
    pub groups: Option<(Vec<Vec<KeySpec>>, usize)>,
    pub partial: rsops::metadata::PartialRule,
    pub mac_only: bool,
}

impl Wanted {
    pub fn resolve(
        global: &GlobalArgs,
        keys: &KeyArgs,
        partial: &PartialArgs,
        setup: &plan::Setup,
    ) -> Result<Wanted, CliError> {
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
        let groups = match (flag_keys, &rule) {
            (Some(specs), r) => Some((
                vec![specs],
                keys.shamir_secret_sharing_threshold
                    .unwrap_or(r.as_ref().map_or(0, |r| r.shamir_threshold)),
            )),
            (None, Some(r)) => Some((
                r.key_groups.clone(),
                keys.shamir_secret_sharing_threshold
                    .unwrap_or(r.shamir_threshold),
            )),
            (None, None) => None,
        };
        Ok(Wanted {
            groups,
            partial,
            mac_only,
        })
    }

    /// The keys of a new file, which needs some.
    pub fn new_file_keys(
        &self,
        service: &dyn rsops::keys::KeyService,
    ) -> Result<NewFileKeys, CliError> {
        let Some((groups, threshold)) = &self.groups else {
            return Err(CliError::new(exit::ERROR_GENERIC, NO_KEYS)
                .sops_words(NO_KEYS)
                .hint("pass --age RECIPIENT or --pgp FINGERPRINT, or add a creation rule to .sops.yaml"));
        };
        Ok(NewFileKeys {
            master_keys: file::master_keys(service, groups)?,
            threshold: *threshold,
            partial: self.partial.clone(),
            mac_only: self.mac_only,
        })
    }
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
        Wanted::resolve(global, keys, partial, setup)?.new_file_keys(service)
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

/// sops's words when neither flags nor `.sops.yaml` name a key.
const NO_KEYS: &str = "config file not found, or has no creation rules, and no keys provided through command line options";
