# Sourced by the end-to-end scripts of .ci/: what they all need, in one place. Each function
# fails loudly (exit 1 with the script's name) rather than skipping.

# `require_writ NAME`: exports WRIT, the built binary ($WRIT, default target/release/writ),
# made absolute; fails when it is not there.
require_writ() {
  export WRIT="${WRIT:-$root/target/release/writ}"
  case "$WRIT" in /*) ;; *) WRIT="$root/$WRIT" ;; esac
  if [ ! -x "$WRIT" ]; then
    echo "$1: FAILED: no writ binary at $WRIT (build it: cargo build --release --bin writ)" >&2
    exit 1
  fi
}

# `python_venv NAME REQUIREMENTS`: sets `venv` to target/NAME-venv, a virtual environment with
# the pinned REQUIREMENTS, made (or remade when the requirements changed) here; installs
# Debian's python3-venv when the machine lacks it.
python_venv() {
  venv="$root/target/$1-venv"
  local req="$2"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv"; then
      echo "$1: python3 -m venv failed; installing Debian's python3-venv"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/requirements.txt"
  fi
  export PYTHONDONTWRITEBYTECODE=1
}
