-- For alert_model_test.lua: an Agora recording watched with outbox=; "not started" alerts
-- through the same outbox (to the simulator's webhook sink). Runs for arg[1] seconds.
local watch = require "rec.watch"
local notify = require "rec.notify"
local out = notify.outbox{ to = notify.from_env{ send_resolved = true }, every = 1 }
local h = watch.agora{ appid = "late-app", resourceid = "late-rid", sid = "late-sid", every = 5,
  first_after = 1, start_every = 2, start_timeout = 20, outbox = out,
  on_start_failed = function(res, err) out:alert{ text = "recording late-sid did not start", sid = "late-sid" } end }
rec.sleep(tonumber(arg[1]))
h:stop()
out:flush(10)
out:stop()
