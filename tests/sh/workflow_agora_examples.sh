# The Agora examples on a fast scenario (tests/scenarios/agora_fast.lua), alerts to a local
# receiver: the start guard alerts only for the recording stuck in "starting" (and names its
# status), the ended summary alerts for the abnormal exit (20) and once per ended recording
# with its files, and nothing for the healthy recording.
source "$HELPERS/receiver_lib.sh"
start_receiver
SC="$SRC/tests/scenarios/agora_fast.lua"

"$RECWATCH" run --sim --scenario "$SC" "$SRC/examples/agora_start_guard.lua" \
  --recordings sim-resource-healthy:sid-healthy:mix,sim-resource-stuck:sid-stuck:mix \
  --first-after 0.5 --start-every 0.5 --start-timeout 3 --confirm 0.5,0.5,0.5 --for 20 \
  --webhook "http://127.0.0.1:$PORT/guard" 2>"$T/log1"
grep -q "sid-healthy is recording" "$T/log1"

"$RECWATCH" run --sim --scenario "$SC" "$SRC/examples/agora_ended_summary.lua" \
  --recordings sim-resource-abnormal:sid-abnormal:mix,sim-resource-vanish:sid-vanish:individual,sim-resource-healthy:sid-healthy:mix \
  --first-after 0.3 --every 0.5 --confirm 0.5,0.5,0.5 --for 8 \
  --webhook "http://127.0.0.1:$PORT/summary" 2>"$T/log2"
cat "$T/log1" "$T/log2" | grep -v "queued"

python3 - "$T/got.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert all(r["status"] == 200 for r in rows)
guard = [r["body"] for r in rows if r["path"] == "/guard"]
assert [(b["sid"], b["status"], b["reason"]) for b in guard] == [("sid-stuck", 2, "timeout")], guard
assert "not recording 3s" in guard[0]["text"], guard
summ = sorted(((r["body"]["sid"], r["body"]["event"], r["body"].get("status")) for r in rows
               if r["path"] == "/summary"))
assert summ == [("sid-abnormal", "ended", 20), ("sid-abnormal", "failed", 20),
                ("sid-vanish", "ended", 5)], summ
ended = [r["body"] for r in rows if r["path"] == "/summary" and r["body"]["event"] == "ended"
         and r["body"]["sid"] == "sid-abnormal"][0]
names = [f["fileName"] for f in ended["files"]]
assert names == ["sid-abnormal_demo-channel.m3u8", "sid-abnormal_demo-channel_0.mp4"], names
assert "2 file(s)" in ended["text"], ended["text"]
assert len({r["alert_id"] for r in rows}) == len(rows)
print("ok:", summ)
PY
