-- Resolves for failures that clear (issue 23, the gaps): a QingCloud crash (30) that is
-- repaired (31) resolves what its callbacks raised, after a repair timeout too.
local T = require "rec.test"

local function by_status(hooks)
  local firing, resolved = {}, {}
  for _, h in ipairs(hooks) do
    if h.status == "resolved" then resolved[#resolved + 1] = h else firing[#firing + 1] = h end
  end
  return firing, resolved
end

local function task(timeline)
  return { qingcloud_tasks = { { app_id = "rep-app", channel = "rep-channel", id = 7, timeline = timeline } } }
end

T.case("qingcloud: 30 past the repair timeout, then 31: the crash and the failure resolve", function(t)
  t:scenario(task{ {0, 2}, {20, 30}, {100, 31} })   -- repair_timeout 30 s: failed at ~50 s
  local p = t:start("alert_repaired.lua", { 150, 30 })
  t:advance(170)
  t:eq(p:exited(), 0)
  local firing, resolved = by_status(t:webhooks())
  t:eq(#firing, 2, "the crash (on_status[30]) and the repair timeout (on_failed)")
  t:eq(#resolved, 2, "both resolve at 31")
  if #firing ~= 2 or #resolved ~= 2 then return end
  local ids = {}
  for _, h in ipairs(firing) do ids[h.alert_id] = true end
  for _, h in ipairs(resolved) do
    t:ok(ids[h.alert_id], "the resolve names a firing alert's id: " .. tostring(h.alert_id))
    t:ok(h.text:find("repaired", 1, true), h.text)
  end
  t:ok(resolved[1].alert_id ~= resolved[2].alert_id, "two different alerts resolved")
  t:eq(#t:logs("kind=task_repaired"), 1)
end)

T.case("qingcloud: 30 then 31 within the repair timeout: the crash alert resolves", function(t)
  t:scenario(task{ {0, 2}, {20, 30}, {40, 31} })   -- repair_timeout 600 s: never failed
  local p = t:start("alert_repaired.lua", { 90, 600 })
  t:advance(110)
  t:eq(p:exited(), 0)
  local firing, resolved = by_status(t:webhooks())
  t:eq(#firing, 1, "the crash")
  t:eq(#resolved, 1, "its resolve")
  if #firing ~= 1 or #resolved ~= 1 then return end
  t:eq(resolved[1].alert_id, firing[1].alert_id)
  t:ok(firing[1].alert_id:match("^qingcloud/rep%-app/rep%-channel/7/30@%x+%.1$"), firing[1].alert_id)
end)

T.case("qingcloud: 30 then 32 (repair failed): nothing resolves", function(t)
  t:scenario(task{ {0, 2}, {20, 30}, {40, 32} })
  local p = t:start("alert_repaired.lua", { 90, 600 })
  t:advance(110)
  t:eq(p:exited(), 0)
  local firing, resolved = by_status(t:webhooks())
  t:eq(#firing, 2, "the crash and the failure")
  t:eq(#resolved, 0)
end)

-- Agora: an end by 404 (past the 90 s window) is confirmed by one more query another 90 s
-- later; a recording that answers 200 then was not gone.
local function agora(sid, fault_s, gone_at)
  return {
    agora_recordings = { { appid = "back-app", resourceid = "back-rid", sid = sid, status = 5, gone_at = gone_at } },
    faults = { { provider = "agora", kind = "agora_404", match = "/sid/" .. sid .. "/", after = 20, seconds = fault_s } },
  }
end

T.case("agora: ended by 404, answers 200 at the confirming query: resolved and watched again", function(t)
  t:scenario(agora("sid-back", 120))   -- 404 from 20 s to 140 s: ended at ~110 s, back by ~200 s
  local p = t:start("alert_agora_back.lua", { "sid-back", 300 })
  t:advance(320)
  t:eq(p:exited(), 0)
  local firing, resolved = by_status(t:webhooks())
  t:eq(#firing, 1, "the end")
  t:eq(#resolved, 1, "its resolve")
  if #firing == 1 and #resolved == 1 then
    t:eq(resolved[1].alert_id, firing[1].alert_id)
    t:ok(firing[1].alert_id:match("^agora/back%-app/back%-rid/sid%-back/ended@%x+%.1$"), firing[1].alert_id)
  end
  t:eq(#t:logs("kind=agora_ended_404_recovered"), 1)
  t:eq(#t:logs("wait returned at"), 1, "wait() returned at the end (the confirmation is a task of its own)")
  -- watched again after it came back: polls after the confirming query
  local last
  for _, r in ipairs(t:requests()) do if r.provider == "agora" then last = r.t end end
  t:ok(last and last > 250, ("polled again after it came back (last query at %s)"):format(tostring(last)))
end)

T.case("agora: ended by 404 and still 404 at the confirming query: ended for good, nothing resolves", function(t)
  t:scenario(agora("sid-gone", 10, 30))   -- gone for good from 30 s
  local p = t:start("alert_agora_back.lua", { "sid-gone", 300 })
  t:advance(320)
  t:eq(p:exited(), 0)
  local firing, resolved = by_status(t:webhooks())
  t:eq(#firing, 1)
  t:eq(#resolved, 0)
  t:eq(#t:logs("kind=agora_ended_404_recovered"), 0)
  t:eq(#t:logs("ended for good"), 1)
  local n = 0
  for _, r in ipairs(t:requests()) do if r.provider == "agora" and r.t > 200 then n = n + 1 end end
  t:eq(n, 1, "one confirming query, then nothing")
end)
