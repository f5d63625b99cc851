-- rec.watch._state (internal): what both provider rooms share besides supervision. A task's
-- stored state and its transitions (load_state, prepare, commit: the state and the alerts the
-- callbacks queued, in one transaction), the handle (stop, wait, state, info) and its naps,
-- the protocol error, and the option checks (the common keys, functions, numbers).
local rec = rec or require "rec"
local batch = require "rec._batch"
local sup = require "rec.watch._supervise"

local now, info_of, look_at = sup.now, sup.info_of, sup.look_at

local function load_state(db, key)
  local v = db:get(key)
  if not v then return nil end
  local ok, t = pcall(rec.json.decode, v)
  return ok and type(t) == "table" and t or nil
end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

-- A transition: st is the new state (a copy; seq already the next one). Runs the callbacks
-- (fn) once inside a batch and returns the commit it prepared: the state and every alert the
-- callbacks queued, with ids from the provider's facts (rec._batch: the same facts give the
-- same ids in any process). commit(c) writes them in one transaction and raises when that
-- fails; it can be called again until it succeeds.
local function prepare(db, key, st, fn, facts)
  local b = batch.begin(db, key .. "#" .. st.seq, facts)
  local ok, err = xpcall(fn, debug.traceback)
  batch.finish(b)
  -- Stopped (SIGTERM, reload, h:stop()) while a callback waited: the callbacks may not have
  -- queued their alerts, so nothing is recorded; the next run sees the same transition and
  -- runs them again with the same ids (the same facts), and the outbox keeps each alert once.
  if rec.cancelled() then error({ kind = "cancelled", message = "watch " .. key .. ": stopped during a callback" }) end
  if not ok then rec.log.error("kind=watcher_error watch %s: %s", key, tostring(err)) end
  -- how many numbered alerts this event raised, and their ids' base (the facts of the event
  -- may not be known again when it clears: QingCloud's updated time moves on): resolve_alerts
  -- remakes their ids
  if facts and b.n > 0 then st[facts.event .. "_alerts"], st[facts.event .. "_base"] = b.n, b.id_base end
  st.at = rec.time()
  return { b = b, key = key, st = st, enc = assert(rec.json.encode(st)) }
end

-- The condition behind an earlier event cleared: resolves, through the watcher's outbox=,
-- the numbered alerts that event's callbacks raised (ids from its facts, count from the
-- state). Called inside the clearing event's callbacks, so the resolves commit with it.
-- facts may be just { event = name } when the state kept the event's base.
local function resolve_alerts(w, st, facts, text)
  local out, n = w.o.outbox, st[facts.event .. "_alerts"]
  if not out or not n then return end
  -- no base kept and no facts to remake it (a state from before bases were kept): nothing
  -- is resolved rather than a resolve under an id that never fired
  local base = st[facts.event .. "_base"] or (facts.label and batch.stable_base(facts))
  if not base then return end
  for i = 1, n do out:alert{ id = base .. "." .. i, status = "resolved", text = text } end
end

local function commit(c)
  batch.commit(c.b, function(d) d:set(c.key, c.enc) end, c.unit)
end

-- Fleet (rec.watch._fleet): account = "<id>" makes a watcher act for the unit
-- "<provider>:<id>" (its state keys start "<unit>/", its commits go under the unit's lease).
-- Returns the unit, or nil without an account; a bad account is the script's error.
local function unit_of(o, provider, where)
  if o.account == nil then return nil end
  if type(o.account) ~= "string" or o.account == "" or o.account:find("[%c%s/]") then
    error(("%s: 'account' must be an account id (a non-empty string without '/' or space), got %s")
          :format(where, type(o.account) == "string" and ("%q"):format(o.account) or type(o.account)), 3)
  end
  return provider .. ":" .. o.account
end

-- A fenced commit or call (e.kind == "fenced": this member no longer holds the unit, or may
-- not act for it now) of a watcher of a unit (account =): the unit moved to another member,
-- which watches it from here on. Not a failure: logged at info, never alerted; the watcher
-- stops (h:stop) and leaves /status (watch.fleet starts it again if the unit comes back).
-- True when e was such an error. A watcher without an account has no one to hand over to:
-- for it a fence is an error like any other (counted, logged, retried).
local function fenced(h, w, e)
  if not h.unit or type(e) ~= "table" or e.kind ~= "fenced" then return false end
  if not h.stopped then
    rec.log.info("kind=watcher_fenced watcher=%s: the unit moved (%s): this member stops watching it",
                 w.name, tostring(e.message or e.reason or "fenced"), sup.fields(w))
    h:stop()
  end
  return true
end

local Handle = {}
Handle.__index = Handle

function Handle:stop()
  self.stopped = true
  for _, l in ipairs(self.loops) do
    if l.w then
      l.w.stopped, l.w.unwatched = true, true
      look_at(l.w, now())
    end
    if l.sleeping then l.task:cancel() end
    if l.confirm then pcall(l.confirm.cancel, l.confirm) end   -- watch.agora's end confirmation
  end
end

function Handle:wait()
  for _, l in ipairs(self.loops) do l.task:wait() end
end

-- The stored state of a task key (for tests and dashboards).
function Handle:state(key) return load_state(self.db, key) end

-- The health of this handle's loops (see watch.status()).
function Handle:info()
  local out = {}
  for i, l in ipairs(self.loops) do out[i] = info_of(l.w) end
  return out
end

local function new_handle(db) return setmetatable({ loops = {}, db = db, stopped = false }, Handle) end

-- Sleeps unless the handle is stopped; returns false when the watcher must end.
local function nap(h, l, seconds)
  if h.stopped then return false end
  l.sleeping = true
  local ok = rec.sleep(seconds)
  l.sleeping = false
  return ok and not h.stopped
end

local function protocol(msg)
  return setmetatable({ kind = "protocol", message = msg },
                      { __tostring = function(x) return "protocol: " .. x.message end })
end

local COMMON = { "db", "name", "stale_after", "on_stale", "on_recovered", "outbox", "on_error",
                 "fail_polls", "auth_retry" }
local function allowed(list)
  local all = {}
  for _, k in ipairs(COMMON) do all[#all + 1] = k end
  for _, k in ipairs(list) do all[#all + 1] = k end
  return all
end

local function check_fn(o, where, names)
  for _, k in ipairs(names) do
    if o[k] ~= nil and type(o[k]) ~= "function" then
      error(("%s: '%s' must be a function, got %s"):format(where, k, type(o[k])), 3)
    end
  end
end

local function check_num(o, where, names, min)
  for _, k in ipairs(names) do
    if o[k] ~= nil and (type(o[k]) ~= "number" or o[k] ~= o[k] or o[k] < (min or 0)) then
      error(("%s: '%s' must be a number >= %g, got %s"):format(where, k, min or 0, tostring(o[k])), 3)
    end
  end
end

return {
  load_state = load_state, copy = copy, prepare = prepare, commit = commit,
  resolve_alerts = resolve_alerts, unit_of = unit_of, fenced = fenced,
  new_handle = new_handle, nap = nap, protocol = protocol,
  allowed = allowed, check_fn = check_fn, check_num = check_num,
}
