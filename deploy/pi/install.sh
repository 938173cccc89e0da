#!/usr/bin/env bash
# Install the Takt edge agent on a Raspberry Pi (Raspberry Pi OS / Debian), from this repository:
#   sudo deploy/pi/install.sh
# It creates the `takt` user, a venv with `pip install '.[edge]'` (no server dependencies), an edge
# config in /etc/takt/ (from deploy/edge/demo.yaml when the site has none yet: edit it), the
# takt-edge systemd unit, journald size limits, and enables + starts the service when systemd runs.
# Running it again upgrades the venv and keeps the site's config.
#
# Every path can be moved (the tests install into a temporary folder):
#   PREFIX=/opt/takt            the venv goes to $PREFIX/venv
#   ETC_DIR=/etc/takt           edge.yaml, edge.env
#   STATE_DIR=/var/lib/takt     the edge's outbox (disk buffer); the unit's StateDirectory
#   SYSTEMD_DIR=/etc/systemd/system
#   JOURNALD_DIR=/etc/systemd/journald.conf.d
#   JOURNAL_MAX=200M            journald's SystemMaxUse (a Pi's SD card must never fill)
#   TAKT_USER=takt              the service's user; CREATE_USER=auto|yes|no (auto: when root)
#   SYSTEMCTL=auto|yes|no       run systemctl (auto: only when systemd is PID 1)
#   SKIP_VENV=1                 reconfigure only, leave the venv alone
#   PYTHON=python3              the interpreter for the venv (3.11 or newer); PIP_ARGS extra pip flags
#   EDGE_UNIT=deploy/systemd/takt-edge.service   the unit file to install
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="${PREFIX:-/opt/takt}"
ETC_DIR="${ETC_DIR:-/etc/takt}"
STATE_DIR="${STATE_DIR:-/var/lib/takt}"
SYSTEMD_DIR="${SYSTEMD_DIR:-/etc/systemd/system}"
JOURNALD_DIR="${JOURNALD_DIR:-/etc/systemd/journald.conf.d}"
JOURNAL_MAX="${JOURNAL_MAX:-200M}"
TAKT_USER="${TAKT_USER:-takt}"
CREATE_USER="${CREATE_USER:-auto}"
SYSTEMCTL="${SYSTEMCTL:-auto}"
PYTHON="${PYTHON:-python3}"
UNIT_SRC="${EDGE_UNIT:-$REPO/deploy/systemd/takt-edge.service}"
CONFIG_TEMPLATE="$REPO/deploy/edge/demo.yaml"

say() { echo "takt-install: $*"; }
die() { echo "takt-install: error: $*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

check_inputs() {
    [ -f "$UNIT_SRC" ] || die "missing $UNIT_SRC"
    [ -f "$CONFIG_TEMPLATE" ] || die "missing $CONFIG_TEMPLATE"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is older than 3.11 (Raspberry Pi OS bookworm has 3.11)"
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
        || die "$PYTHON cannot make venvs: apt-get install python3-venv"
}

create_user() {
    local want="$CREATE_USER"
    if [ "$want" = auto ]; then is_root && want=yes || want=no; fi
    if [ "$want" != yes ]; then
        say "not creating user $TAKT_USER (CREATE_USER=$CREATE_USER)"
        return
    fi
    if id "$TAKT_USER" >/dev/null 2>&1; then
        say "user $TAKT_USER exists"
    else
        useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin "$TAKT_USER"
        say "created system user $TAKT_USER"
    fi
    # Serial adapters (Modbus RTU) belong to the dialout group.
    if getent group dialout >/dev/null; then usermod -a -G dialout "$TAKT_USER"; fi
}

install_venv() {
    if [ "${SKIP_VENV:-0}" = 1 ]; then
        say "SKIP_VENV=1: leaving $PREFIX/venv as it is"
        return
    fi
    mkdir -p "$PREFIX"
    [ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
    say "installing takt[edge] from $REPO into $PREFIX/venv"
    # shellcheck disable=SC2086  # PIP_ARGS is a list of flags
    "$PREFIX/venv/bin/pip" install --disable-pip-version-check -q ${PIP_ARGS:-} "$REPO[edge]"
    "$PREFIX/venv/bin/python" -c 'import edge.agent' || die "the venv cannot import the edge agent"
}

install_config() {
    mkdir -p "$ETC_DIR"
    chmod 750 "$ETC_DIR"
    if [ -f "$ETC_DIR/edge.yaml" ]; then
        say "keeping the site's $ETC_DIR/edge.yaml"
    else
        install -m 640 "$CONFIG_TEMPLATE" "$ETC_DIR/edge.yaml"
        say "wrote $ETC_DIR/edge.yaml from deploy/edge/demo.yaml: edit devices, site, edge_id, broker"
    fi
    if [ ! -f "$ETC_DIR/edge.env" ]; then
        cat > "$ETC_DIR/edge.env" <<EOF
# Environment of the takt-edge service; edge.yaml reads \${VAR:-default} from here.
TAKT_EDGE_STATE=$STATE_DIR/edge
TAKT_EDGE_LOG=INFO
# The broker, if edge.yaml takes it from here (the demo config does):
#TAKT_MQTT_HOST=takt.factory.lan
#TAKT_MQTT_PORT=1883
EOF
        chmod 640 "$ETC_DIR/edge.env"
    fi
    mkdir -p "$STATE_DIR/edge"
    if is_root && id "$TAKT_USER" >/dev/null 2>&1; then
        chgrp -R "$TAKT_USER" "$ETC_DIR"
        chown -R "$TAKT_USER:$TAKT_USER" "$STATE_DIR"
    fi
}

install_unit() {
    mkdir -p "$SYSTEMD_DIR"
    sed -e "s#/opt/takt#$PREFIX#g" -e "s#/etc/takt#$ETC_DIR#g" -e "s#/var/lib/takt#$STATE_DIR#g" \
        -e "s#^User=takt\$#User=$TAKT_USER#" \
        -e "s#^Group=takt\$#Group=$TAKT_USER#" "$UNIT_SRC" > "$SYSTEMD_DIR/takt-edge.service"
    chmod 644 "$SYSTEMD_DIR/takt-edge.service"
    say "installed $SYSTEMD_DIR/takt-edge.service"
    mkdir -p "$JOURNALD_DIR"
    cat > "$JOURNALD_DIR/takt.conf" <<EOF
# Installed by Takt: keep the journal small on an SD card.
[Journal]
SystemMaxUse=$JOURNAL_MAX
RuntimeMaxUse=50M
MaxRetentionSec=1month
EOF
    say "journald limited to $JOURNAL_MAX ($JOURNALD_DIR/takt.conf)"
}

enable_service() {
    local want="$SYSTEMCTL"
    if [ "$want" = auto ]; then [ -d /run/systemd/system ] && want=yes || want=no; fi
    if [ "$want" != yes ]; then
        say "systemd is not running here (SYSTEMCTL=$SYSTEMCTL): not enabling the service"
        say "later: systemctl daemon-reload && systemctl enable --now takt-edge"
        return
    fi
    systemctl daemon-reload
    systemctl restart systemd-journald
    systemctl enable takt-edge.service
    systemctl restart takt-edge.service
    say "takt-edge enabled and started: journalctl -u takt-edge -f"
}

check_inputs
create_user
install_venv
install_config
install_unit
enable_service
say "done. Check the config against the machines: $PREFIX/venv/bin/takt edge check --config $ETC_DIR/edge.yaml"
