-- rec.watch._agora (internal): watch.agora, one loop per recording: its status, start
-- deadline, and the 404 episodes that end it only after the high-availability window.
local rec = rec or require "rec"
local store = require "rec.store"
local opts = require "rec._opts"
local sup = require "rec.watch._supervise"
local state = require "rec.watch._state"
local events = require "rec.watch._events"
local restart = require "rec.watch._restart"   -- the restart policy (restart = {...})

local now, look_at = sup.now, sup.look_at
local new_entry, fields, record_error, call = sup.new_entry, sup.fields, sup.record_error, sup.call
local supervised, poll_done = sup.supervised, sup.poll_done
local next_delay, start_monitor, revive = sup.next_delay, sup.start_monitor, sup.revive
local load_state, copy, prepare, commit = state.load_state, state.copy, state.prepare, state.commit
local new_handle, nap, protocol = state.new_handle, state.nap, state.protocol
local resolve_alerts = state.resolve_alerts
local allowed, check_fn, check_num = state.allowed, state.check_fn, state.check_num

local watch = {}

------------------------------------------------------------------------------ Agora

local function is_started(s) return s == 4 or s == 5 end

local AG_KEYS = allowed{ "appid", "resourceid", "sid", "mode", "every", "first_after",
                         "start_every", "start_timeout", "confirm_delays", "ha_window", "started_at", "restart",
                         "on_change", "on_started", "on_start_failed", "on_ended", "max_every",
                         "account" }
-- discover = "notifications" (rec.watch._events): no resourceid or sid, a lookup instead
local DISC_KEYS = allowed{ "discover", "appid", "resource_lookup", "lookup_every",
                           "notify_stale_after", "mode", "every", "max_every", "first_after",
                           "start_every", "start_timeout", "confirm_delays", "ha_window",
                           "on_change", "on_started", "on_start_failed", "on_ended" }

-- Events (rec.watch._events): while a recording's notifications keep coming (the newest within
-- EVENTS_FRESH seconds; Agora sends event 33 every minute while uploading), a quiet recording's
-- poll interval doubles after each poll that saw no change (every, 2x, 4x, ...), up to max_every
-- (MAX_EVERY by default). An event that may change the state, a change, an error or no fresh event brings
-- it back to every.
local EVENTS_FRESH = 150
local MAX_EVERY = 600

-- Agora documents 404s for a recording that is still alive (high availability): up to 30 s
-- after a process failure, up to 1 min of reconnects before a server is switched, up to 90 s
-- for a migration, at most 3 failovers per recording. So a 404 opens an *episode*: the
-- recording is re-queried (confirm_delays, the last delay repeating) and is ended only when it
-- still answers 404 ha_window seconds after the first 404 of the episode. A 200 closes the
-- episode; the next 404 opens a new one with a window of its own.
local HA_WINDOW = 90
local HA_FAILOVERS = 3   -- Agora's documented maximum per recording

-- called by a tail call from watch.agora: level 2 is the script's line
local function discover(o, start)
  opts.check(o, DISC_KEYS, "watch.agora", 2)
  if o.discover ~= "notifications" then error('watch.agora: discover must be "notifications"', 2) end
  if type(o.appid) ~= "string" or o.appid == "" then error("watch.agora: discover needs an appid", 2) end
  local lk = o.resource_lookup
  if lk ~= nil and type(lk) ~= "function" and (type(lk) ~= "string" or lk == "") then
    error("watch.agora: resource_lookup must be a function, a file path or an http(s) URL", 2)
  end
  check_fn(o, "watch.agora", { "on_change", "on_started", "on_start_failed", "on_ended",
                               "on_error", "on_stale", "on_recovered" })
  check_num(o, "watch.agora", { "every", "max_every", "first_after", "start_every", "start_timeout",
                                "stale_after", "fail_polls", "ha_window", "auth_retry",
                                "lookup_every", "notify_stale_after" }, 0)
  return events.discover(o, start)
end

-- One recording's watch is one table, s (its loop too: the handle's loops[1], with w, wake,
-- task, sleeping, confirm), and the functions below take it: no closures per recording, so
-- that 100,000 recordings fit in one process (docs/performance.md, "100,000 sessions in one
-- process"). Its fields: o, h (h.db, h.key), w, q, hooks, rs (the restart policy's session),
-- cfg (the numbers its options decide, shared: config_of below), start_every, base_stale
-- and its state:
--   st       the committed state
--   pending  a transition whose commit failed: retried before anything else
--   last     the last successful result
--   ep       the open 404 episode: { first = now(), last = now() of its latest 404, n = re-queries since }
--   episodes how many 404 episodes so far
--   last_event, poked, quiet: events (the newest one's time, one that asks for a query now,
--            the quiet polls in a row)

-- sleeps like nap, and wakes early for an event that asks for a query
local function snooze(s, seconds)
  if s.h.stopped then return false end
  if s.poked then return true end
  s.sleeping = true
  s.wake:clear()
  local ok, e = s.wake:wait(seconds)
  s.sleeping = false
  if s.h.stopped then return false end
  return ok == true or (type(e) == "table" and e.kind == "timeout")
end

-- The last result for on_ended / on_start_failed: the last 200 of this process, or, after
-- a restart before any 200, what the state file knows (its status).
local function last_known(s)
  local st = s.st
  if s.last or st.status == nil then return s.last end
  return { status = st.status, status_name = rec.agora.status[st.status], restored = true,
           resourceId = s.o.resourceid, sid = s.o.sid }
end

-- One event: new = a copy of st with its changes; fn runs the callbacks. Returns true when
-- committed; false when kept in `pending` (the caller stops handling this poll).
-- ev names the event (change, started, start_failed, ended: the last three happen once per
-- sid) for the alert ids' facts; a change adds the statuses before and after.
local function facts(s, ev, new)
  local o = s.o
  local f = { label = s.h.key .. "/" .. ev, provider = "agora", app = o.appid, resourceid = o.resourceid,
              sid = o.sid, event = ev }
  if ev == "change" then f.from, f.to = tostring(s.st.status), tostring(new.status) end
  -- ended again after it came back from an end by 404: a new end, a new id (the first
  -- end's id is resolved, and a resolved id never fires again)
  if ev == "ended" and s.st.revived then f.again = tostring(s.st.revived) end
  return f
end
local function event(s, new, fn, ev)
  new.seq = (s.st.seq or 0) + 1
  local c = prepare(s.h.db, s.h.key, new, fn, facts(s, ev, new))
  c.unit = s.h.unit
  local ok, e = pcall(commit, c)
  if ok then s.st = c.st return true end
  if state.fenced(s.h, s.w, e) then return false end   -- the unit moved: this watcher stops
  s.pending = c
  record_error(s.w, e, "cannot record the transition yet (kept, retried)")
  return false
end
local function saw(s, res)
  local w, o = s.w, s.o
  s.last = res
  local sv = res.status
  w.last_status = sv
  if sv ~= s.st.status then
    local old = s.st.status
    local new = copy(s.st)
    new.status = sv
    s.quiet = 0
    if not event(s, new, function() call(w, "on_change", o.on_change, res, old) end, "change") then return false end
  end
  if not s.st.started and is_started(sv) then
    local new = copy(s.st)
    new.started = true
    if not event(s, new, function()
      call(w, "on_started", o.on_started, res)
      -- reported as not started, recording now: that alert resolves
      resolve_alerts(w, s.st, facts(s, "start_failed"), ("recording %s has started after all"):format(o.sid))
    end, "started") then return false end
  end
  local rs = s.rs
  if rs then   -- after the commits: the policy's own work runs outside the watcher's batch
    if is_started(sv) then rs:running(o.sid) end
    if sv == 20 then rs:failed(o.sid, "status20", sv, o.resourceid) end
  end
  return true
end
local function start_check(s, err)
  if not s.st.started and not s.st.start_failed and rec.time() >= s.st.since + s.cfg.start_timeout then
    local w, o = s.w, s.o
    rec.log.warn("watch.agora %s: not recording %gs after start", s.h.key, s.cfg.start_timeout, fields(w))
    local new = copy(s.st)
    new.start_failed = true
    local ok = event(s, new, function() call(w, "on_start_failed", o.on_start_failed, last_known(s), err) end, "start_failed")
    if ok and s.rs then s.rs:failed(o.sid, "start_timeout", s.st.status, o.resourceid) end
    return ok
  end
  return true
end
-- the interval of a started, quiet recording: every, or longer while its events keep coming
local function stretched(s)
  local d = s.cfg.every
  if s.last_event and now() - s.last_event <= EVENTS_FRESH and s.w.consecutive == 0 and not s.pending then
    s.quiet = s.quiet + 1
    d = math.min(s.cfg.every * 2 ^ (s.quiet - 1), s.cfg.max_every)
  else
    s.quiet = 0
  end
  -- a longer interval is not silence: stale only past two of them (and never sooner than before)
  s.w.stale_after = math.max(s.base_stale, 2 * d + 60)
  return d
end
local function interval(s)
  local ep, st = s.ep, s.st
  if ep then  -- confirming a 404: the next re-query, and none past the window's end
    local d = s.cfg.delays[math.min(ep.n + 1, #s.cfg.delays)] or 10
    local left = ep.first + s.cfg.ha_window - now()
    if ep.n + 1 >= #s.cfg.delays and left > 0 then d = math.min(d, math.max(left, 0.05)) end
    if not st.started and not st.start_failed then  -- the start deadline does not wait
      d = math.min(d, st.since + s.cfg.start_timeout - rec.time())
    end
    return math.max(0.05, d)
  end
  if not st.started and not st.start_failed then
    return math.max(0.05, math.min(s.start_every, st.since + s.cfg.start_timeout - rec.time()))
  end
  if st.status and st.status >= 6 then return s.start_every end  -- ending: look closer
  return stretched(s)
end
local function valid(res)
  if type(res) ~= "table" then return nil, protocol("the reply is not a table") end
  local sv = math.tointeger(res.status) or tonumber(res.status)
  if not sv then return nil, protocol("status is a " .. type(res.status)) end
  res.status = sv
  return res
end

-- The 404 episode outlasted its window: the recording is gone. One cause, one alert: a
-- recording never seen recording (a wrong sid, one gone before the first query, a start
-- that failed) gets on_start_failed (unless it already had it) and no on_ended; one that
-- recorded gets on_ended.
local function gone(s, err)
  local w, o, ep = s.w, s.o, s.ep
  local new = copy(s.st)
  new.ended = true
  new.confirm_at = rec.time() + s.cfg.ha_window   -- one slow query then: confirm_end
  local fn
  if s.st.started then
    rec.log.info("watch.agora %s: the recording has ended (404 for %.0fs, %d re-queries)", s.h.key,
                 now() - ep.first, ep.n, fields(w))
    fn = function() call(w, "on_ended", o.on_ended, last_known(s), err) end
  else
    rec.log.warn("watch.agora %s: never seen recording and gone (404 for %.0fs): %s", s.h.key,
                 now() - ep.first, s.st.start_failed and "already reported as not started"
                 or "reported as not started (wrong sid, or ended before it was seen)", fields(w))
    if not s.st.start_failed then
      new.start_failed = true
      fn = function() call(w, "on_start_failed", o.on_start_failed, last_known(s), err) end
    else
      fn = function() end
    end
  end
  if not event(s, new, fn, s.st.started and "ended" or "start_failed") then return false end
  if s.rs then s.rs:failed(o.sid, "gone", s.st.status, o.resourceid) end
  return "ended"
end

-- After an end by 404, one slow query another ha_window later: Agora documents failovers
-- but not that they all fit the window, and an end said wrongly would stay said. A 200 then
-- means the recording was not gone: the "gone" alert (on_ended's) resolves and the watch
-- goes on. A 404 confirms the end. Other answers (5xx, timeouts) are retried for at most
-- another window; no answer by then leaves the end as it was. "revived", "gone" or "stop".
local function confirm_end(s)
  local w, o, key, ha_window = s.w, s.o, s.h.key, s.cfg.ha_window
  local deadline = s.st.confirm_at + ha_window
  local wait = s.st.confirm_at - rec.time()
  while true do
    if wait > 0 and not nap(s.h, s, wait) then return "stop" end
    local res, err = rec.query_agora(s.q)
    if res then res, err = valid(res) end
    if res then
      local st = s.st
      local new = copy(st)
      new.ended, new.confirm_at, new.revived = nil, nil, (st.revived or 0) + 1
      local ended_at = st.at
      -- a commit that fails stays pending: the next poll retries it first
      event(s, new, function()
        rec.log.warn("kind=agora_ended_404_recovered watch.agora %s: answers again (status %s) %.0fs after it was reported %s by 404: the recording lives on, watched again",
                     key, tostring(res.status), rec.time() - (ended_at or rec.time()),
                     s.st.started and "ended" or "gone", fields(w))
        resolve_alerts(w, s.st, { event = "ended" },
                       ("recording %s answers again: it had not ended"):format(o.sid))
      end, "revived")
      s.last = res
      if s.rs then s.rs:revived(o.sid, o.resourceid) end
      return "revived"
    elseif err.kind == "cancelled" or state.fenced(s.h, w, err) then
      return "stop"
    end
    local done = err.kind == "not_found" or rec.time() >= deadline
    if not done then
      record_error(w, err)
      wait = math.max(1, math.min(s.cfg.delays[#s.cfg.delays] or 10, deadline - rec.time()))
    else
      if err.kind == "not_found" then
        rec.log.info("watch.agora %s: still 404 another %gs after its end: ended for good", key, ha_window, fields(w))
      else
        rec.log.warn("watch.agora %s: no answer to the query that confirms its end (%s): it stays ended", key, tostring(err), fields(w))
      end
      local new = copy(s.st)
      new.confirm_at = nil
      if not event(s, new, function() end, "end_confirmed") then s.pending = nil end  -- asked again after a restart
      return "gone"
    end
  end
end

-- one poll: true (good), false (an error, counted), "stop", or "ended"
local function poll(s)
  local w, o, key, q = s.w, s.o, s.h.key, s.q
  if s.pending then
    local ok, e = pcall(commit, s.pending)
    if not ok then
      if state.fenced(s.h, w, e) then return "stop" end
      record_error(w, e, "cannot record the transition yet (kept, retried)")
      return false
    end
    s.st, s.pending = s.pending.st, nil
    if s.st.ended then return "ended" end
  end
  local qq = q
  if s.poked then
    local ev = s.poked
    s.poked = nil
    rec.log.info("kind=agora_event_query watch.agora %s: event %s: querying now", key,
                 tostring(ev.event_type), fields(w, { notice_id = type(ev.notice_id) == "string" and ev.notice_id or nil }))
    if rec.features and rec.features.urgent then
      qq = { appid = q.appid, resourceid = q.resourceid, sid = q.sid, mode = q.mode, account = q.account,
             urgent = true }
    end
  end
  local res, err = rec.query_agora(qq)
  if res then res, err = valid(res) end
  if res then
    if s.ep then
      rec.log.info("kind=agora_404_cleared watch.agora %s: answers again (status %s) %.0fs after the first 404 of episode %d: the recording lives on",
                   key, tostring(res.status), now() - s.ep.first, s.episodes, fields(w))
      s.ep = nil
    end
    if not saw(s, res) then return false end
  elseif err.kind == "cancelled" or state.fenced(s.h, w, err) then
    return "stop"
  elseif err.kind == "not_found" then
    -- 404 failed to find worker: ended, failed to start, or a failover window
    local ep = s.ep
    if ep and now() - ep.last > s.cfg.max_gap then
      rec.log.warn("kind=agora_404 watch.agora %s: 404 again after %.0fs of other answers: the window of episode %d starts again (ended only if still 404 after %gs)",
                   key, now() - ep.last, s.episodes, s.cfg.ha_window, fields(w))
      ep.first, ep.n = now(), 0
    elseif not ep then
      s.episodes = s.episodes + 1
      ep = { first = now(), n = 0 }
      s.ep = ep
      rec.log.warn("kind=agora_404 watch.agora %s: 404 (%s); episode %d%s: ended only if still 404 after %gs",
                   key, tostring(err), s.episodes,
                   s.episodes > HA_FAILOVERS and (" (Agora documents at most " .. HA_FAILOVERS .. " failovers)") or "",
                   s.cfg.ha_window, fields(w))
    else
      ep.n = ep.n + 1
    end
    ep.last = now()
    if ep.n >= #s.cfg.delays and now() - ep.first >= s.cfg.ha_window then return gone(s, err) end
  else
    record_error(w, err)
    call(w, "on_error", o.on_error, err)
    -- rejected credentials say nothing about the recording: no "did not start" for that
    if err.kind ~= "auth" then start_check(s, err) end
    return false
  end
  if not start_check(s, err) then return false end
  return true
end

local start_confirm

-- the watch itself, until the recording ends (h:wait() returns then) or the handle stops
local function watch_loop(s)
  local w = s.w
  while not s.h.stopped do
    local r = supervised(w, poll, s)
    if s.h.stopped then r = "stop" end   -- fenced (the unit moved) or stopped during the poll
    if r == "stop" then
      break
    elseif r == "ended" then
      poll_done(w, true)
      w.ended = true
      look_at(w, now())
      if s.st.confirm_at then start_confirm(s) end
      break
    else
      poll_done(w, r)
    end
    local ok2, iv = pcall(interval, s)
    if not snooze(s, next_delay(w, ok2 and iv or s.cfg.every)) then break end
  end
  if not w.ended then w.stopped = true end
end

-- runs fn(s) as the watch's task: events for the sid reach it while it runs; when it is over,
-- the sid is let go and discovery (hooks) hears whether the recording ended
local function task_error(x) return type(x) == "table" and x or debug.traceback(tostring(x), 2) end
local function task_body(s, fn)
  local ok, e = xpcall(fn, task_error, s)
  events.detach(s.o.sid, s)
  local hooks = s.hooks
  if hooks and hooks.on_done then hooks.on_done(s.w, s.w.ended == true) end
  if not ok then error(e, 0) end
end
local function as_task(s, fn) return rec.spawn(task_body, s, fn) end

-- the loop again after a recording answered again (start_confirm)
local function watch_again(s)
  local ok2, iv = pcall(interval, s)
  if snooze(s, next_delay(s.w, ok2 and iv or s.cfg.every)) then watch_loop(s) end
  if not s.w.ended then s.w.stopped = true end
end

-- An end by 404 is confirmed by a task of its own (confirm_end), so the handle's wait()
-- still returns at the end; h:stop() cancels it. A recording that answers again is
-- watched again (a new loop task).
local function confirm_body(s)
  if confirm_end(s) ~= "revived" or s.h.stopped then return end
  revive(s.w)
  events.attach(s.o.sid, s)
  s.task = as_task(s, watch_again)
end
function start_confirm(s) s.confirm = rec.spawn(confirm_body, s) end

local function run(s)
  local w, o = s.w, s.o
  -- the stored state: read from the cache, so a locked file does not stop this
  local ok0, s0 = pcall(load_state, s.h.db, s.h.key)
  s.st = ok0 and s0 or {}
  local st = s.st
  if st.ended then
    w.ended = true
    look_at(w, now())
    if st.confirm_at then   -- ended by 404, its confirming query not made yet (a restart)
      start_confirm(s)
    else
      rec.log.info("watch.agora %s: already ended (state file); nothing to watch", s.h.key, fields(w))
    end
    return
  end
  local fresh = st.since == nil
  st.since = st.since or o.started_at or rec.time()
  if fresh or not st.started then
    local first_after = o.first_after or 5
    local wait = fresh and first_after or math.min(first_after, math.max(0, st.since + first_after - rec.time()))
    if not snooze(s, wait) then w.stopped = true return end
  end
  watch_loop(s)
end

-- The numbers of a watch that its options decide (s.cfg), one table shared by every watch
-- with the same ones: 100,000 recordings watched alike hold one.
--   every, start_timeout, ha_window, delays (confirm_delays), max_every (the ceiling of the
--   stretches while events flow), max_gap:
-- Other answers (5xx, timeouts, auth) between two 404s say nothing of the recording, but a
-- gap longer than max_gap between two 404s means the 404s were not one stretch: the window
-- starts again at the next 404, so two failovers with an outage between them are never
-- added up into one 404 "lasting" past the window.
local DELAYS = { 10 }
-- the query's account (fleet), only when there is one: four fields fit the smallest hash part
local function q_account(q, account) if account ~= nil then q.account = account end end
local configs = setmetatable({}, { __mode = "v" })
local function config_of(every, start_timeout, ha_window, delays, max_every)
  local id = ("%.17g/%.17g/%.17g/%s/%.17g"):format(every, start_timeout, ha_window, tostring(delays), max_every)
  local c = configs[id]
  if c then return c end
  local max_gap = 0
  for _, d in ipairs(delays) do max_gap = math.max(max_gap, d) end
  c = { every = every, start_timeout = start_timeout, ha_window = ha_window, delays = delays,
        max_every = max_every, max_gap = 2 * math.max(max_gap, 1) }
  configs[id] = c
  return c
end

-- hooks (discovery only): { on_done = fn(w, ended) } once the loop is over
local function agora(o, hooks)
  if type(o) ~= "table" then error("watch.agora takes a table", 2) end
  if o.discover ~= nil and not hooks then return discover(o, agora) end
  opts.check(o, AG_KEYS, "watch.agora", 2)
  if not (o.appid and o.resourceid and o.sid) then
    error("watch.agora: appid, resourceid and sid are required", 2)
  end
  check_fn(o, "watch.agora", { "on_change", "on_started", "on_start_failed", "on_ended",
                               "on_error", "on_stale", "on_recovered" })
  check_num(o, "watch.agora", { "every", "first_after", "start_every", "start_timeout", "stale_after",
                                "fail_polls", "ha_window", "auth_retry", "max_every" }, 0)
  if o.confirm_delays ~= nil then
    if type(o.confirm_delays) ~= "table" then
      error("watch.agora: 'confirm_delays' must be a list of seconds", 2)
    end
    for i, d in ipairs(o.confirm_delays) do
      if type(d) ~= "number" or d ~= d or d < 0 or d == math.huge then
        error(("watch.agora: confirm_delays[%d] must be a number of seconds >= 0, got %s"):format(i, tostring(d)), 2)
      end
    end
  end
  if o.restart ~= nil then restart.check(o.restart, "watch.agora") end
  -- account = "<customer id>" (fleet): its credential and pacer, keys and commits under its unit
  local unit = state.unit_of(o, "agora", "watch.agora")
  local db = o.db or store.open()
  local h = new_handle(db)
  h.unit = unit   -- a fence stops only a watcher of a unit (state.fenced)
  local every = o.every or 120
  local start_every = o.start_every or o.first_after or 5
  if start_every <= 0 then start_every = 1 end
  if every <= 0 then every = 1 end
  local start_timeout = o.start_timeout or 90
  local key = (unit and (unit .. "/") or "") .. ("agora/%s/%s/%s"):format(rec.safe_id(o.appid),
                                        rec.safe_id(o.resourceid), rec.safe_id(o.sid))
  local w = new_entry("agora", o.name or key, key, o, math.max(every, start_every))
  w.fields = { provider = "agora", app = o.appid, resourceid = o.resourceid, sid = o.sid }
  w.stale_after = o.stale_after or (3 * math.max(start_every, math.min(every, start_timeout)) + 60)
  h.key = key
  local s = {
    o = o, h = h, w = w, hooks = hooks, wake = rec.event(),
    q = { appid = o.appid, resourceid = o.resourceid, sid = o.sid, mode = o.mode },
    cfg = config_of(every, start_timeout, o.ha_window or HA_WINDOW, o.confirm_delays or DELAYS,
                    math.max(every, o.max_every or MAX_EVERY)),
    -- its own: first_after (start_every's default) is often spread over the recordings;
    -- base_stale: the stale_after before events stretch it
    start_every = start_every, base_stale = w.stale_after,
    episodes = 0, quiet = 0,
  }
  q_account(s.q, o.account)
  -- events (rec.watch._events): s is the sid's target
  s.poke = function(ev, urgent)
    s.last_event = now()
    if urgent then
      s.poked, s.quiet = ev, 0
      s.wake:set()
    end
  end
  events.attach(o.sid, s)
  -- the restart policy's session (one per App ID + cname): a restart's new sid gets a
  -- watcher of these same options
  s.rs = o.restart and restart.attach(o, db, function(sid, rid, at)
    local c = {}
    for k, v in pairs(o) do c[k] = v end
    c.sid, c.resourceid, c.started_at, c.name = sid, rid, at, nil
    -- the restarted recorder was just started: look at it after start_every (2 s at most), not
    -- first_after, so that "recording again" is seen as soon as it is true (the 10 s target)
    c.first_after = math.min(c.first_after or 5, c.start_every or 2, 2)
    return watch.agora(c)
  end)
  s.task = as_task(s, run)
  h.loops[1] = s
  start_monitor()
  return h
end

function watch.agora(o) return agora(o) end  -- a tail call: errors name the script's line

return watch
