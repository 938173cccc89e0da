#!/usr/bin/env bash
# Installs the Debian packages Takt's demo and tests use, when missing.
# Usage: deploy/debian-deps.sh demo|test
set -euo pipefail
want=(mosquitto mosquitto-clients fonts-wqy-microhei)  # the font: Chinese on label PDFs
if [ "${1:-test}" = "test" ]; then
    want+=(mbpoll chromium victoria-metrics socat openssl postgresql systemd)
fi
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ "${1:-test}" = "test" ]; then  # the outsider PLC servers of the tests (tests/outsiders, npm)
    command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "Takt needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# A freshly installed PostgreSQL needs the `test` database the suite uses.
if printf '%s\n' "${missing[@]}" | grep -qx postgresql; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    su postgres -c "psql -qc 'CREATE DATABASE test'" || true
fi
