-- tests/vtime/events/restart.lua: a watcher stopped (the dispatcher ends with its last
-- consumer) and started again: events reach the new one (tests/vtime/events_test.lua).
local watch = require "rec.watch"
local function start()
  return watch.agora{ appid = "sim-agora-app", resourceid = "r-fail", sid = "s-fail", every = 120,
    on_change = function(res, old) rec.log.info("change %s -> %d", tostring(old), res.status) end }
end
local h = start()
rec.sleep(50)
h:stop()
rec.sleep(0.5)   -- the watcher's task ends; no consumer is left: the dispatcher ends too
h = start()
rec.sleep(300.5 - rec.now())
rec.events.inject{ notice_id = "n", event_type = 11, cname = "c", uid = "7", sid = "s-fail", sequence = 1,
                   details = { exitStatus = 1 } }
rec.sleep(5)
h:stop()
rec.sleep(1.5)
