-- Proves what agora_restart.lua's header claims, on a virtual clock:
-- recwatch test examples/agora_restart_test.lua
local T = require "rec.test"

T.case("sid-abnormal exits with 20 and records again as sim-sid-1, once", function(t)
  local db = t:tmpfile()
  local before = rec.metrics.text()
  local p = t:start("agora_restart.lua", { "--for", "200" }, { state = db })
  t:advance(21)
  -- /status shows the restart in flight
  t:ok(rec.health.status():find('"restart/sim-agora-app/class-1"', 1, true), "the restart in /status")
  t:advance(189)
  t:eq(p:exited(), 0)
  t:eq(#t:logs("RESTARTED sid%-abnormal as sim%-sid%-1 uid 1001"), 1, "restarted once")
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one alert: restarted")
  t:eq(hooks[1].sid, "sim-sid-1")
  -- no storage secret in any log line or alert
  local all = table.concat(t:logs(), "\n") .. rec.json.encode(hooks)
  t:ok(not all:find("sim-secret-key", 1, true), "the secret key never appears")
  local bytes = ""
  for _, path in ipairs{ db, db .. "-wal" } do   -- the state file and its write-ahead log
    local f = io.open(path, "rb")
    if f then bytes = bytes .. f:read("a") f:close() end
  end
  t:ok(not bytes:find("sim-secret-key", 1, true), "nor in the state file")
  t:ok(bytes:find("rec/restart/sim-agora-app/class-1", 1, true), "the session is in the state file")
  -- the metrics: one restart started and ok, one task started for the App ID
  local function val(text, series)
    return tonumber(text:match("\n" .. series:gsub("[%[%]%(%)%.%-%+%*%?%^%$]", "%%%0") .. " ([%d.e+]+)")) or 0
  end
  local after = rec.metrics.text()
  for _, series in ipairs{ 'recwatch_restarts_total{result="started"}', 'recwatch_restarts_total{result="ok"}',
                           'recwatch_restart_started_tasks_total{appid="sim-agora-app"}' } do
    t:eq(val(after, series) - val(before, series), 1, series)
  end
  t:eq(val(after, "recwatch_restart_circuit_open"), 0, "the circuit is closed")
end)

T.case("with Agora's notifications: recording again within 10 s of the exit event, not of a poll", function(t)
  -- a poll every 120 s would see the 20 (at 12 s) only at 120 s; the exit event comes at 12 s
  t:start("agora_restart.lua", { "--for", "100", "--every", "120", "--events", "127.0.0.1:0" })
  t:advance(110)
  t:eq(#t:logs("kind=agora_event_query .*event 11"), 1, "the exit event made the query")
  local line = t:logs("RESTARTED sid%-abnormal as sim%-sid%-1")[1] or ""
  local after = tonumber(line:match("after ([%d.]+)s"))
  t:ok(after and after <= 10, "recording again within 10 s of the failure (seen at its event): " .. line)
  local started
  for _, r in ipairs(t:requests()) do
    if r.path:find("/start$") and not started then started = r.t end
  end
  t:ok(started and started < 20, "the restart's start went out at " .. tostring(started) .. " s, long before the 120 s poll")
end)
