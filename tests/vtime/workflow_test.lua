-- The workflow stories that used to wait real seconds in tests/sh (kill -9 mid-delivery and
-- restart; the webhook down, then back; many_channels over two pages; the Agora examples), on
-- a virtual clock: the same claims, in milliseconds, with no timing left to chance. The
-- examples are the scripts under test. (tests/sh/workflow_kill_restart.sh keeps the real
-- kill -9 of a process; workflow_qingcloud_alert.sh the alert id in a real receiver's headers.)
local T = require "rec.test"
local EX = "../../examples/qingcloud_failed_alert.lua"

local function staggered(faults)  -- tests/scenarios/qc_staggered.lua, plus webhook faults
  return {
    qingcloud_tasks = {
      { app_id = "demo-app", channel = "demo-channel", id = 39, timeline = { {0, 1}, {1, 2}, {2, 52} } },
      { app_id = "demo-app", channel = "demo-channel", id = 41, timeline = { {0, 1}, {1, 2}, {7, 32} } },
      { app_id = "demo-app", channel = "demo-channel", id = 42, timeline = { {0, 1}, {1, 2}, {11, 53} } },
      { app_id = "demo-app", channel = "healthy-channel", id = 40, timeline = { {0, 2} } },
    },
    faults = faults,
  }
end

local function by_key(hooks)  -- "task/status" -> { ids = set, n = count }
  local out = {}
  for _, h in ipairs(hooks) do
    local k = h.task_id .. "/" .. h.status
    out[k] = out[k] or { ids = {}, n = 0, nids = 0 }
    if not out[k].ids[h.alert_id] then out[k].nids = out[k].nids + 1 end
    out[k].ids[h.alert_id] = true
    out[k].n = out[k].n + 1
  end
  return out
end

T.case("kill -9 mid-delivery, restart on the same state: none lost, none re-raised", function(t)
  -- every delivery is held 1.5 s, so the kill lands while 39's alert is in flight
  t:scenario(staggered{ { provider = "webhook", kind = "delay", ms = 1500 } })
  local db = t:tmpfile("state.db")
  local args = { "--every", "0.3", "--for", "0" }
  local p = t:start(EX, args, { state = db })
  t:advance(2.5)
  t:eq(#t:logs("ALERT delivered"), 0, "killed before the delivery was acknowledged")
  p:kill()
  t:advance(6)                                   -- down while 41 fails (7 s)
  p = t:start(EX, args, { state = db })
  t:advance(10)                                  -- 42 fails at 11 s, after the restart
  local got = by_key(t:webhooks())
  t:eq(got["39/52"] and got["39/52"].n, 2, "39 sent, killed before the reply, resent (at least once)")
  t:eq(got["41/32"] and got["41/32"].n, 1)
  t:eq(got["42/53"] and got["42/53"].n, 1)
  local keys = 0
  for k, v in pairs(got) do
    keys = keys + 1
    t:eq(v.nids, 1, k .. " keeps one alert id")
  end
  t:eq(keys, 3, "no other alert")
  for _, h in ipairs(t:webhooks()) do
    if h.task_id == 41 then t:ok(h.text:find("was Recording", 1, true), "41's old status came from the state file") end
  end
  t:eq(#t:logs("ALERT delivered"), 3)
end)

T.case("the webhook is down, then back: every alert arrives once, after retries with backoff", function(t)
  -- the first four deliveries fail with a 500
  t:scenario(staggered{ { provider = "webhook", kind = "500_html", nth = { 1, 2, 3, 4 } } })
  local p = t:start(EX, { "--every", "0.3", "--for", "30", "--retry-base", "0.5" })
  t:advance(40)
  t:eq(p:exited(), 0)
  t:ok(#t:logs("delivery of .* failed") >= 4, "failed attempts are logged")
  local ok = {}
  for _, r in ipairs(t:requests()) do
    if r.provider == "webhook" then ok[#ok + 1] = r.status end
  end
  t:eq(ok, { 500, 500, 500, 500, 200, 200, 200 }, "four failures, then one delivery per alert")
  local got = by_key(t:webhooks())
  t:eq(got["39/52"].n + got["41/32"].n + got["42/53"].n, 3)
  t:eq(#t:logs("ALERT delivered"), 3)
end)

T.case("many_channels over 12 channels, one with 150 tasks on two pages: the three failures alert", function(t)
  t:scenario("../scenarios/qc_many_channels.lua")
  local ch = {}
  for i = 1, 12 do ch[i] = "ch-" .. i end
  -- production-like timing: every 30 s for ten minutes
  local p = t:start("../../examples/many_channels.lua",
                    { "--channels", table.concat(ch, ","), "--rooms", "0", "--every", "30", "--for", "600" })
  t:advance(620)
  t:eq(p:exited(), 0)
  t:ok(#t:logs("12 channels, 174 tasks") > 0, "every task of every page counted")
  local got = {}
  for _, h in ipairs(t:webhooks()) do got[#got + 1] = ("%s/%d/%d"):format(h.channel, h.task_id, h.status) end
  table.sort(got)
  t:eq(got, { "ch-12/5150/32", "ch-3/1003/52", "ch-9/1009/51" }, "including the one on the second page")
end)

T.case("the Agora examples on a fast story: stuck start, abnormal exit, ended summaries", function(t)
  -- tests/scenarios/agora_fast.lua: 20 at 2 s and gone at 3 s, vanish at 2 s, stuck at 2
  t:scenario("../scenarios/agora_fast.lua")
  local guard = t:start("../../examples/agora_start_guard.lua",
    { "--recordings", "sim-resource-healthy:sid-healthy:mix,sim-resource-stuck:sid-stuck:mix",
      "--first-after", "0.5", "--start-every", "0.5", "--start-timeout", "3", "--confirm", "0.5", "--ha-window", "1.5",
      "--for", "20" })
  local summary = t:start("../../examples/agora_ended_summary.lua",
    { "--recordings", "sim-resource-abnormal:sid-abnormal:mix,sim-resource-vanish:sid-vanish:individual,sim-resource-healthy:sid-healthy:mix",
      "--first-after", "0.3", "--every", "0.5", "--confirm", "0.5", "--ha-window", "1.5", "--for", "8" })
  t:advance(30)
  t:eq(guard:exited(), 0)
  t:eq(summary:exited(), 0)
  t:eq(#t:logs("sid%-healthy is recording"), 1)
  local g, s, ids = {}, {}, {}
  for _, h in ipairs(t:webhooks()) do
    ids[h.alert_id] = (ids[h.alert_id] or 0) + 1
    t:eq(ids[h.alert_id], 1, "one delivery per alert id")
    if h.reason then g[#g + 1] = ("%s/%s/%s"):format(h.sid, h.status, h.reason)
    else s[#s + 1] = ("%s/%s/%s"):format(h.sid, h.event, h.status) end
    if h.event == "ended" and h.sid == "sid-abnormal" then
      t:eq(#h.files, 2)
      t:ok(h.text:find("2 file(s)", 1, true), h.text)
    end
    if h.reason then t:ok(h.text:find("not recording 3s", 1, true), h.text) end
  end
  table.sort(s)
  t:eq(g, { "sid-stuck/2/timeout" }, "the guard alerts only for the stuck recording")
  t:eq(s, { "sid-abnormal/ended/20", "sid-abnormal/failed/20", "sid-vanish/ended/5" })
end)
