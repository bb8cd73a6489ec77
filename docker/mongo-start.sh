#!/usr/bin/env bash
# Entry point of the mongo service: a single-node replica set (transactions need
# one) with authentication. Members of a replica set with access control
# authenticate to each other with a key file; it is generated once, at random,
# into the mongo-config volume (never a default value), then the image's own
# entry point runs mongod (it creates the root user and runs mongo-init/ on the
# first start).
set -euo pipefail
keyfile=/data/configdb/replica.key
if [ ! -s "$keyfile" ]; then
  umask 077
  head -c 756 /dev/urandom | base64 -w 0 > "$keyfile"
fi
chown mongodb:mongodb "$keyfile"
chmod 400 "$keyfile"
exec docker-entrypoint.sh mongod --replSet rs0 --keyFile "$keyfile" --bind_ip_all
