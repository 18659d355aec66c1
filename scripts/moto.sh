# Sourced by the scripts: installs the pinned moto into .venv if needed and
# starts it on a free loopback port; sets MOTO_URL and stops it on exit.
MOTO_VERSION=5.1.22
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 300); do (echo > "/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && break; sleep 0.1; done
MOTO_URL=http://127.0.0.1:$MOTO_PORT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
