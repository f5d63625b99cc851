-- bench/vtime: two virtual hours of a production watcher with a failure at minute 97, a
-- crash (kill -9) at minute 100 and a restart at minute 101. Run by bench/vtime/run, which
-- times it; it is also an ordinary rec.test file.
local T = require "rec.test"

T.case("2 virtual hours: 20 QingCloud channels / 30 s, 5 Agora / 120 s, failure, crash, restart", function(t)
  t:scenario("scenario.lua")
  local db = t:tmpfile("state.db")
  local p = t:start("watcher.lua", {}, { state = db })
  t:advance(100 * 60)
  t:eq(#t:webhooks(), 1, "the failure at minute 97 is alerted")
  p:kill()
  t:advance(60)
  p = t:start("watcher.lua", {}, { state = db })
  t:advance(120 * 60 - t:now())
  t:eq(t:now(), 7200)
  t:eq(#t:webhooks(), 1, "no repeat after the restart")
  local qc, ag = 0, 0
  for _, r in ipairs(t:requests()) do
    if r.provider == "qingcloud" then qc = qc + 1 elseif r.provider == "agora" then ag = ag + 1 end
  end
  -- 119 minutes up: ~20 x 238 QingCloud and ~5 x 60 Agora polls
  t:ok(qc >= 4600 and qc <= 4800, "QingCloud polls: " .. qc)
  t:ok(ag >= 280 and ag <= 310, "Agora polls: " .. ag)
  print(("# virtual polls: %d (QingCloud %d, Agora %d)"):format(qc + ag, qc, ag))
end)
