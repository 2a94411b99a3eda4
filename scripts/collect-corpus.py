#!/usr/bin/env python3
"""Collect the differential corpus (testdata/corpus/) from pinned registry packages.

Reads scripts/corpus-packages.tsv (registry, name, exact version, licence), downloads each
package (PyPI sdist from the simple index, checked against its sha256; npm via `npm pack`;
crates from the local cargo cache or static.crates.io), refuses any whose licence is not
permissive, extracts .yaml/.yml, .json, .ini/.cfg and dotenv files of at most 256 KiB, dedups
by content hash, caps each package at CAP files per format, adds CRLF and BOM variants of a
subset, and writes testdata/corpus/<format>/<source>__<name> plus MANIFEST.tsv.
TOML is skipped: sops 3.11 has no TOML store.

Usage: scripts/collect-corpus.py [--out testdata/corpus] [--cache DIR]
"""
import argparse
import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile

MAX_SIZE = 256 * 1024
CAP = 120  # files per package and format, so that no single package dominates
VARIANT_EVERY = 10  # every 10th file of a format gets a CRLF variant, every 10th (offset 5) a BOM one
PERMISSIVE = {
    "MIT", "MIT-0", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Unlicense", "Zlib",
    "BSL-1.0", "Unicode-3.0", "Unicode-DFS-2016", "0BSD", "CC0-1.0", "ZPL-2.1", "LLVM-exception",
}


def licence_ok(expr):
    """Evaluate an SPDX expression: true when it allows a permissive choice."""
    tokens = re.findall(r"\(|\)|/|[A-Za-z0-9.+-]+", expr)
    py = []
    for t in tokens:
        if t in ("OR", "/"):
            py.append(" or ")
        elif t in ("AND", "WITH"):
            py.append(" and ")
        elif t in "()":
            py.append(t)
        else:
            py.append(str(t in PERMISSIVE))
    return eval("".join(py), {"__builtins__": {}})  # only True/False/and/or/parens


def fetch(url, dest, sha256=None):
    if not os.path.exists(dest):
        data = urllib.request.urlopen(url, timeout=300).read()
        if sha256 and hashlib.sha256(data).hexdigest() != sha256:
            sys.exit(f"sha256 mismatch for {url}")
        with open(dest + ".part", "wb") as f:
            f.write(data)
        os.replace(dest + ".part", dest)
    return dest


def download(registry, name, version, cache):
    if registry == "pypi":
        html = urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=60).read().decode()
        stem = "[-_.]".join(map(re.escape, re.split("[-_.]", name)))
        for href in re.findall(r'href="([^"]+)"', html):
            url, _, frag = href.partition("#")
            fn = url.rsplit("/", 1)[1]
            if re.fullmatch(rf"{stem}-{re.escape(version)}\.(tar\.gz|zip)", fn, re.I):
                return fetch(url, os.path.join(cache, fn), frag.removeprefix("sha256=") or None)
        sys.exit(f"no sdist for {name} {version} on PyPI")
    if registry == "npm":
        fn = name.lstrip("@").replace("/", "-") + f"-{version}.tgz"
        if not os.path.exists(os.path.join(cache, fn)):
            subprocess.run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", cache],
                           check=True, stdout=subprocess.DEVNULL)
        return os.path.join(cache, fn)
    if registry == "crates":
        fn = f"{name}-{version}.crate"
        local = glob.glob(os.path.expanduser(f"~/.cargo/registry/cache/*/{fn}"))
        if local:
            return local[0]
        return fetch(f"https://static.crates.io/crates/{name}/{fn}", os.path.join(cache, fn))
    sys.exit(f"unknown registry {registry}")


def members(archive):
    """(path inside the package without its top folder, size, reader) of each regular file."""
    if archive.endswith(".zip"):
        z = zipfile.ZipFile(archive)
        for i in z.infolist():
            if not i.is_dir():
                yield i.filename.split("/", 1)[-1], i.file_size, (lambda i=i: z.read(i))
    else:
        t = tarfile.open(archive)
        for m in t.getmembers():
            if m.isfile():
                yield m.name.split("/", 1)[-1], m.size, (lambda m=m: t.extractfile(m).read())


def declared_licence(archive, registry):
    """The licence the package's own metadata declares, or None when not found."""
    for path, _, read in members(archive):
        if registry == "crates" and path == "Cargo.toml":
            m = re.search(r'^license\s*=\s*"([^"]+)"', read().decode(), re.M)
            return m and m.group(1)
        if registry == "npm" and path == "package.json":
            return json.loads(read()).get("license")
    return None


def format_of(path):
    base = os.path.basename(path).lower()
    if base.endswith((".yaml", ".yml")):
        return "yaml"
    if base.endswith(".json"):
        return "json"
    if base.endswith((".ini", ".cfg")):
        return "ini"
    if base.endswith(".env") or base.startswith(".env"):
        return "dotenv"
    return None


def flat_name(source, path):
    name = f"{source}__{path.replace('/', '--')}"
    name = re.sub(r"[^A-Za-z0-9._@+=-]", "_", name)
    if len(name) > 140:  # keep the end (extension), make it unique with a hash
        name = name[:60] + "~" + hashlib.sha256(name.encode()).hexdigest()[:10] + name[-60:]
    return name


README_HEAD = """# Differential corpus

Real YAML, JSON, INI and dotenv files taken from packages on the public registries (PyPI
sdists, npm tarballs, crates), for `scripts/differential.py`, which encrypts and decrypts each
with both sops and rsops and compares. Generated by `scripts/collect-corpus.py` from the pinned
list `scripts/corpus-packages.tsv`; do not edit by hand: rerun the script (it rewrites this
file, `MANIFEST.tsv` and the format folders).

* `<format>/<package>__<path in the package, / as -->`: a file as the package ships it
  (files over 256 KiB dropped, duplicates by content dropped, at most %(cap)d per package and format).
* `<format>/crlf__…` and `<format>/bom__…`: CRLF line endings or a UTF-8 BOM added to every
  %(every)dth file of a format.
* `MANIFEST.tsv`: path, package, version, sha256, and where in the package it came from.
* `known-differences.tsv`: differences the differential accepts, each with its reason.

TOML files are not collected: sops 3.11 has no TOML store.

Only packages under permissive OSI licences are used; the collector refuses any other, and
checks the licence against the crate's or npm package's own metadata. Each file keeps the
licence of the package it comes from:

| registry | package | version | licence | files |
|---|---|---|---|---|
"""


def write_readme(out, packages, rows, variants):
    per = {}
    for r in rows:
        per[r[2], r[3]] = per.get((r[2], r[3]), 0) + 1
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(README_HEAD % {"cap": CAP, "every": VARIANT_EVERY})
        for registry, name, version, licence in packages:
            if per.get((name, version)):
                f.write(f"| {registry} | {name} | {version} | {licence} | {per[name, version]} |\n")
        f.write(f"\nIn all {len(rows)} files and {len(variants)} CRLF/BOM variants.\n")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "testdata", "corpus"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/rsops-corpus"))
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)

    packages = []
    with open(os.path.join(here, "corpus-packages.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                packages.append(line.rstrip("\n").split("\t"))

    seen = set()
    used = set()
    rows = []  # (format, relpath, package, version, sha256, origin, data)
    for registry, name, version, licence in packages:
        if not licence_ok(licence):
            sys.exit(f"{name} {version}: licence {licence!r} is not on the permissive list")
        archive = download(registry, name, version, args.cache)
        meta = declared_licence(archive, registry)
        if meta is not None and meta != licence:
            sys.exit(f"{name} {version}: declared licence {meta!r} differs from the list's {licence!r}")
        source = name.lstrip("@").replace("/", "-")
        picked = {}
        for path, size, read in sorted(members(archive), key=lambda m: m[0]):
            fmt = format_of(path)
            if fmt is None or size > MAX_SIZE or os.path.basename(path) == ".cargo_vcs_info.json":
                continue
            data = read()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            picked.setdefault(fmt, []).append((path, data, digest))
        for fmt, files in picked.items():
            step = max(1, -(-len(files) // CAP))  # ceil: every step-th file, deterministic
            for path, data, digest in files[::step]:
                rel = f"{fmt}/{flat_name(source, path)}"
                if rel in used:  # another version of the same package had this file
                    rel = f"{fmt}/{flat_name(f'{source}@{version}', path)}"
                used.add(rel)
                rows.append((fmt, rel, name, version, digest, path, data))
        print(f"{registry:6} {name} {version}: " + ", ".join(
            f"{fmt} {len(files[::max(1, -(-len(files) // CAP))])}" for fmt, files in sorted(picked.items())),
            file=sys.stderr)

    # CRLF and BOM variants of a subset of each format.
    variants = []
    for fmt in sorted({r[0] for r in rows}):
        files = sorted((r for r in rows if r[0] == fmt), key=lambda r: r[1])
        for i, (fmt_, rel, name, version, _, _, data) in enumerate(files):
            kind = {0: "crlf", 5: "bom"}.get(i % VARIANT_EVERY)
            if kind == "crlf" and b"\r\n" not in data:
                new = data.replace(b"\n", b"\r\n")
            elif kind == "bom" and not data.startswith(b"\xef\xbb\xbf"):
                new = b"\xef\xbb\xbf" + data
            else:
                continue
            digest = hashlib.sha256(new).hexdigest()
            if digest not in seen:
                seen.add(digest)
                vrel = f"{fmt}/{kind}__{rel.split('/', 1)[1]}"
                variants.append((fmt, vrel, name, version, digest, f"{kind} of {rel}", new))

    for fmt in ("yaml", "json", "ini", "dotenv"):
        shutil.rmtree(os.path.join(args.out, fmt), ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "MANIFEST.tsv"), "w") as manifest:
        manifest.write("path\tpackage\tversion\tsha256\torigin\n")
        for fmt, rel, name, version, digest, origin, data in sorted(rows + variants, key=lambda r: r[1]):
            os.makedirs(os.path.join(args.out, fmt), exist_ok=True)
            with open(os.path.join(args.out, rel), "wb") as f:
                f.write(data)
            manifest.write(f"{rel}\t{name}\t{version}\t{digest}\t{origin}\n")
    write_readme(args.out, packages, rows, variants)
    counts = {}
    for r in rows + variants:
        counts[r[0]] = counts.get(r[0], 0) + 1
    print(f"corpus: {len(rows) + len(variants)} files ({len(variants)} CRLF/BOM variants): {counts}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
