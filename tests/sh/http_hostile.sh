# rec.http against a broken server and hostile arguments: error kinds follow the documented
# table (a non-HTTP reply and bad chunked encoding are `protocol`, an oversized header a clear
# `protocol` error, not "Out of memory"), CR/LF/NUL never become protocol syntax
# (`invalid_argument`, nothing sent), and long or many headers arrive whole, or are refused.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d)
SRV=
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 "${HELPERS:-$SRC/tests/helpers}/http_hostile.py" >"$T/srv.out" 2>&1 &
SRV=$!
for i in $(seq 100); do grep -q '^PORT' "$T/srv.out" && break; sleep 0.05; done
PORT=$(awk '/^PORT/{print $2}' "$T/srv.out")
[ -n "$PORT" ] || fail "server did not start"
cat > "$T/t.lua" <<LUA
local base = "http://127.0.0.1:$PORT"
local function count() return tonumber(assert(rec.http{ url = base .. "/count" }).body) end
local function refused(what, req)
  local before = count()
  local r, err = rec.http(req)
  assert(r == nil and err.kind == "invalid_argument", what .. ": " .. tostring(err))
  assert(err.attempts == 0 or err.attempts == nil or err.attempts == 1, what)
  assert(count() == before + 1, what .. ": a request was sent")
  return err
end
-- error kinds
local r, err = rec.http{ url = base .. "/nonhttp" }
assert(r == nil and err.kind == "protocol", "non-HTTP reply: " .. tostring(err))
r, err = rec.http{ url = base .. "/badchunk" }
assert(r == nil and err.kind == "protocol", "bad chunked encoding: " .. tostring(err))
r, err = rec.http{ url = base .. "/bighdr" }
assert(r == nil and err.kind == "protocol", "300 KB header: " .. tostring(err))
assert(err.message:find("header") and not err.message:find("memory"), err.message)
-- a reused connection that the server drops: network (libcurl's silent resend is refused)
assert(count())   -- leaves an idle keep-alive connection
local before = count()
r, err = rec.http{ url = base .. "/drop" }
assert(r == nil and err.kind == "network" and err.retryable, "dropped: " .. tostring(err))
assert(err.message:find("closed the connection without a reply"), err.message)
assert(count() == before + 2, "the dropped request was sent once, not resent")
-- CR, LF and NUL: never sent
refused("CRLF in a header value", { url = base .. "/echo", headers = { ["X-A"] = "1\r\nX-Injected: yes" } })
refused("LF in a header value", { url = base .. "/echo", headers = { ["X-A"] = "1\nX-Injected: yes" } })
refused("CR in a header name", { url = base .. "/echo", headers = { ["X-A\rB"] = "1" } })
refused("NUL in a header value", { url = base .. "/echo", headers = { ["X-A"] = "1\0X" } })
refused("colon in a header name", { url = base .. "/echo", headers = { ["X-A: b"] = "1" } })
refused("empty header name", { url = base .. "/echo", headers = { [""] = "1" } })
refused("CRLF in the method", { url = base .. "/echo", method = "GET / HTTP/1.1\r\nX: y\r\n" })
refused("space in the method", { url = base .. "/echo", method = "GET /x" })
refused("NUL in the method", { url = base .. "/echo", method = "GET\0" })
refused("CRLF in the url", { url = base .. "/echo\r\nX-Injected: yes" })
refused("NUL in the url", { url = base .. "/echo\0/../x" })
refused("space in the url", { url = base .. "/echo x" })
-- a 2 KB bearer token and 100 headers arrive whole
local token = string.rep("t", 2048)
local hs = { Authorization = "Bearer " .. token }
for i = 1, 99 do hs["X-H" .. i] = "v" .. i end
r = assert(rec.http{ url = base .. "/echo", headers = hs })
assert(r.status == 200, r.status)
assert(r.body:find("Authorization: Bearer " .. token .. "\r\n", 1, true), "token cut")
for i = 1, 99 do assert(r.body:find("\r\nX-H" .. i .. ": v" .. i .. "\r\n", 1, true), "header " .. i .. " dropped") end
-- over the documented limits: refused with a clear message, never cut
err = refused("a header over 8 KiB", { url = base .. "/echo", headers = { X = string.rep("a", 9000) } })
assert(err.message:find("8192"), err.message)
hs = {}
for i = 1, 101 do hs["X-H" .. i] = "v" end
err = refused("101 headers", { url = base .. "/echo", headers = hs })
assert(err.message:find("100"), err.message)
print("http_hostile ok")
LUA
"$RECWATCH" run "$T/t.lua" || fail "script"
