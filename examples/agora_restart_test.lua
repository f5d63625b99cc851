-- Proves what agora_restart.lua's header claims, on a virtual clock:
-- recwatch test examples/agora_restart_test.lua
local T = require "rec.test"

T.case("sid-abnormal exits with 20 and records again as sim-sid-1, once", function(t)
  local p = t:start("agora_restart.lua", { "--for", "200" })
  t:advance(210)
  t:eq(p:exited(), 0)
  t:eq(#t:logs("RESTARTED sid%-abnormal as sim%-sid%-1 uid 1001"), 1, "restarted once")
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one alert: restarted")
  t:eq(hooks[1].sid, "sim-sid-1")
  -- no storage secret in any log line or alert
  local all = table.concat(t:logs(), "\n") .. rec.json.encode(hooks)
  t:ok(not all:find("sim-secret-key", 1, true), "the secret key never appears")
end)
