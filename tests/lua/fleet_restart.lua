-- The restart policy in a fleet (docs/workflows.md "Restart in a fleet"), on a stand-in lease
-- store over the real (memory) store, as tests/lua/watch_fleet.lua fakes one: `held` says which
-- units this member holds; a commit under a unit not held is fenced; db:unit(u) is nil for a
-- unit this member may not act for. Control calls are counted (and their account) by wrapping
-- rec.agora.acquire/start/stop. Three stories, one channel each (tests/scenarios/fleet_restart.lua):
--   1. held: every restart write commits under the unit with a unit-prefixed key, the calls
--      carry account=, the new sid replaces the old one in the sessions set and watch.fleet
--      watches it; recording again once;
--   2. fenced: the unit moves while the restart waits (settle): no intent, no control call,
--      no alert, no callback; counted as result="fenced";
--   3. resume: another member wrote the intent, acquired and started under uid 1001, and died
--      before it stored the sid. This member (the unit's next owner) acquires with the SAME
--      uid, Agora answers 53, nothing else starts; the recorder is adopted by its event, and
--      the sessions set moves to its sid. One billed start in all.
--   4. a circuit per account: cust-b's only session fails (min_sessions = 1): cust-b's circuit
--      opens and holds its restart, this account's stays closed; the probe records again
--      and closes it.
local watch = require "rec.watch"
local notify = require "rec.notify"
local fleet = require "rec.watch._fleet"

local ACCT = "sim-agora-customer"
local ME = "agora:" .. ACCT
local APP = "sim-agora-app"

---------------------------------------------------------------- the stand-in lease store

local real = require("rec.store").open()
local held = { [ME] = 1 }
local writes = {}          -- { key, unit } of every write inside a transaction
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
  local unit = type(o) == "table" and o.unit or nil
  if unit and not held[unit] then
    fenced_commits = fenced_commits + 1
    return false, setmetatable({ kind = "fenced", message = "unit " .. unit .. " is not held" },
                               { __tostring = function(e) return "fenced: " .. e.message end })
  end
  return real:transaction(function(d)
    local tx = setmetatable({}, { __index = function(_, k)
      if k == "set" then
        return function(_, key, v) writes[#writes + 1] = { key = key, unit = unit } return d:set(key, v) end
      end
      local f = d[k]
      if type(f) ~= "function" then return f end
      return function(_, ...) return f(d, ...) end
    end })
    return fn(tx)
  end)
end

---------------------------------------------------------------- control calls counted

local calls = {}
for _, name in ipairs{ "acquire", "start", "stop" } do
  local f = rec.agora[name]
  rec.agora[name] = function(a)
    local r, e = f(a)
    calls[#calls + 1] = { name = name, account = a.account, uid = a.uid, cname = a.cname,
                          sid = r and r.sid, code = r and r.code or (e and e.code) }
    return r, e
  end
end
local function calls_in(cname, name)
  local out = {}
  for _, c in ipairs(calls) do
    if c.cname == cname and (name == nil or c.name == name) then out[#out + 1] = c end
  end
  return out
end

local function metric(series)
  local text = rec.metrics.text()
  return tonumber(text:match("\n" .. series:gsub("[%[%]%(%)%.%-%+%*%?%^%$]", "%%%0") .. " ([%d.e+]+)")) or 0
end

local sent = {}
local cap = notify.log{ name = "cap" }
cap._send = function(_, a) sent[#sent + 1] = a return true end

local function wait_for(what, fn, limit)
  local t0 = rec.now()
  while not fn() do
    assert(rec.now() - t0 < (limit or 60), "timed out waiting for " .. what)
    rec.sleep(0.25)
  end
end

-- a fleet whose sessions restart in channel cname; cb collects the callbacks
local function start_fleet(out, cname, settle, cb, circuit)
  return watch.fleet{ provider = "agora", db = proxy, every = 2, first_after = 1, start_every = 1,
    outbox = out, look_every = 0.25,
    restart = { cname = cname, uids = { "1001", "1002" }, settle = settle, budget = 2, circuit = circuit,
      client_request = { storageConfig = { vendor = 1, region = 0, bucket = "b", accessKey = "sim-access-key",
                                           secretKey = "sim-secret-key" },
                         recordingConfig = { channelType = 0 } },
      on_restarted = function(r) cb.restarted[#cb.restarted + 1] = r end,
      on_restart_failed = function(r, e) cb.failed[#cb.failed + 1] = tostring(e) end,
      on_gave_up = function(r) cb.gave_up[#cb.gave_up + 1] = r.reason end } }
end
local function cbs() return { restarted = {}, failed = {}, gave_up = {} } end

local function session(rid, sid) return { appid = APP, resourceid = rid, sid = sid, mode = "mix" } end
assert(fleet.add(real, ME, nil, session("r-held", "sid-held")))

---------------------------------------------------------------- 1. held all along

do
  local out = notify.outbox{ to = { cap }, db = proxy, every = 0.25 }
  local cb = cbs()
  local fl = start_fleet(out, "class-held", 1, cb)
  wait_for("the restart to record", function() return #cb.restarted > 0 end)
  rec.sleep(10)   -- nothing more happens: no second restart
  local r = cb.restarted[1]
  assert(#cb.restarted == 1 and r.from_sid == "sid-held" and r.uid == "1001", rec.json.encode(cb))
  assert(#cb.failed == 0 and #cb.gave_up == 0, rec.json.encode(cb))
  local acq, st = calls_in("class-held", "acquire"), calls_in("class-held", "start")
  assert(#acq == 1 and #st == 1, ("one acquire, one start: %d, %d"):format(#acq, #st))
  for _, c in ipairs(calls_in("class-held")) do
    assert(c.account == ACCT, "every control call carries account=: " .. rec.json.encode(c))
  end
  -- the state under the unit, nothing outside it
  local key = ME .. "/rec/restart/sim-agora-app/class-held"
  local stored = rec.json.decode(assert(real:get(key), "the restart state under the unit"))
  assert(stored.cur and stored.cur.sid == r.sid and stored.intent == nil, rec.json.encode(stored))
  assert(real:get("rec/restart/sim-agora-app/class-held") == nil, "no key outside the unit")
  local restart_writes, session_writes = 0, 0
  for _, w in ipairs(writes) do
    if w.key:find("rec/restart/", 1, true) then
      restart_writes = restart_writes + 1
      assert(w.unit == ME and w.key == key, "a restart write outside the unit: " .. rec.json.encode(w))
    end
    if w.key:find("/session/", 1, true) then
      session_writes = session_writes + 1
      assert(w.unit == ME, "a sessions-set write outside the unit: " .. rec.json.encode(w))
    end
  end
  assert(restart_writes >= 4, "intent, resource, sid, outcome: " .. restart_writes)
  assert(session_writes == 2, "the old row removed and the new one added, once: " .. session_writes)
  -- the sessions set moved: the old sid out, the new one in (with its resource id), watched
  assert(real:get(ME .. "/session/sid-held") == nil, "the old sid left the sessions set")
  local new = ME .. "/session/" .. rec.safe_id(r.sid)
  local row = rec.json.decode(assert(real:get(new), "the new sid is in the sessions set"))
  assert(row.sid == r.sid and row.resourceid == r.resourceid and row.appid == APP, rec.json.encode(row))
  local watched = fl:sessions()
  assert(#watched == 1 and watched[1] == new, "watch.fleet watches the new sid only: " .. table.concat(watched, " "))
  assert(not watch.restart.circuit(ACCT).open and not watch.restart.circuit().open, "circuits closed")
  fl:stop()
  fl:wait()
  out:stop()
  real:set(new, nil)
end

---------------------------------------------------------------- 2. fenced during the settle

do
  sent = {}
  assert(fleet.add(real, ME, nil, session("r-fenced", "sid-fenced")))
  local out = notify.outbox{ to = { cap }, db = proxy, every = 0.25 }
  local cb = cbs()
  local fenced0 = metric('recwatch_restarts_total{result="fenced"}')
  local queued0 = real:counts()
  local key = ME .. "/rec/restart/sim-agora-app/class-fenced"
  local fl = start_fleet(out, "class-fenced", 5, cb)
  -- the failure is recorded (done), the restart waits 5 s: the unit goes to another member
  wait_for("the failure to be recorded", function()
    local v = real:get(key)
    return v and rec.json.decode(v).done["sid-fenced"]
  end)
  held = {}
  rec.sleep(20)
  assert(#calls_in("class-fenced") == 0, "no control call: " .. rec.json.encode(calls_in("class-fenced")))
  assert(metric('recwatch_restarts_total{result="fenced"}') == fenced0 + 1, "counted as fenced, once")
  local stored = rec.json.decode(real:get(key))
  assert(stored.intent == nil and #stored.starts == 0, "no intent written: " .. rec.json.encode(stored))
  assert(#cb.restarted + #cb.failed + #cb.gave_up == 0, "no callback: " .. rec.json.encode(cb))
  assert(real:counts() == queued0 and #sent == 0, "no alert queued or sent")
  assert(#fl:sessions() == 0, "the lost unit is not watched here")
  fl:stop()
  fl:wait()
  out:stop()
  held = { [ME] = 1 }
  real:set(ME .. "/session/sid-fenced", nil)
end

---------------------------------------------------------------- 3. the next owner resumes

do
  sent = {}
  local key = ME .. "/rec/restart/sim-agora-app/class-resume"
  -- the old owner: the failure recorded, the intent (uid 1001) written under its token, the
  -- resource acquired and stored, the start sent; killed before the sid was stored
  local acq = assert(rec.agora.acquire{ appid = APP, cname = "class-resume", uid = "1001", account = ACCT,
                                        clientRequest = {} })
  local started = assert(rec.agora.start{ appid = APP, cname = "class-resume", uid = "1001", account = ACCT,
    resourceid = acq.resourceId, mode = "mix",
    clientRequest = { storageConfig = { vendor = 1, region = 0, bucket = "b", accessKey = "sim-access-key",
                                        secretKey = "sim-secret-key" }, recordingConfig = { channelType = 0 } } })
  assert(started.sid)
  real:set(key, rec.json.encode{ done = { ["sid-resume"] = true }, starts = { rec.time() }, next = 2,
    intent = { uid = "1001", from = "sid-resume", reason = "status20", at = rec.time(),
               rid = acq.resourceId, rids = { acq.resourceId } } })
  assert(fleet.add(real, ME, nil, session("r-resume", "sid-resume")))
  local before = #calls
  -- the new owner
  local out = notify.outbox{ to = { cap }, db = proxy, every = 0.25 }
  local cb = cbs()
  local fl = start_fleet(out, "class-resume", 1, cb)
  wait_for("the start to be refused as running", function()
    local v = rec.json.decode(real:get(key))
    return v.intent and v.intent.unseen
  end)
  local mine = {}
  for k = before + 1, #calls do mine[#mine + 1] = calls[k] end
  assert(#mine == 2 and mine[1].name == "acquire" and mine[2].name == "start", rec.json.encode(mine))
  assert(mine[1].uid == "1001" and mine[2].uid == "1001", "the same uid, never a second one")
  assert(mine[2].sid == nil and mine[2].code == 53, "Agora refused a second recorder: " .. rec.json.encode(mine[2]))
  -- its event names the sid: adopted, the sessions set moves to it, recording again
  assert(watch.restart.adopt("class-resume", "1001", started.sid) == true, "adopted")
  wait_for("the adopted recorder to record", function() return #cb.restarted > 0 end)
  rec.sleep(10)
  assert(#cb.restarted == 1 and cb.restarted[1].sid == started.sid, rec.json.encode(cb))
  local starts_ok = 0
  for _, c in ipairs(calls_in("class-resume", "start")) do if c.sid then starts_ok = starts_ok + 1 end end
  assert(starts_ok == 1, "one recorder in the channel, the old owner's: " .. starts_ok)
  assert(#calls_in("class-resume", "acquire") == 2, "no further acquire")
  assert(real:get(ME .. "/session/sid-resume") == nil, "the old sid left the sessions set")
  assert(real:get(ME .. "/session/" .. rec.safe_id(started.sid)), "the adopted sid is in it")
  local stored = rec.json.decode(real:get(key))
  assert(stored.cur.sid == started.sid and stored.intent == nil, rec.json.encode(stored))
  assert(out:flush(5))
  local unseen
  for _, a in ipairs(sent) do
    if a.alert_id:find("unseen", 1, true) then unseen = (unseen or 0) + 1 end
  end
  assert(unseen == 2, "the unseen alert fired and resolved: " .. tostring(unseen))
  fl:stop()
  fl:wait()
  out:stop()
end
---------------------------------------------------------------- 4. a circuit per account

do
  sent = {}
  local B = "agora:cust-b"
  held = { [ME] = 1, [B] = 1 }
  assert(fleet.add(real, B, nil, session("r-cb", "sid-cb")))
  local out = notify.outbox{ to = { cap }, db = proxy, every = 0.25 }
  local cb = cbs()
  local fl = start_fleet(out, "class-cb", 1, cb, { share = 0.5, min_sessions = 1, probe = 20 })
  wait_for("cust-b's circuit to open", function() return watch.restart.circuit("cust-b").open end, 300)
  assert(not watch.restart.circuit(ACCT).open, "this account's circuit stays closed")
  assert(not watch.restart.circuit().open, "the process credential's circuit stays closed")
  assert(metric("recwatch_restart_circuit_open") == 1, "the gauge: one circuit open")
  assert(#calls_in("class-cb") == 0, "held: no control call while the circuit is open")
  -- the probe (20 s later) records again: cust-b's circuit closes
  wait_for("the probe to record", function() return #cb.restarted > 0 end, 120)
  assert(not watch.restart.circuit("cust-b").open and metric("recwatch_restart_circuit_open") == 0)
  for _, c in ipairs(calls_in("class-cb")) do assert(c.account == "cust-b", rec.json.encode(c)) end
  assert(real:get(B .. "/rec/restart/sim-agora-app/class-cb"), "its state under its own unit")
  assert(out:flush(5))
  local circ = 0
  for _, a in ipairs(sent) do
    if a.alert_id:find("circuit", 1, true) then
      circ = circ + 1
      assert(a.alert_id:find("cust-b", 1, true), "the circuit's id names its unit: " .. a.alert_id)
    end
  end
  assert(circ == 2, "the circuit alert fired and resolved: " .. circ)
  fl:stop()
  fl:wait()
  out:stop()
end
print("fleet_restart ok")
