-- Grouping, resolve messages and silences for the chat senders (rec._group, rec._silence),
-- on the storm of issue 23: the simulator's QingCloud side answers 500 for a minute while 20
-- watchers poll it. Without grouping that is 20 "silent" and 20 "polling again" messages;
-- with it, one of each. The script is tests/vtime/alerts/storm.lua.
local T = require "rec.test"
local STORM = "alerts/storm.lua"

-- QingCloud down from 30 s to 90 s: every watcher (stale_after 20 s) goes silent, then back.
local function outage(extra)
  local sc = { faults = { { provider = "qingcloud", kind = "500_html", after = 30, seconds = 60 } } }
  for k, v in pairs(extra or {}) do sc[k] = v end
  return sc
end

local function texts(hooks, pat)
  local out = {}
  for _, h in ipairs(hooks) do
    if (h.text or ""):find(pat) then out[#out + 1] = h end
  end
  return out
end

T.case("the storm with grouping off (group = false): one message per watcher each way", function(t)
  t:scenario(outage())
  local p = t:start(STORM, { "--for", "200", "--no-group" })
  t:advance(220)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  t:eq(#texts(hooks, "is silent"), 20, "20 silent messages")
  t:eq(#texts(hooks, "polling again"), 20, "20 polling-again messages")
  t:eq(#hooks, 40)
end)

T.case("the storm grouped: one 'silent' message and one 'polling again' message", function(t)
  t:scenario(outage())
  local p = t:start(STORM, { "--for", "200", "--group", "--wait", "30", "--interval", "60" })
  t:advance(220)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  t:eq(#hooks, 2, "two messages in all")
  t:ok(hooks[1].text:find("^20 watchers silent: ") ~= nil, hooks[1].text)
  t:ok(hooks[1].text:find("and 15 more", 1, true) ~= nil, "five named, a count for the rest: " .. hooks[1].text)
  t:eq(hooks[1].count, 20)
  t:eq(#hooks[1].alerts, 20, "every alert id listed")
  t:eq(hooks[1].status, "firing")
  t:ok(hooks[2].text:find("^20 watchers polling again: ") ~= nil, hooks[2].text)
  t:eq(hooks[2].status, "resolved")
  -- the first alert was not held longer than group_wait (30 s)
  local first_q, sent
  for _, l in ipairs(t:logs()) do
    if not first_q and l:find("is silent", 1, true) and l:find("queued", 1, true) then first_q = l end
  end
  t:ok(first_q ~= nil, "the silent alerts were queued")
  local reqs = {}
  for _, r in ipairs(t:requests()) do if r.provider == "webhook" then reqs[#reqs + 1] = r end end
  t:eq(#reqs, 2)
  sent = reqs[1].t
  -- the group waits 30 s from its first alert, less at most one delivery pass (0.5 s)
  local first_alert_at = tonumber(t:logs("stale at ")[1]:match("stale at ([%d.]+)"))
  rec.log.info("first alert at %.2f s, the group message at %.2f s", first_alert_at, sent)
  t:ok(sent >= first_alert_at + 29.5 and sent <= first_alert_at + 30,
       ("first alert at %.2f s, the group message at %.2f s"):format(first_alert_at, sent))
end)

T.case("a crash inside group_wait neither loses nor repeats the group", function(t)
  t:scenario(outage())
  local db = t:tmpfile("state.db")
  local args = { "--for", "200", "--group", "--wait", "40", "--interval", "60" }
  local p = t:start(STORM, args, { state = db })
  t:advance(70)          -- stale at ~50 s: the group waits until ~90 s
  t:eq(#t:webhooks(), 0, "nothing sent inside group_wait")
  t:ok(#t:logs("is silent") >= 20, "the silent alerts were queued")
  p:kill()
  t:advance(5)
  p = t:start(STORM, args, { state = db })
  t:advance(200)
  local hooks = t:webhooks()
  local silent = texts(hooks, "watchers silent")
  t:eq(#silent, 1, "the group was sent once, after the restart")
  t:eq(silent[1].count, 20, "with all 20 members")
  t:eq(#texts(hooks, "is silent"), 0, "no member sent on its own")
end)

T.case("a silence holds through its window; the alert comes after it while the failure persists", function(t)
  -- room-7 silenced for 60 s from the start; QingCloud down from 30 s for 60 s (stale at 50 s)
  t:scenario(outage())
  local p = t:start(STORM, { "--rooms", "3", "--for", "120", "--silence-for", "80",
                             "--silence-match", "watcher=~.*/room-2", "--report-at", "70",
                             "--no-group" })   -- per-watcher messages: the silence is the subject
  t:advance(140)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  -- room-1 and room-3 alert at once; room-2 is held until 80 s, then sent (still silent then)
  local at = {}
  for _, r in ipairs(t:requests()) do if r.provider == "webhook" then at[#at + 1] = r.t end end
  local silent = texts(hooks, "is silent")
  t:eq(#silent, 3, "every watcher's silent alert arrives once")
  t:ok(silent[3].text:find("qc/room-2", 1, true) ~= nil, "room-2's comes last: " .. silent[3].text)
  t:ok(at[3] >= 80, ("room-2's alert after the silence ended: %.1f s"):format(at[3] or -1))
  t:ok(#t:logs("silenced by s%-") >= 1, "the silenced alert is recorded in the log")
  -- counted, and shown in /status while held; nothing held once the silence is over
  local reports = t:logs("report status")
  t:eq(#reports, 2)
  t:ok(reports[1]:find("silences_active=1 held=1", 1, true), reports[1])
  t:ok(reports[2]:find("silences_active=0 held=0", 1, true), reports[2])
  -- (the registry is the process's: the count includes earlier cases of this file, none of
  -- which silences anything)
  local silenced = t:logs('report metric recwatch_alert_?r?e?s?u?l?t?s_total{.*"silenced"}')
  t:ok(#silenced >= 1 and tonumber(silenced[#silenced]:match(" (%d+)$")) >= 1,
       "the silenced alert is counted: " .. (silenced[#silenced] or "none"))
end)

T.case("a silence that outlasts the failure: nothing is sent, neither firing nor resolve", function(t)
  t:scenario(outage())
  local p = t:start(STORM, { "--rooms", "3", "--for", "200", "--silence-for", "150",
                             "--silence-match", "watcher=~.*/room-2", "--no-group" })
  t:advance(220)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  for _, h in ipairs(hooks) do
    t:ok(not h.text:find("qc/room-2", 1, true), "room-2 was silenced all along: " .. h.text)
  end
  t:eq(#texts(hooks, "is silent"), 2)
  t:eq(#texts(hooks, "polling again"), 2)
end)

T.case("killed while the group message is in flight: sent again, with the same id (at least once)", function(t)
  -- every delivery is held 3 s, so the kill lands between the send and its record
  local sc = outage()
  sc.faults[#sc.faults + 1] = { provider = "webhook", kind = "delay", ms = 3000 }
  t:scenario(sc)
  local db = t:tmpfile("state.db")
  local args = { "--for", "200", "--group", "--wait", "30", "--interval", "60" }
  local p = t:start(STORM, args, { state = db })
  t:advance(76)          -- first alert ~45 s: the group message leaves at ~75 s, held 3 s
  p:kill()
  t:eq(#t:logs("ALERT delivered"), 0, "killed before the receiver's answer")
  p = t:start(STORM, args, { state = db })
  t:advance(200)
  local silent = texts(t:webhooks(), "watchers silent")
  t:eq(#silent, 2, "the message was sent again after the restart")
  t:eq(silent[1].alert_id, silent[2].alert_id, "with the same id, so a receiver can drop the repeat")
  t:eq(silent[2].count, 20)
  t:eq(#texts(t:webhooks(), "is silent"), 0, "no member sent on its own")
end)

T.case("the storm with the default settings: the built-in alerts are grouped, one message each way", function(t)
  t:scenario(outage())
  local p = t:start(STORM, { "--for", "200" })
  t:advance(220)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  t:eq(#hooks, 2, "two messages in all (20 + 20 before the default)")
  if #hooks ~= 2 then return end
  t:ok(hooks[1].text:find("^20 watchers silent: ") ~= nil, hooks[1].text)
  t:eq(hooks[1].count, 20)
  t:ok(hooks[2].text:find("^20 watchers polling again: ") ~= nil, hooks[2].text)
  t:eq(hooks[2].status, "resolved")
  -- the first message within group_wait (30 s) of the first alert
  local first_alert_at = tonumber(t:logs("stale at ")[1]:match("stale at ([%d.]+)"))
  local reqs = {}
  for _, r in ipairs(t:requests()) do if r.provider == "webhook" then reqs[#reqs + 1] = r end end
  t:ok(reqs[1].t - first_alert_at <= 30.5, ("sent %.2f s after the first alert"):format(reqs[1].t - first_alert_at))
end)
