#!/bin/sh
# OCI runtime conformance: opencontainers/runtime-tools validation/ (commit 260e151, the
# offline kit in ../shared/conformance or $RTOOLS_KIT) against dist/minid-runtime.
# Extracts the kit to /tmp/rtools (its fixed path), builds it if its binaries are missing
# (Debian's golang-go 1.19 + make + bc, offline from vendor/), runs every test file and
# prints "N passed, M failed". Needs root. Env: TESTS (subset), TEST_TIMEOUT, REBUILD=1.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
KIT=${RTOOLS_KIT:-$REPO/../shared/conformance/runtime-tools-260e151.tgz}
[ -f "$KIT" ] || KIT=/work/shared/conformance/runtime-tools-260e151.tgz
[ -f "$KIT" ] || { echo "conformance kit not found (set RTOOLS_KIT)" >&2; exit 2; }
[ -x "$REPO/dist/minid" ] || (cd "$REPO" && node_modules/.bin/bun build.ts)
if [ ! -x /tmp/rtools/run-validation.sh ]; then
  mkdir -p /tmp/rtools && tar -xzf "$KIT" -C /tmp/rtools
fi
if [ "${REBUILD:-0}" = 1 ] || [ ! -x /tmp/rtools/src/validation/state/state.t ]; then
  sh /tmp/rtools/build.sh
fi
# One executable for RUNTIME: the runtime with its own state root.
WRAP=/tmp/rtools/bin/minid-wrap
mkdir -p /tmp/rtools/bin /tmp/rtools/state/minid
cat > "$WRAP" <<EOW
#!/bin/sh
exec "$REPO/dist/minid-runtime" --root /tmp/rtools/state/minid "\$@"
EOW
chmod +x "$WRAP"
/tmp/rtools/run-validation.sh "$WRAP" minid | tail -n "${TAIL:-200}"
