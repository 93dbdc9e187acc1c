#!/usr/bin/env bash
# Bootstrap a fresh VM for airbox: Docker Engine (enabled and started), the invoking user
# in the docker group, pipx, and airbox itself; then print the next command.
#
# Usage: sudo scripts/install.sh [--dry-run] [--reinstall] [SOURCE]
#
#   SOURCE       what pipx installs as airbox: a path (a checkout, a wheel, an sdist) or
#                anything pip accepts as a URL (git+https://..., https://.../airbox.whl).
#                Default: the checkout this script belongs to.
#   --dry-run    print what would be done; change nothing.
#   --reinstall  reinstall airbox even when pipx already has it (after a git pull).
#
# Supported: Ubuntu 22.04+, Debian 12+ (their Python is 3.10+, as airbox needs),
# RHEL / Rocky / AlmaLinux / CentOS Stream 8+, Fedora, Amazon Linux 2 and 2023.
# Docker Engine comes from the distribution's own packages where it has them (docker.io
# on Debian and Ubuntu, moby-engine on Fedora, docker on Amazon Linux), so it is updated
# with the rest of the system; RHEL and its rebuilds ship Podman instead, so there it
# comes from Docker's docker-ce repository (remove podman-docker first if dnf reports a
# conflict). Python 3.11 comes from the distribution where the default is older (RHEL 8/9,
# Amazon Linux 2023); Amazon Linux 2 has no Python 3.10+ package, so there a python3.10+
# must already be on PATH.
#
# Every action checks first and is skipped when already done: running it again is safe.
# Exit codes: 0 done (or, with --dry-run, the plan printed), 1 an action failed,
# 2 bad usage, 3 unsupported OS or a missing prerequisite (nothing was changed).
# AIRBOX_OS_RELEASE reads another file instead of /etc/os-release (tests).
set -euo pipefail

DRY_RUN=0
REINSTALL=0
SOURCE=""
CHANGED=0
ADDED_TO_GROUP=0
APT_UPDATED=0

say() { printf '%s\n' "$*"; }
die() {
  local code=$1
  shift
  printf 'install.sh: %s\n' "$*" >&2
  exit "$code"
}
have() { command -v "$1" >/dev/null 2>&1; }

usage() {
  say "usage: scripts/install.sh [--dry-run] [--reinstall] [SOURCE]"
  say "  Installs Docker Engine, adds you to the docker group, installs pipx and airbox."
  say "  SOURCE: a path or URL pipx can install airbox from (default: this checkout)."
}

# ------------------------------------------------------------------------- arguments

while (($# > 0)); do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --reinstall) REINSTALL=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      usage >&2
      die 2 "unknown option: $1"
      ;;
    *)
      [[ -z $SOURCE ]] || die 2 "only one SOURCE, got '$SOURCE' and '$1'"
      SOURCE=$1
      ;;
  esac
  shift
done

# -------------------------------------------------------------------- running things

# Commands that change the system run as root (through sudo when needed); with
# --dry-run they are only printed.
as_root() {
  CHANGED=1
  if ((DRY_RUN)); then
    say "would run: $*"
    return 0
  fi
  say "running: $*"
  if [[ $(id -u) == 0 ]]; then
    "$@"
  else
    sudo "$@"
  fi
}

# pipx and airbox belong to the user who will run airbox, not to root.
in_user_env() {
  if [[ $(id -un) == "$TARGET_USER" ]]; then
    "$@"
  else
    sudo -u "$TARGET_USER" -H "$@"
  fi
}

as_user() {
  CHANGED=1
  if ((DRY_RUN)); then
    say "would run as $TARGET_USER: $*"
    return 0
  fi
  say "running as $TARGET_USER: $*"
  in_user_env "$@"
}

ok() { say "ok: $*"; }

# ------------------------------------------------------------------------ the system

OS_RELEASE=${AIRBOX_OS_RELEASE:-/etc/os-release}
OS_ID=""
OS_LIKE=""
OS_VERSION=""
OS_NAME=""

read_os_release() {
  [[ -r $OS_RELEASE ]] || die 3 "cannot read $OS_RELEASE: this does not look like a" \
    "supported Linux (Ubuntu, Debian, RHEL-family, Fedora, Amazon Linux)"
  local key value
  # Parsed, not sourced: the file is data, and a test's fake must not run code.
  while IFS='=' read -r key value || [[ -n $key ]]; do
    value=${value%\"}
    value=${value#\"}
    value=${value%\'}
    value=${value#\'}
    case $key in
      ID) OS_ID=$value ;;
      ID_LIKE) OS_LIKE=$value ;;
      VERSION_ID) OS_VERSION=$value ;;
      PRETTY_NAME) OS_NAME=$value ;;
    esac
  done <"$OS_RELEASE"
  OS_NAME=${OS_NAME:-$OS_ID $OS_VERSION}
}

unsupported() {
  die 3 "unsupported OS: $OS_NAME (ID=$OS_ID${1:+, $1}). This script supports Ubuntu" \
    "22.04+, Debian 12+, RHEL/Rocky/AlmaLinux/CentOS Stream 8+, Fedora and Amazon Linux" \
    "2/2023. Elsewhere install Docker Engine and pipx yourself, then: pipx install <airbox>"
}

# Sets FAMILY, the package commands and package names for this distribution.
FAMILY=""
PKG=()
DOCKER_PKGS=()
DOCKER_REPO=""
PIPX_PKG=""
PYTHON_PKGS=()
PYTHON_WANTED=""

major_at_least() {
  local major=${OS_VERSION%%.*}
  [[ $major =~ ^[0-9]+$ ]] && ((major >= $1))
}

choose_packages() {
  local family=$OS_ID
  case $OS_ID in
    ubuntu)
      major_at_least 22 || unsupported "Ubuntu before 22.04 has no Python 3.10"
      ;;
    debian)
      major_at_least 12 || unsupported "Debian before 12 has no Python 3.10"
      ;;
    rhel | rocky | almalinux | centos)
      major_at_least 8 || unsupported "RHEL-family before 8"
      ;;
    fedora) ;;
    amzn)
      [[ $OS_VERSION == 2 || $OS_VERSION == 2023 ]] || unsupported "Amazon Linux other than 2 and 2023"
      ;;
    *)
      # Derivatives say what they derive from; trust that for the package names.
      case " $OS_LIKE " in
        *" debian "* | *" ubuntu "*) family=debian ;;
        *" rhel "* | *" centos "*) family=rhel ;;
        *) unsupported ;;
      esac
      say "note: $OS_NAME is treated as its parent ($family); untested"
      ;;
  esac
  case $family in
    ubuntu | debian)
      FAMILY=debian
      PKG=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q)
      DOCKER_PKGS=(docker.io)
      PIPX_PKG=pipx
      PYTHON_PKGS=(python3 python3-venv)
      PYTHON_WANTED=python3
      ;;
    fedora)
      FAMILY=fedora
      PKG=(dnf install -y)
      DOCKER_PKGS=(moby-engine)
      PIPX_PKG=pipx
      PYTHON_PKGS=(python3)
      PYTHON_WANTED=python3
      ;;
    rhel | rocky | almalinux | centos)
      FAMILY=rhel
      PKG=(dnf install -y)
      DOCKER_PKGS=(docker-ce docker-ce-cli containerd.io)
      # Docker publishes one repository for RHEL and one for its rebuilds.
      if [[ $OS_ID == rhel ]]; then
        DOCKER_REPO=https://download.docker.com/linux/rhel/docker-ce.repo
      else
        DOCKER_REPO=https://download.docker.com/linux/centos/docker-ce.repo
      fi
      if major_at_least 10; then
        PYTHON_PKGS=(python3 python3-pip)
        PYTHON_WANTED=python3
      else
        PYTHON_PKGS=(python3.11 python3.11-pip)
        PYTHON_WANTED=python3.11
      fi
      ;;
    amzn)
      FAMILY=amzn
      DOCKER_PKGS=(docker)
      if [[ $OS_VERSION == 2 ]]; then
        PKG=(yum install -y)
      else
        PKG=(dnf install -y)
        PYTHON_PKGS=(python3.11 python3.11-pip)
        PYTHON_WANTED=python3.11
      fi
      ;;
  esac
}

pkg_install() {
  if [[ $FAMILY == debian ]] && ((!APT_UPDATED)); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    APT_UPDATED=1
  fi
  as_root "${PKG[@]}" "$@"
}

# ---------------------------------------------------------------------------- checks

TARGET_USER=""
PY=""
PY_PLANNED=0

choose_user() {
  TARGET_USER=${SUDO_USER:-${USER:-$(id -un)}}
  id -u "$TARGET_USER" >/dev/null 2>&1 || die 3 "user $TARGET_USER does not exist"
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; }

choose_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
    if have "$candidate" && python_ok "$candidate"; then
      PY=$(command -v "$candidate")
      return 0
    fi
  done
  ((${#PYTHON_PKGS[@]} > 0)) || die 3 "airbox needs Python 3.10 or newer, and $OS_NAME has" \
    "no package for it: put a python3.10+ on PATH (or use Amazon Linux 2023), then run again"
  PY=/usr/bin/$PYTHON_WANTED
  PY_PLANNED=1
}

choose_source() {
  if [[ -z $SOURCE ]]; then
    local here=.
    [[ ${BASH_SOURCE[0]} == */* ]] && here=${BASH_SOURCE[0]%/*}
    local checkout
    checkout=$(cd "$here/.." && pwd)
    [[ -f $checkout/pyproject.toml && -f $checkout/airbox/__init__.py ]] ||
      die 2 "no airbox checkout around this script: give SOURCE (a path or URL)"
    SOURCE=$checkout
  elif [[ $SOURCE != *://* && $SOURCE != git+* ]]; then
    [[ -e $SOURCE ]] || die 2 "SOURCE $SOURCE does not exist"
    if [[ -d $SOURCE ]]; then
      SOURCE=$(cd "$SOURCE" && pwd)
    elif [[ $SOURCE != /* ]]; then
      SOURCE=$PWD/$SOURCE
    fi
  fi
}

check_privileges() {
  ((DRY_RUN)) && return 0
  [[ $(id -u) == 0 ]] || have sudo || die 3 "run this as root, or install sudo"
}

docker_installed() {
  have docker || return 1
  have dockerd && return 0
  # As a non-root user /usr/sbin may not be on PATH; systemd knows the unit anyway.
  systemd_running && systemctl cat docker.service >/dev/null 2>&1
}

# --------------------------------------------------------------------------- actions

DOCKER_PLANNED=0

install_docker() {
  if docker_installed; then
    ok "Docker Engine is installed"
    return 0
  fi
  if [[ -n $DOCKER_REPO ]]; then
    local repo_file=/etc/yum.repos.d/docker-ce.repo
    if [[ -f $repo_file ]]; then
      ok "Docker's repository is configured ($repo_file)"
    else
      ((DRY_RUN)) || have curl || die 3 "curl is needed to add Docker's repository"
      as_root curl -fsSL -o "$repo_file" "$DOCKER_REPO"
    fi
  fi
  pkg_install "${DOCKER_PKGS[@]}"
  DOCKER_PLANNED=1
}

# Containers and WSL often have systemctl but no systemd running it.
systemd_running() {
  have systemctl || return 1
  local state
  state=$(systemctl is-system-running 2>/dev/null || true)
  [[ -n $state && $state != offline ]]
}

start_docker() {
  if ! systemd_running; then
    if have docker && docker info >/dev/null 2>&1; then
      ok "the Docker daemon is running"
    else
      say "note: no systemd here; start the daemon yourself: sudo dockerd &"
    fi
    return 0
  fi
  if systemctl is-enabled --quiet docker 2>/dev/null && systemctl is-active --quiet docker 2>/dev/null; then
    ok "the Docker service is enabled and running"
    return 0
  fi
  as_root systemctl enable --now docker
}

join_docker_group() {
  if [[ $TARGET_USER == root ]]; then
    ok "root needs no docker group"
    return 0
  fi
  if [[ " $(id -nG "$TARGET_USER" 2>/dev/null) " == *" docker "* ]]; then
    ok "$TARGET_USER is in the docker group"
    return 0
  fi
  # The Docker packages create the group; a Docker installed otherwise may not have.
  if ((!DOCKER_PLANNED)) && ! { have getent && getent group docker >/dev/null 2>&1; }; then
    as_root groupadd -f docker
  fi
  as_root usermod -aG docker "$TARGET_USER"
  ADDED_TO_GROUP=1
}

install_python() {
  if ((PY_PLANNED)); then
    pkg_install "${PYTHON_PKGS[@]}"
  else
    ok "Python: $PY"
  fi
}

PIPX=()

install_pipx() {
  if have pipx; then
    PIPX=(pipx)
    ok "pipx is installed"
    return 0
  fi
  if ((!PY_PLANNED)) && in_user_env "$PY" -m pipx --version >/dev/null 2>&1; then
    PIPX=("$PY" -m pipx)
    ok "pipx is installed for $TARGET_USER"
    return 0
  fi
  if [[ -n $PIPX_PKG ]]; then
    pkg_install "$PIPX_PKG"
    PIPX=(pipx)
  else
    # No pipx package here (RHEL-family, Amazon Linux): pip installs it for the user.
    as_user "$PY" -m pip install --user pipx
    PIPX=("$PY" -m pipx)
  fi
}

install_airbox() {
  local listed
  # Read-only, also in a dry run; a pipx that is only planned answers nothing.
  listed=$(in_user_env "${PIPX[@]}" list --short 2>/dev/null || true)
  if [[ $'\n'$listed == *$'\n'"airbox "* ]] && ((!REINSTALL)); then
    ok "airbox is installed for $TARGET_USER (--reinstall to install $SOURCE again)"
    return 0
  fi
  if ((!DRY_RUN)) && [[ $SOURCE == /* ]] && ! in_user_env test -r "$SOURCE"; then
    die 3 "$TARGET_USER cannot read $SOURCE: put airbox where $TARGET_USER can read it"
  fi
  as_user "${PIPX[@]}" install --force --python "$PY" "$SOURCE"
  as_user "${PIPX[@]}" ensurepath
}

# ------------------------------------------------------------------------------ main

main() {
  read_os_release
  choose_packages
  choose_user
  choose_source
  choose_python
  check_privileges
  say "airbox bootstrap: $OS_NAME ($FAMILY), for user $TARGET_USER, airbox from $SOURCE"
  ((DRY_RUN)) && say "dry run: nothing will be changed"

  install_docker
  start_docker
  join_docker_group
  install_python
  install_pipx
  install_airbox

  say ""
  if ((DRY_RUN)); then
    say "Dry run: nothing was changed.$( ((CHANGED)) && printf ' Run without --dry-run to do the above.')"
  elif ((CHANGED)); then
    say "Done."
  else
    say "Nothing to do: everything was already in place."
  fi
  say "Next:"
  if ((ADDED_TO_GROUP)); then
    say "  log out and back in (or run: newgrp docker) so $TARGET_USER is in the docker group,"
  fi
  if ((CHANGED)); then
    say "  open a new shell so ~/.local/bin is on PATH, then"
  fi
  say "  airbox preflight && airbox install"
}

main
