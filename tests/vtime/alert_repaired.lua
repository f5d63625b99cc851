-- For alert_resolve_test.lua: a QingCloud task that crashes (30) and is repaired (31). The
-- watcher alerts through an outbox to the simulator's webhook sink: on_failed (a repair
-- timeout) and on_status[30] (the crash itself). Args: seconds to run, repair_timeout.
local watch = require "rec.watch"
local notify = require "rec.notify"
local out = notify.outbox{ to = notify.from_env{ send_resolved = true }, every = 1 }
local h = watch.qingcloud{ app_id = "rep-app", channel = "rep-channel", every = 5, outbox = out,
  repair_timeout = tonumber(arg[2]),
  on_status = { [30] = function(t) out:alert("task %s crashed (30)", tostring(t.id)) end },
  on_failed = function(t) out:alert("task %s failed (%s)", tostring(t.id), t.repair_timed_out and "no repair" or tostring(t.status)) end }
rec.sleep(tonumber(arg[1]))
h:stop()
out:flush(10)
out:stop()
