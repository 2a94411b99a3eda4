#!/usr/bin/env bash
# Times rsops against the real sops on the same generated inputs, in one run: each measurement
# alternates the two tools (rsops first on odd runs, sops first on even ones), and the table
# gives medians of wall time, CPU time (user+sys) and peak RSS (GNU time's maximum resident set size), and the
# ratio sops/rsops. See README "Benchmarks" and BENCHMARKS.md.
#
#   scripts/bench-vs-sops.sh            # 1k, 100k, 1M leaves (sops only up to 100k, see below)
#   scripts/bench-vs-sops.sh --quick    # 1k and 10k leaves, fewer runs
#   scripts/bench-vs-sops.sh --many     # many small files: a `for` loop over `sops decrypt`
#                                       # against one `rsops decrypt --output-dir` (KMS on moto
#                                       # behind scripts/kms-proxy.py, which adds a delay per
#                                       # request and counts them; and age)
#
# Environment:
#   SIZES="1000 100000"   leaf counts (default: 1000 100000 1000000; quick: 1000 10000)
#   RUNS=3                runs per measurement (quick: 3); TINY_RUNS=15 for the tiny file
#   KEYS="age pgp"        key types; PGP goes through a temporary GNUPGHOME
#   FORMATS="yaml json"   formats
#   SHAPES="plain values manifests certs"  how the YAML inputs are written (benches/support/gen.rs):
#                         plain block YAML; a commented values file; a manifest stream with
#                         anchors, aliases and flow sequences; secrets with certificate blocks
#   SOPS_MAX_LEAVES=100000  sops is not run above this size (it takes minutes to hours at 1M;
#                         set it to 1000000 to include it)
#   SOPS_BIN              the sops to compare with (default .tools/bin/sops, then $PATH)
#   RSOPS_BIN             a prebuilt rsops (default: cargo build --release)
#   OUT=path              also write the markdown table there
#   --many only: MANY_FILES=500 files, MANY_RUNS=3 runs, KMS_DELAY_MS=20 per KMS request,
#   SHARED_KEYS=5 distinct data keys in the shared-key set, MOTO_BIN (default .tools/bin)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
many=0
[[ "${1:-}" == "--quick" ]] && quick=1
[[ "${1:-}" == "--many" ]] && many=1
if ((quick)); then
    SIZES=${SIZES:-"1000 10000"}
    RUNS=${RUNS:-3}
    TINY_RUNS=${TINY_RUNS:-9}
else
    SIZES=${SIZES:-"1000 100000 1000000"}
    RUNS=${RUNS:-3}
    TINY_RUNS=${TINY_RUNS:-15}
fi
KEYS=${KEYS:-"age pgp"}
FORMATS=${FORMATS:-"yaml json"}
SHAPES=${SHAPES:-"plain values manifests certs"}
SOPS_MAX_LEAVES=${SOPS_MAX_LEAVES:-100000}
export SOPS_DISABLE_VERSION_CHECK=1

sops_bin=${SOPS_BIN:-$root/.tools/bin/sops}
[[ -x "$sops_bin" ]] || sops_bin=$(command -v sops || true)
[[ -x "$sops_bin" ]] || { echo "sops not found: set SOPS_BIN" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed (to time child processes)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time (GNU time) is needed for peak memory" >&2; exit 1; }

if [[ -z "${RSOPS_BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet --bin rsops --example gen_bench_input)
fi
command -v curl >/dev/null || ((!many)) || { echo "curl is needed for --many" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-$root/target}
rsops_bin=${RSOPS_BIN:-$target/release/rsops}
gen_bin=$target/release/examples/gen_bench_input
((many)) || [[ -x "$gen_bin" ]] || (cd "$root" && cargo build --release --quiet --example gen_bench_input)

work=$(mktemp -d)
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -n "${GNUPGHOME:-}" && -d "$work/gnupg" ]] && gpgconf --homedir "$work/gnupg" --kill gpg-agent 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Keys: the test-only keys of the repository (keys/README.md).
age_key_file=$root/keys/age1.txt
age_recipient=$(grep -o 'age1[0-9a-z]*' "$age_key_file" | head -1)
pgp_fp=1BA4BB945673E83C054AF26813DC73C8F49DE51A
if [[ " $KEYS " == *" pgp "* ]]; then
    export GNUPGHOME=$work/gnupg
    mkdir -m 700 "$GNUPGHOME"
    gpg --batch --quiet --import "$root/keys/pgp_rsa.sec.asc" 2>/dev/null
    # Trust it, so gpg encrypts to it without asking.
    echo "$pgp_fp:6:" | gpg --batch --quiet --import-ownertrust 2>/dev/null
fi

# One timed command: prints "wall cpu maxrss_kb". Peak memory comes from GNU time (its
# "Maximum resident set size"); time itself reports in 10 ms steps, too coarse for the tiny
# file, so wall and CPU (user+sys, which includes GNU time's own, a few hundred microseconds)
# come from wait4(2) at microsecond resolution.
measure() {
    python3 - "$work/stdout" "$work/stderr" "$work/rss" /usr/bin/time -f %M -o "$work/rss" "$@" <<'PY'
import os, sys, time
out, err, rss, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(out, "wb") as o, open(err, "wb") as e:
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(o.fileno(), 1)
        os.dup2(e.fileno(), 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
if status != 0:
    sys.stderr.write("command failed: %s\n%s" % (" ".join(argv), open(err).read()))
    sys.exit(1)
print("%.5f %.5f %d" % (wall, ru.ru_utime + ru.ru_stime, int(open(rss).read().split()[-1])))
PY
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Runs both tools `runs` times, alternating, and prints one table row.
# Usage: compare LABEL RUNS SOPS_TOO -- RSOPS_ARGS... -- SOPS_ARGS...
compare() {
    local label=$1 runs=$2 with_sops=$3
    shift 4
    local -a r_args=() s_args=()
    while [[ $1 != -- ]]; do r_args+=("$1"); shift; done
    shift
    s_args=("$@")
    : >"$work/r" && : >"$work/s"
    local i
    for ((i = 1; i <= runs; i++)); do
        if ((i % 2)) || ((!with_sops)); then
            measure "${r_args[@]}" >>"$work/r"
            ((with_sops)) && measure "${s_args[@]}" >>"$work/s"
        else
            measure "${s_args[@]}" >>"$work/s"
            measure "${r_args[@]}" >>"$work/r"
        fi
    done
    local rw rc rm sw sc sm
    rw=$(cut -d' ' -f1 "$work/r" | median); rc=$(cut -d' ' -f2 "$work/r" | median)
    rm=$(cut -d' ' -f3 "$work/r" | median)
    if ((with_sops)); then
        sw=$(cut -d' ' -f1 "$work/s" | median); sc=$(cut -d' ' -f2 "$work/s" | median)
        sm=$(cut -d' ' -f3 "$work/s" | median)
        awk -v l="$label" -v rw="$rw" -v rc="$rc" -v rm="$rm" -v sw="$sw" -v sc="$sc" -v sm="$sm" 'BEGIN {
            printf "| %s | %.4f | %.4f | %.0f | %.4f | %.4f | %.0f | %.1f× | %.1f× |\n", l, rw, rc, rm / 1024, sw, sc, sm / 1024, sw / rw, sc / (rc > 0 ? rc : 1e-6) }'
    else
        awk -v l="$label" -v rw="$rw" -v rc="$rc" -v rm="$rm" 'BEGIN {
            printf "| %s | %.4f | %.4f | %.0f | – | – | – | – | – |\n", l, rw, rc, rm / 1024 }'
    fi
}

key_args() { # tool key → encryption arguments
    case $2 in
        age) echo "--age $age_recipient" ;;
        pgp) echo "--pgp $pgp_fp" ;;
    esac
}

header() {
    echo
    echo "| case | rsops wall s | rsops cpu s | rsops MB | sops wall s | sops cpu s | sops MB | wall ratio | cpu ratio |"
    echo "|---|---|---|---|---|---|---|---|---|"
}

report() {
    echo "rsops: $rsops_bin"
    echo "sops:  $sops_bin ($("$sops_bin" --version 2>/dev/null | head -1))"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"

    # Tiny file: start-up plus one key unwrap dominates.
    printf 'password: hunter2\n' >"$work/tiny.yaml"
    header
    for key in $KEYS; do
        # shellcheck disable=SC2046
        "$rsops_bin" encrypt $(key_args rsops "$key") "$work/tiny.yaml" >"$work/tiny.$key.enc.yaml"
        # shellcheck disable=SC2046
        compare "tiny yaml, $key, encrypt" "$TINY_RUNS" 1 -- \
            "$rsops_bin" encrypt $(key_args rsops "$key") "$work/tiny.yaml" -- \
            "$sops_bin" encrypt $(key_args sops "$key") "$work/tiny.yaml"
        compare "tiny yaml, $key, decrypt" "$TINY_RUNS" 1 -- \
            env SOPS_AGE_KEY_FILE="$age_key_file" "$rsops_bin" decrypt "$work/tiny.$key.enc.yaml" -- \
            env SOPS_AGE_KEY_FILE="$age_key_file" "$sops_bin" decrypt "$work/tiny.$key.enc.yaml"
        if [[ $key == pgp ]]; then
            compare "tiny yaml, pgp in-process (no gpg), decrypt" "$TINY_RUNS" 1 -- \
                env RSOPS_PGP_SECRET_KEYS="$root/keys/pgp_rsa.sec.asc" GNUPGHOME=/nonexistent \
                "$rsops_bin" decrypt "$work/tiny.$key.enc.yaml" -- \
                "$sops_bin" decrypt "$work/tiny.$key.enc.yaml"
        fi
    done

    header
    local shapes shape label
    for format in $FORMATS; do
        shapes=plain
        [[ $format == yaml ]] && shapes=$SHAPES
        for shape in $shapes; do
        for n in $SIZES; do
            local plain=$work/in.$n.$format enc
            "$gen_bin" --format "$format" --leaves "$n" --shape "$shape" >"$plain"
            label=$format
            [[ $shape != plain ]] && label="$format ($shape)"
            local with_sops=1
            ((n > SOPS_MAX_LEAVES)) && with_sops=0
            for key in $KEYS; do
                enc=$work/enc.$n.$key.$format
                # shellcheck disable=SC2046
                "$rsops_bin" encrypt $(key_args rsops "$key") "$plain" >"$enc"
                # shellcheck disable=SC2046
                compare "$label $n leaves, $key, encrypt" "$RUNS" "$with_sops" -- \
                    "$rsops_bin" encrypt $(key_args rsops "$key") "$plain" -- \
                    "$sops_bin" encrypt $(key_args sops "$key") "$plain"
                compare "$label $n leaves, $key, decrypt" "$RUNS" "$with_sops" -- \
                    env SOPS_AGE_KEY_FILE="$age_key_file" "$rsops_bin" decrypt "$enc" -- \
                    env SOPS_AGE_KEY_FILE="$age_key_file" "$sops_bin" decrypt "$enc"
                if ((with_sops)) && [[ $key == age ]]; then
                    # Sanity: both tools print the same plaintext for the file.
                    SOPS_AGE_KEY_FILE=$age_key_file "$rsops_bin" decrypt "$enc" >"$work/a"
                    SOPS_AGE_KEY_FILE=$age_key_file "$sops_bin" decrypt "$enc" >"$work/b"
                    cmp -s "$work/a" "$work/b" || echo "WARNING: outputs differ for $label $n" >&2
                fi
            done
            rm -f "$work"/enc.* "$plain"
        done
        done
    done
    echo
    echo "wall/cpu: median seconds over runs (cpu = user + sys); MB: median peak RSS; ratio: sops/rsops."
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() { # URL: polls until it answers 2xx, for at most a minute
    local i
    for ((i = 0; i < 300; i++)); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.2
    done
    echo "$1 never answered" >&2
    exit 1
}

# moto has no authentication here, but reads the region from the credential scope.
create_kms_key() { # moto base URL → ARN
    curl -sf -X POST "$1/" -H 'X-Amz-Target: TrentService.CreateKey' \
        -H 'Content-Type: application/x-amz-json-1.1' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0' \
        -d '{}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["KeyMetadata"]["Arn"])'
}

proxy_count() { # proxy base URL, action → how many requests of that action it forwarded
    curl -sf "$1/__proxy/counts" | python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$2"
}

# The sops side of a many-file run: one process per file, as CD tools call it today.
# Arguments: sops, the directory, the output directory.
sops_loop='for f in "$2"/*; do "$1" decrypt "$f" >"$3/${f##*/}" || exit 1; done'

many_report() {
    local n=${MANY_FILES:-500} runs=${MANY_RUNS:-3} delay=${KMS_DELAY_MS:-20} shared=${SHARED_KEYS:-5}
    local moto_bin=${MOTO_BIN:-$root/.tools/bin/moto_server}
    echo "rsops: $rsops_bin"
    echo "sops:  $sops_bin ($("$sops_bin" --version 2>/dev/null | head -1))"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "$n files, $runs runs each, KMS: moto behind scripts/kms-proxy.py adding ${delay} ms per request"

    local moto_port proxy_port moto proxy arn i
    moto_port=$(free_port)
    "$moto_bin" -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
    servers+=($!)
    moto=http://127.0.0.1:$moto_port
    wait_for "$moto/moto-api/"
    proxy_port=$(free_port)
    python3 "$root/scripts/kms-proxy.py" --listen "127.0.0.1:$proxy_port" --upstream "$moto" \
        --delay-ms "$delay" >/dev/null &
    servers+=($!)
    proxy=http://127.0.0.1:$proxy_port
    wait_for "$proxy/__proxy/counts"
    arn=$(create_kms_key "$moto")
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
    export AWS_DEFAULT_REGION=us-east-1 SOPS_AGE_KEY_FILE=$age_key_file

    mkdir -p "$work/plain"
    for ((i = 0; i < n; i++)); do
        printf 'db:\n    user: app%d\n    password: pw-%d-%d\nport: %d\n' "$i" "$i" "$RANDOM" $((5000 + i)) \
            >"$work/plain/f$i.yaml"
    done
    # Setup goes to moto directly: only the timed runs pay the delay.
    # kms-own: every file its own data key (as a loop of `sops encrypt` would make them).
    AWS_ENDPOINT_URL=$moto "$rsops_bin" encrypt --kms "$arn" --output-dir "$work/kms-own" "$work"/plain/*
    "$rsops_bin" encrypt --age "$age_recipient" --output-dir "$work/age-own" "$work"/plain/*
    # kms-shared: files made from $shared encrypted templates with `set` (which keeps the data
    # key), as teams that copy and edit one file per environment have them.
    mkdir -p "$work/kms-shared"
    for ((i = 0; i < n; i++)); do
        local template=$work/kms-own/f$((i % shared)).yaml out=$work/kms-shared/f$i.yaml
        cp "$template" "$out"
        AWS_ENDPOINT_URL=$moto "$rsops_bin" set "$out" '["db"]["user"]' "\"app$i\""
    done

    header
    local set distinct rsops_calls total notes=""
    for set in kms-own kms-shared age-own; do
        mkdir -p "$work/out-r" "$work/out-s"
        distinct=$(grep -h '^ *enc: ' "$work/$set"/* | sort -u | wc -l)
        export AWS_ENDPOINT_URL=$proxy
        curl -sf -X POST -o /dev/null "$proxy/__proxy/reset"
        "$rsops_bin" decrypt --output-dir "$work/out-r" "$work/$set"/*
        rsops_calls=$(proxy_count "$proxy" TrentService.Decrypt)
        curl -sf -X POST -o /dev/null "$proxy/__proxy/reset"
        compare "$n files, ${set%-*}, $([[ $set == *shared ]] && echo "$shared data keys" || echo "$n data keys"), decrypt" "$runs" 1 -- \
            "$rsops_bin" decrypt --output-dir "$work/out-r" "$work/$set"/* -- \
            bash -c "$sops_loop" _ "$sops_bin" "$work/$set" "$work/out-s"
        total=$(proxy_count "$proxy" TrentService.Decrypt)
        diff -r "$work/out-r" "$work/out-s" >/dev/null || echo "WARNING: outputs differ for $set" >&2
        if [[ $set == kms-* ]]; then
            notes+="KMS Decrypt requests at the proxy, $set: rsops $rsops_calls per run (distinct data keys: $distinct), sops loop $(((total - runs * rsops_calls) / runs)) per run"$'\n'
        fi
        rm -rf "$work/out-r" "$work/out-s"
    done
    echo
    printf '%s' "$notes"
    echo "wall/cpu: median seconds over runs (cpu = user + sys of the process and its children); MB: median peak RSS; ratio: sops loop / rsops."
}

main_report() {
    if ((many)); then many_report; else report; fi
}

if [[ -n "${OUT:-}" ]]; then
    main_report | tee "$OUT"
else
    main_report
fi
