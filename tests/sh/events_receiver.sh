# The NCS receiver on the real clock (issue 22): the documented test-vector body with its
# signature is answered 200 and reaches rec.events.next; a wrong signature 401 and nothing is
# stored; a signed body that is not JSON 400; a body over the 64 KiB cap 413; a repeated
# noticeId 200 and counted duplicate, processed once; kill -9 right after a 200, and the event
# is delivered to Lua and processed after the restart.
. "${HELPERS:?}/ops_lib.sh"
command -v curl >/dev/null || fail "curl is needed"
command -v openssl >/dev/null || fail "openssl is needed"
command -v sqlite3 >/dev/null || fail "sqlite3 is needed"
export AGORA_NCS_SECRET=secret

cat > "$T/recv.lua" <<'LUA'
-- PHASE=hold: receive only (events stay unprocessed); PHASE=work: process and mark done
rec.configure{ agora = { ncs_secret = os.getenv("AGORA_NCS_SECRET") } }
rec.log.info("configured")   -- deliveries before the secret is known are refused 401
if os.getenv("PHASE") == "hold" then rec.sleep(1e6) end
while true do
  local ev = rec.events.next()
  rec.log.info("processed " .. ev.notice_id .. " type " .. tostring(ev.event_type))
  rec.events.done(ev)
end
LUA

start() {
  PHASE=$1 rw_start run --state "$T/state.db" --listen 127.0.0.1:0 --events-listen 127.0.0.1:0 "$T/recv.lua"
  EV=
  for i in $(seq 200); do
    EV=$(sed -n 's/.*receiving Agora notifications on \(http:[^ ]*\).*/\1/p' "$T/rw.err" | head -1)
    [ -n "$EV" ] && break
    sleep 0.05
  done
  [ -n "$EV" ] || fail "no 'receiving Agora notifications on' line"
  wait_for 10 grep -q configured "$T/rw.err" || fail "the script did not configure"
}
sig2() { openssl dgst -sha256 -hmac "${2:-secret}" -r "$1" | cut -d' ' -f1; }
sig1() { openssl dgst -sha1 -hmac "${2:-secret}" -r "$1" | cut -d' ' -f1; }
# post FILE HEADER...: the status of POST $EV with FILE as the body (answer in $T/answer)
post() {
  local f=$1
  shift
  curl -s -o "$T/answer" -w '%{http_code}' --max-time 10 -X POST "$@" --data-binary "@$f" "$EV"
}
stored() { sqlite3 "$T/state.db" "SELECT count(*) FROM events"; }
metric() { code /metrics >/dev/null; sed -n "s/^recwatch_notifications_total{provider=\"agora\",result=\"$1\"} //p" "$T/body"; }

printf '%s' '{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}' > "$T/vector.json"
[ "$(sig1 "$T/vector.json")" = 033c62f40f687675f17f0f41f91a40c71c0f134c ] || fail "openssl's HMAC-SHA1 of the vector"

start hold
# the documented test vector, V2 and V1
[ "$(post "$T/vector.json" -H "Agora-Signature-V2: 6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99")" = 200 ] || fail "test vector (V2): $(cat "$T/answer")"
[ "$(cat "$T/answer")" = "{}" ] || fail "200's body is {}: $(cat "$T/answer")"
[ "$(stored)" = 1 ] || fail "the event is stored before the 200"
# a wrong signature: 401, nothing stored (a new noticeId in it)
sed 's/4eb720f0/deadbeef/' "$T/vector.json" > "$T/forged.json"
[ "$(post "$T/forged.json" -H "Agora-Signature-V2: 6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99")" = 401 ] || fail "wrong signature not 401"
[ "$(post "$T/forged.json" -H "Agora-Signature: $(sig1 "$T/forged.json" other)")" = 401 ] || fail "V1 with another secret not 401"
[ "$(post "$T/forged.json")" = 401 ] || fail "unsigned not 401"
[ "$(stored)" = 1 ] || fail "a refused event was stored"
# signed, not JSON: 400
printf 'not json {' > "$T/bad.txt"
[ "$(post "$T/bad.txt" -H "Agora-Signature-V2: $(sig2 "$T/bad.txt")")" = 400 ] || fail "non-JSON not 400"
# over the 64 KiB cap: 413
head -c 70000 /dev/zero | tr '\0' 'a' > "$T/big.txt"
[ "$(post "$T/big.txt" -H "Agora-Signature-V2: $(sig2 "$T/big.txt")")" = 413 ] || fail "too large not 413"
# only POST on that one path
[ "$(code /agora/ncs >/dev/null; curl -s -o /dev/null -w '%{http_code}' "$EV")" = 405 ] || fail "GET not 405"
# the same noticeId again (a resend: notifyMs changes): 200, a duplicate
sed 's/"notifyMs":1560408533119/"notifyMs":1560408539999/' "$T/vector.json" > "$T/resend.json"
[ "$(post "$T/resend.json" -H "Agora-Signature: $(sig1 "$T/resend.json")")" = 200 ] || fail "resend not 200"
[ "$(stored)" = 1 ] || fail "a duplicate was stored twice"
[ "$(metric accepted)" = 1 ] || fail "accepted counter: $(metric accepted)"
[ "$(metric duplicate)" = 1 ] || fail "duplicate counter"
[ "$(metric bad_signature)" = 3 ] || fail "bad_signature counter: $(metric bad_signature)"
[ "$(metric malformed)" = 1 ] || fail "malformed counter"
[ "$(metric too_large)" = 1 ] || fail "too_large counter"
# /status: the receiver's counts and the last event per session
sed 's/4eb720f0-8da7/5e55e55e-8da7/; s/"payload":{"a":"1","b":2}/"payload":{"cname":"room\\u0022x","sid":"sid-42","uid":"7"}/' "$T/vector.json" > "$T/session.json"
[ "$(post "$T/session.json" -H "Agora-Signature-V2: $(sig2 "$T/session.json")")" = 200 ] || fail "session event not 200: $(cat "$T/answer")"
[ "$(code /status)" = 200 ] || fail "/status"
python3 - "$T/body" <<'PY' || fail "/status events: $(cat "$T/body")"
import json, sys
d = json.load(open(sys.argv[1]))["events"]
assert d["accepted"] == 2 and d["duplicate"] == 1 and d["refused"] == 5, d
s = d["sessions"]["sid-42"]
assert s["notice_id"].startswith("5e55e55e") and s["event_type"] == 10, s
PY
# the hold phase takes nothing: both accepted events wait for the script
code /metrics >/dev/null
grep -q '^recwatch_notifications_waiting{provider="agora"} 2$' "$T/body" || fail "waiting gauge: $(grep notifications_waiting "$T/body")"
grep -q '^recwatch_notifications_newest_timestamp_seconds{provider="agora"} 1[0-9.e+]*$' "$T/body" || fail "newest gauge"
# a new event, then kill -9 right after its 200
sed 's/4eb720f0-8da7/c0ffee00-8da7/; s/"eventType":10/"eventType":11/' "$T/vector.json" > "$T/crash.json"
[ "$(post "$T/crash.json" -H "Agora-Signature-V2: $(sig2 "$T/crash.json")")" = 200 ] || fail "crash event not 200"
kill -9 "$RW_PID"
wait "$RW_PID" 2>/dev/null
RW_PID=
grep -q "processed" "$T/rw.err" && fail "events were processed in the hold phase"

# the restart processes both events, once each; a resend then is a duplicate
start work
wait_for 10 grep -q "processed c0ffee00-8da7-11e9-a43e-53f411c2761f type 11" "$T/rw.err" || fail "the event taken before kill -9 was not processed after the restart"
wait_for 5 grep -q "processed 4eb720f0-8da7-11e9-a43e-53f411c2761f type 10" "$T/rw.err" || fail "the test-vector event was not processed"
[ "$(post "$T/crash.json" -H "Agora-Signature-V2: $(sig2 "$T/crash.json")")" = 200 ] || fail "resend after restart not 200"
wait_for 5 sh -c "[ \"\$(sqlite3 '$T/state.db' 'SELECT count(*) FROM events WHERE done_at IS NULL')\" = 0 ]" || fail "events not marked done"
sleep 0.3
[ "$(grep -c "processed c0ffee00" "$T/rw.err")" = 1 ] || fail "the resend after the restart was processed again"

# --events-listen with --sim: the script sees the receiver's URL as rec.sim.events_url
echo 'assert(rec.sim.events_url:match("^http://127.0.0.1:%d+/agora/ncs$"), rec.sim.events_url)' > "$T/url.lua"
"$RECWATCH" run --sim --events-listen 127.0.0.1:0 "$T/url.lua" 2>"$T/url.err" || fail "rec.sim.events_url: $(cat "$T/url.err")"
echo ok
