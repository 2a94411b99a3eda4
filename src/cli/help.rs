//! The examples that end each command's `--help` (as `sops --help` and ripgrep do): a reader
//! copies a line rather than assembling one from the flag list.

pub const ROOT: &str = "\
Examples:
  rsops encrypt -i --age \"$(age-keygen -y ~/.config/sops/age/keys.txt)\" secrets.yaml
  rsops decrypt --extract '[\"db\"][\"password\"]' secrets.yaml
  rsops secrets.yaml                     (edit in $SOPS_EDITOR/$EDITOR, as `sops FILE`)";

pub const ENCRYPT: &str = "\
Examples:
  rsops encrypt --age age1… secrets.yaml > secrets.enc.yaml
  rsops encrypt -i --pgp \"$FPR\" --encrypted-regex '^(data|stringData)$' secret.yaml
  rsops encrypt -i app.prod.yaml         (keys from the matching .sops.yaml rule)
  rsops encrypt -i secrets/*.yaml        (several files, one process)
  rsops encrypt --reuse old.enc.yaml new.yaml > secrets.enc.yaml   (unchanged values keep their ciphertext)";

pub const DECRYPT: &str = "\
Examples:
  rsops decrypt secrets.yaml
  rsops decrypt --extract '[\"db\"][\"password\"]' secrets.yaml
  rsops decrypt --output-type json secrets.yaml > secrets.json
  rsops decrypt --output-dir /dev/shm/plain secrets/*.yaml   (one KMS call per data key)";

pub const GIT: &str = "\
Examples:
  rsops git setup                        (this repository: .gitattributes and git config)
  git diff secrets.enc.yaml              (decrypted with your keys, masked without)
  rsops git check                        (refuse staged files a .sops.yaml rule says are secret)";

pub const GIT_TEXTCONV: &str = "\
Examples:
  git config diff.sops.textconv 'rsops git textconv'   (what `rsops git setup` writes)
  rsops git textconv secrets.enc.yaml    (decrypted; ENC<type:digest> per value without keys)";

pub const GIT_MERGE_DRIVER: &str = "\
Examples:
  git config merge.sops.driver 'rsops git merge-driver %O %A %B %P'   (what `rsops git setup` writes)
  echo '*.enc.yaml merge=sops' >> .gitattributes";

pub const GIT_SETUP: &str = "\
Examples:
  rsops git setup                        (this repository, default patterns *.enc.yaml …)
  rsops git setup --global --pattern 'secrets/*.yaml'";

pub const GIT_CHECK: &str = "\
Examples:
  rsops git check                        (the staged changes; exit 1 lists unencrypted ones)
  rsops git check --all                  (every tracked file)";

pub const GIT_MERGETOOL: &str = "\
Examples:
  git config mergetool.meld.cmd 'meld \"$LOCAL\" \"$MERGED\" \"$REMOTE\"'
  rsops git mergetool --tool meld secrets.enc.yaml";

pub const FILESTATUS: &str = "\
Examples:
  rsops filestatus secrets.yaml          ({\"encrypted\":true})
  rsops filestatus --input-type yaml < secrets.yaml";

pub const K8S: &str = "\
Examples:
  rsops k8s secret --name app --namespace prod app_secrets.enc.yaml | kubectl apply -f -
  rsops k8s secret --type kubernetes.io/tls --from-file=tls.crt=c.enc --from-file=tls.key=k.enc";

pub const K8S_SECRET: &str = "\
Examples:
  rsops k8s secret --name app --namespace prod app_secrets.enc.yaml | kubectl apply -f -
  rsops k8s secret --extract '[\"db\"]' secrets.yaml
  rsops k8s secret --merge --name all a.enc.yaml b.enc.env";

/// helm takes its own flags, so rsops's options would only mislead: the help shows the
/// environment that changes what rsops does instead.
pub const HELM: &str = "\
Runs the real helm. Every encrypted -f/--values file (also -fX, -f=X, --values=a,b) and every
--set-file KEY=FILE is decrypted first, MAC verified; plain files and URLs pass through. helm's
output and exit code pass through unchanged. A file written ?PATH is left out when missing.
No plaintext file outlives the run.

With --skip-decrypt (template and lint only) no key is needed: every encrypted value is
rendered as a placeholder of its type (REDACTED, 0, false), the structure kept.

Environment:
  HELM_BIN                   the helm to run (default: helm on PATH)
  RSOPS_HELM_VALUES=tempdir  hand plaintext to helm as 0600 files in a private temporary
                             directory, removed on exit (default on Linux: sealed in-memory
                             files that helm reads as /dev/fd/N)
  HELM_SECRETS_IGNORE_MISSING_VALUES=true
                             leave out every missing values file, not only ?PATH ones
  HELM_SECRETS_SKIP_DECRYPT=true
                             as --skip-decrypt (for the helm plugins)
  SOPS_AGE_KEY_FILE, GNUPGHOME, …
                             where the decryption keys come from, as for `rsops decrypt`

Examples:
  rsops helm upgrade --install app ./chart -f values.yaml -f secrets.enc.yaml
  rsops helm template app ./chart -f ?secrets.staging.yaml --set-file tls.key=tls.key.enc
  RSOPS_HELM_VALUES=tempdir rsops helm install app ./chart -f secrets.enc.yaml
  rsops helm template --skip-decrypt app ./chart -f secrets.enc.yaml   (CI, no keys)";

/// Leaves out the option list (see `HELM`).
pub const HELM_TEMPLATE: &str = "{about-with-newline}\n{usage-heading} {usage}{after-help}";

pub const KUSTOMIZE: &str = "\
Examples:
  kustomize build --enable-alpha-plugins --enable-exec overlays/prod   (generator with a
                                         config.kubernetes.io/function exec: rsops-kustomize)
  rsops kustomize < resource-list.yaml   (a KRM ResourceList on stdin)
  rsops kustomize secret-generator.yaml  (the legacy exec plugin form)";

pub const EDIT: &str = "\
Examples:
  rsops edit secrets.yaml
  EDITOR='code --wait' rsops edit secrets.yaml
  rsops edit --age \"$PUB\" new.yaml        (creates it)";

pub const SET: &str = "\
Examples:
  rsops set secrets.yaml '[\"db\"][\"password\"]' '\"n3w\"'
  rsops set --value-file secrets.yaml '[\"tls\"][\"key\"]' tls.key
  printf '%s' \"$TOKEN\" | rsops set --value-stdin secrets.yaml '[\"api\"][\"token\"]'";

pub const UNSET: &str = "\
Examples:
  rsops unset secrets.yaml '[\"db\"][\"password\"]'
  rsops unset --idempotent secrets.yaml '[\"old\"]'";

pub const ROTATE: &str = "\
Examples:
  rsops rotate -i secrets.yaml
  rsops rotate -i --add-age age1… --rm-pgp \"$OLD_FPR\" secrets.yaml";

pub const UPDATEKEYS: &str = "\
Examples:
  rsops updatekeys secrets.yaml          (shows the change and asks)
  rsops updatekeys -y -r deploy/         (every encrypted file below deploy/)
  rsops --quiet updatekeys -y -r .       (no progress, no per-file notes)";

pub const GROUPS: &str = "\
Examples:
  rsops groups add -i -f secrets.yaml --age age1… --pgp \"$FPR\"
  rsops groups delete -i -f secrets.yaml 1";

pub const GROUPS_ADD: &str = "\
Examples:
  rsops groups add -i -f secrets.yaml --age age1…,age1…
  rsops groups add -i -f secrets.yaml --pgp \"$FPR\" --shamir-secret-sharing-threshold 2";

pub const GROUPS_DELETE: &str = "\
Examples:
  rsops groups delete -i -f secrets.yaml 1
  rsops groups delete -f secrets.yaml 0 > smaller.yaml";

pub const EXEC_ENV: &str = "\
Examples:
  rsops exec-env secrets.env './deploy.sh'
  rsops exec-env --pristine secrets.yaml 'env'
  rsops exec-env common.env prod.env './deploy.sh'   (prod.env wins where both set a name)";

pub const EXEC_FILE: &str = "\
Examples:
  rsops exec-file secrets.yaml 'cat {}'
  rsops exec-file --no-fifo --filename app.yaml secrets.yaml 'kubectl apply -f {}'
  rsops exec-file db.yaml api.yaml 'cat {}'   ({} is both paths)";

pub const COMPLETION: &str = "\
Examples:
  rsops completion bash > ~/.local/share/bash-completion/completions/rsops
  rsops completion zsh > \"${fpath[1]}/_rsops\"
  rsops completion fish > ~/.config/fish/completions/rsops.fish";

pub const MAN: &str = "\
Examples:
  rsops man | man -l -
  rsops man > ~/.local/share/man/man1/rsops.1";

pub const KEYSERVICE: &str = "\
Examples:
  rsops keyservice                                        (tcp, 127.0.0.1:5000, as sops)
  rsops keyservice --network unix --address /tmp/sops.sock --prompt
  rsops --keyservice unix:///tmp/sops.sock --enable-local-keyservice=false decrypt secrets.yaml";

pub const PUBLISH: &str = "\
Examples:
  rsops publish --yes secrets/prod.yaml      (to the bucket or Vault path of its destination_rule)
  rsops publish --yes --recursive secrets/   (every file below, named by its relative path)
  rsops publish --omit-extensions app.yaml   (asks before uploading; stored as `app`)";
