#!/usr/bin/env bash
# `npm test`: makes sure the system tools the distribution tests use are present (Debian
# packages, installed when running as root), builds the executable and the bundle, runs bun test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The PostgreSQL store's tests start their own server (test/helpers/postgres-server.ts) from
# Debian's binaries in /usr/lib/postgresql/<version>/bin, or from PATH.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need[*]} (Debian packages the distribution tests use)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >&2
  else
    echo "test.sh: missing ${need[*]}; install them (apt-get install ${need[*]}) for the distribution tests" >&2
  fi
fi

node_modules/.bin/bun scripts/build.ts
exec node_modules/.bin/bun test --timeout 30000 "$@"
