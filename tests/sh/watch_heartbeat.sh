# notify.heartbeat pings a dead man's switch only while every watcher is healthy: pings while
# the watcher polls well, none once it is stale (kind=heartbeat_withheld), again after it
# recovers. Also: a running QingCloud task that leaves the query window is reported
# (kind=task_missing, on_missing), not silently dropped.
source "$HELPERS/receiver_lib.sh"
start_receiver

cat >"$T/hb.lua" <<'LUA'
local watch = require "rec.watch"
local notify = require "rec.notify"
local mode = "ok"
local ok, err = xpcall(function()
rec.query_qingcloud = function()
  if mode == "down" then
    return nil, setmetatable({ kind = "network", message = "down" }, { __tostring = function() return "network: down" end })
  elseif mode == "gone" then
    return { recinfos = {}, total_count = 0 }
  end
  return { recinfos = { { id = 7, status = 2 } }, total_count = 1 }
end
local missing = {}
local w = watch.qingcloud{ app_id = "a", channel = "c", every = 0.1, stale_after = 0.4,
                           on_missing = function(key, st) missing[#missing + 1] = key .. "=" .. st.status end }
local hb = notify.heartbeat{ url = arg[1], every = 0.2, method = "POST" }
local function count() local f = io.open(arg[2]) if not f then return 0 end local n = 0
  for _ in f:lines() do n = n + 1 end f:close() return n end
rec.sleep(1)
local healthy = count()
assert(healthy >= 3, "pings while healthy: " .. healthy)
mode = "down"
rec.sleep(0.8)             -- stale after 0.4 s
local at_stale = count()
rec.sleep(1)
assert(count() == at_stale, ("no pings while stale: %d -> %d"):format(at_stale, count()))
assert(hb.skipped >= 3)
mode = "ok"
rec.sleep(1)
assert(count() > at_stale, "pings again after recovery")
mode = "gone"
rec.sleep(0.5)
assert(#missing == 1 and missing[1] == "qingcloud/a/c/7=2", table.concat(missing, ","))
rec.log.info("PINGS healthy=%d total=%d skipped=%d", healthy, count(), hb.skipped)
hb:stop() w:stop()
end, debug.traceback)
if not ok then rec.log.error("%s", err) rec.exit(1) end
LUA
"$RECWATCH" run "$T/hb.lua" "http://127.0.0.1:$PORT/hb" "$T/got.jsonl" 2>"$T/log" || { echo "recwatch failed"; cat "$T/log"; exit 1; }
echo "ran"
grep -E "PINGS|kind=heartbeat_withheld|kind=task_missing|kind=watcher_stale" "$T/log" | head -5 | cut -c1-200
grep -q "kind=heartbeat_withheld" "$T/log" || { cat "$T/log"; exit 1; }
grep -q "kind=task_missing" "$T/log"
echo ok
