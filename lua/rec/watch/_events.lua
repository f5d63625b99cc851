-- rec.watch._events (internal): Agora's notifications drive the watchers; they never replace
-- polling. One dispatcher task reads rec.events.next, logs the events that matter, drops the
-- ones older than what a session already told, routes the rest by sid to the running
-- watch.agora watchers (an event that may change the state makes the watcher query now: the
-- query decides), hands events for unknown sids to discovery, and marks each one done.
-- In a fleet (rec.events.shared(): the event store is PostgreSQL) every member is handed every
-- event, whichever member received it; only a member whose watcher (or discovery) took the
-- event marks it done: the unit's owner. The others leave it for the owner, and an event no
-- one takes ages out of the store at the de-duplication window.
-- Discovery (watch.agora{ discover = "notifications" }) lives here too: a session starts on its
-- first event, is watched by notifications only until its resource id is known, then polled,
-- and forgotten once a query confirmed its end.
local rec = rec or require "rec"
local sup = require "rec.watch._supervise"
local restart = require "rec.watch._restart"

local M = {}
local now = sup.now

-- rec.events (src/levents.c): the durable events, the receiver's or injected
local function events() return rec.events end
M.events = events

------------------------------------------------------------------------------ what events say

-- Events that may mean the state changed: the watcher queries at once. The rest (warnings,
-- uploads, the progress event 33 sent every minute, stream states) only show the session is
-- alive: they stretch the poll interval of a quiet session (see _agora's interval()).
local URGENT = {
  [1] = function(d) return (tonumber(d.errorLevel) or 0) >= 5 end,  -- fatal error: "call query"
  [3] = true,    -- status update
  [11] = true,   -- session_exit
  [12] = true,   -- session_failover
  [40] = true,   -- recorder_started
  [41] = true,   -- recorder_leave
}
function M.urgent(ev)
  local u = URGENT[ev.event_type]
  if type(u) == "function" then return u(ev.details or {}) end
  return u == true
end

-- The event's facts as structured log fields: the log module escapes and redacts them, so
-- nothing from an event becomes a log line unescaped. Only scalars; nested tables are left out.
local function ev_fields(ev, extra)
  local f = { provider = "agora", sid = ev.sid, cname = ev.cname, uid = ev.uid,
              event_type = ev.event_type, notice_id = ev.notice_id, sequence = ev.sequence,
              sendts = ev.sendts }
  for k, v in pairs(extra or {}) do f[k] = v end
  for k, v in pairs(f) do
    local t = type(v)
    if t ~= "string" and t ~= "number" and t ~= "boolean" then f[k] = nil end
  end
  return f
end
M.ev_fields = ev_fields

-- A fatal error, an abnormal exit and a failover are said in the log with their fields.
local function log_notable(ev)
  local d, t = ev.details or {}, ev.event_type
  if t == 1 and tonumber(d.errorLevel) == 5 then
    rec.log.error("kind=agora_event_fatal Agora reports a fatal recording error",
                  ev_fields(ev, { errorLevel = d.errorLevel, errorCode = d.errorCode,
                                  errorMsg = d.errorMsg, module = d.module }))
  elseif t == 11 and tonumber(d.exitStatus) == 1 then
    rec.log.error("kind=agora_event_abnormal_exit Agora reports an abnormal session exit",
                  ev_fields(ev, { exitStatus = d.exitStatus }))
  elseif t == 12 and d.newUid ~= nil then
    rec.log.warn("kind=agora_event_failover Agora reports a failover to a new uid",
                 ev_fields(ev, { newUid = tostring(d.newUid) }))
  end
end

-- Events are unordered. An event is older when its sequence (or, without one, its sendts) is
-- not past the newest seen for its sid; one that carries neither cannot be ordered and counts
-- as new.
local function int(x)
  if type(x) == "string" then x = tonumber(x) end
  return type(x) == "number" and math.tointeger(x) or nil
end

local function same(ev, last)
  if not last then return false end
  local s, ls = int(ev.sequence), last.sequence
  if s and ls then return s == ls end
  local ts, lts = int(ev.sendts), last.sendts
  return ts ~= nil and ts == lts
end

local function older(ev, last)
  if not last then return false end
  local s, ls = int(ev.sequence), last.sequence
  if s and ls then return s <= ls end
  local ts, lts = int(ev.sendts), last.sendts
  if ts and lts then return ts <= lts end
  return false
end

------------------------------------------------------------------------------ routing

local by_sid = {}         -- sid -> list of targets { poke = fn(ev, urgent) }
local newest = {}         -- sid -> { sequence=, sendts=, at= } of the newest event routed
local discoverers = {}    -- discover handles, in start order (the first takes unknown sids)
local gone, gone_q = {}, {}  -- sids forgotten after their end: late events start nothing
local GONE_KEEP = 24 * 3600
local consumers = 0
local task, waiting       -- the dispatcher, and whether it waits in rec.events.next
local stats = { handled = 0, old = 0, routed = 0, discovered = 0, unrouted = 0, malformed = 0,
                errors = 0, taken = 0 }
M.stats = stats

local function prune_gone()
  local t = now()
  while gone_q[1] and t - gone_q[1][2] > GONE_KEEP do
    local e = table.remove(gone_q, 1)
    if gone[e[1]] == e[2] then gone[e[1]] = nil end
  end
end

-- To the watchers of its sid, if any: true when routed.
local function route(ev)
  local sid = ev.sid
  local targets = by_sid[sid]
  if not (targets and #targets > 0) then return false end
  local n = newest[sid] or {}
  newest[sid] = n
  n.sequence = int(ev.sequence) or n.sequence
  n.sendts = int(ev.sendts) or n.sendts
  n.at = now()
  stats.routed = stats.routed + 1
  local urgent = M.urgent(ev)
  for _, t in ipairs({ table.unpack(targets) }) do t.poke(ev, urgent) end
  return true
end

-- What the restart policy (rec.watch._restart) needs from notifications: a recorder started
-- with a cname and uid whose start answer was lost runs unseen until an event names its sid
-- (40 recorder_started, 3 status update): it is adopted then; a failed-over recorder's new uid
-- (12's newUid) is never handed out by the restart's uid pool.
local function restart_facts(ev)
  local t, d = ev.event_type, ev.details
  if type(ev.cname) ~= "string" then return end
  if (t == 40 or t == 3) and ev.uid ~= nil then
    if restart.adopt(ev.cname, tostring(ev.uid), ev.sid) then
      rec.log.info("kind=restart_adopted_by_event a recorder that ran unseen is adopted: a notification named its sid",
                   ev_fields(ev))
    end
  elseif t == 12 and d.newUid ~= nil then
    restart.exclude_uid(ev.cname, tostring(d.newUid))
  end
end

-- true when the event was taken here (routed, discovered, or settled: malformed, older than
-- one a watcher here saw, late for a session that ended here); false when no watcher here
-- watches its sid (in a fleet: another member's)
local function handle(ev)
  stats.handled = stats.handled + 1
  if type(ev) ~= "table" or type(ev.sid) ~= "string" or ev.sid == "" then
    stats.malformed = stats.malformed + 1
    rec.log.warn("kind=agora_event_malformed an event without a sid: ignored",
                 type(ev) == "table" and ev_fields(ev) or {})
    return true
  end
  if type(ev.details) ~= "table" then ev.details = {} end
  ev.event_type = int(ev.event_type) or ev.event_type
  local sid = ev.sid
  restart_facts(ev)
  -- a resend (the same sequence, or sendts without one) is not logged again; an older event
  -- with facts of its own is, and changes nothing else
  if not same(ev, newest[sid]) then log_notable(ev) end
  if older(ev, newest[sid]) then
    stats.old = stats.old + 1
    rec.log.debug("kind=agora_event_old an event older than one already seen: it changes nothing",
                  ev_fields(ev))
    return true
  end
  if route(ev) then return true end
  prune_gone()
  if gone[sid] then
    rec.log.debug("kind=agora_event_late an event for a session already ended and forgotten", ev_fields(ev))
    return true
  end
  local d = discoverers[1]
  if d then
    stats.discovered = stats.discovered + 1
    d.found(ev)     -- attaches a target for sid: the event is then routed to it
    route(ev)
    return true
  end
  stats.unrouted = stats.unrouted + 1
  rec.log.debug("kind=agora_event_unwatched an event for a sid no watcher watches", ev_fields(ev))
  return false
end

local function loop()
  local me = task   -- a cancelled dispatcher must not clear the one started after it
  local ev_api = events()
  local shared = type(ev_api.shared) == "function" and ev_api.shared()
  while consumers > 0 do
    waiting = true
    local ev, err = ev_api.next()
    waiting = false
    if not ev then
      if rec.cancelled() or (type(err) == "table" and err.kind == "cancelled") then break end
      -- nothing but a timeout is expected here; never spin
      if not rec.sleep(1) then break end
    else
      local ok, e = xpcall(handle, debug.traceback, ev)
      local taken = not ok or e ~= false
      if ok and taken and shared then stats.taken = stats.taken + 1 end
      if not ok then
        stats.errors = stats.errors + 1
        rec.log.error("kind=events_error an event could not be handled (marked done, not retried): %s",
                      tostring(e), type(ev) == "table" and ev_fields(ev) or {})
      end
      if taken or not shared then   -- in a fleet an event no watcher here took is the owner's
        local okd, ed = pcall(ev_api.done, ev)
        if not okd then rec.log.error("kind=events_error rec.events.done failed: %s", tostring(ed)) end
      end
    end
  end
  if task == me then task = nil end
end

local function more()
  consumers = consumers + 1
  if not task then task = rec.spawn(loop) end
end

local function fewer()
  consumers = consumers - 1
  if consumers <= 0 and task and waiting then
    local t = task
    task = nil
    t:cancel()
  end
end

-- The restart policy holds the dispatcher while a recorder runs unseen (its adoption comes
-- from a notification), even when no watcher is left to consume.
restart.on_unseen = function(on) if on then more() else fewer() end end

-- A watcher of sid takes its events: target.poke(ev, urgent) for each newer one.
function M.attach(sid, target)
  local l = by_sid[sid]
  if not l then l = {} by_sid[sid] = l end
  l[#l + 1] = target
  more()
end

function M.detach(sid, target)
  local l = by_sid[sid]
  if not l then return end
  for i, t in ipairs(l) do
    if t == target then
      table.remove(l, i)
      fewer()
      break
    end
  end
  if #l == 0 then by_sid[sid], newest[sid] = nil, nil end
end

-- A session ended and confirmed: late events for it start nothing for GONE_KEEP seconds.
function M.forget(sid)
  local t = now()
  gone[sid] = t
  gone_q[#gone_q + 1] = { sid, t }
end

function M.add_discoverer(d)
  discoverers[#discoverers + 1] = d
  more()
end

function M.remove_discoverer(d)
  for i, x in ipairs(discoverers) do
    if x == d then table.remove(discoverers, i) fewer() return end
  end
end

------------------------------------------------------------------------------ discovery

local NOTIFY_STALE = 300  -- a notifications-only session with no event for this long is stale
local LOOKUP_EVERY = 30   -- seconds between resource lookups while a session has no resource id
local EXIT_FORGET = 60    -- a notifications-only session is forgotten this long after its exit
                          -- event if its resource id is still unknown (no query can confirm it)
local RID_MAX = 2048

local counts = { polled = 0, notifications_only = 0 }
local gauge               -- nil: not registered yet; false: registering failed (logged once)
local GAUGE = "watch_sessions"  -- a script-side family: recwatch_ is the runtime's prefix
local function count(mode, dn)
  counts[mode] = counts[mode] + dn
  if gauge == nil then
    local ok, g = pcall(rec.metrics.gauge, GAUGE,
      "Sessions found by discovery, by how they are watched: polled (resource id known) or notifications_only.",
      { "mode" })
    if ok then
      gauge = g
      g:set(0, { mode = "polled" })
      g:set(0, { mode = "notifications_only" })
    else
      gauge = false
      rec.log.error("kind=watcher_error cannot register the %s metric: %s", GAUGE, tostring(g))
    end
  end
  if gauge then gauge:set(counts[mode], { mode = mode }) end
end
M.counts = counts

local function note_error()
  local f = debug and debug.getregistry and debug.getregistry()["rec.note_error"]
  if f then f() end
end

local function url_escape(v)
  return (tostring(v or ""):gsub("[^%w%-_%.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- A resource id as a lookup answered it: a non-empty string of the characters Agora uses.
local function valid_rid(r)
  if type(r) == "table" then r = r.resourceid or r.resourceId end
  if type(r) ~= "string" or r == "" or #r > RID_MAX or not r:match("^[%w%-_%.]+$") then return nil end
  return r
end

-- Asks the script's resource_lookup for a session's resource id: a function (cname, uid, sid),
-- a JSON file { "<sid>": "<resourceid>" | { "resourceid": ... } } read at every attempt, or an
-- http(s) URL asked with ?sid=&cname=&uid= (200 with { "resourceid": ... } or the id as text;
-- 404 or 204: not known yet). Returns the id, or nil (not known yet, or a failure, logged).
local function lookup(lk, sess, f)
  local r
  if type(lk) == "function" then
    local ok, v = xpcall(lk, debug.traceback, sess.cname, sess.uid, sess.sid)
    if not ok then
      rec.log.error("kind=callback_error resource_lookup callback failed: %s", tostring(v), f)
      note_error()
      return nil
    end
    r = v
  elseif lk:match("^https?://") then
    local sep = lk:find("?", 1, true) and "&" or "?"
    local res, err = rec.http{ url = lk .. sep .. "sid=" .. url_escape(sess.sid) .. "&cname=" ..
                               url_escape(sess.cname) .. "&uid=" .. url_escape(sess.uid), timeout = 10 }
    if not res then
      rec.log.warn("kind=resource_lookup_failed the resource lookup URL did not answer: %s", tostring(err), f)
      return nil
    end
    if res.status == 404 or res.status == 204 then return nil end
    if res.status ~= 200 then
      rec.log.warn("kind=resource_lookup_failed the resource lookup URL answered %d", res.status, f)
      return nil
    end
    r = res.json or (res.body or ""):match("^%s*(.-)%s*$")
  else
    local fh, e = io.open(lk, "rb")
    if not fh then
      rec.log.warn("kind=resource_lookup_failed cannot read the resource lookup file: %s", tostring(e), f)
      return nil
    end
    local text = fh:read("a") or ""
    fh:close()
    local ok, t = pcall(rec.json.decode, text)
    if not ok or type(t) ~= "table" then
      rec.log.warn("kind=resource_lookup_failed the resource lookup file is not a JSON object", f)
      return nil
    end
    r = t[sess.sid]
  end
  if r == nil or r == false or r == "" then return nil end
  local rid = valid_rid(r)
  if not rid then
    rec.log.warn("kind=resource_lookup_failed the resource lookup answered something that is not a resource id", f)
  end
  return rid
end

-- The options a discovered session's watch.agora takes from the discover call.
local PASS = { "every", "max_every", "mode", "first_after", "start_every", "start_timeout",
               "confirm_delays", "ha_window", "on_change", "on_started", "on_start_failed",
               "on_ended", "on_error", "db", "on_stale", "on_recovered", "outbox", "fail_polls",
               "auth_retry", "stale_after" }

-- watch.agora{ discover = "notifications", appid = ..., resource_lookup = fn | path | url, ... }
-- (options checked by the caller). start(o2, hooks) starts one session's watch.agora.
function M.discover(o, start)
  local appid = o.appid
  local nstale = o.notify_stale_after or NOTIFY_STALE
  local lookup_every = o.lookup_every or LOOKUP_EVERY
  local lk = o.resource_lookup
  local d = { sessions = {}, stopped = false, done = rec.event() }

  local function base_fields(sess)
    return { provider = "agora", app = appid, sid = sess.sid, cname = sess.cname, uid = sess.uid }
  end

  local function forget(sess, why, warn)
    if d.sessions[sess.sid] ~= sess then return end
    d.sessions[sess.sid] = nil
    count(sess.mode, -1)
    M.forget(sess.sid)
    ;(warn and rec.log.warn or rec.log.info)("kind=agora_session_forgotten session forgotten: %s", why,
                                              base_fields(sess))
  end

  local function retire(sess)
    local w = sess.w
    if not w then return end
    sess.w = nil
    w.unwatched, w.stopped = true, true
    sup.look_at(w, now())
    sup.drop(w)
  end

  local function promote(sess, rid)
    local o2 = {}
    for _, k in ipairs(PASS) do o2[k] = o[k] end
    o2.appid, o2.resourceid, o2.sid = appid, rid, sess.sid
    o2.started_at = sess.first_seen
    sess.rid = rid
    -- the polled watcher attaches to the sid before the session lets go: nothing falls between
    sess.h = start(o2, { on_done = function(w, ended)
      sup.drop(w)
      if ended then forget(sess, "its end was confirmed by a query") end
    end })
    M.detach(sess.sid, sess.target)
    retire(sess)
    count("notifications_only", -1)
    sess.mode = "polled"
    count("polled", 1)
    rec.log.info("kind=agora_session_polled session now polled: its resource id is known",
                 base_fields(sess))
  end

  local function lookups(sess)
    local f = base_fields(sess)
    while not d.stopped and d.sessions[sess.sid] == sess and not sess.rid do
      if lk then
        local rid = lookup(lk, sess, f)
        if d.stopped or d.sessions[sess.sid] ~= sess then return end
        if rid then promote(sess, rid) return end
      end
      local wait = lookup_every
      if sess.exit_at then
        local left = sess.exit_at + EXIT_FORGET - now()
        if left <= 0 then
          M.detach(sess.sid, sess.target)
          retire(sess)
          forget(sess, ("it announced its exit %gs ago and has no resource id: its end was never confirmed by a query"):format(EXIT_FORGET), true)
          return
        end
        wait = math.min(wait, left)
      end
      sess.wake:clear()
      local ok, e = sess.wake:wait(math.max(0.05, wait))
      if not ok and type(e) == "table" and e.kind == "cancelled" then return end
    end
  end

  function d.found(ev)
    if d.stopped then return end
    local sid = ev.sid
    local sess = { sid = sid, cname = type(ev.cname) == "string" and ev.cname or nil,
                   uid = ev.uid ~= nil and tostring(ev.uid) or nil, mode = "notifications_only",
                   first_seen = rec.time(), wake = rec.event() }
    d.sessions[sid] = sess
    count("notifications_only", 1)
    local key = ("agora/%s/notifications-only/%s"):format(rec.safe_id(appid), rec.safe_id(sid))
    local w = sup.new_entry("agora", key, key, { stale_after = nstale, on_stale = o.on_stale,
                            on_recovered = o.on_recovered, outbox = o.outbox }, nstale)
    w.mode = "notifications_only"
    w.fields = base_fields(sess)
    sess.w = w
    sess.target = { poke = function(e)
      if sess.w then sup.event_seen(sess.w) end
      if e.event_type == 11 and not sess.exit_at then
        sess.exit_at = now()
        sess.wake:set()
      end
    end }
    M.attach(sid, sess.target)
    sup.start_monitor()
    rec.log.info("kind=agora_session_discovered session discovered from event %s: watched by notifications only until its resource id is known",
                 tostring(ev.event_type), base_fields(sess))
    sess.task = rec.spawn(lookups, sess)
  end

  local h = {}
  function h.stop()
    if d.stopped then return end
    d.stopped = true
    M.remove_discoverer(d)
    for _, sess in pairs(d.sessions) do
      if sess.h then sess.h:stop()
      else
        M.detach(sess.sid, sess.target)
        retire(sess)
        if sess.task then sess.task:cancel() end
      end
      count(sess.mode, -1)
    end
    d.sessions = {}
    d.done:set()
  end
  function h.wait() d.done:wait() end
  -- sid -> { mode = "polled" | "notifications_only", resourceid =, cname =, uid = }
  function h.sessions()
    local out = {}
    for sid, s in pairs(d.sessions) do
      out[sid] = { mode = s.mode, resourceid = s.rid, cname = s.cname, uid = s.uid }
    end
    return out
  end
  function h.info()
    local out = {}
    for _, s in pairs(d.sessions) do
      if s.w then out[#out + 1] = sup.info_of(s.w) end
      if s.h then for _, i in ipairs(s.h:info()) do out[#out + 1] = i end end
    end
    return out
  end
  h.state = function() return nil end
  M.add_discoverer(d)
  return setmetatable(h, { __index = function(_, k)
    error("watch.agora{ discover = ... }: the handle has stop, wait, sessions and info, not " .. tostring(k), 2)
  end })
end

return M
