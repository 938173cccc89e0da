#!/usr/bin/env bash
# Remove a Takt edge's MQTT user and revoke its client certificate (if add-edge.sh --cert issued one).
# Usage: remove-edge.sh EDGE_ID          Environment: TAKT_MQTT_DIR (default /etc/mosquitto/takt)
# Restart mosquitto afterwards: it reads the password file and the CRL at start.
set -euo pipefail

DIR="${TAKT_MQTT_DIR:-/etc/mosquitto/takt}"
CA="$DIR/ca"
id="${1:?usage: remove-edge.sh EDGE_ID}"
[[ "$id" =~ ^[a-z0-9_-]{1,64}$ ]] || { echo "remove-edge.sh: bad edge id '$id'" >&2; exit 1; }

if [ -f "$DIR/passwd" ] && grep -q "^${id}:" "$DIR/passwd"; then
    mosquitto_passwd -D "$DIR/passwd" "$id"
    echo "removed MQTT user '$id'"
fi
cert="$DIR/clients/$id/client.crt"
if [ -f "$cert" ]; then
    export TAKT_SAN="unused"
    openssl ca -batch -config "$CA/openssl.cnf" -revoke "$cert" 2>/dev/null
    openssl ca -batch -config "$CA/openssl.cnf" -gencrl -out "$CA/ca.crl" 2>/dev/null
    mv "$DIR/clients/$id" "$DIR/clients/.revoked-$id-$(date +%s)"
    echo "revoked the certificate of '$id'; CRL updated: $CA/ca.crl"
fi
