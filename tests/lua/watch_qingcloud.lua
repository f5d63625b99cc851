-- watch.qingcloud on the default scenario's healthy-channel (task 40: 1 Start, then 2 Recording
-- from t=1 s): first sight reports old_status nil, the transition 1 -> 2 follows, on_status
-- fires on entering a status, a callback that raises does not stop the watcher, alerts raised
-- in a callback get an id derived from the transition, and a second watcher on the same state
-- repeats nothing.
local watch = require "rec.watch"
local notify = require "rec.notify"
local store = require "rec.store"
local db = store.open()
local out = notify.outbox{ to = notify.log(), every = 0.1 }

local changes, entered, errors = {}, {}, 0
local w = watch.qingcloud{
  app_id = "demo-app", channel = "healthy-channel", every = 0.2,
  on_change = function(task, old)
    changes[#changes + 1] = { task.id, old, task.status }
    if old == nil then errors = errors + 1 ; error("callback bug on purpose") end
  end,
  on_status = { [2] = function(task, old)
    entered[#entered + 1] = { task.id, old }
    out:alert("task %d recording", task.id)
  end },
}
local deadline = rec.now() + 10
while #entered == 0 and rec.now() < deadline do rec.sleep(0.1) end
rec.sleep(0.5)   -- a few more polls: nothing changes
w:stop()
w:wait()
assert(errors == 1, "the first callback raised once")
assert(#changes == 2, "two transitions, got " .. #changes)
assert(changes[1][1] == 40 and changes[1][2] == nil and changes[1][3] == 1)
assert(changes[2][2] == 1 and changes[2][3] == 2)
assert(#entered == 1 and entered[1][2] == 1)
local st = w:state("qingcloud/demo-app/healthy-channel/40")
assert(st.status == 2 and st.seq == 2, rec.json.encode(st))
assert(out:flush(5))
local _, delivered = db:counts()
assert(delivered == 1)

-- a second watcher on the same state: the task is still in 2, so no callback at all
local again = 0
local w2 = watch.qingcloud{ app_id = "demo-app", channel = "healthy-channel", every = 0.2,
                            on_change = function() again = again + 1 end }
rec.sleep(0.7)
w2:stop()
w2:wait()
assert(again == 0, "repeated a transition already handled")
out:stop()
print("watch_qingcloud ok")
