-- Shared by the restart_*_test.lua stories: the example under test, billed starts counted
-- from the simulator's request log, the restart latency from the log.
local L = {}
L.script = "../../examples/agora_restart.lua"

-- accepted starts: 200 answers to a start call (7/53 are 201/400, faults are not 200); a
-- start held by hold_drop is billed but answers nothing: counted from its fault
function L.billed(t)
  local n = 0
  for _, r in ipairs(t:requests()) do
    if r.path:find("/start$") and (r.status == 200 or r.fault == "hold_drop") then n = n + 1 end
  end
  return n
end

function L.latencies(t)
  local out = {}
  for _, l in ipairs(t:logs("RESTARTED")) do out[#out + 1] = tonumber(l:match("after ([%d.]+)s")) end
  return out
end

function L.webhooks(t, pattern)
  local out = {}
  for _, h in ipairs(t:webhooks()) do
    if (h.alert_id or ""):find(pattern) then out[#out + 1] = h end
  end
  return out
end

function L.report(t, story)
  local lat = L.latencies(t)
  rec.log.info("MEASURE %s: billed=%d restarts=%d latency=%s", story, L.billed(t), #lat,
               table.concat((function() local s = {} for i, v in ipairs(lat) do s[i] = ("%.1f"):format(v) end return s end)(), ","))
end

return L
