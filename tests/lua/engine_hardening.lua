-- Regressions from review: numbers given for string parameters under an aggressive GC,
-- task threads guarded from coroutine.resume/close, math.huge timeouts, messages without
-- webhook tokens.
collectgarbage("incremental", 1, 1000, 0)  -- collect as often as possible
rec.configure{ agora = { rate = 0, retries = 0 }, qingcloud = { rate = 0, retries = 0 } }
for i = 1, 200 do
  local r, err = rec.query_agora{ appid = 3000000 + i, resourceid = 4000000 + i, sid = 5000000 + i }
  assert(r == nil and err.kind == "not_found", tostring(err))
  local q, qerr = rec.query_qingcloud{ app_id = 1000000 + i, channel = 2000000 + i }
  assert(q and q.total_count == 0, tostring(qerr))
end
collectgarbage("generational")

-- a task's own thread cannot be resumed or closed by another task
-- (the victim waits on an event set after the checks, not on a timer: a loaded machine
-- could let a 50 ms sleep end before the checks run, and a finished task is no longer guarded)
local th
local gate = rec.event()
local victim = rec.spawn(function() th = coroutine.running() return gate:wait() end)
rec.sleep(0.01)
local ok, err = pcall(coroutine.resume, th, "bogus")
assert(not ok and err:find("that thread is a task's"), err)
ok, err = pcall(coroutine.close, th)
assert(not ok and err:find("that thread is a task's"), err)
-- nor through the original resume taken from the guard with the debug library
for i = 1, 3 do
  local name, val = debug.getupvalue(coroutine.resume, i)
  assert(type(val) ~= "function", "the original resume is not an upvalue")
end
gate:set()
local okv, slept = victim:wait()
assert(okv and slept == true, "the victim slept undisturbed")
-- plain coroutines still work as usual
local co = coroutine.create(function(a) return a * 2 end)
assert(select(2, coroutine.resume(co, 21)) == 42)

-- math.huge means for ever, not an overflowing timer that fires at once
local ev = rec.event()
rec.spawn(function() rec.sleep(0.1) ev:set() end)
local r = ev:wait(math.huge)
assert(r == true, "woken by set, not timed out")
local hr, herr = rec.http{ url = rec.sim.base_url .. "/nope", timeout = math.huge }
assert(hr and hr.status == 404, tostring(herr))

-- a webhook token in the URL path never appears in an error message
local _, terr = rec.http{ url = "http://127.0.0.1:1/services/T000/B000/XXXXsecretTOKEN" }
assert(terr and not terr.message:find("secretTOKEN"), terr and terr.message)
-- an endless loop gets an error after max_busy seconds instead of freezing every task
rec.configure{ max_busy = 0.2 }
local spinner = rec.spawn(function() local n = 0 while true do n = n + 1 end end)
local oks, serr = spinner:wait()
assert(oks == false and tostring(serr):find("without waiting %(an endless loop%?%)")
       and tostring(serr):find("engine_hardening.lua:%d+"), tostring(serr))
local nested = rec.spawn(function() coroutine.wrap(function() while true do end end)() end)
assert(nested:wait() == false, "a plain coroutine inside a task is limited too")
-- the coroutine gets an ordinary error, but the task that resumed it is still busy and is
-- ended at its next instruction: catching the error does not keep it (whichever thread
-- looked at the clock first)
local after = false
local created = rec.spawn(function()
  local co = coroutine.create(function() while true do end end)
  local ok = coroutine.resume(co)
  after = true
  return ok
end)
local okc, ec = created:wait()
assert(okc == false and tostring(ec):find("without waiting") and not after, "the task: " .. tostring(ec))
-- a pcall loop inside a plain coroutine cannot keep it going either: once ended, every
-- instruction of that coroutine raises again
local dodger = rec.spawn(function()
  coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()
end)
assert(dodger:wait() == false, "a pcall loop inside a coroutine kept it alive")
-- a failed task's pending __close handlers run under max_busy too: an endless one is ended
local closer = rec.spawn(function()
  local c <close> = setmetatable({}, { __close = function() while true do end end })
  error("boom")
end)
local okcl, ecl = closer:wait()
assert(okcl == false and tostring(ecl):find("boom"), tostring(ecl))
-- task threads carry no hook (a count hook makes Lua check before every instruction: 2x
-- slower scripts); the busy monitor watches them. A script's coroutines carry their own.
local hooks = rec.spawn(function()
  local h = debug.gethook()
  local co = coroutine.create(function() end)
  local ch, _, count = debug.gethook(co)
  local wrapped = coroutine.wrap(function() return debug.gethook() end)
  return h, ch ~= nil and count, wrapped() ~= nil
end)
local okh, h, ccount, whook = hooks:wait()
assert(okh and h == nil and ccount == 1000000 and whook == true,
       ("hooks: task %s, coroutine %s, wrap %s"):format(tostring(h), tostring(ccount), tostring(whook)))
-- many short resumes are not one long one: 40 x 20 ms of work with a 0.5 s limit
rec.configure{ max_busy = 0.5 }
local steady = rec.spawn(function()
  for _ = 1, 40 do
    local t0 = rec.now()
    while rec.now() - t0 < 0.02 do end
    rec.sleep(0)
  end
  return "done"
end)
local oks2, r2 = steady:wait()
assert(oks2 and r2 == "done", "short resumes were taken for a busy task: " .. tostring(r2))
rec.configure{ max_busy = 0.2 }
-- a pcall around the loop cannot catch it: the task is ended from outside
local caught = 0
local stubborn = rec.spawn(function()
  while true do if not pcall(function() while true do end end) then caught = caught + 1 end end
end)
local okst, sterr = stubborn:wait()
assert(okst == false and tostring(sterr):find("without waiting"), tostring(sterr))
rec.configure{ max_busy = 30 }
print("engine_hardening ok")
