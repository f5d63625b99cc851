-- rec.watch._fleet (internal): watch.fleet and the watch set in the store. A session is a key
-- "<unit>/session/<id>" holding JSON (Agora: appid, resourceid, sid, mode, started_at;
-- QingCloud: app_id, channel), where the unit is "agora:<customer id>" or
-- "qingcloud:<access key id>". A fleet starts one watcher per session of each unit this
-- member holds and may act for (db:units(), db:unit(u)), with account = the unit's id, and
-- stops the watchers of units lost and sessions removed. add/remove/list serve
-- `recwatch sessions` (rec.cli.sessions) too. docs/workflows.md, "Fleet: watch.fleet and the
-- sessions set".
local rec = rec or require "rec"
local store = require "rec.store"
local opts = require "rec._opts"

local M = {}

local LOOK_EVERY = 0.5     -- seconds between two looks at the units held
local RESCAN_EVERY = 5     -- seconds between two reads of the sessions (also at once on a gain)
local MAX_ID = 128

local FIELDS = {   -- a session's fields: required ones, then optional ones
  agora = { need = { "appid", "resourceid", "sid" }, may = { "mode", "started_at", "name" } },
  qingcloud = { need = { "app_id", "channel" }, may = { "name" } },
}
local MODES = { mix = true, individual = true, web = true }

local function errv(msg)
  return setmetatable({ kind = "invalid_argument", message = msg },
                      { __tostring = function(x) return "invalid_argument: " .. x.message end })
end

-- "agora:<id>" -> "agora", "<id>"; nil for anything else.
function M.split_unit(u)
  if type(u) ~= "string" then return nil end
  local p, id = u:match("^(%l+):([^/%c%s]+)$")
  if not FIELDS[p] or #id > MAX_ID then return nil end
  return p, id
end

function M.unit(provider, account)
  local u = tostring(provider) .. ":" .. tostring(account)
  if not M.split_unit(u) then
    return nil, errv(("no unit for provider %q and account %q (agora or qingcloud, an id without '/')")
                     :format(tostring(provider), tostring(account)))
  end
  return u
end

local function valid_id(id)
  return type(id) == "string" and #id > 0 and #id <= MAX_ID and not id:find("[%c/%s]")
end

-- A session of provider p checked and copied (only its known fields), or nil, err.
function M.check_session(p, s)
  local f = FIELDS[p]
  if not f then return nil, errv("unknown provider " .. tostring(p)) end
  if type(s) ~= "table" then return nil, errv("a session is a JSON object") end
  local out = {}
  for _, k in ipairs(f.need) do
    if type(s[k]) ~= "string" or s[k] == "" then return nil, errv(("%s session: '%s' is required"):format(p, k)) end
    out[k] = s[k]
  end
  for _, k in ipairs(f.may) do out[k] = s[k] end
  for k in pairs(s) do
    local known = false
    for _, list in ipairs({ f.need, f.may }) do
      for _, n in ipairs(list) do known = known or n == k end
    end
    if not known then return nil, errv(("%s session: unknown field '%s'"):format(p, tostring(k))) end
  end
  if out.mode ~= nil and not MODES[out.mode] then
    return nil, errv("agora session: 'mode' is individual, mix or web")
  end
  if out.started_at ~= nil and (type(out.started_at) ~= "number" or out.started_at ~= out.started_at) then
    return nil, errv("agora session: 'started_at' is a unix time")
  end
  if out.name ~= nil and type(out.name) ~= "string" then return nil, errv("session: 'name' is a string") end
  return out
end

-- The id a session is stored under when none is given: its sid, or its channel.
function M.default_id(p, s)
  return rec.safe_id(tostring(p == "agora" and s.sid or s.channel))
end

local function key_of(unit, id) return unit .. "/session/" .. id end

-- Stores a session: the key, or nil, err (typed). Replaces one of the same id.
function M.add(db, unit, id, s)
  local p = M.split_unit(unit)
  if not p then return nil, errv(("bad unit %q: agora:<customer id> or qingcloud:<access key id>"):format(tostring(unit))) end
  local c, err = M.check_session(p, s)
  if not c then return nil, err end
  id = id or M.default_id(p, c)
  if not valid_id(id) then return nil, errv(("bad session id %q (1 to %d bytes, no '/', space or control)"):format(tostring(id), MAX_ID)) end
  local key = key_of(unit, id)
  local ok, e = pcall(db.set, db, key, assert(rec.json.encode(c)))
  if not ok then return nil, e end
  return key
end

-- Removes a session: true when it was there, false when not; nil, err when the store refused.
function M.remove(db, unit, id)
  if not M.split_unit(unit) or not valid_id(id) then return false end
  local key = key_of(unit, id)
  if db:get(key) == nil then return false end
  local ok, e = pcall(db.set, db, key, nil)
  if not ok then return nil, e end
  return true
end

-- Every session (of unit, when given), sorted by unit then id: { {unit=, id=, key=, raw=,
-- session= | error=} }. One scan of the store's cache.
function M.list(db, unit)
  local out = {}
  for k, v in pairs(db:keys(unit and (unit .. "/session/") or "")) do
    local u, id = k:match("^([^/]+)/session/([^/]+)$")
    local p = u and M.split_unit(u)
    if p then
      local ok, t = pcall(rec.json.decode, v)
      local s, err
      if ok then s, err = M.check_session(p, t) else err = errv("not JSON") end
      out[#out + 1] = { unit = u, id = id, key = k, raw = v, session = s, error = s == nil and tostring(err) or nil }
    end
  end
  table.sort(out, function(a, b) return a.key < b.key end)
  return out
end

------------------------------------------------------------------------------ watch.fleet

-- watch.fleet's own options; the rest go to each session's watcher (checked by it).
local OWN = { provider = true, look_every = true, rescan_every = true, db = true, on_session_error = true }
local PER_SESSION = { appid = true, resourceid = true, sid = true, app_id = true, channel = true,
                      channels = true, account = true, discover = true, started_at = true, name = true }
local PASSED = {
  agora = { "mode", "every", "first_after", "start_every", "start_timeout", "confirm_delays",
            "ha_window", "restart", "on_change", "on_started", "on_start_failed", "on_ended",
            "max_every" },
  qingcloud = { "every", "from_hour", "to_hour", "on_change", "on_status", "on_missing",
                "on_failed", "repair_timeout", "stagger" },
}
local COMMON = { "stale_after", "on_stale", "on_recovered", "outbox", "on_error", "fail_polls", "auth_retry" }

local Fleet = {}
Fleet.__index = Fleet

local function stop_watcher(f, key, why)
  local wt = f.watchers[key]
  if not wt then return end
  f.watchers[key] = nil
  rec.log.info("kind=fleet_session_stopped fleet %s: %s: no longer watched here (%s)", f.name, key, why,
               { unit = wt.unit, session = wt.id })
  pcall(wt.h.stop, wt.h)
end

-- on_session_error(key, why): once per bad value of a session; its own error is logged
local function said_bad(f, key, why)
  if not f.o.on_session_error then return end
  local ok, e = pcall(f.o.on_session_error, key, why)
  if not ok then
    rec.log.error("kind=callback_error fleet %s: on_session_error failed: %s", f.name, tostring(e))
    local note = debug and debug.getregistry and debug.getregistry()["rec.note_error"]
    if note then note() end   -- counted like a watcher callback's (RECWATCH_EXPECT_TASK_ERRORS)
  end
end

local function start_watcher(f, s)
  local p, account = M.split_unit(s.unit)
  if not s.session then
    if f.bad[s.key] ~= s.raw then
      f.bad[s.key] = s.raw
      rec.log.error("kind=fleet_session_invalid fleet %s: session %s is not watched: %s", f.name, s.key,
                    s.error, { unit = s.unit, session = s.id })
      said_bad(f, s.key, s.error)
    end
    return
  end
  local c = {}
  for k, v in pairs(f.o) do if not OWN[k] then c[k] = v end end
  c.db, c.account = f.db, account
  for k, v in pairs(s.session) do c[k] = v end
  if p == "qingcloud" then c.stagger = false end
  local ok, h = pcall(f.start, c)
  if not ok then
    f.bad[s.key] = s.raw
    rec.log.error("kind=fleet_session_invalid fleet %s: session %s cannot be watched: %s", f.name, s.key,
                  tostring(h), { unit = s.unit, session = s.id })
    said_bad(f, s.key, tostring(h))
    return
  end
  f.bad[s.key] = nil
  f.watchers[s.key] = { h = h, unit = s.unit, id = s.id, raw = s.raw }
  f.started = f.started + 1
  rec.log.info("kind=fleet_session_watched fleet %s: %s watched", f.name, s.key, { unit = s.unit, session = s.id })
end

-- One session's entry for start_watcher (decoded only when new or changed).
local function entry(key, raw)
  local u, id = key:match("^([^/]+)/session/([^/]+)$")
  local p = u and M.split_unit(u)
  local ok, t = pcall(rec.json.decode, raw)
  local s, err
  if ok then s, err = M.check_session(p, t) else err = errv("not JSON") end
  return { unit = u, id = id, key = key, raw = raw, session = s, error = s == nil and tostring(err) or nil }
end

-- The sessions of the units held now, against the watchers running: starts, stops. One pass
-- over the store's cache; a session's JSON is read only when it is new or changed (100,000
-- sessions: 0.34 to 0.42 s of CPU per rescan, where decoding them all took 1.6 s). A watcher
-- that stopped by itself (fenced: a commit refused while the unit still looked held) is
-- started again here if its unit is still held.
local function rescan(f)
  local t0 = os.clock()
  f.scanned = rec.now()
  local want = {}
  for k, v in pairs(f.db:keys("")) do
    if k:find("/session/", 1, true) then
      local u = k:match("^([^/]+)/session/[^/]+$")
      if u and f.units[u] then want[k] = v end
    end
  end
  for key, wt in pairs(f.watchers) do
    local raw = want[key]
    if not raw then stop_watcher(f, key, "session removed")
    elseif raw ~= wt.raw then stop_watcher(f, key, "session changed")
    elseif wt.h.stopped then f.watchers[key] = nil end   -- fenced by itself: started again below
  end
  for key, raw in pairs(want) do
    if not f.watchers[key] and f.bad[key] ~= raw then start_watcher(f, entry(key, raw)) end
  end
  for key in pairs(f.bad) do if not want[key] then f.bad[key] = nil end end
  -- a very large set: rescans further apart, so that they take at most 2% of a core
  f.rescan_gap = math.max(f.rescan_every, 50 * (os.clock() - t0))
end

-- One look: the units held and actionable now; a unit lost stops its watchers, a unit gained
-- (or held again under another token: someone else held it meanwhile) reads its sessions.
local function look(f)
  local due = f.dirty or rec.now() - f.scanned >= (f.rescan_gap or f.rescan_every)
  -- no leases (SQLite): units come and go only with sessions, so they are looked at with them
  -- (db:units() there is a pass over the whole cache)
  if not f.leases and not due then return end
  local now_units, gained = {}, false
  -- the units held (SQLite: every unit with a session), and the token of each one this
  -- member may act for now (SQLite: always 1)
  for _, u in ipairs(f.db:units()) do
    if M.split_unit(u) == f.provider then
      local tok = f.db:unit(u)
      if tok then now_units[u] = tok end
    end
  end
  for u, tok in pairs(f.units) do
    if now_units[u] ~= tok then
      rec.log.info("kind=fleet_unit_lost fleet %s: unit %s %s: its watchers stop", f.name, u,
                   now_units[u] and "held again under a new token" or "is no longer held (or may not act)", { unit = u })
      for key, wt in pairs(f.watchers) do
        if wt.unit == u then stop_watcher(f, key, "unit lost") end
      end
    end
  end
  for u, tok in pairs(now_units) do
    if f.units[u] ~= tok then
      gained = true
      rec.log.info("kind=fleet_unit_gained fleet %s: unit %s held (token %s): watching its sessions", f.name, u,
                   tostring(tok), { unit = u })
    end
  end
  f.units = now_units
  if gained or due then
    f.dirty = false
    rescan(f)
  end
end

local function check(o)
  if type(o) ~= "table" then error("watch.fleet takes a table", 3) end
  if not FIELDS[o.provider] then error('watch.fleet: provider must be "agora" or "qingcloud"', 3) end
  local allowed = {}
  for k in pairs(OWN) do allowed[#allowed + 1] = k end
  for _, k in ipairs(PASSED[o.provider]) do allowed[#allowed + 1] = k end
  for _, k in ipairs(COMMON) do allowed[#allowed + 1] = k end
  for k in pairs(o) do
    if PER_SESSION[k] then
      error(("watch.fleet: '%s' comes from each session in the store (recwatch sessions add), not from the options"):format(tostring(k)), 3)
    end
  end
  opts.check(o, allowed, "watch.fleet", 4)
  for _, k in ipairs({ "look_every", "rescan_every" }) do
    if o[k] ~= nil and (type(o[k]) ~= "number" or o[k] ~= o[k] or o[k] <= 0 or o[k] == math.huge) then
      error(("watch.fleet: '%s' must be a number of seconds > 0"):format(k), 3)
    end
  end
  if o.on_session_error ~= nil and type(o.on_session_error) ~= "function" then
    error("watch.fleet: 'on_session_error' must be a function", 3)
  end
end

-- watch.fleet{ provider = "agora" | "qingcloud", look_every = 0.5, rescan_every = 5, db =,
--   on_session_error = fn(key, why), + the provider watcher's options } -> fleet
function M.fleet(o)
  check(o)
  local db = o.db or store.open()
  local start = o.provider == "agora" and require("rec.watch._agora").agora
                or require("rec.watch._qingcloud").qingcloud
  local f = setmetatable({
    o = o, db = db, provider = o.provider, start = start, name = o.provider, leases = db:fleet(),
    look_every = o.look_every or LOOK_EVERY, rescan_every = o.rescan_every or RESCAN_EVERY,
    units = {}, watchers = {}, bad = {}, scanned = -math.huge, started = 0, looks = 0, failures = 0,
    wake = rec.event(), stopped = false,
  }, Fleet)
  f.task = rec.spawn(function()
    while not f.stopped do
      local ok, err = pcall(look, f)
      f.looks = f.looks + 1
      if not ok then
        if type(err) == "table" and err.kind == "cancelled" then break end
        f.failures = f.failures + 1
        -- said at once, then once a minute while it lasts (a look comes every look_every)
        if f.failures == 1 or rec.now() - (f.said or 0) >= 60 then
          f.said = rec.now()
          rec.log.error("kind=fleet_error fleet %s: a look at the units failed (%d in a row; again in %gs): %s",
                        f.name, f.failures, f.look_every, tostring(err))
        end
      elseif f.failures > 0 then
        rec.log.info("kind=fleet_recovered fleet %s: looking at the units works again after %d failures", f.name, f.failures)
        f.failures = 0
      end
      f.wake:clear()
      local r, e = f.wake:wait(f.look_every)
      if not r and not (type(e) == "table" and e.kind == "timeout") then break end
    end
    -- fl:stop() stops the watchers; a cancellation (SIGTERM, a reload) reaches them itself
    if f.stopped then
      for key in pairs(f.watchers) do stop_watcher(f, key, "fleet stopped") end
    end
  end)
  return f
end

-- Adds (or replaces) a session of unit u in the store; the next look watches it.
function Fleet:add(unit, id, s)
  local key, err = M.add(self.db, unit, id, s)
  if key then self.dirty = true self.wake:set() end
  return key, err
end

-- Removes a session from the store; its watcher stops at the next look.
function Fleet:remove(unit, id)
  local ok, err = M.remove(self.db, unit, id)
  if ok then self.dirty = true self.wake:set() end
  return ok, err
end

-- The keys of the sessions watched now, sorted.
function Fleet:sessions()
  local out = {}
  for key in pairs(self.watchers) do out[#out + 1] = key end
  table.sort(out)
  return out
end

-- The watcher handle of a session key (nil when not watched here).
function Fleet:handle(key)
  local wt = self.watchers[key]
  return wt and wt.h
end

-- { units = {held and actionable, sorted}, watching = n, invalid = n, started = n, looks = n,
--   failures = looks failed in a row }
function Fleet:info()
  local units, nw, nb = {}, 0, 0
  for u in pairs(self.units) do units[#units + 1] = u end
  table.sort(units)
  for _ in pairs(self.watchers) do nw = nw + 1 end
  for _ in pairs(self.bad) do nb = nb + 1 end
  return { units = units, watching = nw, invalid = nb, started = self.started, looks = self.looks,
           failures = self.failures }
end

function Fleet:stop()
  self.stopped = true
  self.wake:set()
end

function Fleet:wait() self.task:wait() end

return M
