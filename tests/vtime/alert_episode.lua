-- For alert_model_test.lua: a QingCloud watcher whose "watcher silent" alerts go through an
-- outbox to the simulator's webhook sink; runs for arg[1] seconds.
local watch = require "rec.watch"
local notify = require "rec.notify"
local out = notify.outbox{ to = notify.from_env{ send_resolved = true }, every = 1 }
local h = watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 5, stale_after = 30,
                           outbox = out, fail_polls = 1 }
rec.sleep(tonumber(arg[1]))
h:stop()
out:flush(10)
out:stop()
