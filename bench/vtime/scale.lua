-- bench/vtime/scale: N watch.agora watchers (every 120 s, first polls spread over the first
-- interval) for T virtual seconds; prints the polls done and the wall time they took.
-- usage: recwatch run --sim --virtual-time --scenario scale_scenario.lua scale.lua N T
local watch = require "rec.watch"
local n, secs = tonumber(arg[1] or "1000"), tonumber(arg[2] or "600")
rec.configure{ agora = { rate = 0 } }
local hs = {}
for i = 1, n do
  hs[i] = watch.agora{ appid = "scale-app", resourceid = "res-" .. i, sid = "sid-" .. i, mode = "mix",
                       every = 120, first_after = 120 * i / n }
end
local t0 = os.clock()
rec.sleep(secs)
local polls, good = 0, 0
for _, s in ipairs(watch.status()) do polls, good = polls + s.polls, good + s.good_polls end
print(("RESULT watchers %d virtual_s %g polls %d good %d cpu_s %.3f"):format(n, secs, polls, good, os.clock() - t0))
io.stdout:flush()
rec.exit(0)
