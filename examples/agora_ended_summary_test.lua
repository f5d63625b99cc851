-- Proves what agora_ended_summary.lua's header claims, on a virtual clock:
-- recwatch test examples/agora_ended_summary_test.lua
local T = require "rec.test"

local function by_event(hooks)
  local out = {}
  for _, h in ipairs(hooks) do out[#out + 1] = h.sid .. ":" .. h.event end
  table.sort(out)
  return out
end

T.case("an abnormal exit alerts at once, and each ended recording gets one summary", function(t)
  local p = t:start("agora_ended_summary.lua", {})
  t:advance(60)
  t:eq(p:exited(), 0, "the script ends once every recording has ended")
  local hooks = t:webhooks()
  t:eq(by_event(hooks), { "sid-abnormal:ended", "sid-abnormal:failed", "sid-vanish:ended" })
  for _, h in ipairs(hooks) do
    if h.event == "failed" then
      t:eq(h.status, 20)
      t:ok(h.text:find("exited abnormally (status 20", 1, true), h.text)
    elseif h.sid == "sid-abnormal" then
      t:ok(h.text:find("last status 20 exited_abnormally; 1 file(s): sid-abnormal_demo-channel.m3u8", 1, true), h.text)
    end
  end
end)

T.case("a 404 is an end only once the confirmation retries agree", function(t)
  t:start("agora_ended_summary.lua", { "--recordings", "sim-resource-vanish:sid-vanish:individual" })
  t:advance(60)
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one summary")
  t:eq(hooks[1].event, "ended")
  -- the worker vanishes at 8 s; the end is declared after confirmations at +1, +2 and +3 s
  local confirms = 0
  for _, r in ipairs(t:requests()) do
    if r.provider == "agora" and r.status == 404 then confirms = confirms + 1 end
  end
  t:eq(confirms, 4, "the first 404 and three confirmations")
end)

T.case("a healthy recording raises nothing and the script gives up after --for", function(t)
  local p = t:start("agora_ended_summary.lua", { "--recordings", "sim-resource-healthy:sid-healthy:mix", "--for", "600" })
  t:advance(599)
  t:eq(p:exited(), nil, "still watching")
  t:advance(20)
  t:eq(p:exited(), 0)
  t:eq(#t:webhooks(), 0)
end)
