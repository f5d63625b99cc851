# Events drive the watchers (issue 22): a fatal error, a failover and an abnormal exit are logged
# with their fields, and nothing from an event becomes a log line unescaped. The JSON log keeps
# each record on one line, the fields as top-level keys with the event's bytes intact; the text
# log escapes the line breaks, so no line starts with the event's text.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; tail -20 "$T/log" 2>/dev/null; exit 1; }
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

EVENTS='[{"at":20,"notice_id":"n1","event_type":1,"cname":"c\"\nFORGED cname","uid":"7","sid":"sid-healthy","sequence":3,"sendts":10,"details":{"errorLevel":5,"errorCode":54,"errorMsg":"disk\nFORGED line\r\u001b[31m","module":1}},
 {"at":30,"notice_id":"n2","event_type":12,"cname":"c","uid":"7","sid":"sid-healthy","sequence":4,"sendts":11,"details":{"newUid":99}},
 {"at":40,"notice_id":"n3","event_type":11,"cname":"c","uid":"7","sid":"sid-healthy","sequence":5,"sendts":12,"details":{"exitStatus":1}}]'
run() {
  "$RECWATCH" --log-format "$1" run --sim --virtual-time --until 60 "$SRC/tests/vtime/events/watch_events.lua" \
    --recordings sim-resource-healthy:sid-healthy --events "$EVENTS" --for 50 2>"$T/log"
}

run json || fail "run (json) exited $?"
python3 - "$T/log" <<'PY' || fail "json log"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]  # every line is one record
def one(kind):
    r = [x for x in recs if x.get("kind") == kind]
    assert len(r) == 1, (kind, len(r))
    return r[0]
f = one("agora_event_fatal")
assert f["level"] == "error" and f["errorLevel"] == 5 and f["errorCode"] == 54 and f["module"] == 1, f
assert f["errorMsg"] == "disk\nFORGED line\r\x1b[31m" and f["cname"] == 'c"\nFORGED cname', f
assert f["sid"] == "sid-healthy" and f["notice_id"] == "n1" and f["event_type"] == 1 and f["uid"] == "7", f
fo = one("agora_event_failover")
assert fo["level"] == "warn" and fo["newUid"] == "99", fo
ab = one("agora_event_abnormal_exit")
assert ab["level"] == "error" and ab["exitStatus"] == 1 and ab["sequence"] == 5, ab
assert len([x for x in recs if x.get("kind") == "agora_event_query"]) == 3, "three queries"
PY

run text || fail "run (text) exited $?"
grep -q 'kind=agora_event_fatal' "$T/log" || fail "no fatal line"
grep -q '^FORGED' "$T/log" && fail "a line starts with the event's text"
grep -q $'\x1b' "$T/log" && fail "an escape byte reached the log"
# the log module writes the line break as \n and then quotes the value (its backslash doubled)
grep -F 'kind=agora_event_fatal' "$T/log" | grep -qF 'errorMsg="disk\\nFORGED line\\r\\x1b[31m"' || fail "errorMsg not escaped in text"
echo ok
