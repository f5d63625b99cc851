-- The restart's storm guards, on the virtual clock: the account's circuit breaker, the 406
-- concurrency limit, and a restart interrupted by the stop a reload makes.
local T = require "rec.test"
local L = dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/") or ".") .. "/restart/lib.lua")

T.case("30 of 40 sessions failing at once: the circuit opens with one alert, no storm of starts", function(t)
  local recs, specs = {}, {}
  for i = 1, 40 do
    recs[i] = { appid = "sim-agora-app", resourceid = "rid-" .. i, sid = "sid-" .. i, mode = "mix",
                timeline = i <= 30 and { {0, 4}, {1, 5}, {30, 20} } or { {0, 4}, {1, 5} } }
    specs[i] = ("rid-%d:sid-%d:ch-%d"):format(i, i, i)
  end
  -- the provider is down for starts meanwhile (no worker), for 300 s
  t:scenario{ agora = { rate_limit = 0 }, agora_recordings = recs,
              faults = { { provider = "agora", kind = "agora_502", match = "/start", after = 0, seconds = 300 } } }
  local p = t:start(L.script, { "--recordings", table.concat(specs, ","), "--for", "1500", "--probe", "60" })
  t:advance(150)
  t:ok(rec.metrics.text():find("\nrecwatch_restart_circuit_open 1\n", 1, true), "the circuit gauge is 1 while open")
  t:ok(rec.health.status():find("held by the circuit breaker", 1, true), "/status shows restarts held")
  t:advance(1360)
  t:ok(rec.metrics.text():find("\nrecwatch_restart_circuit_open 0\n", 1, true), "and 0 once closed")
  t:eq(p:exited(), 0)
  t:eq(#L.webhooks(t, "^restart/circuit@"), 1, "one circuit alert")
  t:ok(#t:logs("kind=restart_circuit_closed") >= 1, "a probe closed it once the provider came back")
  local b = L.billed(t)
  t:ok(b <= 30, "no more starts than failed sessions: " .. b)
  local attempts, during = 0, 0
  for _, r in ipairs(t:requests()) do
    if r.path:find("/start$") then
      attempts = attempts + 1
      if r.t < 300 then during = during + 1 end
    end
  end
  rec.log.info("MEASURE circuit: start requests during the outage=%d", during)
  -- before the circuit opened, and then one probe per 60 s: far from one start per session
  t:ok(during <= 10, "start requests during the outage: " .. during)
  rec.log.info("MEASURE circuit: billed=%d start_requests=%d restarted=%d", b, attempts, #L.latencies(t))
  t:ok(#L.latencies(t) >= 1, "recording again after the outage")
end)

T.case("a 406 (concurrency limit): restarts stop, with an alert", function(t)
  t:scenario{ control = { concurrency = 1 }, agora_recordings = { { appid = "sim-agora-app",
    resourceid = "sim-resource-abnormal", sid = "sid-abnormal", mode = "mix",
    timeline = { {0, 4}, {1, 5}, {12, 20} } } } }
  t:start("restart/filler.lua", {})
  local p = t:start(L.script, { "--for", "600" })
  t:advance(610)
  t:eq(p:exited(), 0)
  t:eq(#t:logs("FILLER STARTED"), 1)
  t:eq(L.billed(t), 1, "only the filler's start")
  t:eq(#L.webhooks(t, "^restart/.*concurrency@"), 1, "one 406 alert")
  t:eq(#t:logs("GAVE UP class%-1: concurrency_limit"), 1, "on_gave_up")
  local acq = 0
  for _, r in ipairs(t:requests()) do if r.path:find("/acquire$") then acq = acq + 1 end end
  t:eq(acq, 2, "the filler's acquire and one refused: no retry")
end)

T.case("a restart interrupted by a stop (what a reload does to the old script's tasks)", function(t)
  t:scenario{ agora_recordings = { { appid = "sim-agora-app", resourceid = "sim-resource-abnormal",
    sid = "sid-abnormal", mode = "mix", timeline = { {0, 1}, {1, 2}, {2, 4}, {3, 5}, {12, 20} }, gone_at = 17 } },
    faults = { { provider = "agora", kind = "hold", ms = 5000, match = "/start", times = 1 } } }
  local db = t:tmpfile()
  local p = t:start(L.script, { "--for", "300" }, { state = db })
  t:advance(21)        -- the start is held: it took effect, its answer not yet back
  p:stop()
  t:advance(10)
  t:ok(p:exited() ~= nil, "the old script ended")
  t:eq(#t:logs("RESTART FAILED"), 0, "a cancelled start is not a failed restart: the intent stays")
  p:kill()   -- frees its engine (and the state file) now
  p = t:start(L.script, { "--for", "300" }, { state = db })   -- the new script, same state
  t:advance(320)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 1, "one started task")
  t:ok(#L.webhooks(t, "unseen") + #L.latencies(t) >= 1, "the recorder is either watched or alerted as unseen")
end)
