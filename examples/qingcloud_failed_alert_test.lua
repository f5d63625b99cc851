-- Proves what qingcloud_failed_alert.lua's header claims, on a virtual clock:
-- recwatch test examples/qingcloud_failed_alert_test.lua
local T = require "rec.test"

T.case("task 39 failing with 52 raises exactly one alert, naming the status", function(t)
  local p = t:start("qingcloud_failed_alert.lua", { "--for", "15" })
  t:advance(20)
  t:eq(p:exited(), 0, "the script ends by itself after --for 15")
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one alert")
  t:eq(hooks[1].task_id, 39)
  t:eq(hooks[1].status, 52)
  t:ok(hooks[1].text:find("52 PushToQingstorFailed", 1, true), "the text names the status")
  t:eq(#t:logs("ALERT delivered"), 1, "the outbox logs the delivery")
end)

T.case("a healthy channel raises nothing", function(t)
  t:scenario{
    qingcloud_tasks = {
      { app_id = "demo-app", channel = "healthy-channel", id = 40, timeline = { {0, 1}, {1, 2} } },
    },
  }
  local p = t:start("qingcloud_failed_alert.lua", { "--channels", "healthy-channel", "--for", "0" })
  t:advance(3600)
  t:eq(p:exited(), nil, "--for 0 runs until stopped")
  t:eq(#t:webhooks(), 0, "no alert")
  t:ok(#t:requests() > 3000, "it polled every second for an hour")
  p:stop()
  t:advance(5)
  t:eq(p:exited(), 0, "a graceful stop")
end)

T.case("no repeat after a crash: the alert is not raised again on restart", function(t)
  local db = t:tmpfile()
  local args = { "--for", "0" }
  local p = t:start("qingcloud_failed_alert.lua", args, { state = db })
  t:advance(20)
  t:eq(#t:webhooks(), 1, "alerted before the crash")
  p:kill()
  t:eq(p:exited(), 137)
  p = t:start("qingcloud_failed_alert.lua", args, { state = db })
  t:advance(60)
  t:eq(#t:webhooks(), 1, "still one alert after the restart")
end)

-- Status 30 RecordProcessCored is a crash whose repair outcome is still to come (issue 20,
-- item 10): 31 repairs it (no alert), 32 fails it (one alert, for 32), and with no outcome
-- for --repair-timeout (600 s) it is a failure (one alert, for 30), once.
local function crash_story()
  local function task(id, timeline)
    return { app_id = "demo-app", channel = "crash-channel", id = id, timeline = timeline }
  end
  return { qingcloud_tasks = {
    task(61, { {0, 2}, {5, 30}, {60, 31} }),             -- repaired
    task(62, { {0, 2}, {5, 30}, {60, 32} }),             -- repair failed
    task(63, { {0, 2}, {5, 30} }),                       -- no outcome, for ever
    task(64, { {0, 2}, {5, 30}, {900, 32} }),            -- 32 long after the timeout
  } }
end

T.case("30 then 31 is a repaired crash: no alert; 30 then 32: one alert, for 32", function(t)
  t:scenario(crash_story())
  local p = t:start("qingcloud_failed_alert.lua", { "--channels", "crash-channel", "--for", "0" })
  t:advance(120)
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one alert, for the failed repair only")
  t:eq(hooks[1].task_id, 62)
  t:eq(hooks[1].status, 32)
  t:eq(#t:logs("kind=task_repaired"), 1, "the repair of 61 is logged")
  t:eq(#t:logs("kind=task_crashed"), 4, "each crash is logged, as a warning, not an alert")
  p:stop()
end)

T.case("30 with no repair outcome is a failure after --repair-timeout, alerted once", function(t)
  t:scenario(crash_story())
  local p = t:start("qingcloud_failed_alert.lua", { "--channels", "crash-channel", "--for", "0" })
  t:advance(5 + 590)
  t:eq(#t:webhooks(), 1, "only 62's 32 inside the repair timeout")
  t:advance(30)
  local got = {}
  for _, h in ipairs(t:webhooks()) do got[#got + 1] = ("%d/%d"):format(h.task_id, h.status) end
  table.sort(got)
  t:eq(got, { "62/32", "63/30", "64/30" }, "63 and 64 failed by the timeout")
  for _, h in ipairs(t:webhooks()) do
    if h.status == 30 then t:ok(h.text:find("no repair outcome 600s after the crash", 1, true), h.text) end
  end
  t:advance(400)   -- 64 reaches 32 at t=900 s: the same failure, not a second alert
  t:eq(#t:webhooks(), 3, "no second alert for 64")
  p:stop()
end)

T.case("the repair timeout counts from the crash, also across a restart", function(t)
  t:scenario(crash_story())
  local db = t:tmpfile()
  local args = { "--channels", "crash-channel", "--for", "0" }
  local p = t:start("qingcloud_failed_alert.lua", args, { state = db })
  t:advance(300)
  p:kill()
  p = t:start("qingcloud_failed_alert.lua", args, { state = db })
  t:advance(330)   -- t = 630 s: 625 s after the crashes at 5 s
  local got = {}
  for _, h in ipairs(t:webhooks()) do got[#got + 1] = ("%d/%d"):format(h.task_id, h.status) end
  table.sort(got)
  t:eq(got, { "62/32", "63/30", "64/30" }, "timed out 600 s after the crash, not after the restart")
  p:stop()
end)
