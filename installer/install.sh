#!/usr/bin/env bash
# Installs botbox, the Telegram bot runtime, on a Debian or Ubuntu server, as a service.
#
#   sudo bash installer/install.sh            # asks for what it needs, explains every step
#   sudo bash installer/install.sh --help     # every option (automation, upgrade, removal)
#
# Running it again upgrades botbox in place and keeps the configuration and the data.
# `--uninstall` removes the program and keeps the data; `--purge` removes the data too.
set -euo pipefail

# Everything is inside this function, called on the last line: a download of this script that
# breaks off halfway (curl ... | bash) defines half a function and runs nothing.
botbox_installer() {

VERSION_OF_INSTALLER=1
DEFAULT_PREFIX=/opt/botbox
DEFAULT_API_URL=https://api.telegram.org
DEFAULT_ADMIN_LISTEN=127.0.0.1:9180
# Where release archives are published (botbox-<arch>-linux.tar.gz with `botbox` and
# `modules/*.wasm`). Empty: none are published yet, and botbox is built from the source.
DEFAULT_RELEASE_URL=""
MARKER=.installed-by-botbox
WRAPPER=/usr/local/bin/botbox
UNIT_FILE=/etc/systemd/system/botbox.service

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
    cat <<'EOF'
Installs botbox (a Telegram bot runtime) as a service on a Debian or Ubuntu server.

Usage: sudo bash install.sh [options]

Without options it asks for what it needs: the bot token (from @BotFather) and a message
from you to the bot (so it knows who operates it).

Options:
  --token TOKEN         the bot token (or the environment variable BOTBOX_TOKEN)
  --api-url URL         the Bot API server (default https://api.telegram.org)
  --operator-id ID      your Telegram user id (otherwise found by a message you send the bot)
  --prefix DIR          where everything goes (default /opt/botbox)
  --no-systemd          do not install a service; also works without root
  --user NAME           the user the bot runs as (default: botbox, created; with
                        --no-systemd: the user running this script)
  --admin-listen ADDR   the admin API and /healthz, /metrics (default 127.0.0.1:9180)
  --yes                 never ask; fail when something needed is missing
  --binary FILE         use this botbox program instead of downloading or building one
                        (or BOTBOX_BINARY)
  --release-url URL     download release archives from here (or BOTBOX_RELEASE_URL)
  --source DIR          the botbox source to build from (default: the one holding this script)
  --modules-from DIR    install the modules (*.wasm) found here instead of building the examples
  --uninstall           remove botbox, keep the configuration and the data
  --purge               with --uninstall: remove the data and the configuration too
  -h, --help            this text
EOF
}

# ---------------------------------------------------------------------------------------------
# Output

if [ -t 1 ]; then
    BOLD=$'\e[1m' GREEN=$'\e[32m' YELLOW=$'\e[33m' RED=$'\e[31m' RESET=$'\e[0m'
else
    BOLD="" GREEN="" YELLOW="" RED="" RESET=""
fi
STEP=0
STEPS=8

step() {
    STEP=$((STEP + 1))
    printf '\n%sStep %d of %d: %s%s\n' "$BOLD" "$STEP" "$STEPS" "$1" "$RESET"
}
say() { printf '  %s\n' "$@"; }
ok() { printf '  %s✓%s %s\n' "$GREEN" "$RESET" "$*"; }
warn() { printf '  %s!%s %s\n' "$YELLOW" "$RESET" "$*"; }
die() {
    printf '\n%sThe installation stopped:%s %s\n' "$RED" "$RESET" "$1" >&2
    shift
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Options

TOKEN="${BOTBOX_TOKEN:-}"
API_URL="$DEFAULT_API_URL"
OPERATOR_ID=""
PREFIX="$DEFAULT_PREFIX"
SYSTEMD=1
RUN_USER=""
ADMIN_LISTEN="$DEFAULT_ADMIN_LISTEN"
ASSUME_YES=0
BINARY="${BOTBOX_BINARY:-}"
RELEASE_URL="${BOTBOX_RELEASE_URL:-$DEFAULT_RELEASE_URL}"
SOURCE=""
MODULES_FROM=""
UNINSTALL=0
PURGE=0
OPERATOR_TIMEOUT="${BOTBOX_OPERATOR_TIMEOUT:-600}"

need_value() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value." "See: install.sh --help"; fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --token) need_value "$@"; TOKEN="$2"; shift 2 ;;
        --api-url) need_value "$@"; API_URL="$2"; shift 2 ;;
        --operator-id) need_value "$@"; OPERATOR_ID="$2"; shift 2 ;;
        --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
        --no-systemd) SYSTEMD=0; shift ;;
        --user) need_value "$@"; RUN_USER="$2"; shift 2 ;;
        --admin-listen) need_value "$@"; ADMIN_LISTEN="$2"; shift 2 ;;
        --yes | -y) ASSUME_YES=1; shift ;;
        --binary) need_value "$@"; BINARY="$2"; shift 2 ;;
        --release-url) need_value "$@"; RELEASE_URL="$2"; shift 2 ;;
        --source) need_value "$@"; SOURCE="$2"; shift 2 ;;
        --modules-from) need_value "$@"; MODULES_FROM="$2"; shift 2 ;;
        --uninstall) UNINSTALL=1; shift ;;
        --purge) UNINSTALL=1; PURGE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1" "See: install.sh --help" ;;
    esac
done

case "$PREFIX" in
    /*) ;;
    *) PREFIX="$(pwd)/$PREFIX" ;;
esac
PREFIX="${PREFIX%/}"
[ -n "$PREFIX" ] || die "--prefix / is not allowed: botbox needs a directory of its own."
if ! [[ "$PREFIX" =~ ^[A-Za-z0-9._/+-]+$ ]]; then
    die "--prefix must be a plain path (letters, digits, . _ - + /), not \"$PREFIX\"."
fi
if ! [[ "$API_URL" =~ ^https?://[A-Za-z0-9._:/%+-]+$ ]]; then
    die "--api-url must be an http(s) address like https://api.telegram.org, not \"$API_URL\"."
fi
# Release archives come over https; plain http only from this machine itself (a local mirror).
loopback_http_re='^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/|$)'
if [ -n "$RELEASE_URL" ] && ! [[ "$RELEASE_URL" =~ ^https:// || "$RELEASE_URL" =~ $loopback_http_re ]]; then
    die "--release-url must be an https:// address, not \"$RELEASE_URL\"." \
        "A program downloaded over plain http could be replaced on the way."
fi
listen_re='^[]0-9A-Fa-f.:[]+:[0-9]+$'
if ! [[ "$ADMIN_LISTEN" =~ $listen_re ]]; then
    die "--admin-listen must be an address and port like 127.0.0.1:9180, not \"$ADMIN_LISTEN\"."
fi
if ! [[ "$RUN_USER" =~ ^[a-z_][a-z0-9_-]*$|^$ ]]; then
    die "--user must be a user name like botbox, not \"$RUN_USER\"."
fi
if [ -n "$OPERATOR_ID" ] && ! [[ "$OPERATOR_ID" =~ ^[0-9]+$ ]]; then
    die "--operator-id must be a Telegram user id (a number), not \"$OPERATOR_ID\"."
fi
if ! [[ "$OPERATOR_TIMEOUT" =~ ^[0-9]+$ ]]; then
    die "BOTBOX_OPERATOR_TIMEOUT must be a number of seconds."
fi

BIN_DIR="$PREFIX/bin"
BIN="$BIN_DIR/botbox"
CONFIG="$PREFIX/botbox.toml"
DATA_DIR="$PREFIX/data"
MODULES_DIR="$PREFIX/modules"
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
if [ -z "$RUN_USER" ]; then
    if [ "$SYSTEMD" = 1 ]; then RUN_USER=botbox; else RUN_USER="$(id -un)"; fi
fi

# ---------------------------------------------------------------------------------------------
# Questions: asked on the terminal, even when this script itself arrives through a pipe
# (curl ... | sudo bash).

TTY=""
if [ "$ASSUME_YES" = 0 ]; then
    if [ -t 0 ]; then
        TTY=/dev/stdin
    elif { : </dev/tty; } 2>/dev/null; then
        TTY=/dev/tty
    fi
fi

# ask VAR "question": the answer, trimmed, in VAR. Fails when nobody can be asked.
ask() {
    local answer=""
    [ -n "$TTY" ] || die "$2 (nobody to ask: run it in a terminal, or give the answer as an option)" \
        "See: install.sh --help"
    printf '  %s%s%s ' "$BOLD" "$2" "$RESET"
    IFS= read -r answer <"$TTY" || answer=""
    answer="${answer#"${answer%%[![:space:]]*}"}"
    answer="${answer%"${answer##*[![:space:]]}"}"
    printf -v "$1" '%s' "$answer"
}

# confirm "question": true for yes (the default), false for no. --yes answers yes.
confirm() {
    local reply
    [ -z "$TTY" ] && return 0
    ask reply "$1 [Y/n]"
    case "$reply" in
        [nN]*) return 1 ;;
        *) return 0 ;;
    esac
}

# ask_yes_no "question": asks until the answer is yes or no; there is no default.
ask_yes_no() {
    local reply
    while :; do
        ask reply "$1 [yes/no]"
        case "$reply" in
            [yY] | [yY][eE][sS]) return 0 ;;
            [nN] | [nN][oO]) return 1 ;;
            *) say "Please answer yes or no." ;;
        esac
    done
}

# ---------------------------------------------------------------------------------------------
# Helpers

# pairing_code: 12 characters from the kernel's random generator, each one of 32 letters and
# digits that cannot be mistaken for another (no 0/O, 1/I): 60 bits, never guessed within
# the minutes it is valid. Each byte read picks one of the 32 (256 is a multiple of 32: no
# bias).
pairing_code() {
    local alphabet=ABCDEFGHJKLMNPQRSTUVWXYZ23456789 code="" byte
    for byte in $(od -An -N12 -tu1 /dev/urandom); do
        code+="${alphabet:byte%32:1}"
    done
    [ ${#code} = 12 ] || die "could not read random numbers from /dev/urandom."
    printf '%s' "$code"
}

apt_install() {
    [ "$IS_ROOT" = 1 ] || die "these programs are missing: $*" "Install them (sudo apt-get install $*) or run this as root."
    command -v apt-get >/dev/null || die "these programs are missing: $*" "Install them with your system's package manager."
    say "Installing $* (from your system's package sources)..."
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
    ok "installed $*"
}

# put SRC DEST MODE: copies atomically (a running program is never half-replaced).
put() {
    local tmp="$2.new.$$"
    cp "$1" "$tmp"
    chmod "$3" "$tmp"
    mv -f "$tmp" "$2"
}

# private_dir DIR: makes DIR (mode 700) or checks the one there: a real folder (not a link),
# owned by this user, that no one else can write to. Otherwise the installation stops.
private_dir() {
    local dir="$1"
    if [ ! -e "$dir" ] && [ ! -L "$dir" ]; then
        if ! { mkdir -p -- "$(dirname -- "$dir")" && mkdir -m 700 -- "$dir"; }; then
            die "cannot create the build folder $dir."
        fi
    fi
    if [ -L "$dir" ] || [ ! -d "$dir" ]; then
        die "the build folder $dir is not a plain folder (a link or a file): not building there." \
            "Remove it, or choose another with BOTBOX_BUILD_DIR=DIR."
    fi
    if [ ! -O "$dir" ]; then
        die "the build folder $dir belongs to another user ($(stat -c %U -- "$dir")): not building there." \
            "The program built there is run by this installer; remove the folder, or choose another with BOTBOX_BUILD_DIR=DIR."
    fi
    if [ -n "$(find "$dir" -maxdepth 0 -perm /022)" ]; then
        die "the build folder $dir can be written by other users (mode $(stat -c %a -- "$dir")): not building there." \
            "Someone could have put their own program in it. Remove the folder, or choose another with BOTBOX_BUILD_DIR=DIR."
    fi
    chmod 700 -- "$dir"
}

owner_of_data() {
    if [ "$IS_ROOT" = 1 ]; then chown -R "$RUN_USER:" "$@"; fi
}

bot_username=""
check_token() {
    local out status=0
    out="$(BOTBOX_TOKEN="$1" "$BIN" setup token --api-url "$API_URL" 2>&1)" || status=$?
    case "$status" in
        0) bot_username="$out"; return 0 ;;
        3) say "$out"; return 3 ;;
        *) say "$out"; return 4 ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Uninstall

uninstall() {
    printf '%sRemoving botbox from %s%s\n' "$BOLD" "$PREFIX" "$RESET"
    if [ ! -e "$PREFIX/$MARKER" ] && [ ! -e "$BIN" ]; then
        die "there is no botbox installed in $PREFIX." "Give the directory it was installed to with --prefix."
    fi
    if [ "$PURGE" = 1 ] && [ -n "$TTY" ]; then
        warn "--purge deletes the bot's data for good: its users, their data, the backups in $DATA_DIR."
        local reply
        ask reply "Type yes to delete everything:"
        [ "$reply" = yes ] || die "nothing was removed."
    fi
    if [ "$SYSTEMD" = 1 ] && [ -f "$UNIT_FILE" ] && grep -q "$PREFIX/bin/botbox" "$UNIT_FILE"; then
        systemctl disable --now botbox.service >/dev/null 2>&1 || true
        rm -f "$UNIT_FILE"
        systemctl daemon-reload || true
        ok "stopped and removed the service"
    fi
    if [ -f "$WRAPPER" ] && grep -q "$PREFIX/bin/botbox" "$WRAPPER"; then
        rm -f "$WRAPPER"
        ok "removed the command $WRAPPER"
    fi
    rm -f "$BIN" "$PREFIX/botbox.service" "$PREFIX/README.txt"
    rmdir "$BIN_DIR" 2>/dev/null || true
    ok "removed the program"
    if [ "$PURGE" = 1 ]; then
        [ -e "$PREFIX/$MARKER" ] || die "$PREFIX was not made by this installer; not deleting it."
        local created_user=""
        created_user="$(sed -n 's/^created_user=//p' "$PREFIX/$MARKER")"
        rm -rf -- "$PREFIX"
        ok "deleted $PREFIX: the configuration, the modules and all data"
        if [ -n "$created_user" ] && [ "$IS_ROOT" = 1 ] && id "$created_user" >/dev/null 2>&1; then
            userdel "$created_user" >/dev/null 2>&1 || true
            ok "removed the user $created_user"
        fi
        printf '\nbotbox is gone.\n'
    else
        printf '\nbotbox is removed. Kept, in case you install it again:\n'
        say "$CONFIG (the configuration, with the bot token)" \
            "$DATA_DIR (the data: users, module data, backups)" \
            "$MODULES_DIR (the modules)" \
            "To delete those too: bash install.sh --purge --prefix $PREFIX"
    fi
}

if [ "$UNINSTALL" = 1 ]; then
    if [ "$SYSTEMD" = 1 ] && [ "$IS_ROOT" = 0 ] && [ -f "$UNIT_FILE" ]; then
        die "removing the service needs root." "Run: sudo bash install.sh --uninstall"
    fi
    uninstall
    exit 0
fi

UPGRADE=0
[ -f "$CONFIG" ] && UPGRADE=1

printf '%sbotbox installer%s\n' "$BOLD" "$RESET"
if [ "$UPGRADE" = 1 ]; then
    say "botbox is installed in $PREFIX already: this upgrades it." \
        "Your configuration ($CONFIG) and your data ($DATA_DIR) are kept as they are."
else
    say "This puts botbox, a Telegram bot runtime, on this server, in $PREFIX," \
        "and sets it up to run by itself, also after a reboot. It takes a few minutes" \
        "(half an hour if botbox has to be built here). You will need your bot's token."
fi
if ! confirm "Continue?"; then
    say "Nothing was changed."
    exit 0
fi

# ---------------------------------------------------------------------------------------------
step "checking this machine"

[ "$(uname -s)" = Linux ] || die "botbox runs on Linux; this is $(uname -s)."
ARCH="$(uname -m)"
case "$ARCH" in
    x86_64 | aarch64) ok "processor: $ARCH" ;;
    *) die "botbox is built for x86_64 and aarch64 processors; this one is $ARCH." ;;
esac
if [ -r /etc/os-release ]; then
    # shellcheck source=/dev/null
    os_name="$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-$ID}")"
    # shellcheck source=/dev/null
    os_id="$(. /etc/os-release && printf '%s %s' "${ID:-}" "${ID_LIKE:-}")"
    case "$os_id" in
        *debian* | *ubuntu*) ok "system: $os_name" ;;
        *) warn "system: $os_name. The installer is made for Debian and Ubuntu; trying anyway." ;;
    esac
fi
if [ "$SYSTEMD" = 1 ]; then
    [ "$IS_ROOT" = 1 ] || die "installing a service needs administrator rights." \
        "Run it with sudo: sudo bash install.sh" \
        "(or, to try botbox without a service: bash install.sh --no-systemd --prefix ~/botbox)"
    [ -d /run/systemd/system ] || die "this machine does not run systemd, which keeps botbox running." \
        "Use --no-systemd and start botbox yourself, or use the container files (Dockerfile, compose.yaml)."
    ok "systemd is there to run botbox as a service"
fi
mem_mb="$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo 2>/dev/null || echo 0)"
if [ "$mem_mb" -gt 0 ] && [ "$mem_mb" -lt 900 ]; then
    warn "memory: $mem_mb MB. botbox needs about 50 MB, but building it needs 2 GB (a release download does not)."
else
    ok "memory: $mem_mb MB"
fi
mkdir -p "$PREFIX" 2>/dev/null || die "cannot create $PREFIX." "Choose another place with --prefix DIR, or run as root."
free_mb="$(df -Pm "$PREFIX" | awk 'NR == 2 { print $4 }')"
if [ "${free_mb:-0}" -lt 200 ]; then
    die "only ${free_mb} MB of disk space are free where $PREFIX is; botbox needs at least 200 MB."
fi
ok "disk: $free_mb MB free"

# ---------------------------------------------------------------------------------------------
step "getting botbox"

WORK="$(mktemp -d)"
SWAPFILE=""
cleanup() {
    if [ -n "$SWAPFILE" ]; then
        swapoff "$SWAPFILE" 2>/dev/null || true
        rm -f "$SWAPFILE"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
NEW_BIN=""
NEW_MODULES=""

if [ -n "$BINARY" ]; then
    [ -f "$BINARY" ] || die "the program given with --binary ($BINARY) does not exist."
    NEW_BIN="$BINARY"
    say "Using the botbox program given: $BINARY"
elif [ -n "$RELEASE_URL" ]; then
    command -v curl >/dev/null || apt_install curl ca-certificates
    archive="botbox-$ARCH-linux.tar.gz"
    say "Downloading $RELEASE_URL/$archive ..."
    # https only (redirects too); plain http only from this machine itself.
    proto='=https'
    if [[ "$RELEASE_URL" =~ $loopback_http_re ]]; then proto='=http'; fi
    curl -fsSL --proto "$proto" --tlsv1.2 --retry 3 -o "$WORK/$archive" "$RELEASE_URL/$archive" ||
        die "the download failed." "Check the internet connection, or build from the source (leave out --release-url)."
    curl -fsSL --proto "$proto" --tlsv1.2 --retry 3 -o "$WORK/$archive.sha256" "$RELEASE_URL/$archive.sha256" ||
        die "the release has no checksum ($RELEASE_URL/$archive.sha256 cannot be downloaded): not installing a program that cannot be checked." \
            "Publish the checksum beside the archive (sha256sum $archive > $archive.sha256), or build from the source (leave out --release-url)."
    expected="$(awk 'NR == 1 { print tolower($1) }' "$WORK/$archive.sha256")"
    actual="$(sha256sum "$WORK/$archive" | awk '{ print $1 }')"
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] ||
        die "the release's checksum file ($archive.sha256) holds no SHA-256 checksum: not installing."
    [ "$expected" = "$actual" ] ||
        die "the download is damaged or was changed (its SHA-256 checksum does not match): not installing." \
            "Try again; if it persists, tell the publisher of $RELEASE_URL."
    ok "checksum verified"
    mkdir -p "$WORK/release"
    tar --no-same-owner -xzf "$WORK/$archive" -C "$WORK/release"
    NEW_BIN="$WORK/release/botbox"
    [ -d "$WORK/release/modules" ] && NEW_MODULES="$WORK/release/modules"
else
    SOURCE="${SOURCE:-$SCRIPT_DIR/..}"
    SOURCE="$(cd "$SOURCE" 2>/dev/null && pwd)" || die "the source directory does not exist."
    if [ ! -f "$SOURCE/runtime/Cargo.toml" ] || [ ! -d "$SOURCE/example-modules" ]; then
        die "no botbox source in $SOURCE, and no release to download." \
            "Get the source (git clone) and run installer/install.sh from it, or give --binary FILE."
    fi
    say "No ready-made botbox program is published for this machine, so it is built here from" \
        "the source in $SOURCE. This needs the Rust compiler (installed now if missing) and takes" \
        "10 to 30 minutes on a small server. The result is kept: a re-run is quick."
    missing=()
    command -v cc >/dev/null || missing+=(build-essential)
    command -v curl >/dev/null || missing+=(curl)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    [ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
    if ! command -v cargo >/dev/null; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            PATH="$HOME/.cargo/bin:$PATH"
        else
            say "Installing the Rust compiler (rustup, from https://sh.rustup.rs)..."
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
                sh -s -- -y --profile minimal >/dev/null || die "the Rust compiler could not be installed."
            PATH="$HOME/.cargo/bin:$PATH"
            ok "installed Rust: $(rustc --version)"
        fi
    fi
    command -v rustup >/dev/null && rustup target add wasm32-wasip2 >/dev/null 2>&1
    # The build and the program it makes stay in a folder only this user can write: root
    # later runs that program, so a folder others could write into (a fixed name in /tmp or
    # /var/tmp) would let them swap in their own.
    if [ "$IS_ROOT" = 1 ]; then
        BUILD_DIR="${BOTBOX_BUILD_DIR:-/var/cache/botbox-build}"
    else
        BUILD_DIR="${BOTBOX_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/botbox-build}"
    fi
    private_dir "$BUILD_DIR"
    total_mb="$(awk '/^(MemTotal|SwapTotal):/ { s += $2 } END { print int(s / 1024) }' /proc/meminfo)"
    if [ "$total_mb" -lt 2500 ] && [ "$IS_ROOT" = 1 ]; then
        SWAPFILE="$BUILD_DIR/swap"
        say "This machine has little memory for building; adding 2 GB of temporary swap space."
        rm -f "$SWAPFILE"
        if fallocate -l 2G "$SWAPFILE" 2>/dev/null && chmod 600 "$SWAPFILE" &&
            mkswap "$SWAPFILE" >/dev/null && swapon "$SWAPFILE"; then
            ok "temporary swap on (removed at the end)"
        else
            rm -f "$SWAPFILE"
            SWAPFILE=""
            warn "no temporary swap (the build may run out of memory)"
        fi
    fi
    say "Building botbox (the progress follows)..."
    (cd "$SOURCE" && env -u RUSTFLAGS CARGO_TARGET_DIR="$BUILD_DIR/host" \
        cargo build --release --locked -p botbox) || die "building botbox failed (see above)."
    say "Building the example modules..."
    (cd "$SOURCE/example-modules" && env -u RUSTFLAGS CARGO_TARGET_DIR="$BUILD_DIR/guests" \
        cargo build --release --locked --target wasm32-wasip2) ||
        die "building the example modules failed (see above)."
    NEW_BIN="$BUILD_DIR/host/release/botbox"
    NEW_MODULES="$BUILD_DIR/guests/wasm32-wasip2/release"
fi
[ -n "$MODULES_FROM" ] && NEW_MODULES="$MODULES_FROM"

new_version="$("$NEW_BIN" --version 2>/dev/null)" ||
    die "the botbox program does not run on this machine ($NEW_BIN)."
if [ -x "$BIN" ]; then
    old_version="$("$BIN" --version 2>/dev/null || echo "an unknown version")"
    ok "$old_version → $new_version"
else
    ok "$new_version"
fi

# ---------------------------------------------------------------------------------------------
step "creating the botbox user and its folders"

created_user=""
if [ "$IS_ROOT" = 1 ] && [ "$RUN_USER" != root ]; then
    if id "$RUN_USER" >/dev/null 2>&1; then
        ok "the user $RUN_USER exists"
    else
        useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "botbox Telegram bot" "$RUN_USER"
        created_user="$RUN_USER"
        ok "created the user $RUN_USER: the bot runs as this user, which can touch nothing but its own data"
    fi
elif [ "$IS_ROOT" = 0 ] && [ "$RUN_USER" != "$(id -un)" ]; then
    die "running botbox as $RUN_USER needs root." "Run with sudo, or leave out --user."
fi
mkdir -p "$BIN_DIR" "$DATA_DIR" "$MODULES_DIR"
chmod 755 "$PREFIX" "$BIN_DIR"
chmod 700 "$DATA_DIR"
chmod 755 "$MODULES_DIR"
owner_of_data "$DATA_DIR" "$MODULES_DIR"
if [ ! -f "$PREFIX/$MARKER" ]; then
    printf 'installer=%s\ncreated_user=%s\n' "$VERSION_OF_INSTALLER" "$created_user" >"$PREFIX/$MARKER"
fi
put "$NEW_BIN" "$BIN" 755
ok "program:        $BIN"
ok "configuration:  $CONFIG"
ok "modules:        $MODULES_DIR"
ok "data:           $DATA_DIR (only $RUN_USER can read it)"

# ---------------------------------------------------------------------------------------------
step "connecting to your bot"

if [ "$UPGRADE" = 1 ]; then
    ok "kept: the token in $CONFIG"
    [ -z "$TOKEN" ] || warn "--token is ignored on an upgrade; to change the token, edit $CONFIG"
else
    if [ -z "$TOKEN" ] && [ -n "$TTY" ]; then
        say "botbox needs your bot's token: the password that lets it speak as your bot." \
            "To get it: in Telegram, open @BotFather (https://t.me/BotFather)," \
            "send /newbot to make a new bot (or /mybots, choose your bot, press \"API Token\")," \
            "and copy the token it shows, like 123456789:AAHk3-xYz..."
    fi
    while :; do
        if [ -z "$TOKEN" ]; then
            ask TOKEN "Paste the token here and press Enter:"
        fi
        status=0
        check_token "$TOKEN" || status=$?
        [ "$status" = 0 ] && break
        [ -n "$TTY" ] || die "the token does not work (see above)." "Give the right one with --token."
        if [ "$status" = 3 ]; then
            say "Let's try again."
        else
            confirm "Try again?" || die "the Bot API could not be reached."
        fi
        TOKEN=""
    done
    ok "the token works: your bot is @$bot_username"
fi

# ---------------------------------------------------------------------------------------------
step "finding out who you are in Telegram"

OPERATOR_NAME=""
if [ "$UPGRADE" = 1 ]; then
    ok "kept: the operator in $CONFIG"
elif [ -n "$OPERATOR_ID" ]; then
    ok "operator: Telegram user $OPERATOR_ID"
elif [ -z "$TTY" ]; then
    warn "no --operator-id: the bot will not know who operates it (backups stay on this server)"
else
    say "The bot should know who you are, so that it lets you manage it from the chat" \
        "(send it new modules, for instance) and sends you its daily backups."
    while :; do
        code="$(pairing_code)"
        say "Please:" \
            "  1. open Telegram (on your phone or computer)," \
            "  2. open your bot: https://t.me/$bot_username (or search for @$bot_username)," \
            "  3. press START, then send the bot this code, alone in a message:  ${BOLD}${code}${RESET}" \
            "     (type or paste it; a forwarded message does not count)"
        if [ "$OPERATOR_TIMEOUT" -ge 120 ]; then
            say "Waiting for your message (up to $((OPERATOR_TIMEOUT / 60)) minutes)..."
        else
            say "Waiting for your message (up to $OPERATOR_TIMEOUT seconds)..."
        fi
        status=0
        found="$(BOTBOX_TOKEN="$TOKEN" "$BIN" setup operator --api-url "$API_URL" \
            --code "$code" --timeout-secs "$OPERATOR_TIMEOUT")" || status=$?
        if [ "$status" = 0 ]; then
            IFS=$'\t' read -r found_id found_name found_username <<<"$found"
            say "The code came from ${BOLD}${found_name}${RESET}${found_username:+ (@$found_username)}, Telegram user id $found_id."
            if ask_yes_no "Is this you? The operator manages the bot and receives every backup."; then
                OPERATOR_ID="$found_id"
                OPERATOR_NAME="$found_name"
                ok "hello, $OPERATOR_NAME! Your Telegram user id is $OPERATOR_ID."
                break
            fi
            warn "then someone else sent the code: it is void. Here is a new one."
            continue
        fi
        if ! confirm "Try again? (answer n to go on without it)"; then
            warn "going on without an operator (add one later: see $PREFIX/README.txt)"
            break
        fi
    done
fi

# ---------------------------------------------------------------------------------------------
step "installing the modules (the bot's features)"

installed_modules=()
if [ -z "$NEW_MODULES" ] || ! compgen -G "$NEW_MODULES/*.wasm" >/dev/null; then
    warn "no modules to install${NEW_MODULES:+ in $NEW_MODULES}"
else
    for file in "$NEW_MODULES"/*.wasm; do
        name="$(basename "$file")"
        if [ "$UPGRADE" = 1 ] && [ ! -f "$MODULES_DIR/$name" ]; then
            continue # removed by the operator, or new: an upgrade adds nothing
        fi
        put "$file" "$MODULES_DIR/$name" 644
        installed_modules+=("${name%.wasm}")
    done
    owner_of_data "$MODULES_DIR"
    if [ ${#installed_modules[@]} -gt 0 ]; then
        ok "${installed_modules[*]}"
    else
        ok "nothing to update"
    fi
fi

# ---------------------------------------------------------------------------------------------
step "writing the configuration"

if [ "$UPGRADE" = 1 ]; then
    ok "kept $CONFIG as it is"
else
    operators_line="# No operator was given. Add your Telegram user id to manage the bot from the chat:
# operators = [123456789]"
    backup_line="# To get the backups in Telegram too, your user id:
# telegram_chat_id = 123456789"
    if [ -n "$OPERATOR_ID" ]; then
        operators_line="# Who operates the bot (${OPERATOR_NAME:-user $OPERATOR_ID}): they may send it modules (/install),
# list them (/modules), roll one back (/rollback NAME) and hear when a module is stopped.
operators = [$OPERATOR_ID]"
        backup_line="# The backups also go to the operator in Telegram (and one at every stop); restore one
# on a new server with: botbox restore --from-telegram
telegram_chat_id = $OPERATOR_ID"
    fi
    umask 077
    cat >"$CONFIG.new" <<EOF
# botbox configuration, written by the installer on $(date -u '+%Y-%m-%d %H:%M UTC').
# Every setting, with its default: botbox.example.toml and docs/configuration.md in the source.
# After a change: systemctl restart botbox (and check it with: botbox doctor)
data_dir = "$DATA_DIR"
modules_dir = "$MODULES_DIR"

[telegram]
# The bot's token (@BotFather). Anyone who has it can speak as your bot: keep it secret.
token = "$TOKEN"
api_url = "$API_URL"
$operators_line

[admin]
# The admin API (for \`botbox kv\`, \`botbox backup\`), /healthz and /metrics.
listen = "$ADMIN_LISTEN"

[backup]
# A snapshot of all data every day in $DATA_DIR/backups; the last 7 are kept.
interval_secs = 86400
keep = 7
$backup_line
EOF
    umask 022
    if [ "$IS_ROOT" = 1 ]; then
        chown "root:$(id -gn "$RUN_USER")" "$CONFIG.new"
        chmod 640 "$CONFIG.new"
    fi
    mv -f "$CONFIG.new" "$CONFIG"
    if [ "$RUN_USER" = root ]; then
        ok "$CONFIG (readable only by root: it holds the token)"
    else
        ok "$CONFIG (readable only by root and $RUN_USER: it holds the token)"
    fi
fi

# ---------------------------------------------------------------------------------------------
step "setting botbox up to run by itself"

sed -e "s#@PREFIX@#$PREFIX#g" -e "s#@USER@#$RUN_USER#g" "$SCRIPT_DIR/botbox.service" >"$PREFIX/botbox.service"
cat >"$PREFIX/README.txt" <<EOF
botbox, installed by installer/install.sh in $PREFIX

  bin/botbox        the program
  botbox.toml       the configuration (holds the bot token: keep it secret)
  modules/          the bot's features: one .wasm file each
  data/             everything the bot keeps (database, backups); back it up
  botbox.service    the systemd service description

Is it running?          systemctl status botbox
Its log:                journalctl -u botbox -f        (Ctrl-C stops watching)
Is everything right?    botbox doctor
Restart / stop / start: systemctl restart botbox   (stop, start)
Add a module:           cp my-module.wasm $MODULES_DIR/   (botbox picks it up within seconds;
                        or send the .wasm file to the bot with the caption /install)
Replace a module:       copy the new file over the old one (the old version is kept for rollback)
Remove a module:        rm $MODULES_DIR/NAME.wasm
Modules and their state: botbox module list
A backup right now:     botbox backup
Health and metrics:     curl http://$ADMIN_LISTEN/healthz   and   /metrics
Upgrade:                run the installer again (configuration and data are kept)
Uninstall:              bash install.sh --uninstall  (keeps data; --purge deletes it)
EOF
if [ "$SYSTEMD" = 1 ]; then
    cat >"$WRAPPER.new" <<EOF
#!/bin/sh
# Runs $PREFIX/bin/botbox with its configuration, as the user the bot runs as
# (files it creates in the data folder stay the bot's). Written by botbox's installer.
if [ "\$(id -u)" = 0 ] && [ "$RUN_USER" != root ]; then
    exec runuser -u "$RUN_USER" -- env BOTBOX_CONFIG="$CONFIG" "$PREFIX/bin/botbox" "\$@"
fi
BOTBOX_CONFIG="$CONFIG" exec "$PREFIX/bin/botbox" "\$@"
EOF
    chmod 755 "$WRAPPER.new"
    mv -f "$WRAPPER.new" "$WRAPPER"
    ok "the command: botbox (for example: botbox doctor)"
    put "$PREFIX/botbox.service" "$UNIT_FILE" 644
    systemctl daemon-reload
    systemctl enable botbox.service >/dev/null 2>&1
    if [ "$UPGRADE" = 1 ]; then
        systemctl restart botbox.service
    else
        systemctl start botbox.service
    fi
    sleep 3
    if systemctl is-active --quiet botbox.service; then
        ok "botbox is running, and starts again by itself after a reboot"
    else
        warn "botbox did not start. What it says:"
        journalctl -u botbox.service -n 20 --no-pager || true
        die "the service does not run (see its log above)." "Ask for a check-up: botbox doctor"
    fi
else
    ok "no service installed (--no-systemd). Start botbox with:"
    say "  $BIN run --config $CONFIG" \
        "The service description is in $PREFIX/botbox.service if you want it later."
fi

# ---------------------------------------------------------------------------------------------
printf '\n%sDone: botbox is installed.%s\n' "$BOLD" "$RESET"
if [ -n "$bot_username" ]; then
    say "Say /start to your bot: https://t.me/$bot_username"
fi
if [ "$SYSTEMD" = 1 ]; then
    say "" \
        "Is it running?       systemctl status botbox" \
        "Its log:             journalctl -u botbox -f" \
        "A check-up:          botbox doctor" \
        "The web console:     botbox console   (prints a link that logs your browser in)" \
        "Add a module:        copy its .wasm file into $MODULES_DIR (picked up by itself)"
else
    say "" \
        "A check-up:          $BIN doctor --config $CONFIG" \
        "The web console:     $BIN console --config $CONFIG   (prints a link that logs your browser in)" \
        "Add a module:        copy its .wasm file into $MODULES_DIR (picked up by itself)"
fi
say "Everything else:     $PREFIX/README.txt"
}

botbox_installer "$@"
