-- watch.fleet on a store without real leases (SQLite: every unit held, token 1) and on a
-- stand-in lease store (the contract of db:units/db:unit/db:transaction{unit=}): sessions in
-- the store are watched, a removed one stops, a failure alerts once with its stable id, a
-- unit lost stops its watchers, a fenced commit stops its watcher quietly (no alert), and an
-- alert of a unit not held is not sent until this member holds it.
local watch = require "rec.watch"
local notify = require "rec.notify"
local fleet = require "rec.watch._fleet"

local ME = "agora:sim-agora-customer"
local OTHER = "agora:other-customer"
local APP = "sim-agora-app"

local function session(rid, sid) return { appid = APP, resourceid = rid, sid = sid, mode = "mix" } end

-- a sender that keeps what it was given
local sent = {}
local cap = notify.log{ name = "cap" }
cap._send = function(_, a) sent[#sent + 1] = a return true end
local function sent_ids()
  local out = {}
  for _, a in ipairs(sent) do out[#out + 1] = a.alert_id end
  return out
end

-- A stand-in for a store with leases, over the real (memory) store: `held` says which units
-- this member holds and under which token; commits under a unit not held are fenced; claimed
-- rows carry the unit their id names (x-<unit>-...), as the database's do.
local real = require("rec.store").open()
local held = {}
local fenced_commits = 0
local proxy = setmetatable({}, { __index = function(_, k)
  local f = real[k]
  if type(f) ~= "function" then return f end
  return function(_, ...) return f(real, ...) end
end })
function proxy.units()
  local out = {}
  for u in pairs(held) do out[#out + 1] = u end
  table.sort(out)
  return out
end
function proxy.unit(_, u)
  if held[u] then return held[u] end
  return nil, "not held"
end
function proxy.fleet() return true end
function proxy.transaction(_, fn, o)
  if type(o) == "table" and o.unit and not held[o.unit] then
    fenced_commits = fenced_commits + 1
    return false, setmetatable({ kind = "fenced", message = "unit " .. o.unit .. " is not held" },
                               { __tostring = function(e) return "fenced: " .. e.message end })
  end
  return real:transaction(function() return fn(proxy) end)
end
function proxy.pending(_, n, at)
  local rows = real:pending(n, at)
  for _, r in ipairs(rows) do
    local u = r.id:match("^x%-(agora:[%w%-]+)%-")
    r.unit = r.unit or u
  end
  return rows
end

---------------------------------------------------------------- the session set's functions

local k1 = assert(fleet.add(real, ME, nil, session("sim-resource-abnormal", "sid-abnormal")))
assert(k1 == ME .. "/session/sid-abnormal", k1)
assert(fleet.add(real, ME, "healthy", session("sim-resource-healthy", "sid-healthy")))
assert(fleet.add(real, OTHER, nil, session("sim-resource-web", "sid-web")))
-- bad input: typed errors, nothing stored
for _, bad in ipairs({
  { "agora", nil, session("r", "s") },                  -- no account
  { "zoom:x", nil, session("r", "s") },                 -- unknown provider
  { "agora:a/b", nil, session("r", "s") },              -- '/' in the account
  { ME, "a/b", session("r", "s") },                     -- '/' in the id
  { ME, nil, { appid = APP, sid = "s" } },              -- no resourceid
  { ME, nil, { appid = APP, resourceid = "r", sid = "s", mode = "audio" } },
  { ME, nil, { appid = APP, resourceid = "r", sid = "s", cname = "x" } },   -- unknown field
  { ME, nil, "not a table" },
}) do
  local k, err = fleet.add(real, bad[1], bad[2], bad[3])
  assert(k == nil and type(err) == "table" and err.kind == "invalid_argument", tostring(err))
end
local all = fleet.list(real)
assert(#all == 3, "three sessions, got " .. #all)
assert(all[1].unit == OTHER and all[2].unit == ME and all[2].id == "healthy" and all[2].session.sid == "sid-healthy",
       "sorted by key")
assert(#fleet.list(real, OTHER) == 1)
assert(fleet.remove(real, ME, "nope") == false)

-- a session stored by hand that is not one: logged, not watched, nothing crashes
real:set(ME .. "/session/broken", "{not json")

---------------------------------------------------------------- SQLite-like: every unit held

do
  local out = notify.outbox{ to = { cap }, db = real, every = 0.5 }
  local invalid = {}
  local fl = watch.fleet{ provider = "agora", db = real, every = 2, first_after = 1, outbox = out,
    look_every = 0.25,
    on_session_error = function(key) invalid[#invalid + 1] = key end,
    on_change = function(res, old)
      if res.status == 20 then out:alert{ text = "recording exited abnormally: " .. tostring(res.sid), sid = res.sid } end
    end }
  rec.sleep(2)
  local s = fl:sessions()
  assert(#s == 3, "both units' sessions watched (no leases: every unit held), got " .. #s)
  assert(#invalid == 1 and invalid[1] == ME .. "/session/broken", "the broken session said once")
  local info = fl:info()
  assert(#info.units == 2 and info.invalid == 1, rec.json.encode(info))
  -- the watcher's state lives under its unit
  rec.sleep(20)   -- sid-abnormal exits abnormally at t=12
  assert(out:flush(10))
  assert(#sent == 1, "one alert, got " .. #sent)
  local id = sent[1].alert_id
  assert(id:find(ME .. "/agora/sim-agora-app/sim-resource-abnormal/sid-abnormal/change@", 1, true) == 1, id)
  local keys = real:keys(ME .. "/agora/")
  assert(keys[ME .. "/agora/sim-agora-app/sim-resource-abnormal/sid-abnormal"], "state under the unit")
  -- removed: its watcher stops within a rescan
  local h = fl:handle(ME .. "/session/healthy")
  assert(h and not h.stopped)
  assert(fl:remove(ME, "healthy") == true)
  rec.sleep(1)
  assert(h.stopped, "the removed session's watcher stopped")
  assert(fl:handle(ME .. "/session/healthy") == nil)
  -- a restart of the fleet (a new process, the same store) does not alert again
  fl:stop()
  fl:wait()
  assert(out:flush(5))
  local fl2 = watch.fleet{ provider = "agora", db = real, every = 2, first_after = 1, outbox = out,
    look_every = 0.25, on_session_error = function() end,
    on_change = function(res) if res.status == 20 then out:alert{ text = "again?", sid = res.sid } end end }
  rec.sleep(10)
  assert(out:flush(5))
  assert(#sent == 1, "no second alert for the same failure, got " .. #sent)
  fl2:stop()
  fl2:wait()
  out:stop()
end

---------------------------------------------------------------- a store with leases

real:set(ME .. "/session/broken", nil)
assert(fleet.add(real, ME, "healthy", session("sim-resource-healthy", "sid-healthy")))
assert(fleet.add(real, OTHER, "old", session("sim-resource-old", "sid-oldstyle")))
held[ME] = 1
do
  sent = {}
  local out = notify.outbox{ to = { cap }, db = proxy, every = 0.25 }
  local fl = watch.fleet{ provider = "agora", db = proxy, every = 2, first_after = 1, outbox = out,
                          look_every = 0.25 }
  rec.sleep(2)
  assert(#fl:sessions() == 2, "only the held unit's sessions: " .. table.concat(fl:sessions(), " "))
  for _, k in ipairs(fl:sessions()) do assert(k:sub(1, #ME) == ME, k) end
  -- an alert of a unit not held stays queued; one of a unit held is sent
  out:alert{ id = "x-" .. OTHER .. "-1", text = "not mine" }
  out:alert{ id = "x-" .. ME .. "-1", text = "mine" }
  rec.sleep(2)
  assert(#sent == 1 and sent[1].alert_id == "x-" .. ME .. "-1", "only the held unit's alert: " .. table.concat(sent_ids(), " "))
  assert(real:counts() == 1, "the other unit's alert is still queued")
  -- the other unit comes to this member: its sessions are watched, its alert is sent
  held[OTHER] = 1
  rec.sleep(2)
  assert(#fl:sessions() == 4, "both units now: " .. table.concat(fl:sessions(), " "))
  assert(#sent == 2 and sent[2].alert_id == "x-" .. OTHER .. "-1", table.concat(sent_ids(), " "))
  -- a unit lost: its watchers stop
  local h = fl:handle(OTHER .. "/session/old")
  held[OTHER] = nil
  rec.sleep(1)
  assert(h.stopped and #fl:sessions() == 2, "the lost unit's watchers stopped")
  fl:stop()
  fl:wait()
  out:stop()
end

---------------------------------------------------------------- a fenced commit

-- The unit moves while the fleet has not looked yet (look_every long): the watcher's first
-- commit (its first status) is fenced; it stops without an alert and without an error.
do
  sent = {}
  for _, s in ipairs(fleet.list(real)) do real:set(s.key, nil) end
  for k in pairs(real:keys(ME .. "/agora/")) do real:set(k, nil) end
  assert(fleet.add(real, ME, nil, session("sim-resource-healthy", "sid-healthy")))
  held = { [ME] = 1 }
  local out = notify.outbox{ to = { cap }, db = proxy, every = 0.25 }
  local fl = watch.fleet{ provider = "agora", db = proxy, every = 2, first_after = 1, outbox = out,
    look_every = 1000, on_change = function(res)
      out:alert{ text = "must not be sent", sid = res.sid }
    end }
  rec.sleep(0.5)
  local key = ME .. "/session/sid-healthy"
  local h = assert(fl:handle(key))
  local before = fenced_commits
  held = {}
  rec.sleep(2)
  assert(fenced_commits == before + 1, "the first commit was fenced")
  assert(h.stopped, "the fenced watcher stopped")
  local info = h:info()[1]
  assert(info.errors == 0, "a fence is not an error: " .. tostring(info.last_error))
  rec.sleep(15)
  assert(fenced_commits == before + 1, "no commit after the fence")
  assert(#sent == 0 and real:counts() == 0, "nothing queued, nothing sent")
  assert(real:get(ME .. "/agora/sim-agora-app/sim-resource-healthy/sid-healthy") == nil, "no state written")
  fl:stop()
  fl:wait()
  out:stop()
end

-- QingCloud: a session is an app and a channel of an access key; task 39 of demo-channel
-- fails (52): on_failed once, its state under the unit
do
  sent = {}
  local QU = "qingcloud:SIMQCACCESSKEY000001"
  assert(fleet.add(real, QU, nil, { app_id = "demo-app", channel = "demo-channel" }))
  local out = notify.outbox{ to = { cap }, db = real, every = 0.25 }
  local fl = watch.fleet{ provider = "qingcloud", db = real, every = 2, outbox = out, look_every = 0.25,
    on_failed = function(task) out:alert{ text = "task failed " .. tostring(task.id), task_id = task.id } end }
  rec.sleep(6)
  assert(out:flush(5))
  assert(#fl:sessions() == 1 and fl:sessions()[1] == QU .. "/session/demo-channel", table.concat(fl:sessions(), " "))
  assert(#sent == 1 and sent[1].task_id == 39, "one alert for task 39, got " .. #sent)
  assert(real:get(QU .. "/qingcloud/demo-app/demo-channel/39"), "the task's state under the unit")
  fl:stop()
  fl:wait()
  out:stop()
end

-- bad options: the script's line, a clear message
local ok, err = pcall(watch.fleet, { provider = "agora", sid = "x" })
assert(not ok and tostring(err):find("comes from each session"), tostring(err))
ok, err = pcall(watch.fleet, { provider = "zoom" })
assert(not ok and tostring(err):find("provider must be"), tostring(err))
ok, err = pcall(watch.fleet, { provider = "agora", evry = 2 })
assert(not ok and tostring(err):find("did you mean 'every'"), tostring(err))
ok, err = pcall(watch.agora, { appid = "a", resourceid = "r", sid = "s", account = "a/b" })
assert(not ok and tostring(err):find("'account' must be"), tostring(err))
print("watch_fleet ok")
