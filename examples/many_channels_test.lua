-- Proves what many_channels.lua's header claims, on a virtual clock:
-- recwatch test examples/many_channels_test.lua
local T = require "rec.test"

T.case("one alert for the failed task among 22 channels; empty rooms raise nothing", function(t)
  local p = t:start("many_channels.lua", {})
  t:advance(20)
  t:eq(p:exited(), 0, "ends after --for 15")
  local hooks = t:webhooks()
  t:eq(#hooks, 1)
  t:eq(hooks[1].channel, "demo-channel")
  t:eq(hooks[1].task_id, 39)
  t:eq(hooks[1].status, 52)
  -- the summary every 5 s counts every channel
  t:ok(#t:logs("22 channels, 2 tasks") >= 2, "periodic summaries")
  -- every channel was polled
  local seen = {}
  for _, r in ipairs(t:requests()) do
    local ch = r.query and r.query:match("channel=([%w%-]+)")
    if ch then seen[ch] = true end
  end
  local n = 0
  for _ in pairs(seen) do n = n + 1 end
  t:eq(n, 22, "all channels polled")
end)

T.case("200 rooms at 5 s for ten minutes stay within QingCloud's pacing", function(t)
  local p = t:start("many_channels.lua", { "--rooms", "200", "--every", "5", "--for", "600" })
  t:advance(700)
  t:eq(p:exited(), 0)
  t:eq(#t:webhooks(), 1, "still exactly one alert")
  local per_second, worst = {}, 0
  for _, r in ipairs(t:requests()) do
    if r.provider == "qingcloud" then
      local s = math.floor(r.t)
      per_second[s] = (per_second[s] or 0) + 1
      if per_second[s] > worst then worst = per_second[s] end
    end
  end
  t:ok(worst <= 20, "at most 20 requests in any second, saw " .. worst)
end)
