//! Which key services a command uses: the local one (this process's environment) unless
//! `--enable-local-keyservice=false`, then every `--keyservice URI` (or the comma-separated
//! `SOPS_KEYSERVICE`), tried in that order, as sops does.

use super::args::GlobalArgs;
use rsops::keys::remote::{Endpoint, KeyServices};
use rsops::keys::{EnvKeys, KeyService};

pub fn compose(global: &GlobalArgs) -> Box<dyn KeyService> {
    let mut services: Vec<Box<dyn KeyService>> = Vec::new();
    if local_enabled(global) {
        services.push(Box::new(EnvKeys::from_env()));
    }
    for uri in uris(global) {
        match Endpoint::parse(&uri) {
            Ok(endpoint) => {
                if let Some(remote) = remote(global, endpoint) {
                    services.push(remote);
                }
            }
            // sops's words; it goes on without that service too.
            Err(reason) => {
                eprintln!("warning: Error parsing URI for keyservice, skipping: {reason}")
            }
        }
    }
    if services.len() == 1 {
        return services.remove(0);
    }
    Box::new(KeyServices(services))
}

#[cfg(feature = "keyservice")]
fn remote(global: &GlobalArgs, endpoint: Endpoint) -> Option<Box<dyn KeyService>> {
    use rsops::keys::remote::RemoteKeys;
    if global.verbose {
        super::ui::verbose_line(&format!("connecting to key service {endpoint}"));
    }
    match RemoteKeys::new(endpoint, timeouts()) {
        Ok(remote) => Some(Box::new(remote)),
        Err(e) => {
            eprintln!("warning: cannot start the key service client, skipping: {e}");
            None
        }
    }
}

/// `RSOPS_KEYSERVICE_TIMEOUT` (seconds) bounds each answer, and the connection too when
/// shorter than the default.
#[cfg(feature = "keyservice")]
fn timeouts() -> rsops::keys::remote::Timeouts {
    let mut timeouts = rsops::keys::remote::Timeouts::default();
    let seconds = std::env::var("RSOPS_KEYSERVICE_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0);
    if let Some(seconds) = seconds {
        timeouts.call = std::time::Duration::from_secs(seconds);
        timeouts.connect = timeouts.connect.min(timeouts.call);
    }
    timeouts
}

#[cfg(not(feature = "keyservice"))]
fn remote(_: &GlobalArgs, endpoint: Endpoint) -> Option<Box<dyn KeyService>> {
    eprintln!(
        "warning: this rsops build has no key service client (cargo feature `keyservice`), skipping {endpoint}"
    );
    None
}

/// Go's `ParseBool` spellings; anything else keeps the local service (the safe reading: a typo
/// must not silently send every key request elsewhere).
fn local_enabled(global: &GlobalArgs) -> bool {
    let Some(value) = global.enable_local_keyservice.as_deref() else {
        return true;
    };
    rsops::compat::number::parse_go_bool(value).unwrap_or_else(|| {
        eprintln!("warning: --enable-local-keyservice: `{value}` is not true or false; the local key service stays on");
        true
    })
}

/// The flags win; else `SOPS_KEYSERVICE`, split on commas as sops's flag library splits it.
fn uris(global: &GlobalArgs) -> Vec<String> {
    if !global.keyservice.is_empty() {
        return global.keyservice.clone();
    }
    std::env::var("SOPS_KEYSERVICE")
        .map(|list| rsops::keys::registry::split_list(&list))
        .unwrap_or_default()
}
