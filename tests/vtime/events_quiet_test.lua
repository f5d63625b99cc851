-- The figure in docs/performance.md ("Events and polling: queries saved"), issue 22: how many
-- Agora queries 1,000 quiet recordings cost in one virtual hour, without events and with the
-- progress event (33) every minute each, which stretches their polls (rec.watch._events).
local T = require "rec.test"
local SCRIPT = "events/watch_events.lua"

local function times(t, provider, from, to)
  local n = 0
  for _, r in ipairs(t:requests()) do
    if r.provider == provider and r.t >= from and r.t < to then n = n + 1 end
  end
  return n
end

-- every = 120, max_every = 600; one virtual hour (1,200 s to 4,800 s) after the stretch settled
local function quiet_hour(t, heartbeat)
  local recs, specs = {}, {}
  for i = 1, 1000 do
    recs[i] = { appid = "sim-agora-app", resourceid = "rq" .. i, sid = "sq" .. i, status = 5 }
    specs[i] = "rq" .. i .. ":sq" .. i
  end
  t:scenario{ agora_recordings = recs }
  t:start(SCRIPT, { "--recordings", table.concat(specs, ","), "--heartbeat", heartbeat, "--for", "4800" })
  t:advance(4805)   -- stopped at 4800 s: the watchers leave /status before the next case
  return times(t, "agora", 1200, 4800)
end

T.case("1,000 quiet recordings: queries per hour without events", function(t)
  local n = quiet_hour(t, "0")
  print(("# queries in one hour, 1,000 quiet recordings, no events: %d"):format(n))
  t:ok(n >= 29000 and n <= 31000, tostring(n))
end)

T.case("1,000 quiet recordings: queries per hour with events flowing", function(t)
  local n = quiet_hour(t, "60")
  print(("# queries in one hour, 1,000 quiet recordings, event 33 every minute: %d"):format(n))
  t:ok(n >= 5500 and n <= 7000, tostring(n))
end)

