-- The memory of a watch.agora watcher (docs/performance.md, "100,000 sessions in one process"):
-- 2,000 watchers with the store, an outbox and callbacks, each polled once; the Lua heap they
-- hold, after a full collection, stays under a budget per watcher (6.6 KB measured; 9.8 KB
-- when every watcher held 19 closures). The heap is counted by Lua's allocator, so the figure
-- does not depend on the machine or its load.
local watch, notify = require "rec.watch", require "rec.notify"
local N, BUDGET = 2000, 7.5 * 1024
rec.configure{ agora = { rate = 0 } }
local out = notify.outbox{ to = notify.log(), every = 5 }
local function on_change(res) if rec.agora.failed[res.status] then out:alert{ text = "failed" } end end
local function on_ended() out:alert{ text = "ended" } end

local function heap()
  collectgarbage("collect")
  collectgarbage("collect")
  return collectgarbage("count") * 1024
end
local before = heap()
local hs = {}
for i = 1, N do
  hs[i] = watch.agora{ appid = "mem-app", resourceid = "res-" .. i, sid = "mem-" .. i, mode = "mix",
                       every = 120, first_after = 10 * i / N, outbox = out, on_change = on_change,
                       on_ended = on_ended, on_start_failed = on_ended }
end
rec.sleep(15)   -- every watcher has polled once (its state stored), none a second time
local per = (heap() - before) / N
local polls, good = 0, 0
for _, s in ipairs(watch.status()) do polls, good = polls + s.polls, good + s.good_polls end
assert(polls == N and good == N, ("%d polls, %d good"):format(polls, good))
for i = 1, N do assert(hs[i]:state(hs[i].key).status == 5, "state of " .. i) end
print(("RESULT %d watchers: %.0f bytes of Lua heap each (budget %.0f)"):format(N, per, BUDGET))
assert(per < BUDGET, ("%.0f bytes of Lua heap per watcher, over the budget of %.0f"):format(per, BUDGET))
-- and they stop: the process ends with them
for i = 1, N do hs[i]:stop() end
for i = 1, N do hs[i]:wait() end
out:stop()
