# A DingTalk receiver that answers 200 with a non-zero errcode while "down" (a failure, not a
# delivery) and checks every request's signature in Python: every alert still arrives, once
# per alert id, after failed attempts retried with backoff. (The plain-webhook story, a 500
# while down, runs on the virtual clock in tests/vtime/workflow_test.lua.)
source "$HELPERS/receiver_lib.sh"


check() {  # path, kind of check
  python3 - "$T/got.jsonl" "$1" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
kind = sys.argv[2]
down = [r for r in rows if r["down"]]
up = [r for r in rows if not r["down"]]
assert len(down) >= 2, ("expected failed attempts while down", rows)
ids = collections.Counter(r["alert_id"] for r in up)
assert len(ids) == 2 and all(n == 1 for n in ids.values()), ids      # each delivered once
assert {r["alert_id"] for r in down} <= set(ids), "an alert tried while down never arrived"
if kind == "hook":
    got = sorted((r["body"]["task_id"], r["body"]["status"]) for r in up)
    assert got == [(39, 52), (41, 32)], got
else:
    assert all(r["sign_ok"] is True for r in rows), [r["sign_ok"] for r in rows]
    texts = sorted(r["body"]["text"]["content"] for r in up)
    assert "task 39" in texts[0] and "52" in texts[0], texts
    assert "task 41" in texts[1] and "32" in texts[1], texts
    assert all(r["body"]["msgtype"] == "text" for r in rows)
print("ok:", kind, len(down), "failed attempts,", len(up), "deliveries")
PY
}

# DingTalk, signed, answering errcode 130101 while down
touch "$T/down"
start_receiver --down-file "$T/down" --down-mode errcode --dingtalk-secret SECtest-secret-123
( sleep 4; rm -f "$T/down" ) &
"$RECWATCH" run --sim --scenario "$SRC/tests/scenarios/qc_fail_fast.lua" \
  "$SRC/examples/qingcloud_failed_alert.lua" --every 0.3 --for 8 --retry-base 0.5 \
  --webhook "http://127.0.0.1:$PORT/dingtalk/robot/send?access_token=tok" --kind dingtalk \
  --secret SECtest-secret-123 2>"$T/log"
grep -q "errcode=130101" "$T/log"
check dingtalk
