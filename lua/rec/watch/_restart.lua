-- rec.watch._restart (internal): watch.agora's restart policy (`restart = {...}`): brings a
-- failed recording back with acquire + start under a new uid, once, across crashes, and
-- never as a storm. One session per App ID + cname (shared by the watchers of its sids);
-- one circuit breaker per account (the process's Agora credential, or each account=).
-- docs/workflows.md "Bring a failed recording back" says what it guarantees, and "Restart in
-- a fleet" what changes with account= (watch.fleet): every write commits under the unit
-- (keys "<unit>/rec/restart/..."), a fenced write or a unit this member may no longer act
-- for stops the restart quietly before any control call, the calls carry account= (the call
-- layer refuses them past D), and a restarted recording's new sid replaces the old one in
-- the sessions set, in the intent's own transaction.
local rec = rec or require "rec"
local opts = require "rec._opts"
local batch = require "rec._batch"

local M = {}

local session_key, move_session   -- the sessions set (fleet), below

local KEYS = { "uids", "uid", "cname", "client_request", "acquire_request", "budget", "per",
               "backoff", "settle", "circuit", "on_restarted", "on_restart_failed",
               "on_gave_up" }
local CKEYS = { "share", "window", "probe", "min_sessions" }

local sessions = {}     -- "[unit/]appid/cname" -> session (per Lua state: a reload starts afresh)
-- per account ("" the process's credential, else the unit): its sessions and its circuit
-- breaker (fails = { {t, session key}, ... } in the window)
local nsessions = {}
local circuits = {}
local function circuit_of(acct)
  local c = circuits[acct]
  if not c then
    c = { fails = {}, open = false, opened_at = nil, next_probe = nil, probing = nil }
    circuits[acct] = c
  end
  return c
end
-- the gauge is one for the process: 1 while any account's circuit is open
local function circuit_gauge()
  if not rec.metrics._restart_circuit then return end
  local any = false
  for _, c in pairs(circuits) do any = any or c.open end
  rec.metrics._restart_circuit(any)
end

local function metric(result)
  if rec.metrics._restart then rec.metrics._restart(result) end
end

local function log_fields(s, extra)
  local f = { provider = "agora", app = s.appid, cname = s.cname, unit = s.unit }
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

------------------------------------------------------------------------------ checks

function M.check(r, where)
  if type(r) ~= "table" then error(where .. ": 'restart' must be a table", 3) end
  opts.check(r, KEYS, where .. " restart", 3)
  if type(r.cname) ~= "string" or r.cname == "" then
    error(where .. ": restart.cname (the channel to record again) is required", 3)
  end
  if type(r.uids) ~= "table" or #r.uids < 2 then
    error(where .. ": restart.uids must list at least two uids (quoted integers), so they alternate", 3)
  end
  for i, u in ipairs(r.uids) do
    if type(u) ~= "string" or not u:match("^[1-9]%d*$") then
      error(("%s: restart.uids[%d] must be a quoted integer other than 0, got %s"):format(where, i, tostring(u)), 3)
    end
  end
  local cr = r.client_request
  if type(cr) ~= "table" and type(cr) ~= "function" then
    error(where .. ": restart.client_request must be a table or a function(ctx)", 3)
  end
  for _, k in ipairs{ "budget", "per", "settle" } do
    if r[k] ~= nil and (type(r[k]) ~= "number" or r[k] ~= r[k] or r[k] < 0) then
      error(("%s: restart.%s must be a number >= 0"):format(where, k), 3)
    end
  end
  if r.backoff ~= nil then
    if type(r.backoff) ~= "table" or #r.backoff == 0 then error(where .. ": restart.backoff must be a list of seconds", 3) end
    for i, d in ipairs(r.backoff) do
      if type(d) ~= "number" or d ~= d or d < 0 then error(("%s: restart.backoff[%d] must be seconds >= 0"):format(where, i), 3) end
    end
  end
  if r.circuit ~= nil then
    if type(r.circuit) ~= "table" then error(where .. ": restart.circuit must be a table", 3) end
    opts.check(r.circuit, CKEYS, where .. " restart.circuit", 3)
    local sh = r.circuit.share
    if sh ~= nil and (type(sh) ~= "number" or sh <= 0 or sh > 1) then
      error(where .. ": restart.circuit.share must be a number in (0, 1]", 3)
    end
  end
  for _, k in ipairs{ "on_restarted", "on_restart_failed", "on_gave_up" } do
    if r[k] ~= nil and type(r[k]) ~= "function" then error(("%s: restart.%s must be a function"):format(where, k), 3) end
  end
end

------------------------------------------------------------------------------ the stored state

-- st = { cur = { rid, sid, uid } (the recorder this session counts on), done = { [sid] = true }
-- (sids already restarted from), starts = { times of restart attempts, for the budget },
-- intent = { uid, from, reason, at, rids = {...}, rid, sid, unseen } (a restart under way),
-- stop406 = time (restarts stopped by the concurrency limit), excluded = { [uid] = true } }
-- Every write of a session goes through here: under its unit's lease when it has one (a
-- stale token: false, {kind = "fenced"}, nothing written, raised). more(d), when given, adds
-- writes to the same transaction (the sessions set's rows).
local function save(s, more)
  local enc = assert(rec.json.encode(s.st))
  local ok, err = s.db:transaction(function(d)
    d:set(s.key, enc)
    if more then more(d) end
  end, s.unit and { unit = s.unit } or nil)
  if not ok then error(err, 0) end
  s.raw = enc
end

local function is_fenced(e) return type(e) == "table" and e.kind == "fenced" end

local function fenced_error(s, why)
  return setmetatable({ kind = "fenced", unit = s.unit, message = why },
                      { __tostring = function(x) return "fenced: " .. x.message end })
end

-- Before a control call (fleet): this member must still hold the unit and have time to D
-- left (db:unit: the token, nil past D). A control call cannot be fenced by the database:
-- the intent was written under the token first, and the call goes out only while this
-- holds (the call layer checks again, and caps the request, for account=). Raises fenced.
local function may_act(s)
  if not s.unit then return end
  local ok, tok = pcall(s.db.unit, s.db, s.unit)
  if not (ok and tok) then error(fenced_error(s, "this member may not act for " .. s.unit .. " now"), 0) end
end

-- A restart stopped by a fence: the unit moved; its next owner resumes the stored intent.
-- Not a failure: logged at info, no alert, no callback, no control call from here on.
local function stopped_fenced(s, e)
  s.raw = nil   -- what this member has in memory may be stale: read again at the next attach
  metric("fenced")
  rec.log.info("kind=restart_fenced restart %s/%s: %s: this member stops the restart (the unit's next owner resumes it from the store)",
               s.appid, s.cname, tostring(e.message or e), log_fields(s))
end

local function callback(s, name, ...)
  local fn = s.o[name]
  if not fn then return end
  local ok, e = xpcall(fn, debug.traceback, ...)
  if not ok then
    rec.log.error("kind=callback_error restart %s/%s: %s failed: %s", s.appid, s.cname, name, tostring(e), log_fields(s))
    local f = debug and debug.getregistry and debug.getregistry()["rec.note_error"]
    if f then f() end
  end
end

-- An alert through the watcher's outbox, with a stable id (the same facts: the same id, in
-- any process: a restart after a crash does not alert twice).
-- Queues a (an alert or a resolve) through the session's outbox: in a fleet under the unit's
-- lease (its owner sends it; a fenced member queues nothing). true, or false, err.
local function queue(s, a)
  if not s.unit then return pcall(s.out.alert, s.out, a) end
  local b = batch.begin(s.db, a.id, nil)
  local ok, e = pcall(s.out.alert, s.out, a)
  batch.finish(b)
  if ok then ok, e = pcall(batch.commit, b, function() end, s.unit) end
  return ok, e
end

local function alert(s, id, text, extra)
  rec.log.error("kind=restart_alert %s", text, log_fields(s, { alert = id }))
  if not s.out then return end
  local a = { id = id, text = text, kind = "agora_restart", provider = "agora", app = s.appid,
              channel = s.cname }
  for k, v in pairs(extra or {}) do a[k] = v end
  local ok, e = queue(s, a)
  if not ok then rec.log.warn("restart %s/%s: cannot queue alert %s yet: %s", s.appid, s.cname, id, tostring(e)) end
end

local function resolve(s, id, text)
  if s.out then queue(s, { id = id, status = "resolved", text = text }) end
end

-- /status: each restart in flight, as a health entry of its own
local function show(s, phase)
  local hk = "restart/" .. rec.safe_id(s.appid) .. "/" .. rec.safe_id(s.cname)
  if phase then
    s.showing = true
    rec.health.report(hk, { provider = "agora", ok = true, stale_after = 3600,
                            status = "restarting: " .. phase })
  elseif s.showing then
    s.showing = false
    rec.health.forget(hk)
  end
end

------------------------------------------------------------------------------ circuit

local function circuit_open(s, now)
  local circuit = s.circuit
  circuit.open, circuit.opened_at, circuit.next_probe, circuit.probing = true, now, now + s.probe, nil
  -- an account's circuit has an id of its own (the process's credential keeps the old one)
  circuit.id = rec.safe_id(("restart/%scircuit@%d"):format(s.unit and (s.unit .. "/") or "", math.floor(rec.time())), true)
  circuit_gauge()
  alert(s, circuit.id, ("recwatch: more than %.0f%% of the Agora sessions%s failed within %gs: restarts are held (a provider-wide outage?); one restart probes every %gs")
        :format(s.share * 100, s.unit and (" of " .. s.unit) or "", s.window, s.probe), { kind = "agora_restart_circuit" })
  circuit.out = s.out
end

local function circuit_close(s)
  local circuit = s.circuit
  if not circuit.open then return end
  circuit.open, circuit.probing = false, nil
  circuit_gauge()
  rec.log.info("kind=restart_circuit_closed restart: a probe recorded again: restarts resume", log_fields(s))
  if circuit.out then
    queue({ out = circuit.out, db = s.db, unit = s.unit }, { id = circuit.id, status = "resolved",
      text = "recwatch: a restart probe records again: restarts resume" })
  end
end

-- A session failed: counted; the circuit opens when more than `share` of the sessions
-- failed within `window` (and at least min_sessions are watched).
local function note_failure(s)
  local circuit = s.circuit
  local now = rec.now()
  local keep, seen, n = {}, {}, 0
  for _, f in ipairs(circuit.fails) do
    if now - f[1] <= s.window then keep[#keep + 1] = f end
  end
  keep[#keep + 1] = { now, s.skey }
  circuit.fails = keep
  for _, f in ipairs(keep) do
    if not seen[f[2]] then seen[f[2]], n = true, n + 1 end
  end
  local ns = nsessions[s.acct]
  if not circuit.open and ns >= s.min_sessions and n > s.share * ns then
    circuit_open(s, now)
  end
end

-- Waits while the circuit holds restarts; true when this session may go (the probe, or closed).
local function circuit_pass(s)
  local circuit = s.circuit
  while circuit.open do
    local now = rec.now()
    if not circuit.probing and now >= circuit.next_probe then
      circuit.probing = s.skey
      rec.log.warn("kind=restart_probe restart %s/%s: probing while the circuit is open", s.appid, s.cname, log_fields(s))
      return true
    end
    if circuit.probing == s.skey then return true end
    show(s, "held by the circuit breaker")
    if not rec.sleep(math.max(0.5, (circuit.next_probe or now + 1) - now)) then return false end
  end
  return true
end

local function probe_failed(s)
  local circuit = s.circuit
  if circuit.open and circuit.probing == s.skey then
    circuit.probing, circuit.next_probe = nil, rec.now() + s.probe
  end
end

------------------------------------------------------------------------------ one restart

local function pick_uid(s)
  local cur = s.st.cur and s.st.cur.uid or s.o.uid
  local n = #s.o.uids
  s.st.next = s.st.next or 1
  for _ = 1, n do
    local u = s.o.uids[(s.st.next - 1) % n + 1]
    s.st.next = s.st.next % n + 1
    if u ~= cur and not (s.st.excluded and s.st.excluded[u]) then return u end
  end
  return nil
end

local function client_request(s, i)
  local cr = s.o.client_request
  if type(cr) == "function" then
    return cr{ appid = s.appid, cname = s.cname, uid = i.uid, from_sid = i.from, reason = i.reason,
               attempt = #s.st.starts }
  end
  return cr
end

-- While a recorder runs unseen, the notifications must keep flowing even when no watcher is
-- left (the events dispatcher runs only while someone consumes): M.on_unseen, set by
-- rec.watch._events, takes (true) and lets go (false) of the dispatcher, once per intent.
local held = setmetatable({}, { __mode = "k" })   -- intents holding it (never saved)
local function hold_events(i, on)
  if on and not held[i] then
    held[i] = true
    if M.on_unseen then M.on_unseen(true) end
  elseif not on and held[i] then
    held[i] = nil
    if M.on_unseen then M.on_unseen(false) end
  end
end

local function unseen_id(s, i)
  return rec.safe_id(("restart/%s/%s/unseen/%s@%d"):format(s.appid, s.cname, i.uid, math.floor(i.at)), true)
end

local attempt, watch_new

------------------------------------------------------------------------------ the sessions set (fleet)

local FLEET = {}   -- s.handles' mark for a sid watch.fleet watches (from the sessions set)

-- The sessions-set key of a sid, as watch.fleet names a session stored by its sid.
function session_key(s, sid) return s.unit .. "/session/" .. rec.safe_id(sid) end

-- The key of the sessions-set row that holds sid (any id: `recwatch sessions add` may name
-- it), or nil. One pass over the unit's sessions, at a restart only.
local function find_session(s, sid)
  local ok, rows = pcall(s.db.keys, s.db, s.unit .. "/session/")
  if not ok or type(rows) ~= "table" then return nil end
  for k, v in pairs(rows) do
    local ok2, t = pcall(rec.json.decode, v)
    if ok2 and type(t) == "table" and t.sid == sid and t.appid == s.appid then return k, t end
  end
  return nil
end

-- The writes that move a restarted recording in the sessions set: the new sid's row added
-- (its resource id, mode and start time), the row of the sid it replaces removed. Only for a
-- session watch.fleet watches (the old sid is in the set); nil otherwise.
function move_session(s, i)
  if not s.unit or not i.from then return nil end
  local old, t = find_session(s, i.from)
  if not old then return nil end
  local new = session_key(s, i.sid)
  local enc = assert(rec.json.encode{ appid = s.appid, resourceid = i.rid, sid = i.sid,
                                      mode = t.mode or s.mode, started_at = math.floor(i.at) })
  return function(d)
    if old ~= new then d:set(old, nil) end
    d:set(new, enc)
  end
end

-- The restart failed: counted, reported, retried later (backoff) unless stopped.
local function failed(s, i, err)
  metric("failed")
  probe_failed(s)
  rec.log.warn("kind=restart_failed restart %s/%s uid %s: %s", s.appid, s.cname, i.uid, tostring(err), log_fields(s))
  s.st.intent = nil
  local ok = pcall(save, s)
  if not ok then rec.log.warn("restart %s/%s: cannot record the failed attempt yet", s.appid, s.cname) end
  callback(s, "on_restart_failed", { appid = s.appid, cname = s.cname, uid = i.uid, from_sid = i.from }, err)
  return "failed"
end

-- acquire + start for the stored intent i (its uid chosen and stored before this runs).
function attempt(s, i)
  show(s, "acquiring (uid " .. i.uid .. ")")
  may_act(s)
  local acq, err = rec.agora.acquire{ appid = s.appid, cname = s.cname, uid = i.uid,
                                      clientRequest = s.o.acquire_request, account = s.account }
  if not acq then
    -- stopped (SIGTERM, a reload) meanwhile, or fenced (the unit moved): the intent stays for
    -- the next script, or the unit's next owner, to resume
    if err.kind == "cancelled" or err.kind == "fenced" then error(err, 0) end
    if err.code == 406 then return "406", err end
    return failed(s, i, err)
  end
  i.rid = acq.resourceId
  i.rids = i.rids or {}
  i.rids[#i.rids + 1] = acq.resourceId
  save(s)
  show(s, "starting (uid " .. i.uid .. ", resource " .. i.rid .. ")")
  local ok, cr = pcall(client_request, s, i)
  if not ok then return failed(s, i, "client_request failed: " .. tostring(cr)) end
  may_act(s)
  local r
  r, err = rec.agora.start{ appid = s.appid, cname = s.cname, uid = i.uid, resourceid = i.rid,
                            mode = s.mode, clientRequest = cr, account = s.account }
  if r and r.sid then
    i.sid = r.sid
    if s.st.intent ~= i then
      -- superseded while the start was under way (the original answered again): this
      -- recorder is not wanted, stopped at once
      metric("duplicate_stopped")
      local sr, se = rec.agora.stop{ appid = s.appid, cname = s.cname, uid = i.uid, resourceid = i.rid,
                                     sid = r.sid, mode = s.mode, account = s.account }
      rec.log.warn("restart %s/%s: sid %s started after the restart was called off: stopped (%s)",
                   s.appid, s.cname, r.sid, sr and sr.outcome or tostring(se), log_fields(s, { sid = r.sid }))
      return "superseded"
    end
    -- fleet: the new sid replaces the one it restarts in the sessions set, in the same
    -- transaction (the recording moves with its unit to the next owner). Fenced here, the
    -- recorder runs and the store keeps the intent without a sid: the next owner acquires
    -- with the same uid, Agora answers 7/53, and the recorder is adopted by its event.
    local ok2, e2 = pcall(save, s, move_session(s, i))
    if not ok2 then
      if is_fenced(e2) then
        rec.log.warn("restart %s/%s: sid %s (uid %s) started, but the unit moved before it was recorded: the next owner adopts it (same uid, 7/53, then its event)",
                     s.appid, s.cname, r.sid, i.uid, log_fields(s, { sid = r.sid }))
      end
      error(e2, 0)
    end
    metric("started")
    if rec.metrics._restart_started then rec.metrics._restart_started(s.appid) end
    rec.log.info("kind=restart_started restart %s/%s: started sid %s (uid %s) for %s", s.appid, s.cname,
                 r.sid, i.uid, i.from, log_fields(s, { sid = r.sid }))
    show(s, "started sid " .. r.sid .. ", waiting for it to record")
    watch_new(s, i)
    return "started"
  elseif r and r.running then
    -- 7 or 53: a recorder with this uid already runs in the channel (a start whose answer
    -- was lost). Not a reason to start another: alert, and adopt it when its sid is known.
    i.unseen = true
    save(s)
    hold_events(i, true)
    metric("running_unseen")
    alert(s, unseen_id(s, i), ("recwatch: an Agora recorder with uid %s runs unseen in channel %s (a restart's start answer was lost, code %s): it cannot be queried or stopped until its sid is known; no other is started")
          :format(i.uid, s.cname, tostring(r.code)), { uid = i.uid, kind = "agora_running_unseen" })
    show(s, "a recorder with uid " .. i.uid .. " runs unseen (waiting for its sid)")
    return "unseen"
  end
  if err and (err.kind == "cancelled" or err.kind == "fenced") then error(err, 0) end
  if err and err.code == 406 then return "406", err end
  return failed(s, i, err)
end

local function stop406(s, err)
  metric("gave_up")
  s.st.stop406 = rec.time()
  -- an intent resumed after a crash may have started its recorder before the 406: kept, so a
  -- notification can still adopt it
  if not (s.st.intent and s.st.intent.resumed) then s.st.intent = nil end
  pcall(save, s)
  alert(s, rec.safe_id(("restart/%s/concurrency@%s"):format(s.appid, s.cname), true),
        ("recwatch: Agora refuses new recordings for App ID %s (406, the concurrency limit): restarts in %s stopped; tasks may be leaking (never stopped)")
        :format(s.appid, s.cname), { code = 406 })
  show(s)
  callback(s, "on_gave_up", { appid = s.appid, cname = s.cname, reason = "concurrency_limit" }, err)
end

local function recent_starts(s)
  local keep, t = {}, rec.time()
  for _, x in ipairs(s.st.starts or {}) do
    if t - x < s.per then keep[#keep + 1] = x end
  end
  s.st.starts = keep
  return #keep
end

-- The restart task of a session: guards, the intent written, then acquire + start.
local function run_restart(s, from, reason)
  local n = recent_starts(s)
  if s.st.stop406 then return end
  if n >= s.budget then
    metric("gave_up")
    alert(s, rec.safe_id(("restart/%s/%s/gave_up@%s"):format(s.appid, s.cname, from), true),
          ("recwatch: recording of channel %s failed again (%s, sid %s): restart budget spent (%d per %gs), giving up")
          :format(s.cname, reason, from, s.budget, s.per), { sid = from })
    callback(s, "on_gave_up", { appid = s.appid, cname = s.cname, reason = "budget", from_sid = from })
    return
  end
  local wait = s.settle
  if n > 0 then wait = math.max(wait, s.backoff[math.min(n, #s.backoff)]) end
  show(s, ("waiting %gs before restarting (%s)"):format(wait, reason))
  if wait > 0 and not rec.sleep(wait) then return end
  if not circuit_pass(s) then return end
  if s.st.stop406 then return end
  local uid = pick_uid(s)
  if not uid then
    return callback(s, "on_gave_up", { appid = s.appid, cname = s.cname, reason = "no_uid" })
  end
  local i = { uid = uid, from = from, reason = reason, at = rec.time() }
  s.st.intent = i
  s.st.starts[#s.st.starts + 1] = rec.time()
  -- the intent, with its uid, is recorded before the acquire: a crash from here on is
  -- resumed with this uid, never with a second one
  local ok, e = pcall(function() may_act(s) save(s) end)
  if not ok then
    s.st.intent = nil
    if is_fenced(e) then   -- the unit moved: no intent, no control call, no start counted
      s.st.starts[#s.st.starts] = nil
      error(e, 0)
    end
    rec.log.error("kind=restart_failed restart %s/%s: cannot record the intent, not restarting now: %s",
                  s.appid, s.cname, tostring(e), log_fields(s))
    return failed(s, i, e)
  end
  local r, err = attempt(s, i)
  if r == "406" then stop406(s, err) end
  if r == "failed" then
    -- again after the backoff, while the budget lasts (the failed sid stays the one to replace)
    return run_restart(s, from, reason)
  end
end

local function spawn_restart(s, from, reason, fn)
  if s.busy then return end
  s.busy = true
  rec.spawn(function()
    local ok, e = pcall(fn or run_restart, s, from, reason)
    s.busy = false
    if not ok and is_fenced(e) then
      stopped_fenced(s, e)
    elseif not ok and not (type(e) == "table" and e.kind == "cancelled") then
      rec.log.error("kind=restart_failed restart %s/%s: %s", s.appid, s.cname, tostring(e), log_fields(s))
    end
    -- in /status until the restart is over: no intent left (an unseen recorder stays shown)
    if not s.st.intent then show(s) end
  end)
end

-- The new sid is watched at once (a watcher of its own, the same options and policy).
-- Fleet: a sid in the unit's sessions set is watched by watch.fleet (told to look now), not
-- by a watcher of the session's own (one watcher per sid, on the unit's owner only).
function watch_new(s, i)
  if s.handles[i.sid] then return end
  if s.unit and s.db:get(session_key(s, i.sid)) then
    s.handles[i.sid] = FLEET
    if M.on_sessions_changed then M.on_sessions_changed() end
    return
  end
  s.handles[i.sid] = s.spawn_watch(i.sid, i.rid, i.at)
end

------------------------------------------------------------------------------ what the watchers tell

local Session = {}
Session.__index = Session

-- A sid of this session records (status 4 or 5).
function Session:running(sid)
  local i = self.st.intent
  if i and i.sid == sid then
    local from = i.from
    self.st.cur = { rid = i.rid, sid = i.sid, uid = i.uid }
    self.st.intent = nil
    if not pcall(save, self) then self.st.intent = i return end
    metric("ok")
    rec.log.info("kind=restart_ok restart %s/%s: sid %s records again in place of %s (%.1fs after the failure was seen)",
                 self.appid, self.cname, sid, from, rec.time() - (self.failed_at[from] or i.at),
                 log_fields(self, { sid = sid }))
    show(self)
    if self.circuit.probing == self.skey then circuit_close(self) end
    callback(self, "on_restarted", { appid = self.appid, cname = self.cname, sid = sid,
      resourceid = self.st.cur.rid, uid = self.st.cur.uid, from_sid = from,
      latency = rec.time() - (self.failed_at[from] or i.at) })
  end
end

function Session:is_current(sid)
  local cur = self.st.cur and self.st.cur.sid or self.first_sid
  return sid == cur
end

-- A sid of this session failed: reason "status20" (confirmed here by one more query), "gone"
-- (404 past the HA window) or "start_timeout". last_status: its last status seen.
function Session:failed(sid, reason, last_status, rid)
  if self.st.done[sid] then return end
  if not self:is_current(sid) then
    -- a restarted recorder that never recorded (start timeout) is current only as the intent
    local i = self.st.intent
    if not (i and i.sid == sid and reason == "start_timeout") then return end
  end
  if last_status == 6 or last_status == 7 or last_status == 8 then
    rec.log.info("kind=restart_not_needed restart %s/%s: sid %s ended normally (status %d): no restart",
                 self.appid, self.cname, sid, last_status, log_fields(self, { sid = sid }))
    return
  end
  if self.busy then return end
  self.failed_at[sid] = rec.time()
  local s = self
  spawn_restart(self, sid, reason, function()
    if reason == "status20" then
      -- confirmed by one more query before a billed start
      may_act(s)
      local res, err = rec.agora.query{ appid = s.appid, resourceid = rid, sid = sid, mode = s.mode,
                                        account = s.account }
      if not res and err.kind == "fenced" then error(err, 0) end
      if res and res.status ~= 20 then
        rec.log.warn("restart %s/%s: sid %s said 20, then %d: not restarted", s.appid, s.cname, sid, res.status)
        return
      end
      if not res and err.kind ~= "not_found" then
        rec.log.warn("restart %s/%s: cannot confirm status 20 of %s (%s): asked again at the next poll",
                     s.appid, s.cname, sid, tostring(err))
        s.failed_at[sid] = nil
        return
      end
    end
    s.st.done[sid] = true
    local i = s.st.intent
    if i and i.sid == sid then   -- a restarted recorder that never recorded: stopped, replaced
      s.st.intent = nil
      metric("failed")
      probe_failed(s)
      may_act(s)
      local r, e = rec.agora.stop{ appid = s.appid, cname = s.cname, uid = i.uid, resourceid = i.rid,
                                   sid = sid, mode = s.mode, account = s.account }
      rec.log.warn("restart %s/%s: restarted sid %s did not record within the start timeout: stopped (%s), another uid next",
                   s.appid, s.cname, sid, r and r.outcome or tostring(e), log_fields(s, { sid = sid }))
      callback(s, "on_restart_failed", { appid = s.appid, cname = s.cname, uid = i.uid, from_sid = i.from, sid = sid },
               "not recording within the start timeout")
    end
    local ok, e = pcall(save, s)
    if not ok and is_fenced(e) then error(e, 0) end   -- the unit moved: its next owner restarts
    note_failure(s)
    rec.log.warn("kind=restart_needed restart %s/%s: sid %s failed (%s): restarting", s.appid, s.cname, sid, reason,
                 log_fields(s, { sid = sid }))
    return run_restart(s, sid, reason)
  end)
end

-- A sid this session restarted from answers again (an HA recovery longer than the window):
-- two recorders. The restarted one is stopped, the original kept.
function Session:revived(sid, rid)
  if not self.st.done[sid] then return end
  local other = self.st.cur and self.st.cur.sid ~= sid and self.st.cur or nil
  local i = self.st.intent
  if not other and i and i.sid then other = { rid = i.rid, sid = i.sid, uid = i.uid } end
  self.st.done[sid] = nil
  self.st.intent = nil
  self.st.cur = { rid = rid, sid = sid, uid = self.o.uid }
  -- fleet: the original goes back into the sessions set, the restarted one out
  local more
  if self.unit and other then
    local gone = find_session(self, other.sid)
    local back = session_key(self, sid)
    local enc = assert(rec.json.encode{ appid = self.appid, resourceid = rid, sid = sid, mode = self.mode })
    more = function(d)
      if gone and gone ~= back then d:set(gone, nil) end
      if gone then d:set(back, enc) end
    end
  end
  local ok, e = pcall(save, self, more)
  if not ok and is_fenced(e) then return stopped_fenced(self, e) end
  if not other then return end
  local s = self
  rec.spawn(function()
    local fok, fe = pcall(may_act, s)
    if not fok then return stopped_fenced(s, fe) end
    local r, err = rec.agora.stop{ appid = s.appid, cname = s.cname, uid = other.uid, resourceid = other.rid,
                                   sid = other.sid, mode = s.mode, account = s.account }
    local h = s.handles[other.sid]
    if h and h ~= FLEET then h:stop() end
    metric("duplicate_stopped")
    alert(s, rec.safe_id(("restart/%s/%s/two@%s"):format(s.appid, s.cname, sid), true),
          ("recwatch: Agora recording %s answers again after it was restarted as %s: two recorders ran in %s; %s was stopped (%s), %s kept")
          :format(sid, other.sid, s.cname, other.sid, r and r.outcome or tostring(err), sid),
          { sid = sid, restarted_sid = other.sid })
    show(s)
  end)
end

-- A notification (event 40 or 3) named the sid of a recorder with this uid: a recorder that
-- runs unseen is adopted (watched as the session's recorder; its alert resolved).
function Session:adopt(uid, sid, rid)
  local i = self.st.intent
  if not (i and i.uid == uid and not i.sid) then return false end
  local s = self
  local rids = {}
  if rid then rids[1] = rid end
  for k = #(i.rids or {}), 1, -1 do rids[#rids + 1] = i.rids[k] end
  if not pcall(may_act, s) then return false end   -- fleet: the unit's owner adopts it
  for _, r in ipairs(rids) do
    local res = rec.agora.query{ appid = s.appid, resourceid = r, sid = sid, mode = s.mode, account = s.account }
    if res then
      local was_rid = i.rid
      i.rid, i.sid, i.unseen = r, sid, nil
      -- fleet: the adopted sid replaces the one restarted from in the sessions set
      local ok, e = pcall(save, s, move_session(s, i))
      if not ok then
        i.rid, i.sid, i.unseen = was_rid, nil, true
        if is_fenced(e) then stopped_fenced(s, e) return false end
        error(e, 0)
      end
      hold_events(i, false)
      metric("adopted")
      resolve(s, unseen_id(s, i), ("recwatch: the recorder with uid %s in %s is sid %s: adopted"):format(uid, s.cname, sid))
      rec.log.info("kind=restart_adopted restart %s/%s: adopted sid %s (uid %s)", s.appid, s.cname, sid, uid, log_fields(s, { sid = sid }))
      watch_new(s, i)
      return true
    end
  end
  return false
end

-- Agora gave a failed-over recorder this uid (newUid, event 12): never handed out.
function Session:exclude_uid(uid)
  self.st.excluded = self.st.excluded or {}
  self.st.excluded[uid] = true
  pcall(save, self)
end

-- After a crash or a reload: what the stored state says is under way goes on.
local function recover(s)
  local i = s.st.intent
  if s.st.cur and s.st.cur.sid ~= s.first_sid and not (i and i.sid == s.st.cur.sid) then
    watch_new(s, { sid = s.st.cur.sid, rid = s.st.cur.rid, at = rec.time() })
  end
  if not i then return end
  if i.sid then
    rec.log.info("restart %s/%s: resuming: sid %s of a restart is watched (adopted or restarted by the rules)",
                 s.appid, s.cname, i.sid, log_fields(s))
    watch_new(s, i)
  elseif i.unseen or (i.resumed and s.st.stop406) then
    rec.log.warn("restart %s/%s: a recorder with uid %s %s (its sid unknown): waiting for a notification to adopt it",
                 s.appid, s.cname, i.uid, i.unseen and "still runs unseen" or "may run unseen (406 after a resume)", log_fields(s))
    show(s, "a recorder with uid " .. i.uid .. " runs unseen (waiting for its sid)")
    hold_events(i, true)
  else
    -- the start may have reached Agora: a new acquire with the SAME uid; 7/53 proves it did
    rec.log.warn("kind=restart_resume restart %s/%s: an intent without a sid (uid %s): acquire again with the same uid",
                 s.appid, s.cname, i.uid, log_fields(s))
    i.resumed = true
    spawn_restart(s, i.from, i.reason, function()
      local r, err = attempt(s, i)
      if r == "406" then stop406(s, err)
      elseif r == "failed" then return run_restart(s, i.from, i.reason) end
    end)
  end
end

local function load(s)
  if s.st and s.st.intent then hold_events(s.st.intent, false) end
  local ok, v = pcall(s.db.get, s.db, s.key)
  local ok2, st = pcall(rec.json.decode, ok and v or "null")
  s.st = ok and ok2 and type(st) == "table" and st or {}
  s.st.done, s.st.starts = s.st.done or {}, s.st.starts or {}
  s.raw = ok and v or nil
end

-- The session of watch.agora's options o (created, and resumed from the store, on first use).
-- spawn_watch(sid, rid, started_at) starts a watcher of the same options on another sid.
-- With o.account (fleet) the session is the unit's: its key "<unit>/rec/restart/...", its
-- writes under the unit's lease, its circuit the account's.
function M.attach(o, db, spawn_watch)
  local r = o.restart
  local unit = o.account ~= nil and ("agora:" .. tostring(o.account)) or nil
  local skey = (unit and (unit .. "/") or "") .. o.appid .. "/" .. r.cname
  local s = sessions[skey]
  if s then
    -- fleet: the unit may have gone to another member and come back since this member last
    -- wrote (a watcher of the unit is started again): what the store says now is resumed
    if s.unit and not s.busy then
      local ok, v = pcall(s.db.get, s.db, s.key)
      if ok and v ~= s.raw then
        load(s)
        for sid, h in pairs(s.handles) do
          if h == FLEET or h.stopped then s.handles[sid] = nil end
        end
        rec.log.info("restart %s/%s: the unit's stored restart state changed since this member last wrote it: resumed from the store",
                     s.appid, s.cname, log_fields(s))
        recover(s)
      end
    end
    return s
  end
  local c = r.circuit or {}
  local acct = unit or ""
  s = setmetatable({
    appid = o.appid, cname = r.cname, mode = o.mode or "mix", o = r, db = db, out = o.outbox,
    unit = unit, account = o.account, acct = acct, circuit = circuit_of(acct),
    key = (unit and (unit .. "/") or "") .. "rec/restart/" .. rec.safe_id(o.appid) .. "/" .. rec.safe_id(r.cname),
    skey = skey,
    budget = r.budget or 3, per = r.per or 3600, backoff = r.backoff or { 30, 120, 600 },
    settle = r.settle or 5, share = c.share or 0.5, window = c.window or 300, probe = c.probe or 60,
    min_sessions = c.min_sessions or 4,
    first_sid = o.sid, handles = {}, failed_at = {}, spawn_watch = spawn_watch,
  }, Session)
  load(s)
  sessions[skey] = s
  nsessions[acct] = (nsessions[acct] or 0) + 1
  recover(s)
  return s
end

-- The hook for notifications (the events issue): a recorder of cname with uid has this sid.
function M.adopt(cname, uid, sid, rid, appid)
  for _, s in pairs(sessions) do
    if s.cname == cname and (appid == nil or s.appid == appid) then
      local st = s.st.intent
      -- fleet: a session of a unit this member may not act for now is left to its owner
      if st and st.uid == uid and not st.sid and s:adopt(uid, sid, rid) then return true end
    end
  end
  return false
end

-- A failed-over recorder got this uid (event 12's newUid): never handed out by cname's pool.
function M.exclude_uid(cname, uid)
  for _, s in pairs(sessions) do
    if s.cname == cname then s:exclude_uid(uid) end
  end
end

-- The circuit breaker of an account (account = "<customer id>"), or of the process's own
-- credential (no account).
function M.circuit(account)
  local circuit = circuit_of(account ~= nil and ("agora:" .. tostring(account)) or "")
  return { open = circuit.open, opened_at = circuit.opened_at, probing = circuit.probing }
end

return M
