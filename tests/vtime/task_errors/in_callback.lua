-- A failed assert in a watcher callback: watch.lua catches it and logs "callback failed".
local watch = require "rec.watch"
local w = watch.qingcloud{
  app_id = "demo-app", channel = "healthy-channel", every = 1,
  on_change = function(task, old) assert(old ~= nil, "a bug in on_change") end,
}
rec.sleep(3)
w:stop()
w:wait()
print("main task done")
