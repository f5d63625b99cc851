# kill -9 mid-delivery, then restart on the same state file: no alert lost, none repeated.
# The simulator runs standalone (its timeline goes on while the engine is dead); the receiver
# holds each reply for 1.5 s so the kill lands while the first alert is in flight.
# Story (tests/scenarios/qc_staggered.lua): 39 -> 52 at 2 s (before the kill), 41 -> 32 at 7 s
# (while the engine is down), 42 -> 53 at 11 s (after the restart).
# Expected: each failure alerted under exactly one alert id; 39's alert arrives twice (sent,
# killed before the reply, resent after the restart: at-least-once), the others once; the
# 41 alert knows the old status (2, from the state file), so it was not a "first sight".
# Then a third run on the same state file re-offers every delivered id (the outbox's duplicate
# check, issue 20 item 21): none is sent again, while a control alert with a new id is.
set -eu
T=$(mktemp -d)
RPID= SPID= EPID=
cleanup() { for p in $EPID $SPID $RPID; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$(now)"; }

python3 "$HELPERS/webhook_receiver.py" --out "$T/got.jsonl" --delay 1.5 >"$T/port" &
RPID=$!
"$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$SRC/tests/scenarios/qc_staggered.lua" >"$T/env" &
SPID=$!
T0=$(now)
for _ in $(seq 100); do grep -q PORT "$T/port" 2>/dev/null && grep -q RECWATCH_SIM_PORT "$T/env" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/PORT/{print $2}' "$T/port")
. "$T/env"
URL="http://127.0.0.1:$PORT/hook"
EX="$SRC/examples/qingcloud_failed_alert.lua"

"$RECWATCH" run --state "$T/state.db" "$EX" --every 0.3 --for 0 --webhook "$URL" 2>"$T/log1" &
EPID=$!
for _ in $(seq 150); do test -s "$T/got.jsonl" && break; sleep 0.1; done
test -s "$T/got.jsonl"
kill -9 "$EPID"; wait "$EPID" 2>/dev/null || true; EPID=
echo "killed at t=$(elapsed "$T0")"
grep -c . "$T/got.jsonl" | grep -qx 1
grep -q "ALERT delivered" "$T/log1" && { echo "expected the kill before the delivery was acknowledged"; exit 1; }

# stay down until 41 has failed (t=7 s)
while python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 8.5 else 1)" "$(elapsed "$T0")"; do sleep 0.2; done
echo "restart at t=$(elapsed "$T0")"
"$RECWATCH" run --state "$T/state.db" "$EX" --every 0.3 --for 5.5 --webhook "$URL" 2>"$T/log2"
cat "$T/log1" "$T/log2"

python3 - "$T/got.jsonl" "$T/state.db" <<'PY'
import json, sqlite3, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
ids = collections.defaultdict(set)
raw = collections.Counter()
for r in rows:
    b = r["body"]
    assert r["alert_id"] == b["alert_id"], r
    ids[(b["task_id"], b["status"])].add(b["alert_id"])
    raw[(b["task_id"], b["status"])] += 1
assert sorted(ids) == [(39, 52), (41, 32), (42, 53)], sorted(ids)       # none lost, no extra
assert all(len(v) == 1 for v in ids.values()), ids                      # never re-raised
assert raw[(39, 52)] == 2 and raw[(41, 32)] == 1 and raw[(42, 53)] == 1, raw
t41 = [r for r in rows if r["body"]["task_id"] == 41][0]["body"]["text"]
assert "was Recording" in t41, t41
db = sqlite3.connect(sys.argv[2])
pending = db.execute("select count(*) from outbox where delivered_at is null").fetchone()[0]
assert pending == 0, pending
print("ok:", dict(raw))
PY

# Re-offer every delivered id (and one new control id) through a fresh outbox on the same
# state file and the same sender name: the delivered ones must not go out a second time.
IDS=$(python3 -c "import sqlite3, sys; print(','.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute(
  'select distinct id from outbox where delivered_at is not null order by id')))" "$T/state.db")
[ "$(echo "$IDS" | tr ',' '\n' | grep -c .)" = 3 ] || { echo "expected 3 delivered ids, got: $IDS"; exit 1; }
BEFORE=$(grep -c . "$T/got.jsonl")
cat >"$T/reoffer.lua" <<'LUA'
local notify = require "rec.notify"
local out = notify.outbox{ to = notify.sender_from{ url = os.getenv("URL") }, every = 0.1 }
for id in os.getenv("IDS"):gmatch("[^,]+") do
  local got = out:alert{ id = id, text = "re-offered " .. id, task_id = 0, status = 0 }
  assert(got == id, "the outbox changed the id: " .. tostring(got))
end
out:alert{ id = "control-after-restart", text = "control", task_id = -1, status = 0 }
assert(out:flush(30), "the control alert was not delivered")
assert(out:pending() == 0, "still pending: " .. out:pending())
out:stop()
print("reoffer done")
LUA
URL="$URL" IDS="$IDS" "$RECWATCH" run --state "$T/state.db" "$T/reoffer.lua" >"$T/out3" 2>"$T/log3" ||
  { cat "$T/log3"; echo "the re-offer run failed"; exit 1; }
grep -q "reoffer done" "$T/out3"
python3 - "$T/got.jsonl" "$BEFORE" "$IDS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
new = rows[int(sys.argv[2]):]
ids = [r["alert_id"] for r in new]
assert ids == ["control-after-restart"], "after the re-offer the receiver got %r" % ids
again = [r for r in new if r["alert_id"] in sys.argv[3].split(",")]
assert not again, again
print("re-offer ok: %d delivered ids offered again, none re-sent; control delivered" % len(sys.argv[3].split(",")))
PY
