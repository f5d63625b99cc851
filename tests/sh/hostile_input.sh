# hostile_input: a provider reply chooses a task id "1\r\nX-Injected: yes" (refused as a
# contract breach: no forged log line), then text fields with line breaks and a forged log
# line (logged escaped); an alert id with CR/LF never becomes a header of its own. Every
# kind of credential (provider secrets, the Basic credentials, webhook URL tokens in the
# path and the query, signing secrets) stays out of every output at debug level, text and
# JSON, although the servers echo the requests back in their error replies; and out of the
# state file and its WAL (the outbox's last_error).
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/hostile.XXXXXX")
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap "" EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$T/qc_first.json" <<'JSON'
{"code":"success","offset":0,"limit":100,"total_count":2,"recinfos":[
 {"id":"1\r\nX-Injected: yes","app_id":"app","channel":"room","status":2,"pid":1,"size":0,"is_mix":1},
 {"id":"2\n2026-01-01T00:00:00.000Z error forged line","app_id":"app","channel":"room","status":3,"pid":2,"size":0,"is_mix":1}]}
JSON
cp "$SRC/tests/fixtures/qc_200_success.json" "$T/qc.json"
python3 - "$T/qc.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["recinfos"][0]
t["app_id"], t["channel"] = "app", "room"
t["files"] = "a.mp4\r\n2026-01-01T00:00:00.000Z error forged line\r\nX-Injected: yes"
json.dump(r, open(sys.argv[1], "w"))
PY
python3 "$HELPERS/hostile_server.py" --out "$T/requests.jsonl" --qc-first "$T/qc_first.json" \
  --qc-reply "$T/qc.json" >"$T/port" &
SRV=$!
for i in $(seq 100); do grep -q PORT "$T/port" 2>/dev/null && break; sleep 0.05; done
PORT=$(awk '/PORT/{print $2}' "$T/port")
[ -n "$PORT" ] || fail "server did not start"
export FAKE="http://127.0.0.1:$PORT"

# every credential, each distinctive so that grep finds any copy of it
export QC_SECRET="QCSECRETqcsecret0123456789" AG_SECRET="AGSECRETagsecret0123456789"
export WH_TOKEN="WHTOKENwhtoken0123456789" DT_TOKEN="DTTOKENdttoken0123456789"
export DT_SECRET="DTSECRETdtsecret0123456789" FS_HOOK="FSHOOKid-0123-4567-89ab"
export FS_SECRET="FSSECRETfssecret0123456789"
AG_BASIC=$(printf 'agoracustomer01:%s' "$AG_SECRET" | base64 -w0)

cat >"$T/script.lua" <<'LUA'
local notify = require "rec.notify"
local watch = require "rec.watch"
local store = require "rec.store"
local fake = os.getenv("FAKE")
rec.configure{
  qingcloud = { base_url = fake, access_key_id = "QCAKID0001", secret_access_key = os.getenv("QC_SECRET"),
                retries = 0 },
  agora = { base_url = fake, customer_id = "agoracustomer01", customer_secret = os.getenv("AG_SECRET"),
            retries = 0 },
}
local db = store.open(os.getenv("STATE"))
local box = notify.outbox{ db = db, every = 0.2, retry_base = 0.2, retry_max = 0.5, to = {
  notify.webhook_sender{ name = "hook", url = fake .. "/hook/" .. os.getenv("WH_TOKEN") .. "?source=rw" },
  notify.dingtalk{ name = "ding", url = fake .. "/ding?access_token=" .. os.getenv("DT_TOKEN"),
                   secret = os.getenv("DT_SECRET") },
  notify.feishu{ name = "feishu", url = fake .. "/open-apis/bot/v2/hook/" .. os.getenv("FS_HOOK"),
                 secret = os.getenv("FS_SECRET") },
} }
-- an Agora error reply that echoes the request, Authorization header included
local res, err = rec.query_agora{ appid = "app", resourceid = "rid", sid = "sid" }
assert(not res and err.kind == "auth", tostring(err))
rec.log.warn("agora said: %s", tostring(err))
local h = watch.qingcloud{ app_id = "app", channel = "room", every = 0.3, db = db,
  on_change = function(t)
    rec.log.info("task %s files: %s", tostring(t.id), tostring(t.files))  -- reply text, logged
    -- an id with CR/LF (the script's, here; a reply's before the schema refused it)
    box:alert{ id = "qc-" .. tostring(t.id) .. "\r\nX-Injected: yes",
               text = "task " .. tostring(t.id) .. " is " .. tostring(t.status) }
  end }
rec.sleep(2.5)   -- several delivery attempts, each failing with an echo of the request
h:stop()
box:stop()
local n = 0
for _, key in pairs(db:keys("qingcloud/")) do n = n + 1 end
for k in pairs(db:keys("qingcloud/")) do
  if k:find("[\r\n]") then rec.log.error("a state key holds a line break: %s", k) end
end
rec.log.info("state keys: %d", n)
print("hostile ok")
LUA

for fmt in text json; do
  rm -f "$T/requests.jsonl" "$T/state.db"*
  STATE="$T/state.db" "$RECWATCH" --log-level debug --log-format $fmt run "$T/script.lua" \
    >"$T/out.$fmt" 2>"$T/err.$fmt" || { cat "$T/err.$fmt" >&2; fail "script failed ($fmt)"; }
  grep -q "hostile ok" "$T/out.$fmt" || fail "no ok line ($fmt)"
  [ -s "$T/requests.jsonl" ] || fail "no request reached the server"
  python3 - "$T/requests.jsonl" <<'PY' || fail "header injection ($fmt): $(cat "$T/requests.jsonl")"
import json, sys
ids = 0
kinds = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    names = sorted(k.lower() for k, v in r["headers"])
    # provider GETs send only what the provider documents (plus Host and curl's Accept):
    # Agora its Authorization and Content-Type, QingCloud nothing (the query is signed);
    # no User-Agent, no Expect, no Accept-Encoding. Webhooks say who sends them.
    if r["path"].startswith("/v1/apps/"):
        kinds.add("agora")
        assert names == ["accept", "authorization", "content-type", "host"], names
    elif r["path"].startswith("/v1/cloudRecord"):
        kinds.add("qingcloud")
        assert names == ["accept", "host"], names
    else:
        kinds.add("webhook")
        assert "user-agent" in names, names
    for k, v in r["headers"]:
        assert k.lower() != "x-injected", "the reply's text became a header: %r" % r["raw"]
        assert "\r" not in v and "\n" not in v
        if k.lower() == "x-alert-id":
            ids += 1
            assert "%0D%0A" in v or "%0A" in v, "alert id not escaped: %r" % v
assert ids > 0, "no alert was sent"
assert kinds == {"agora", "qingcloud", "webhook"}, kinds
PY
  if [ $fmt = text ]; then  # every line is a record of its own: no forged line
    bad=$(grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z (debug|info|warn|error) ' "$T/err.text" | head -3)
    [ -z "$bad" ] || fail "a log line was split or forged: $bad"
    grep -q '^X-Injected' "$T/err.text" && fail "forged line in the log"
  else
    python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1], "rb"), 1):
    json.loads(line.decode("utf-8"))
' "$T/err.json" || fail "a JSON log line does not parse"
  fi
  for s in "$QC_SECRET" "$AG_SECRET" "$AG_BASIC" "$WH_TOKEN" "$DT_TOKEN" "$DT_SECRET" "$FS_HOOK" "$FS_SECRET"; do
    for f in "$T/out.$fmt" "$T/err.$fmt" "$T"/state.db*; do
      [ -f "$f" ] || continue
      if grep -a -q -F -- "$s" "$f"; then
        fail "secret ${s:0:8}... appears in $(basename "$f"): $(grep -a -o -F -m1 -- "$s" "$f" | head -1)"
      fi
    done
  done
  ls "$T"/state.db* >/dev/null 2>&1 || fail "no state file"
done
# the stored errors are there (redacted), so the grep above looked at real text
sqlite3 "$T/state.db" "select count(*) from outbox where last_error like '%REDACTED%' or last_error like '%***%'" 2>/dev/null | grep -qv '^0$' \
  || python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = [r[0] for r in c.execute("select last_error from outbox where last_error is not null")]
assert rows, "no last_error stored"
assert any("REDACTED" in r or "***" in r for r in rows), rows
' "$T/state.db" || fail "last_error not stored or not redacted"
echo "hostile_input ok"
