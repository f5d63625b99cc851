# store_pg_suite (issue 24): the store-heavy Lua tests of tests/lua run again with
# --state postgresql://... on a private PostgreSQL (pg_lib.sh), each on a fresh database, with
# the same flags ctest gives them (tests/CMakeLists.txt): everything the Lua side does with a
# store (keys, transactions, the outbox, alert ids, groups, watchers' state) works on both
# backends.
set -eu
: "${RECWATCH:?}" "${SRC:?}"
. "$SRC/tests/sh/pg_lib.sh"
pg_start
T=$PGDIR/suite
mkdir -p "$T"
export RECWATCH_EXPECT_TASK_ERRORS=0
# fast lease rounds: the member holds no unit here, but its thread runs as in production
export RECWATCH_FLEET_RENEW=0.2 RECWATCH_FLEET_ACT=0.5 RECWATCH_FLEET_LEASE=2

# name : task errors raised on purpose (as in tests/CMakeLists.txt). Only tests that make no
# provider call: on a store with leases a call is fenced unless this member holds its unit,
# and the watcher tests' default credential is no session's unit (they run on the virtual
# clock, the leases on the real one). Watchers on PostgreSQL run in the fleet stories.
tests="watch_store:0 notify_repost_dests:0 notify_group:0 notify_alert_metrics:0"
n=0
for entry in $tests; do
  name=${entry%%:*}
  errs=${entry##*:}
  src=$SRC/tests/lua/$name.lua
  args=(run --sim)
  case $name in
    watch_*|notify_sim_sink) args+=(--virtual-time --until 3600) ;;
  esac
  [ -f "$SRC/tests/scenarios/$name.lua" ] && args+=(--scenario "$SRC/tests/scenarios/$name.lua")
  url=$(pg_db "t_$name")
  log=$T/$name.log
  if ! (cd "$SRC/tests/lua" && RECWATCH_EXPECT_TASK_ERRORS=$errs "$RECWATCH" "${args[@]}" \
        --state "$url" "$src") >"$log" 2>&1; then
    tail -30 "$log"
    echo "FAIL: $name on PostgreSQL"
    exit 1
  fi
  if grep -q "virtual time limit reached" "$log"; then
    echo "FAIL: $name: virtual time limit reached"; exit 1
  fi
  # the run used PostgreSQL: it joined the fleet, and left it (its member row is gone)
  grep -q "kind=fleet joined the fleet" "$log" || { echo "FAIL: $name did not use PostgreSQL"; exit 1; }
  [ "$(psql -X -A -t "$url" -c "select count(*) from members")" = 0 ] || { echo "FAIL: $name left its member row"; exit 1; }
  n=$((n + 1))
done
# bytes PostgreSQL's text cannot hold: a typed failure, and the store goes on
url=$(pg_db t_bytes)
cat >"$T/bytes.lua" <<'LUA'
local db = require("rec.store").open()
local ok, err = pcall(db.set, db, "k\0x", "v")
assert(not ok and tostring(err):find("NUL byte"), tostring(err))
ok, err = pcall(db.set, db, "k", "\xff\xfe")
assert(not ok and tostring(err):find("UTF8"), tostring(err))
local tok, terr = db:transaction(function(d) d:set("a", "1") d:set("b", "\xff") end)
assert(tok == false and db:get("a") == nil, "all or nothing")
assert(db:set("k", "fine") and db:get("k") == "fine", "the connection goes on")
print("bytes ok")
LUA
"$RECWATCH" run --state "$url" "$T/bytes.lua" >"$T/bytes.log" 2>&1 || { cat "$T/bytes.log"; echo "FAIL: bytes"; exit 1; }
grep -q "bytes ok" "$T/bytes.log" || { cat "$T/bytes.log"; echo "FAIL: bytes"; exit 1; }
[ "$(psql -X -A -t "$url" -c "select count(*) from kv")" = 1 ] || { echo "FAIL: bytes: one row"; exit 1; }

# the NCS receiver (events.c's own connection): a notification is stored in PostgreSQL before
# its 200, reaches rec.events.next, and is marked done
url=$(pg_db t_events)
cat >"$T/recv.lua" <<'LUA'
rec.configure{ agora = { ncs_secret = "secret" } }
rec.log.info("configured")
local ev = rec.events.next()
rec.events.done(ev)
rec.log.info("processed " .. ev.notice_id)
rec.sleep(0.3)
rec.exit(0)
LUA
printf '%s' '{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}' >"$T/vector.json"
"$RECWATCH" run --state "$url" --events-listen 127.0.0.1:0 "$T/recv.lua" 2>"$T/recv.log" &
RP=$!
EV=
for _ in $(seq 200); do
  EV=$(sed -n 's/.*receiving Agora notifications on \(http:[^ ]*\).*/\1/p' "$T/recv.log" | head -1)
  [ -n "$EV" ] && grep -q configured "$T/recv.log" && break
  sleep 0.05
done
[ -n "$EV" ] || { cat "$T/recv.log"; echo "FAIL: no receiver"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
  -H "Agora-Signature-V2: 6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99" \
  --data-binary "@$T/vector.json" "$EV")
[ "$code" = 200 ] || { echo "FAIL: the notification: $code"; exit 1; }
wait "$RP" || { cat "$T/recv.log"; echo "FAIL: the receiver exited non-zero"; exit 1; }
grep -q "processed 4eb720f0" "$T/recv.log" || { cat "$T/recv.log"; echo "FAIL: not processed"; exit 1; }
[ "$(psql -X -A -t "$url" -c "select count(*) from events where done_at is not null")" = 1 ] ||
  { echo "FAIL: the event is not stored as done in PostgreSQL"; exit 1; }

# the rows are in PostgreSQL
[ "$(psql -X -A -t "${PGURL%/*}/t_watch_store" -c "select count(*) from kv")" -gt 0 ] ||
  { echo "FAIL: watch_store left no rows in PostgreSQL"; exit 1; }
echo "ok: $n store tests and the NCS receiver passed on PostgreSQL"
