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
