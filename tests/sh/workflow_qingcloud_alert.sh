# examples/qingcloud_failed_alert.lua on a fast scenario, alerts POSTed to a local receiver:
# exactly one alert per failed task (39 -> 52, 41 -> 32), none for the task that ended well
# (43 -> 10) or the healthy one (40); alert id in both the header and the JSON body.
source "$HELPERS/receiver_lib.sh"
start_receiver

"$RECWATCH" run --sim --scenario "$SRC/tests/scenarios/qc_fail_fast.lua" \
  "$SRC/examples/qingcloud_failed_alert.lua" --every 0.3 --for 5 \
  --webhook "http://127.0.0.1:$PORT/hook" 2>"$T/log"
cat "$T/log"
grep -q "ALERT delivered" "$T/log"

python3 - "$T/got.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert all(r["status"] == 200 for r in rows), rows
got = sorted((r["body"]["task_id"], r["body"]["status"]) for r in rows)
assert got == [(39, 52), (41, 32)], got
for r in rows:
    assert r["alert_id"] and r["alert_id"] == r["body"]["alert_id"], r
    assert "failed" in r["body"]["text"], r
assert len({r["alert_id"] for r in rows}) == 2, rows
print("ok:", got)
PY
