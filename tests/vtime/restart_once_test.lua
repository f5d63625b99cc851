-- The restart policy of watch.agora (examples/agora_restart.lua), on the virtual clock:
-- what is restarted, once, and what is not. Billed starts counted from the simulator's log.
local T = require "rec.test"
local L = dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/") or ".") .. "/restart/lib.lua")

local function rec5(rid, sid, extra)
  local r = { appid = "sim-agora-app", resourceid = rid, sid = sid, mode = "mix", channel = "c", status = 5 }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

T.case("status 20, confirmed by one more query: restarted once, under a new uid", function(t)
  local p = t:start(L.script, { "--for", "300" })
  t:advance(310)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 1, "one billed start")
  t:eq(#t:logs("kind=restart_started .* sim%-sid%-1 %(uid 1001%)"), 1, "the first uid of the pool")
  t:eq(#L.latencies(t), 1, "on_restarted once")
  t:ok(L.latencies(t)[1] <= 10, "recording again within 10 s of the failure seen: " .. tostring(L.latencies(t)[1]))
  -- one query confirms the 20 before the start: the 20 was seen at least twice
  local q20 = 0
  for _, r in ipairs(t:requests()) do if r.path:find("/sid/sid%-abnormal/") then q20 = q20 + 1 end end
  t:ok(q20 >= 2, "confirmed by another query")
  L.report(t, "status20")
end)

T.case("a 404 for 60 s (a failover inside the HA window): not restarted", function(t)
  t:scenario{ agora_recordings = { rec5("rid-ha", "sid-ha") },
    faults = { { provider = "agora", kind = "agora_404", match = "/sid/sid-ha/", after = 20, seconds = 60 } } }
  local p = t:start(L.script, { "--recordings", "rid-ha:sid-ha:class-1", "--for", "400" })
  t:advance(410)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 0, "nothing started")
  t:eq(#t:logs("kind=restart_needed"), 0, "no restart decided")
  L.report(t, "ha404_60s")
end)

T.case("a 404 past the HA window (gone for good): restarted once", function(t)
  t:scenario{ agora_recordings = { rec5("rid-v", "sid-v") },
    faults = { { provider = "agora", kind = "agora_404", match = "/sid/sid-v/", after = 20, seconds = 5000 } } }
  local p = t:start(L.script, { "--recordings", "rid-v:sid-v:class-1", "--for", "600" })
  t:advance(610)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 1, "one billed start")
  t:eq(#L.latencies(t), 1, "restarted once")
  -- the first 404 at 25 s (the poll after 20): recording again within the window + 10 s
  t:ok((L.latencies(t)[1] or 99) <= 10, "recording again within 10 s of the end by 404: " .. tostring(L.latencies(t)[1]))
  local ok_line = t:logs("kind=restart_ok")[1] or ""
  t:ok(ok_line ~= "", "restart_ok logged")
  L.report(t, "gone404")
end)

T.case("a 404 for 120 s: restarted once, then the original answers: the restarted one is stopped", function(t)
  t:scenario{ agora_recordings = { rec5("rid-h", "sid-h") },
    faults = { { provider = "agora", kind = "agora_404", match = "/sid/sid-h/", after = 20, seconds = 120 } } }
  local p = t:start(L.script, { "--recordings", "rid-h:sid-h:class-1", "--for", "600" })
  t:advance(610)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 1, "one billed start (the restart)")
  local stops = 0
  for _, r in ipairs(t:requests()) do
    if r.path:find("/sid/sim%-sid%-1/mode/mix/stop$") and r.status == 200 then stops = stops + 1 end
  end
  t:eq(stops, 1, "the restarted recorder stopped")
  t:eq(#L.webhooks(t, "^restart/.*/two@"), 1, "one 'two recorders' alert")
  t:eq(#t:logs("kind=restart_needed"), 1, "restarted once")
  L.report(t, "two_recorders")
end)

T.case("a start that never records: a new uid each time, the stuck one stopped, until the budget", function(t)
  t:scenario{ agora_recordings = { rec5("rid-s", "sid-s", { status = 2 }) },
    control = { channels = { { channel = "class-1", timeline = { {0, 1}, {1, 2} } } } } }
  local p = t:start(L.script, { "--recordings", "rid-s:sid-s:class-1", "--for", "1500" })
  t:advance(1510)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 3, "the budget: 3 starts")
  local uids = {}
  for _, l in ipairs(t:logs("kind=restart_started")) do uids[#uids + 1] = l:match("%(uid (%d+)%)") end
  t:eq(uids, { "1001", "1002", "1001" }, "the pool alternates")
  local stops = 0
  for _, r in ipairs(t:requests()) do if r.path:find("/stop$") and r.status == 200 then stops = stops + 1 end end
  t:eq(stops, 3, "each stuck restart stopped before the next")
  t:eq(#t:logs("GAVE UP class%-1: budget"), 1, "on_gave_up once")
  L.report(t, "start_never_5")
end)

T.case("a recording that ends normally (8, then 404) is not restarted", function(t)
  t:scenario{ agora_recordings = { { appid = "sim-agora-app", resourceid = "rid-n", sid = "sid-n", mode = "mix",
    timeline = { {0, 4}, {1, 5}, {30, 8} }, linger = 60 } } }
  local p = t:start(L.script, { "--recordings", "rid-n:sid-n:class-1", "--for", "400" })
  t:advance(410)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 0)
  t:eq(#t:logs("kind=restart_needed"), 0)
end)

T.case("bad restart options are refused with a message naming the option", function(t)
  local watch = require "rec.watch"
  local base = { appid = "a", resourceid = "r", sid = "s" }
  local function with(r) local o = {} for k, v in pairs(base) do o[k] = v end o.restart = r return o end
  local cr = { storageConfig = {} }
  t:fails(function() watch.agora(with(5)) end, "'restart' must be a table")
  t:fails(function() watch.agora(with{ uids = { "1", "2" }, client_request = cr }) end, "restart.cname")
  t:fails(function() watch.agora(with{ cname = "c", uids = { "1" }, client_request = cr }) end, "at least two")
  t:fails(function() watch.agora(with{ cname = "c", uids = { "1", "0" }, client_request = cr }) end, "uids%[2%]")
  t:fails(function() watch.agora(with{ cname = "c", uids = { "1", 2 }, client_request = cr }) end, "uids%[2%]")
  t:fails(function() watch.agora(with{ cname = "c", uids = { "1", "2" } }) end, "client_request")
  t:fails(function() watch.agora(with{ cname = "c", uids = { "1", "2" }, client_request = cr, budgt = 3 }) end, "budget")
  t:fails(function() watch.agora(with{ cname = "c", uids = { "1", "2" }, client_request = cr,
                                       circuit = { share = 2 } }) end, "share")
  t:fails(function() watch.agora(with{ cname = "c", uids = { "1", "2" }, client_request = cr,
                                       on_restarted = "x" }) end, "on_restarted")
end)
