//! A Rust service loading its sops-encrypted config through the library, the way it would at
//! start-up: no `sops` binary, no plaintext file, the MAC verified.
//!
//! ```text
//! cargo run --example read_config -- testdata/vectors/partial_default.enc.yaml db_host \
//!     --identity keys/age1.txt
//! ```
//!
//! Without `--identity` the keys come from the environment as sops finds them
//! (`SOPS_AGE_KEY_FILE`, `GNUPGHOME`, cloud credentials …). Only the named field is printed:
//! a service logs where it connects, never its secrets.

use rsops::file::SopsFile;
use rsops::keys::age::AgeIdentities;
use rsops::keys::discovery::Env;
use rsops::keys::{EnvKeys, KeyService, KeyUnwrapper, Unwrappers};
use rsops::stores::{store_for, Format, StoreOptions};
use std::error::Error;
use std::path::Path;

/// Decrypts the config at `path` with `keys` and returns its top-level string `field`.
pub fn read_field(
    path: &Path,
    field: &str,
    keys: &dyn KeyService,
) -> Result<Option<String>, Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    let store = store_for(Format::from_path(path), StoreOptions::default());
    let config = SopsFile::decrypt(store.as_ref(), &bytes, keys, &SopsFile::default_order())?;
    let value = config
        .document()
        .branches
        .first()
        .and_then(|root| root.get(field))
        .and_then(|value| value.as_str())
        .map(str::to_string);
    Ok(value)
}

/// The age identities of one key file, read without looking at the process environment.
pub fn age_identities(key_file: &Path) -> AgeIdentities {
    let file = key_file.to_string_lossy().into_owned();
    AgeIdentities::with_env(Env::from_pairs([("SOPS_AGE_KEY_FILE", file)]))
}

#[allow(dead_code)] // the test that includes this file calls the functions above, not main
fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, field) = match args.as_slice() {
        [path, field, ..] => (Path::new(path), field.as_str()),
        _ => return Err("usage: read_config FILE FIELD [--identity AGE_KEY_FILE]".into()),
    };
    let value = match args.iter().position(|a| a == "--identity") {
        Some(i) => {
            let file = args.get(i + 1).ok_or("--identity needs a key file")?;
            let age = age_identities(Path::new(file));
            let unwrappers: [&dyn KeyUnwrapper; 1] = [&age];
            read_field(path, field, &Unwrappers(&unwrappers))?
        }
        None => read_field(path, field, &EnvKeys::from_env())?,
    };
    match value {
        Some(value) => println!("{field} = {value}"),
        None => println!("{field} is not a string in {}", path.display()),
    }
    Ok(())
}
