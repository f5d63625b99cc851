# TLS verification stays on for https: a self-signed server is refused (kind "network"),
# and accepted once its certificate is configured with rec.configure{http={ca_file=...}}.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d)
SRV=
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v openssl >/dev/null || fail "openssl is needed (apt-get install openssl)"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null \
  || fail "cannot make a test certificate"
for try in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 20000))
  openssl s_server -quiet -www -accept "127.0.0.1:$PORT" -cert "$T/cert.pem" -key "$T/key.pem" \
    >"$T/srv.out" 2>&1 &
  SRV=$!
  sleep 0.5
  kill -0 $SRV 2>/dev/null && break
  SRV=
done
[ -n "$SRV" ] || fail "cannot start openssl s_server"
cat > "$T/tls.lua" <<LUA
local url = "https://127.0.0.1:$PORT/"
local r, err = rec.http{ url = url, timeout = 5 }
assert(r == nil and err.kind == "network", "self-signed must be refused: " .. tostring(err))
assert(err.message:find("certificate") or err.message:find("SSL"), err.message)
rec.configure{ http = { ca_file = "$T/cert.pem" } }
local r2, err2 = rec.http{ url = url, timeout = 5 }
assert(r2 and r2.status == 200, "trusted with ca_file: " .. tostring(err2))
print("tls ok")
LUA
"$RECWATCH" run "$T/tls.lua" >"$T/o" 2>"$T/e" || fail "script failed: $(cat "$T/e")"
grep -q "tls ok" "$T/o" || fail "no ok line"
echo "engine_tls ok"
