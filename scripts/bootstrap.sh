#!/usr/bin/env bash
# Makes a fresh clone runnable before `npm start` / `npm test`: installs the npm dependencies
# (which include the Node 24 binary the scripts run on) when they are missing or older than
# package-lock.json. MariaDB and Redis binaries are checked (and installed with apt when run
# as root on Debian) by local/servers/binaries.ts when the local cloud starts.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.bootstrap-stamp
if [ ! -x node_modules/.bin/node ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "bootstrap: installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
if ! node_modules/.bin/node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)'; then
  echo "bootstrap: node_modules/.bin/node is not Node >= 24; run: rm -rf node_modules && npm ci" >&2
  exit 1
fi
