-- watch.set from a file, as a user tests it: the file edited while the script runs adds and
-- removes sessions (the simulator's request log shows which are polled); a bad edit keeps
-- the set; after a kill -9 the same file brings the same sessions back and a recording's end
-- is alerted once. File events are real (the kernel's); the case writes the file and then
-- advances, and the set's reads take virtual seconds after the event.
local T = require "rec.test"
local SCRIPT = "sets/file_set.lua"

local function write(path, text)
  local f = assert(io.open(path .. ".new", "wb"))
  f:write(text)
  f:close()
  assert(os.rename(path .. ".new", path))
end

local MODE = { vanish = "individual" }   -- the simulator's default story: the others are mix
local function session(sid)
  return ('{"appid": "sim-agora-app", "resourceid": "sim-resource-%s", "sid": "sid-%s", "mode": "%s"}')
    :format(sid, sid, MODE[sid] or "mix")
end

-- agora queries of sid between virtual times a and b
local function polls(t, sid, a, b)
  local n = 0
  for _, r in ipairs(t:requests()) do
    if r.provider == "agora" and r.path:find("/sid/sid-" .. sid .. "/", 1, true) and r.t >= a and r.t < b then
      n = n + 1
    end
  end
  return n
end

T.case("a file edited at run time adds and removes sessions; a bad edit keeps them", function(t)
  local path = t:tmpfile("sessions.json")
  write(path, "[" .. session("healthy") .. "]")
  local p = t:start(SCRIPT, { path })
  t:advance(30)
  t:ok(polls(t, "healthy", 0, 30) >= 3, "the listed session is polled")
  t:eq(polls(t, "stuck", 0, 30), 0)
  write(path, "[" .. session("stuck") .. "]")
  t:advance(30)
  t:ok(polls(t, "stuck", 30, 60) >= 2, "the added session is polled")
  t:eq(polls(t, "healthy", 32, 60), 0, "the removed session is not polled any more")
  t:eq(#t:logs("kind=watch_set_removed"), 1)
  write(path, '[' .. session("stuck") .. ', {"appid": "sim-agora-app", "sid": "sid-x"}]')
  t:advance(30)
  t:eq(#t:logs("kind=watch_set_error set=sessions source=file reason=entry"), 1, "one loud line")
  t:ok(polls(t, "stuck", 60, 90) >= 2, "the last good set goes on")
  t:eq(polls(t, "healthy", 60, 90), 0)
  t:eq(p:exited(), nil)
end)

T.case("after kill -9 the file brings the sessions back; an end is not alerted again", function(t)
  local path, db = t:tmpfile("sessions.json"), t:tmpfile("state.db")
  write(path, "[" .. session("vanish") .. ", " .. session("healthy") .. "]")
  local p = t:start(SCRIPT, { path }, { state = db })
  t:advance(120)   -- sid-vanish's worker is gone from 8 s: ended after the 90 s window
  p:kill()
  t:advance(5)
  t:start(SCRIPT, { path }, { state = db })
  t:advance(200)
  t:ok(polls(t, "healthy", 126, 325) >= 10, "polled again after the restart")
  local ended = 0
  for _, h in ipairs(t:webhooks()) do
    if (h.text or ""):find("recording ended: sid-vanish", 1, true) then ended = ended + 1 end
  end
  t:eq(ended, 1, "one alert for the end")
end)
