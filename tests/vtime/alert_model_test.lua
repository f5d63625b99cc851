-- The alert model on the virtual clock: a silent watcher's alert belongs to its episode (the
-- resolve carries the same id and labels, the next episode gets a new id), and a replayed
-- old firing after a resolve never reopens the alert; a recording reported as not started
-- that starts after all resolves that alert.
local T = require "rec.test"

T.case("two silent episodes: each alerts once and resolves under its own id", function(t)
  t:scenario{
    qingcloud_tasks = { { app_id = "demo-app", channel = "demo-channel", id = 39, timeline = { {0, 2} } } },
    faults = {   -- two outages of the QingCloud API: [20, 120) and [300, 400)
      { provider = "qingcloud", kind = "500_html", after = 20, seconds = 100 },
      { provider = "qingcloud", kind = "500_html", after = 300, seconds = 100 },
    },
  }
  local p = t:start("alert_episode.lua", { 600 })
  t:advance(700)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  local seq = {}
  for _, h in ipairs(hooks) do seq[#seq + 1] = (h.status == "resolved" and "resolved" or "silent") end
  t:eq(seq, { "silent", "resolved", "silent", "resolved" })
  if #hooks ~= 4 then return end
  t:eq(hooks[1].alert_id, hooks[2].alert_id, "the resolve ends the first episode's alert")
  t:eq(hooks[3].alert_id, hooks[4].alert_id, "the resolve ends the second episode's alert")
  t:ok(hooks[1].alert_id ~= hooks[3].alert_id, "a new episode alerts under a new id")
  t:ok(hooks[1].alert_id:match("^watcher/qingcloud/demo%-app/demo%-channel/silent@%d+$"), hooks[1].alert_id)
  t:eq(hooks[1].labels, nil, "a plain webhook body stays as it was: no labels")
end)

T.case("a replayed old firing after the resolve does not reopen the alert", function(t)
  local db = t:tmpfile("state.db")
  local p = t:start("alert_replay.lua", { "fire-resolve" }, { state = db })
  t:advance(120)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  t:eq(#hooks, 2, "firing and resolved")
  t:eq(hooks[1].alert_id, "disk-full")
  t:eq(hooks[2].alert_id, "disk-full")
  t:eq(hooks[2].status, "resolved")
  p:kill()   -- its engine lets go of the state file
  t:advance(1)
  local r = t:start("alert_replay.lua", { "replay" }, { state = db })
  t:advance(120)
  t:eq(r:exited(), 0)
  t:eq(#t:webhooks(), 2, "the replayed firing is not sent")
  t:eq(#t:logs("alert disk%-full is resolved already"), 1)
end)

T.case("a recording reported as not started, then recording: the alert resolves", function(t)
  t:scenario{
    agora_recordings = {   -- idle (1) until 40 s, recording (5) from then on: past start_timeout = 20
      { appid = "late-app", resourceid = "late-rid", sid = "late-sid", timeline = { {0, 1}, {40, 5} } },
    },
  }
  local p = t:start("alert_late_start.lua", { 90 })
  t:advance(120)
  t:eq(p:exited(), 0)
  local hooks = t:webhooks()
  t:eq(#hooks, 2, "the not-started alert and its resolve")
  if #hooks ~= 2 then return end
  t:eq(hooks[1].status, nil)
  t:eq(hooks[2].status, "resolved")
  t:eq(hooks[1].alert_id, hooks[2].alert_id, "the resolve carries the alert's id")
  t:ok(hooks[1].alert_id:match("^agora/late%-app/late%-rid/late%-sid/start_failed@%x+%.1$"), hooks[1].alert_id)
end)
