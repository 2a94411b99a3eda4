#!/usr/bin/env bash
# Regenerates testdata/vectors/ with the real sops 3.11.0 and the test keys in keys/.
#
# The vectors are fixed once committed: tests read them, they never regenerate them. Run this only
# when the set of cases changes, and commit the whole folder (every run changes every ciphertext).
#
# Output:
#   testdata/vectors/<case>.enc.<ext>         the file written by `sops encrypt`
#   testdata/vectors/<case>.<check>.out       stdout of one `sops decrypt` of it
#   testdata/vectors/configs/<case>.sops.yaml the config of the cases made with a .sops.yaml
#   testdata/vectors/manifest.tsv             one row per decrypt check (see README.md)
#   testdata/vectors/README.md                sops version and the exact commands
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sops_bin=${SOPS_BIN:-$root/.tools/bin/sops}
if [ ! -x "$sops_bin" ]; then
  "$root/scripts/install-test-tools.sh"
fi
export SOPS_DISABLE_VERSION_CHECK=1
sops_version=$("$sops_bin" --version --disable-version-check | head -1)
case "$sops_version" in
  "sops 3.11.0"*) ;;
  *) echo "make-vectors: need sops 3.11.0, found: $sops_version" >&2; exit 1 ;;
esac

out=testdata/vectors
in=testdata/inputs

# Short temp path: gpg-agent's socket path must stay under ~100 bytes.
scratch=$(mktemp -d /tmp/mkv.XXXXXX)
cleanup() {
  for home in "$scratch"/g-*; do
    [ -d "$home" ] && gpgconf --homedir "$home" --kill gpg-agent >/dev/null 2>&1 || true
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

# Nothing from the user's own setup may leak into the vectors.
unset SOPS_AGE_KEY SOPS_AGE_KEY_CMD SOPS_AGE_KEY_FILE SOPS_AGE_SSH_PRIVATE_KEY_FILE \
  SOPS_AGE_RECIPIENTS SOPS_PGP_FP SOPS_CONFIG SOPS_DECRYPTION_ORDER GNUPGHOME
export HOME=$scratch/home XDG_CONFIG_HOME=$scratch/home/.config
mkdir -p "$HOME"

AGE1=$(grep -o 'age1[0-9a-z]*' keys/age1.txt | head -1)
AGE2=$(grep -o 'age1[0-9a-z]*' keys/age2.txt | head -1)
PGP_RSA=1BA4BB945673E83C054AF26813DC73C8F49DE51A
PGP_ED=B3E82AFFABA9BC4FEB82341074F6E68C852E6B18

# key_env KEYS: sets SOPS_AGE_KEY_FILE and GNUPGHOME so that exactly the comma-separated KEYS
# (age1, age2, pgp_rsa, pgp_ed25519) can decrypt. Homes are made once per key set.
key_env() {
  local keys=$1 tag age_file home k
  tag=${keys//,/+}
  [ -n "$tag" ] || tag=none
  age_file=$scratch/age-$tag.txt
  home=$scratch/g-$tag
  if [ ! -d "$home" ]; then
    mkdir -m 700 "$home"
    : > "$age_file"
    IFS=, read -r -a list <<< "$keys"
    for k in "${list[@]}"; do
      case "$k" in
        age1|age2) cat "keys/$k.txt" >> "$age_file" ;;
        pgp_rsa|pgp_ed25519) gpg --homedir "$home" --batch --quiet --import "keys/$k.sec.asc" 2>/dev/null ;;
        "") ;;
        *) echo "make-vectors: unknown key $k" >&2; exit 1 ;;
      esac
    done
  fi
  export GNUPGHOME=$home
  if [ -s "$age_file" ]; then export SOPS_AGE_KEY_FILE=$age_file; else unset SOPS_AGE_KEY_FILE; fi
}

# Shell-quotes one word only when needed, so the commands in the manifest stay readable and
# round-trip through POSIX shell word splitting (tests parse them with shlex).
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./,:=@+-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}
quote_all() {
  local first=1 w
  for w in "$@"; do
    [ $first -eq 1 ] || printf ' '
    first=0
    quote "$w"
  done
}

rm -rf "$out"
mkdir -p "$out/configs"
manifest=$out/manifest.tsv
printf 'case\tencrypted\tkeys\tdecrypt_args\texpected_stdout\texit\tencrypt_command\n' > "$manifest"
commands=$scratch/commands.md
: > "$commands"

cur_case="" cur_file="" cur_cmd=""

# enc CASE EXT ARGS...: runs `sops ARGS... > vectors/CASE.enc.EXT` (ARGS include `encrypt`).
enc() {
  local case=$1 ext=$2
  shift 2
  cur_case=$case
  cur_file=$case.enc.$ext
  key_env "pgp_rsa,pgp_ed25519"
  "$sops_bin" "$@" > "$out/$cur_file"
  cur_cmd="sops $(quote_all "$@") > $out/$cur_file"
  printf -- '- `%s`: `%s`\n' "$case" "$cur_cmd" >> "$commands"
}

# config CASE: writes the .sops.yaml of the case from stdin and prints its path.
config() {
  local path=$out/configs/$1.sops.yaml
  cat > "$path"
  printf '%s' "$path"
}

# dec CHECK KEYS EXIT [DECRYPT_ARGS...]: runs `sops decrypt DECRYPT_ARGS... <current file>` with
# only KEYS available, checks the exit code and records stdout as the expected output.
dec() {
  local check=$1 keys=$2 want=$3 rc=0 expected
  shift 3
  key_env "$keys"
  expected=$cur_case.$check.out
  "$sops_bin" decrypt "$@" "$out/$cur_file" > "$out/$expected" 2> "$scratch/stderr" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "make-vectors: $cur_case/$check: sops exited $rc, expected $want" >&2
    cat "$scratch/stderr" >&2
    exit 1
  fi
  if [ "$want" -ne 0 ]; then
    if [ -s "$out/$expected" ]; then
      echo "make-vectors: $cur_case/$check: failing sops wrote to stdout" >&2
      exit 1
    fi
    rm -f "$out/$expected"
    expected=-
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cur_case/$check" "$cur_file" "$keys" \
    "$(quote_all "$@")" "$expected" "$want" "$cur_cmd" >> "$manifest"
}

# --- every format, age -----------------------------------------------------------------------
enc yaml_age yaml encrypt --age "$AGE1" $in/basic.yaml
dec dec age1 0
# basic.yaml holds .inf, which JSON cannot carry
dec json_inf age1 4 --output-type json
dec extract_string age1 0 --extract '["name"]'
dec extract_int age1 0 --extract '["answer"]'
dec extract_float age1 0 --extract '["float_exp"]'
dec extract_bool age1 0 --extract '["enabled"]'
dec extract_unicode age1 0 --extract '["emoji"]'
dec extract_block age1 0 --extract '["literal"]'
dec extract_list age1 0 --extract '["list_of_scalars"]'
dec extract_map age1 0 --extract '["nested"]'
dec extract_deep age1 0 --extract '["list_of_maps"][1]["secret"]'
dec extract_list_item_map age1 0 --extract '["list_of_maps"][0]'
dec extract_list_json age1 0 --extract '["list_of_scalars"]' --output-type json
dec extract_map_json age1 0 --extract '["nested"]' --output-type json
dec extract_missing age1 1 --extract '["no_such_key"]'
dec extract_bad_path age1 91 --extract 'name'
dec wrong_key age2 128

enc yaml_timestamps_age yaml encrypt --age "$AGE1" $in/timestamps.yaml
dec dec age1 0
dec json age1 0 --output-type json
dec extract_time age1 0 --extract '["datetime_offset"]'

enc yaml_anchors_age yaml encrypt --age "$AGE1" $in/anchors.yaml
dec dec age1 0
dec json age1 0 --output-type json

enc yaml_comments_age yaml encrypt --age "$AGE1" $in/comments.yaml
dec dec age1 0
dec json age1 0 --output-type json

enc yaml_multidoc_age yaml encrypt --age "$AGE1" $in/multidoc.yaml
dec dec age1 0

enc json_age json encrypt --age "$AGE1" $in/basic.json
dec dec age1 0
dec yaml age1 0 --output-type yaml
dec extract_string age1 0 --extract '["password"]'
dec extract_int age1 0 --extract '["answer"]'
dec extract_list age1 0 --extract '["list_of_scalars"]'
dec extract_map age1 0 --extract '["nested"]'
dec extract_escapes age1 0 --extract '["escapes"]'

enc env_age env encrypt --age "$AGE1" $in/basic.env
dec dec age1 0
dec json age1 0 --output-type json
dec extract_string age1 0 --extract '["DB_PASSWORD"]'

enc ini_age ini encrypt --age "$AGE1" $in/basic.ini
dec dec age1 0
dec json age1 0 --output-type json
dec extract_string age1 0 --extract '["database"]["password"]'

# Edge cases of each store: quoting, tags, number spellings, duplicate keys/sections, inline `;`.
enc yaml_edge_age yaml encrypt --age "$AGE1" $in/edge.yaml
dec dec age1 0
dec extract_huge age1 0 --extract '["floats"]["huge"]'
dec extract_tagged age1 0 --extract '["tags"]'
enc json_edge_age json encrypt --age "$AGE1" $in/edge.json
dec dec age1 0
dec yaml age1 0 --output-type yaml
enc env_edge_age env encrypt --age "$AGE1" $in/edge.env
dec dec age1 0
dec json age1 0 --output-type json
enc ini_edge_age ini encrypt --age "$AGE1" $in/edge.ini
dec dec age1 0
dec json age1 0 --output-type json

enc bin_text_age bin encrypt --age "$AGE1" $in/text.bin
dec dec age1 0
enc bin_nonutf8_age bin encrypt --age "$AGE1" $in/nonutf8.bin
dec dec age1 0
enc bin_random_age bin encrypt --age "$AGE1" $in/random.bin
dec dec age1 0
enc bin_empty_age bin encrypt --age "$AGE1" $in/empty.bin
dec dec age1 0

# A YAML file under a name whose extension says binary: the type flags decide.
enc yaml_as_txt_age txt encrypt --age "$AGE1" --input-type yaml --output-type yaml $in/partial.yaml
dec dec age1 0 --input-type yaml --output-type yaml

# --- several recipients in one group ------------------------------------------------------------
enc yaml_age2_recipients yaml encrypt --age "$AGE1,$AGE2" $in/partial.yaml
dec dec_age1 age1 0
dec dec_age2 age2 0

enc yaml_age_pgp yaml encrypt --age "$AGE1" --pgp "$PGP_RSA" $in/partial.yaml
dec dec_age age1 0
dec dec_pgp pgp_rsa 0
dec wrong_key pgp_ed25519 128

# --- PGP ----------------------------------------------------------------------------------------
enc yaml_pgp_rsa yaml encrypt --pgp "$PGP_RSA" $in/basic.yaml
dec dec pgp_rsa 0
enc json_pgp_rsa json encrypt --pgp "$PGP_RSA" $in/basic.json
dec dec pgp_rsa 0
enc ini_pgp_rsa ini encrypt --pgp "$PGP_RSA" $in/basic.ini
dec dec pgp_rsa 0
enc env_pgp_ed25519 env encrypt --pgp "$PGP_ED" $in/basic.env
dec dec pgp_ed25519 0
enc yaml_pgp_ed25519 yaml encrypt --pgp "$PGP_ED" $in/multidoc.yaml
dec dec pgp_ed25519 0
enc bin_pgp_ed25519 bin encrypt --pgp "$PGP_ED" $in/nonutf8.bin
dec dec pgp_ed25519 0
enc yaml_pgp_both yaml encrypt --pgp "$PGP_RSA,$PGP_ED" $in/partial.yaml
dec dec_rsa pgp_rsa 0
dec dec_ed25519 pgp_ed25519 0

# --- partial encryption -------------------------------------------------------------------------
enc partial_default yaml encrypt --age "$AGE1" $in/partial.yaml
dec dec age1 0
enc partial_unencrypted_suffix yaml encrypt --age "$AGE1" --unencrypted-suffix _plain $in/partial.yaml
dec dec age1 0
enc partial_encrypted_suffix yaml encrypt --age "$AGE1" --encrypted-suffix _enc $in/partial.yaml
dec dec age1 0
enc partial_unencrypted_regex yaml encrypt --age "$AGE1" --unencrypted-regex '^(db_|port$|data$)' $in/partial.yaml
dec dec age1 0
enc partial_encrypted_regex yaml encrypt --age "$AGE1" --encrypted-regex '(?i)^(api_key|password)' $in/partial.yaml
dec dec age1 0
enc partial_encrypted_regex_json json encrypt --age "$AGE1" --encrypted-regex '^(password|secret|nested)$' $in/basic.json
dec dec age1 0
enc partial_unencrypted_regex_ini ini encrypt --age "$AGE1" --unencrypted-regex '^(host|port)$' $in/basic.ini
dec dec age1 0
enc partial_encrypted_suffix_env env encrypt --age "$AGE1" --encrypted-suffix PASSWORD $in/basic.env
dec dec age1 0

cfg=$(config partial_encrypted_comment_regex <<EOF
creation_rules:
  - age: $AGE1
    encrypted_comment_regex: sops:encrypt
EOF
)
enc partial_encrypted_comment_regex yaml --config "$cfg" encrypt $in/comments.yaml
dec dec age1 0

cfg=$(config partial_unencrypted_comment_regex <<EOF
creation_rules:
  - age: $AGE1
    unencrypted_comment_regex: sops:plain
EOF
)
enc partial_unencrypted_comment_regex yaml --config "$cfg" encrypt $in/comments.yaml
dec dec age1 0

cfg=$(config mac_only_encrypted <<EOF
creation_rules:
  - age: $AGE1
    mac_only_encrypted: true
EOF
)
enc mac_only_encrypted yaml --config "$cfg" encrypt $in/basic.yaml
dec dec age1 0

cfg=$(config mac_only_encrypted_regex <<EOF
creation_rules:
  - age: $AGE1
    encrypted_regex: ^(api_key|password|data)$
    mac_only_encrypted: true
EOF
)
enc mac_only_encrypted_regex yaml --config "$cfg" encrypt $in/partial.yaml
dec dec age1 0
enc mac_only_encrypted_regex_json json --config "$cfg" encrypt $in/basic.json
dec dec age1 0

# --- key groups and Shamir ----------------------------------------------------------------------
cfg=$(config shamir_2_groups <<EOF
creation_rules:
  - shamir_threshold: 2
    key_groups:
      - age: [$AGE1]
      - age: [$AGE2]
EOF
)
enc shamir_2_groups yaml --config "$cfg" encrypt $in/basic.yaml
dec dec age1,age2 0
dec only_age1 age1 128
dec only_age2 age2 128

cfg=$(config shamir_3_groups <<EOF
creation_rules:
  - shamir_threshold: 2
    key_groups:
      - age: [$AGE1]
      - age: [$AGE2]
      - pgp: [$PGP_RSA]
EOF
)
enc shamir_3_groups yaml --config "$cfg" encrypt $in/basic.yaml
dec dec_age1_age2 age1,age2 0
dec dec_age1_pgp age1,pgp_rsa 0
dec dec_age2_pgp age2,pgp_rsa 0
dec dec_all age1,age2,pgp_rsa 0
dec only_pgp pgp_rsa 128
enc shamir_3_groups_json json --config "$cfg" encrypt $in/basic.json
dec dec_age2_pgp age2,pgp_rsa 0

{
  cat <<EOF
# Test vectors made by the real sops

Generated by \`scripts/make-vectors.sh\` with **$sops_version** (GnuPG: $(gpg --version | head -1)).
Do not edit by hand and do not regenerate casually: the tests compare rsops against these exact
files, and every run of the script changes every ciphertext.

Inputs are in \`testdata/inputs/\`; keys in \`keys/\` (see keys/README.md). Recipients:

- \`age1\` = \`$AGE1\` (keys/age1.txt)
- \`age2\` = \`$AGE2\` (keys/age2.txt)
- \`pgp_rsa\` = \`$PGP_RSA\` (keys/pgp_rsa.sec.asc)
- \`pgp_ed25519\` = \`$PGP_ED\` (keys/pgp_ed25519.sec.asc)

## manifest.tsv

One row per \`sops decrypt\` check, tab-separated, with a header row:

| column | meaning |
|---|---|
| \`case\` | \`<vector>/<check>\` |
| \`encrypted\` | the encrypted file, relative to this folder |
| \`keys\` | the only keys available to the decrypt (comma-separated names above): age identities via \`SOPS_AGE_KEY_FILE\`, PGP secret keys imported into a fresh \`GNUPGHOME\` |
| \`decrypt_args\` | extra arguments, POSIX-shell quoted: the command is \`sops decrypt <decrypt_args> <encrypted>\` |
| \`expected_stdout\` | the file holding sops's exact stdout, or \`-\` when sops fails (stdout then was empty) |
| \`exit\` | sops's exit code |
| \`encrypt_command\` | the command that made the encrypted file, run from the repository root |

All commands ran with \`SOPS_DISABLE_VERSION_CHECK=1\`, \`HOME\` and \`XDG_CONFIG_HOME\` pointing at an
empty directory, and the encrypts with both PGP public keys in \`GNUPGHOME\`.

## Commands

EOF
  cat "$commands"
} > "$out/README.md"

echo "make-vectors: $(($(wc -l < "$manifest") - 1)) checks in $manifest"
