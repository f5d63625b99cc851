-- Proves what agora_events.lua's header claims, on a virtual clock, with the simulator
-- signing and POSTing its NCS events to the script's own receiver:
-- recwatch test examples/agora_events_test.lua
local T = require "rec.test"

-- the two recordings the example's lookup knows, as in the simulator's default scenario, plus
-- the faults of a case (a scenario given to t:scenario replaces the default one)
local function two_recordings(faults)
  return {
    agora_recordings = {
      { appid = "sim-agora-app", resourceid = "sim-resource-abnormal", sid = "sid-abnormal", mode = "mix",
        fileListMode = "json", channel = "demo-channel", timeline = { {0, 1}, {1, 2}, {2, 4}, {3, 5}, {12, 20} } },
      { appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy", mode = "mix",
        fileListMode = "string", channel = "healthy-channel", timeline = { {0, 5} } },
    },
    faults = faults,
  }
end

T.case("sessions are discovered from their events; an abnormal exit is alerted at its event", function(t)
  t:start("agora_events.lua", { "--for", "250" })
  t:advance(260)
  -- the simulator's six recordings all send event 40; the two the lookup knows are polled,
  -- the other four are watched by their notifications only
  t:eq(#t:logs("kind=agora_session_discovered"), 6, "every recording found from its events")
  t:eq(#t:logs("kind=agora_session_polled"), 2, "polled once the lookup gave the resource id")
  local failed
  for _, h in ipairs(t:webhooks()) do
    if h.event == "failed" then failed = h end
  end
  t:ok(failed ~= nil, "the abnormal exit was alerted")
  if not failed then return end
  t:eq(failed.sid, "sid-abnormal")
  -- the exit is at 12 s; with every = 120 a poll would see it at 120 s at the earliest: the
  -- alert comes from the query the exit event asked for
  t:ok(#t:logs("kind=agora_event_query .*event 11") >= 1, "the exit event made a query")
  local soon = 0
  for _, r in ipairs(t:requests()) do
    if r.provider == "agora" and (r.path or ""):find("sid-abnormal", 1, true) and r.t >= 12 and r.t < 13 then
      soon = soon + 1
    end
  end
  t:ok(soon >= 1, "sid-abnormal queried within a second of its exit at 12 s (the next poll: 120 s)")
  t:ok(#t:logs("kind=agora_event_abnormal_exit") >= 1, "the abnormal exit was logged")
end)

T.case("when every event is lost, discovery alone watches nothing", function(t)
  -- the receiver listens, but the simulator's events are lost (a drop fault on every event);
  -- case 3 runs the same recordings with their events and discovers them
  t:scenario(two_recordings{ { provider = "ncs", kind = "drop", seconds = 1000 } })
  t:start("agora_events.lua", { "--for", "250", "--every", "120", "--resources",
                                "sid-abnormal=sim-resource-abnormal,sid-healthy=sim-resource-healthy" })
  t:advance(260)
  t:eq(#t:logs("kind=agora_session_discovered"), 0, "no event, no session: discovery needs them")
  t:eq(#t:webhooks(), 0, "nothing is watched, so nothing is alerted (docs: list sessions too)")
end)

T.case("a mis-signed event is refused and counted, and starts nothing", function(t)
  -- every event of sid-abnormal's recording mis-signed; the others signed as Agora signs
  t:scenario(two_recordings{ { provider = "ncs", kind = "mis_sign", match = "sid-abnormal", seconds = 1000 } })
  t:start("agora_events.lua", { "--for", "100", "--resources",
                                "sid-abnormal=sim-resource-abnormal,sid-healthy=sim-resource-healthy" })
  t:advance(110)
  t:eq(#t:logs("kind=agora_session_discovered"), 1, "only sid-healthy: sid-abnormal's events were refused")
  t:eq(#t:logs("kind=agora_session_polled"), 1)
  t:ok(#t:logs("refused since the last report: bad_signature") >= 1, "the refusals are logged")
  t:eq(#t:logs("kind=agora_event_abnormal_exit"), 0, "a forged exit never reaches a watcher")
end)
