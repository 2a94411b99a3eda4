#!/usr/bin/env bash
# Stress test for issue 11's symlink race (not run by CI; src/sys/atomic.rs stages the race
# deterministically in its unit tests). rsops runs as root, rewriting a file in a world-writable
# directory, while `nobody` swaps every `.rsops-*` entry there for a symlink to a root-owned 0600
# victim. Afterwards the victim must have its mode and contents unchanged. rsops may fail with
# "replaced by someone else" when the swap wins; that is the intended outcome, not a bug.
#
#   sudo scripts/race-stress.sh            # 300 rewrites
#
# Environment:
#   ROUNDS=300        rsops runs (encrypt -i and decrypt -i alternate)
#   DIR_MODE=0777     the shared directory's mode; with 1777 (sticky, like /tmp) nobody cannot
#                     remove root's temp at all, so 0777 is the harder case
#   RSOPS_BIN         a prebuilt rsops (default: target/debug/rsops, built if missing)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-300}
DIR_MODE=${DIR_MODE:-0777}
rsops=${RSOPS_BIN:-$root/target/debug/rsops}
recipient=age14razmsckj3l3lk4l0t6rh84cgd5w37acf77540hk74x7v3ed9elqhq54uz

if [[ $(id -u) != 0 ]]; then
    echo "race-stress: run as root (the attack is on root's writes)" >&2
    exit 2
fi
[[ -x $rsops ]] || (cd "$root" && cargo build --locked --bin rsops)

work=$(mktemp -d)
attacker=
cleanup() {
    [[ -n $attacker ]] && kill "$attacker" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

shared=$work/shared
mkdir "$shared"
chmod 0755 "$work"
chmod "$DIR_MODE" "$shared"
victim=$work/victim
printf 'root-only\n' >"$victim"
chmod 0600 "$victim"
target=$shared/secrets.yaml
printf 'password: hunter2\n' >"$target"
key=$work/age.txt
cp "$root/keys/age1.txt" "$key"

# The attacker: as fast as Python can, every temp name becomes a symlink to the victim. The
# system Python, since a per-user one (pyenv) is usually out of nobody's reach.
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "$shared" "$victim" <<'EOF' &
import os, sys
shared, victim = sys.argv[1], sys.argv[2]
while True:
    try:
        names = os.listdir(shared)
    except OSError:
        continue
    for name in names:
        if name.startswith(".rsops-"):
            path = os.path.join(shared, name)
            try:
                os.unlink(path)
                os.symlink(victim, path)
            except OSError:
                pass
EOF
attacker=$!

failures=0
for ((i = 0; i < ROUNDS; i++)); do
    if ((i % 2 == 0)); then args=(encrypt --age "$recipient" -i); else args=(decrypt -i); fi
    if ! SOPS_AGE_KEY_FILE=$key SOPS_DISABLE_VERSION_CHECK=1 "$rsops" "${args[@]}" "$target" \
        >/dev/null 2>"$work/err"; then
        failures=$((failures + 1))
        grep -q "replaced by someone else\|already encrypted\|not encrypted\|sops metadata" "$work/err" ||
            { echo "unexpected error:" >&2; cat "$work/err" >&2; }
    fi
    # A run the attacker broke leaves the target a symlink (or gone); start again from plaintext.
    if [[ -L $target || ! -f $target ]]; then
        rm -f "$target"
        printf 'password: hunter2\n' >"$target"
    fi
done

mode=$(stat -c %a "$victim")
owner=$(stat -c %U "$victim")
echo "race-stress: $ROUNDS runs, $failures failed (swaps won or state reset); victim $mode $owner"
if [[ $mode != 600 || $owner != root || $(cat "$victim") != root-only ]]; then
    echo "race-stress: FAIL: the victim was changed" >&2
    exit 1
fi
echo "race-stress: ok, the victim is untouched"
