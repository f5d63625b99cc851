-- The restart's once-only rule across kill -9 (docs/workflows.md "Bring a failed recording
-- back"): the intent and its uid are stored before the acquire; after a crash a new acquire
-- with the SAME uid, and a 7/53 is a recorder running unseen, never a second start.
-- sid-abnormal exits with 20 at 12 s, is seen at 15 s, confirmed, and the acquire goes at
-- ~20 s (settle 5), the start right after it.
local T = require "rec.test"
local L = dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/") or ".") .. "/restart/lib.lua")

-- the default story's sid-abnormal, with a fault on the control calls
local function scenario(fault)
  return { agora_recordings = { { appid = "sim-agora-app", resourceid = "sim-resource-abnormal",
    sid = "sid-abnormal", mode = "mix", timeline = { {0, 1}, {1, 2}, {2, 4}, {3, 5}, {12, 20} }, gone_at = 17 } },
    faults = { fault } }
end

local function crash_story(t, fault, kill_at, extra_args)
  t:scenario(scenario(fault))
  local db = t:tmpfile()
  local args = { "--for", "300" }
  for _, a in ipairs(extra_args or {}) do args[#args + 1] = a end
  local p = t:start(L.script, args, { state = db })
  t:advance(kill_at)
  local acquired = 0
  for _, r in ipairs(t:requests()) do if r.path:find("/acquire$") then acquired = acquired + 1 end end
  t:eq(acquired, 1, "killed after the acquire")
  p:kill()
  p = t:start(L.script, args, { state = db })
  t:advance(320)
  t:eq(p:exited(), 0)
  t:ok(L.billed(t) <= 1, "at most one started task: " .. L.billed(t))
  t:eq(#t:logs("kind=restart_resume .* %(uid 1001%)"), 1, "resumed with the same uid")
  t:eq(#t:logs("kind=restart_started .* %(uid 1002%)"), 0, "never a second uid")
end

T.case("kill -9 between the acquire and the start: one start, same uid", function(t)
  -- the start is delayed (not yet taken effect) when the process dies
  crash_story(t, { provider = "agora", kind = "delay", ms = 5000, match = "/start", times = 1 }, 21)
  t:eq(L.billed(t), 1, "the resumed start is the one billed")
  t:eq(#L.latencies(t), 1, "recording again")
  t:eq(#L.webhooks(t, "unseen"), 0, "nothing runs unseen")
  L.report(t, "kill_between")
end)

T.case("kill -9 while the start is in flight: running unseen, adopted when event 40 names its sid", function(t)
  crash_story(t, { provider = "agora", kind = "hold", ms = 5000, match = "/start", times = 1 }, 21,
              { "--adopt-event", "class-1:1001:sim-sid-1@200" })
  t:eq(L.billed(t), 1, "only the first start")
  t:eq(#L.webhooks(t, "unseen"), 1, "one 'running unseen' alert")
  t:eq(#t:logs("kind=restart_adopted_by_event"), 1, "adopted by the events dispatcher")
  t:eq(#t:logs("kind=restart_ok .* sim%-sid%-1"), 1, "the adopted recorder is watched and counted as the restart")
end)

T.case("kill -9 while the start is in flight (it took effect): 53, running unseen, adopted", function(t)
  crash_story(t, { provider = "agora", kind = "hold", ms = 5000, match = "/start", times = 1 }, 21,
              { "--adopt", "class-1:1001:sim-sid-1@200" })
  t:eq(L.billed(t), 1, "only the first start")
  local conflict = 0
  for _, r in ipairs(t:requests()) do if r.path:find("/start$") and r.status == 400 then conflict = conflict + 1 end end
  t:eq(conflict, 1, "the resumed start answered 53")
  t:eq(#L.webhooks(t, "unseen"), 1, "one 'running unseen' alert")
  t:eq(#t:logs("ADOPT true"), 1, "adopted by the notification hook")
  t:eq(#t:logs("kind=restart_ok .* sim%-sid%-1"), 1, "the adopted recorder is watched and counted as the restart")
  L.report(t, "kill_in_flight")
end)

T.case("the start's answer lost (hold_drop), killed before its sid is stored: unseen, one start", function(t)
  crash_story(t, { provider = "agora", kind = "hold_drop", ms = 2000, match = "/start", times = 1 }, 21)
  t:eq(L.billed(t), 1, "only the first start")
  t:eq(#L.webhooks(t, "unseen"), 1, "one 'running unseen' alert")
  L.report(t, "kill_answer_lost")
end)

T.case("the start's answer lost without a crash: the retried start gets 7: unseen, not another", function(t)
  t:scenario(scenario{ provider = "agora", kind = "hold_drop", ms = 1000, match = "/start", times = 1 })
  local p = t:start(L.script, { "--for", "300" })
  t:advance(310)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 1)
  t:eq(#L.webhooks(t, "unseen"), 1, "one 'running unseen' alert")
end)

T.case("kill -9 after the new sid was stored: the new sid is watched, nothing started again", function(t)
  local db = t:tmpfile()
  local p = t:start(L.script, { "--for", "300" }, { state = db })
  t:advance(23)   -- started at ~20 s, recording at ~25 s
  t:eq(L.billed(t), 1)
  p:kill()
  p = t:start(L.script, { "--for", "300" }, { state = db })
  t:advance(320)
  t:eq(p:exited(), 0)
  t:eq(L.billed(t), 1, "one started task")
  t:eq(#t:logs("kind=restart_ok .* sim%-sid%-1"), 1, "the stored sid is adopted once it records")
end)
