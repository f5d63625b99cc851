-- Proves what agora_start_guard.lua's header claims, on a virtual clock:
-- recwatch test examples/agora_start_guard_test.lua
local T = require "rec.test"

T.case("a recording stuck in 'starting' is reported once after --start-timeout", function(t)
  local p = t:start("agora_start_guard.lua", {})   -- production default: 90 s
  t:advance(89)
  t:eq(#t:webhooks(), 0, "nothing before the timeout")
  t:advance(30)
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one alert")
  t:eq(hooks[1].sid, "sid-stuck")
  t:ok(hooks[1].text:find("is not recording 90s after its start", 1, true), hooks[1].text)
  t:eq(#t:logs("recording sid%-healthy is recording"), 1, "the healthy one is seen starting")
  t:eq(p:exited(), 0, "the script ends once every recording is recording or alerted about")
end)

T.case("nothing on a recording that starts", function(t)
  local p = t:start("agora_start_guard.lua", { "--recordings", "sim-resource-healthy:sid-healthy:mix" })
  t:advance(300)
  t:eq(p:exited(), 0)
  t:eq(#t:webhooks(), 0)
end)

T.case("no repeat after a crash: a restarted guard with the same state does not re-alert", function(t)
  local db = t:tmpfile()
  local args = { "--recordings", "sim-resource-stuck:sid-stuck:mix", "--start-timeout", "30" }
  local p = t:start("agora_start_guard.lua", args, { state = db })
  t:advance(45)
  t:eq(#t:webhooks(), 1, "alerted once")
  p:kill()
  p = t:start("agora_start_guard.lua", args, { state = db })
  t:advance(120)
  t:eq(#t:webhooks(), 1, "no second alert")
end)
