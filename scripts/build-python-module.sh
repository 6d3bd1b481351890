#!/usr/bin/env bash
# Builds a Python botbox module (a directory with `app.py`) into a component with a pinned
# componentize-py, and prints the path of the `.wasm` file.
#
#   scripts/build-python-module.sh APP_DIR NAME OUT_DIR   # -> OUT_DIR/<source hash>/NAME.wasm
#   scripts/build-python-module.sh --setup                # only install componentize-py
#
# componentize-py goes into a virtualenv of its own, `$BOTBOX_TOOLS_DIR/componentize-py-<version>`
# (default `~/.cache/botbox-tools`), installed from PyPI the first time and reused after that; a
# lock keeps concurrent runs from installing it twice. A component is rebuilt only when the app's
# `*.py` files, `wit/` or the componentize-py version change: its directory is named by a hash of
# them, and components of older sources are removed. The build runs on a copy of the sources, so
# the guest's CPython leaves no `__pycache__` in APP_DIR. Needs python3 (3.9 or later) with venv.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${BOTBOX_TOOLS_DIR:-$HOME/.cache/botbox-tools}"
venv="$tools/componentize-py-$COMPONENTIZE_PY_VERSION"
tool="$venv/bin/componentize-py"

setup() {
    mkdir -p "$tools"
    exec 9>"$venv.lock"
    flock 9
    if [[ "$("$tool" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]]; then
        echo "installing componentize-py $COMPONENTIZE_PY_VERSION into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
            "componentize-py==$COMPONENTIZE_PY_VERSION" >&2
    fi
    flock -u 9
}

if [[ "${1:-}" == "--setup" ]]; then
    setup
    exit 0
fi
if [[ $# -ne 3 ]]; then
    echo "usage: $0 APP_DIR NAME OUT_DIR | --setup" >&2
    exit 2
fi
app_dir="$(cd "$1" && pwd)"
name="$2"
out_dir="$3"
setup

hash="$(
    cd "$root"
    {
        echo "componentize-py $COMPONENTIZE_PY_VERSION"
        find "$app_dir" -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort | while read -r f; do
            echo "${f#"$app_dir"/}"
            sha256sum <"$f"
        done
        for f in wit/*.wit; do
            echo "$f"
            sha256sum <"$f"
        done
    } | sha256sum | cut -c1-16
)"
out="$out_dir/$hash/$name.wasm"
if [[ ! -f "$out" ]]; then
    mkdir -p "$out_dir/$hash"
    staging="$(mktemp -d)"
    trap 'rm -rf "$staging"' EXIT
    (cd "$app_dir" && find . -name '*.py' -not -path '*/__pycache__/*' -exec cp --parents {} "$staging" \;)
    "$tool" --quiet -d "$root/wit" -w module componentize -p "$staging" app -o "$staging/out.wasm" >&2
    mv "$staging/out.wasm" "$out.tmp.$$"
    mv "$out.tmp.$$" "$out"
    # Components of older sources (about 20 MB each) are of no use any more.
    for old in "$out_dir"/*/"$name.wasm"; do
        [[ "$old" == "$out" ]] || rm -rf "$(dirname "$old")"
    done
fi
echo "$out"
