-- Tasks: spawn/wait results, errors as values with file:line, cancel, rec.every, sleep(0).
local t = rec.spawn(function(a, b) rec.sleep(0.01) return a + b, "x" end, 2, 3)
local ok, sum, x = t:wait()
assert(ok == true and sum == 5 and x == "x", "results of wait")
assert(t:status() == "done")
-- waiting again returns the same results
local ok2, sum2 = t:wait()
assert(ok2 and sum2 == 5)

-- an error ends only its task, and names this file and line
local bad = rec.spawn(function() local y = nil; return y.field end)
local okb, err = bad:wait()
assert(okb == false, "failed task")
assert(tostring(err):find("engine_tasks.lua:%d+"), "error names file:line: " .. tostring(err))

-- cancel: the pending call returns nil, {kind="cancelled"}, and the task runs its cleanup
local cleaned = false
local sleeper = rec.spawn(function()
  local r, e = rec.sleep(30)
  cleaned = true
  return r, e
end)
rec.sleep(0.02)
assert(sleeper:status() == "waiting")
assert(sleeper:cancel() == true)
local okc, r, e = sleeper:wait()
assert(okc and r == nil and e.kind == "cancelled" and cleaned, "cancelled sleep")
assert(e.retryable == false)

-- a task cancelled before it starts runs nothing
local ran = false
local never = rec.spawn(function() ran = true end)
never:cancel()
local okn, en = never:wait()
assert(okn == false and en.kind == "cancelled" and not ran, "cancel before start")

-- wait on a task that waits on another
local inner = rec.spawn(function() rec.sleep(0.02) return "inner" end)
local outer = rec.spawn(function() local _, v = inner:wait() return v .. "+outer" end)
local _, v = outer:wait()
assert(v == "inner+outer")

-- rec.every ticks until stopped
local ticks = 0
local timer = rec.every(0.01, function() ticks = ticks + 1 end)
rec.sleep(0.1)
timer:stop()
local after = ticks
rec.sleep(0.05)
assert(after >= 3 and ticks == after, "every ticks then stops: " .. ticks)

-- sleep(0) lets other tasks run
local order = {}
local a = rec.spawn(function() order[#order + 1] = "a1"; rec.sleep(0); order[#order + 1] = "a2" end)
local b = rec.spawn(function() order[#order + 1] = "b1"; rec.sleep(0); order[#order + 1] = "b2" end)
a:wait(); b:wait()
assert(table.concat(order, ",") == "a1,b1,a2,b2", table.concat(order, ","))

-- clocks
local n0 = rec.now()
rec.sleep(0.05)
assert(rec.now() - n0 >= 0.045, "monotonic clock advances")
assert(math.abs(rec.time() - os.time()) < 5, "wall clock")

-- json: whole numbers are integers, null is rec.json.null, malformed is nil, err
local d = rec.json.decode('{"id":39,"f":1.5,"n":null,"a":[1,2]}')
assert(math.type(d.id) == "integer" and d.f == 1.5 and d.n == rec.json.null and d.a[2] == 2)
local bad_json, jerr = rec.json.decode("{oops")
assert(bad_json == nil and jerr)
assert(rec.json.encode({x = 1}) == '{"x":1}')
local enc, eerr = rec.json.encode({f = print})
assert(enc == nil and eerr, "encoding a function is an error value")

-- status names
assert(rec.qingcloud.status[52] == "PushToQingstorFailed" and rec.qingcloud.failed[52])
assert(rec.qingcloud.status[10] == "Stopped" and not rec.qingcloud.failed[10])
assert(rec.agora.status[20] == "exited_abnormally" and rec.agora.status[5] == "in_progress")
print("engine_tasks ok")

-- a task cancelled before it starts, by a task that runs in the same turn of the loop, is
-- never touched again even once it is collected (the killer drops the last reference)
local cancelled_ok = 0
for round = 1, 20 do
  local holder = {}
  local killer = rec.spawn(function()
    holder.v:cancel()
    local okv, ev = holder.v:wait()
    if okv == false and ev.kind == "cancelled" then cancelled_ok = cancelled_ok + 1 end
    holder.v = nil
    collectgarbage()
    collectgarbage()
  end)
  holder.v = rec.spawn(function() error("must not run") end)
  killer:wait()
end
assert(cancelled_ok == 20)
print("engine_tasks cancel-in-same-turn ok")
