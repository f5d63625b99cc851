-- For alert_model_test.lua: arg[1] = "fire-resolve" raises the keyed alert and resolves it
-- 60 s later; "replay" raises the old firing again (as an old process or a replayed queue
-- would) through a sender of another name, whose outbox row for it is new: only the kept
-- state of the alert can stop it. Through an outbox to the simulator's webhook sink.
local notify = require "rec.notify"
local out = notify.outbox{ to = notify.from_env{ name = arg[1] == "replay" and "replayed" or nil, send_resolved = true }, every = 1 }
if arg[1] == "fire-resolve" then
  out:alert{ key = "disk-full", text = "disk full", labels = { host = "rec-1" } }
  rec.sleep(60)
  out:alert{ key = "disk-full", status = "resolved", text = "disk has room again" }
else
  out:alert{ key = "disk-full", text = "disk full", labels = { host = "rec-1" } }
end
out:flush(10)
out:stop()
