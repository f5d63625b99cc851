# examples/many_channels.lua over 12 channels (tests/scenarios/qc_many_channels.lua), one of
# them with 150 tasks on two pages: exactly the three failures alert, including the one on the
# second page (task 5150, status 32), and every channel was polled.
source "$HELPERS/receiver_lib.sh"
start_receiver
CH=$(seq -s, -f 'ch-%g' 1 12)
"$RECWATCH" run --sim --scenario "$SRC/tests/scenarios/qc_many_channels.lua" \
  "$SRC/examples/many_channels.lua" --channels "$CH" --rooms 0 --every 0.5 --for 5.5 \
  --webhook "http://127.0.0.1:$PORT/hook" 2>"$T/log"
grep "channels," "$T/log" | tail -1
grep -q "12 channels, 174 tasks" "$T/log"
python3 - "$T/got.jsonl" <<'PY'
import json, sys
rows = [json.loads(l)["body"] for l in open(sys.argv[1])]
got = sorted((b["channel"], b["task_id"], b["status"]) for b in rows)
assert got == [("ch-12", 5150, 32), ("ch-3", 1003, 52), ("ch-9", 1009, 51)], got
print("ok:", got)
PY
