#!/usr/bin/env bash
# Add an MQTT user for a Takt edge (username = edge id) to mosquitto's password file, and optionally
# issue it a client certificate from a local CA (created on first use) for the TLS listener.
#
# Usage: add-edge.sh [--cert] [--site SITE] [--password PW] EDGE_ID
#        add-edge.sh --server [--password PW]        the server's own user, `takt-server`
#
#   --cert         also issue EDGE_ID a client certificate (CN = EDGE_ID) into $TAKT_MQTT_DIR/clients/EDGE_ID/
#   --site SITE    also print the ACL block that pins EDGE_ID to SITE (see the acl file's header)
#   --password PW  use PW instead of a random password (the password is printed once, keep it)
#
# Environment: TAKT_MQTT_DIR (default /etc/mosquitto/takt) holds passwd, acl, ca/ and clients/;
# TAKT_MQTT_SERVER_NAMES: the broker's names for its TLS certificate, comma separated subjectAltName
# entries (default "DNS:localhost,IP:127.0.0.1,DNS:$(hostname)").
# Restart mosquitto afterwards (`systemctl restart mosquitto`) so it reads the new user.
set -euo pipefail

DIR="${TAKT_MQTT_DIR:-/etc/mosquitto/takt}"
PASSWD="$DIR/passwd"
CA="$DIR/ca"
SERVER_USER="takt-server"

die() { echo "add-edge.sh: $*" >&2; exit 1; }

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

cert=0 site="" password="" server=0 id=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cert) cert=1 ;;
        --site) site="${2:?--site needs a value}"; shift ;;
        --password) password="${2:?--password needs a value}"; shift ;;
        --server) server=1 ;;
        -h|--help) usage 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$id" ] || die "one edge id at a time"; id="$1" ;;
    esac
    shift
done

if [ "$server" = 1 ]; then
    [ -z "$id" ] || die "--server takes no edge id"
    id="$SERVER_USER"
else
    [ -n "$id" ] || usage 2
    [[ "$id" =~ ^[a-z0-9_-]{1,64}$ ]] || die "edge id '$id' must match [a-z0-9_-]{1,64}"
    [ "$id" != "$SERVER_USER" ] || die "'$SERVER_USER' is the server's user, not an edge id"
fi
if [ -n "$site" ]; then
    [[ "$site" =~ ^[a-z0-9_-]{1,64}$ ]] || die "site '$site' must match [a-z0-9_-]{1,64}"
fi
command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found (apt-get install mosquitto)"

mkdir -p "$DIR/conf.d"  # conf.d: the config's include_dir (optional listeners) must exist
if [ -f "$PASSWD" ] && grep -q "^${id}:" "$PASSWD"; then
    die "user '$id' already exists in $PASSWD (edge ids must be unique per broker)"
fi

# Files mosquitto reads after dropping privileges to its own user: group-readable by mosquitto.
own() {
    if getent group mosquitto >/dev/null && [ "$(id -u)" = 0 ]; then
        chgrp mosquitto "$@" && chmod g+r "$@"
    fi
}

generated=0
if [ -z "$password" ]; then
    password="$(openssl rand -hex 16)"
    generated=1
fi
if [ -f "$PASSWD" ]; then
    mosquitto_passwd -b "$PASSWD" "$id" "$password"
else
    (umask 027 && mosquitto_passwd -c -b "$PASSWD" "$id" "$password")
fi
chmod 640 "$PASSWD"
own "$PASSWD"
echo "added MQTT user '$id' to $PASSWD"
if [ "$generated" = 1 ]; then
    echo "password: $password"
    echo "(shown once: put it in the edge's config, mqtt.password, or the server's TAKT_MQTT_PASSWORD)"
fi

ensure_ca() {
    [ -f "$CA/ca.crt" ] && return 0
    command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
    echo "creating a local CA in $CA"
    mkdir -p "$CA/newcerts"
    chmod 750 "$CA"
    : > "$CA/index.txt"
    echo 1000 > "$CA/serial"
    echo 1000 > "$CA/crlnumber"
    cat > "$CA/openssl.cnf" <<EOF
[ ca ]
default_ca = takt_ca
[ takt_ca ]
dir = $CA
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 825
# A CRL past its nextUpdate makes mosquitto refuse every client: keep it valid for years.
default_crl_days = 3650
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
organizationName = optional
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \${ENV::TAKT_SAN}
EOF
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/O=Takt/CN=Takt MQTT CA" -keyout "$CA/ca.key" -out "$CA/ca.crt" 2>/dev/null
    chmod 600 "$CA/ca.key"
    issue server "$(hostname)" server_ext "$CA"
    openssl ca -batch -config "$CA/openssl.cnf" -gencrl -out "$CA/ca.crl" 2>/dev/null
    own "$CA" "$CA/ca.crt" "$CA/ca.crl" "$CA/server.crt" "$CA/server.key"
}

# issue NAME CN EXTENSIONS FOLDER: a key and a certificate signed by the CA, as FOLDER/NAME.{key,crt}
issue() {
    local name="$1" cn="$2" ext="$3" out="$4"
    mkdir -p "$out"
    (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/O=Takt/CN=$cn" -keyout "$out/$name.key" -out "$out/$name.csr" 2>/dev/null)
    openssl ca -batch -config "$CA/openssl.cnf" -extensions "$ext" -notext \
        -in "$out/$name.csr" -out "$out/$name.crt" 2>/dev/null || die "openssl ca could not sign $cn"
    rm -f "$out/$name.csr"
}

if [ "$cert" = 1 ]; then
    export TAKT_SAN="${TAKT_MQTT_SERVER_NAMES:-DNS:localhost,IP:127.0.0.1,DNS:$(hostname)}"
    ensure_ca
    out="$DIR/clients/$id"
    issue client "$id" client_ext "$out"
    cp "$CA/ca.crt" "$out/ca.crt"
    echo "client certificate for '$id': $out/client.crt, key $out/client.key, CA $out/ca.crt"
    echo "(copy these three files to the edge, e.g. /etc/takt/tls/)"
fi

if [ -n "$site" ]; then
    cat <<EOF

# ACL block pinning '$id' to site '$site' (only when the acl file has no pattern lines):
user $id
topic write takt/v1/$site/$id/data
topic write takt/v1/$site/$id/status
topic write takt/v1/$site/$id/alive
topic write takt/v1/$site/$id/result
topic read takt/v1/$site/$id/ack
topic read takt/v1/$site/$id/cmd/#
EOF
fi
