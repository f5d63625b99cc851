-- rec.event: set() wakes every waiter at once; wait() on a set event returns at once;
-- a timeout gives kind="timeout"; cancel removes the waiter.
local ev = rec.event()
assert(ev:is_set() == false)
local woke = 0
local ts = {}
for i = 1, 100 do ts[i] = rec.spawn(function() local ok = ev:wait() if ok then woke = woke + 1 end end) end
rec.sleep(0.02)
assert(woke == 0, "nobody wakes before set")
ev:set()
for i = 1, 100 do ts[i]:wait() end
assert(woke == 100, "all woke: " .. woke)
assert(ev:is_set() and ev:wait() == true, "a set event does not wait")

ev:clear()
local t0 = rec.now()
local r, err = ev:wait(0.05)
assert(r == nil and err.kind == "timeout", tostring(err))
assert(rec.now() - t0 >= 0.04)

-- a cancelled waiter is removed and set() later does not touch it
local w = rec.spawn(function() return ev:wait() end)
rec.sleep(0.01)
w:cancel()
local okc, rc, ec = w:wait()
assert(okc and rc == nil and ec.kind == "cancelled")
ev:set()

-- a waiter with a timeout woken by set() before the timeout: its timer is gone
ev:clear()
local w2 = rec.spawn(function() return ev:wait(5) end)
rec.sleep(0.01)
ev:set()
local ok2, r2 = w2:wait()
assert(ok2 and r2 == true)
print("engine_event ok")
