-- For alert_resolve_test.lua: an Agora recording watched with outbox=; on_ended alerts
-- through it to the simulator's webhook sink (resolves sent). Args: the sid, seconds to run.
-- Logs "wait returned at <t>" when the handle's wait() returns (the recording ended).
local watch = require "rec.watch"
local notify = require "rec.notify"
local sid = arg[1]
local out = notify.outbox{ to = notify.from_env{ send_resolved = true }, every = 1 }
local h = watch.agora{ appid = "back-app", resourceid = "back-rid", sid = sid, every = 5,
  first_after = 1, confirm_delays = { 10 }, outbox = out,
  on_ended = function(last, err) out:alert{ text = "recording " .. sid .. " has ended", sid = sid } end }
rec.spawn(function() h:wait() rec.log.info("wait returned at %.1f", rec.now()) end)
rec.sleep(tonumber(arg[2]))
h:stop()
out:flush(10)
out:stop()
