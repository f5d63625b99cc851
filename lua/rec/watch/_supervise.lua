-- rec.watch._supervise (internal): the health of every watcher loop, and the supervision of
-- one poll. The registry behind watch.status() and watch.healthy(), staleness and recovery,
-- the monitor's heap of looks, the exit policy (watch.exit_policy, "rec.exit_check"), the
-- built-in "watcher silent" alerts; a poll's errors counted and logged by kind, its callbacks
-- called and counted, its backoff. rec.watch re-exports `watch` (status, healthy, exit_policy);
-- the provider rooms (rec.watch._qingcloud, rec.watch._agora) use the rest.
local rec = rec or require "rec"

local watch = {}

------------------------------------------------------------------------------ health

-- Every watcher loop ever started in this engine, in start order. One entry per QingCloud
-- channel or Agora recording; its fields are what watch.status() copies out.
local registry = {}
local FAIL_POLLS = 3        -- callbacks failing on every call in this many polls: "failing"
local AUTH_RETRY = 60       -- seconds between polls while the credentials are rejected
local exit_policy           -- nil: the default; false: never change the exit status
local monitor               -- the stale-checking task, while any watcher runs
local look_at               -- look_at(w, due): the monitor looks at w then (below)
local heap, live = {}, 0    -- the monitor's looks (a min-heap), watchers not retired

local function now() return rec.now() end

local function err_kind(e)
  if type(e) == "table" and type(e.kind) == "string" then return e.kind end
  local s = tostring(e)
  if s:find("rec.store:", 1, true) then return "store" end
  if s:find("callback", 1, true) then return "callback" end
  return "internal"
end

local function err_text(e)
  if type(e) == "table" then
    local ok, s = pcall(tostring, e)
    if ok and s then return s end
    return rec.json.encode(e) or "?"
  end
  return tostring(e)
end

-- A snapshot of one entry (plain values only).
local function info_of(w)
  local t = now()
  return {
    name = w.name, kind = w.kind, key = w.key,
    state = w.stopped and "stopped" or w.ended and "ended" or w.auth_failed and "auth_failed"
            or w.stale and "stale" or (w.consecutive > 0 and "error") or (w.last_good and "ok" or "starting"),
    stale = w.stale, failing = w.cb_failing, auth_failed = w.auth_failed,
    last_good = w.last_good_time, last_good_age = w.last_good and (t - w.last_good) or nil,
    started = w.started_time, polls = w.polls, good_polls = w.good_polls,
    last_status = w.last_status, last_error = w.last_error, last_error_kind = w.last_error_kind,
    errors = w.errors, consecutive_errors = w.consecutive, errors_by_kind = w.by_kind or {},
    callback_failures = w.cb_failures, next_poll = w.next_poll, stale_after = w.stale_after,
    -- events (rec.watch._events): "polled", or "notifications_only" for a discovered session
    -- with no resource id yet, whose "good polls" are events (never a query)
    mode = w.mode or "polled", events = w.events, last_event = w.last_event_time,
  }
end

-- Every watcher's health: list of { name, kind, key, state = "starting"|"ok"|"error"|
-- "auth_failed"|"stale"|"stopped"|"ended", last_good (wall time of the last good poll), last_status,
-- last_error, last_error_kind, errors, consecutive_errors, next_poll (wall time), ... }.
function watch.status()
  local out = {}
  for i, w in ipairs(registry) do out[i] = info_of(w) end
  return out
end

-- True when every running watcher is neither stale, nor failing, nor refused by the provider
-- for its credentials (none running: true).
function watch.healthy()
  for _, w in ipairs(registry) do
    if not w.stopped and not w.ended and (w.stale or w.cb_failing or w.auth_failed) then return false end
  end
  return true
end

local function bad_entries()
  local stale, failing, auth = {}, {}, {}
  for _, w in ipairs(registry) do
    if w.stale then stale[#stale + 1] = w.name end
    if w.cb_failing then failing[#failing + 1] = w.name end
    if w.auth_failed and not w.stopped and not w.ended then auth[#auth + 1] = w.name end
  end
  return stale, failing, auth
end

-- The exit status when the script would end with 0: 3 when a watcher was stale at the end,
-- its credentials were rejected (auth) at its last poll, or its callbacks failed on every
-- call in its last polls. fn(report) may decide otherwise
-- (return a number); false keeps 0 always.
function watch.exit_policy(fn)
  if fn ~= nil and fn ~= false and type(fn) ~= "function" then
    error("watch.exit_policy takes a function or false", 2)
  end
  exit_policy = fn
end

local function exit_check(stopping)
  if exit_policy == false or #registry == 0 then return nil end
  local stale, failing, auth = bad_entries()
  local report = { stale = stale, failing = failing, auth_failed = auth, stopping = stopping,
                   watchers = watch.status() }
  local code = (#stale > 0 or #failing > 0 or #auth > 0) and 3 or nil
  if exit_policy then
    local ok, r = pcall(exit_policy, report)
    if ok then return r end
    rec.log.error("watch.exit_policy failed: %s", tostring(r))
  end
  if code then
    rec.log.error("kind=watcher_exit exit status 3: stale watchers {%s}, callbacks failing in {%s}, credentials rejected in {%s}",
                  table.concat(stale, ", "), table.concat(failing, ", "), table.concat(auth, ", "))
  end
  return code
end
if debug and debug.getregistry then debug.getregistry()["rec.exit_check"] = exit_check end

-- What /status, /healthz and /metrics show of a watcher (rec.health, ops.c): this entry,
-- pushed after every poll and state change. ok: true/false for a finished poll, nil otherwise.
-- The watcher's keys as structured log fields (provider, app, channel / resourceid, sid),
-- plus extra ones (task_id).
local function fields(w, extra)
  local f = {}
  for k, v in pairs(w.fields or {}) do f[k] = v end
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

local function publish(w, ok)
  local st = info_of(w).state
  rec.health.report(w.hkey, {
    provider = w.kind, ok = ok, next_poll = w.next_poll, stale_after = w.stale_after,
    status = w.mode == "notifications_only" and "notifications_only"
             or w.last_status ~= nil and tostring(w.last_status) or nil,
    error = ok == false and w.last_error or nil,
    state = (st == "ok" or st == "stale" or st == "error" or st == "auth_failed") and st or nil,
    stale = w.stale and true or false,  -- apart from state, which auth_failed outranks
  })
end

-- What most of 100,000 entries would hold alike is read through this metatable instead
-- (docs/performance.md, "100,000 sessions in one process"): the counters while they are 0,
-- the default auth_retry and fail_polls, a name and an hkey that are the key. by_kind is made
-- at the first error; sixteen fields stay in the smallest hash part that holds them.
local ENTRY_DEFAULTS = { errors = 0, consecutive = 0, cb_failures = 0, auth_retry = AUTH_RETRY,
                         fail_polls = FAIL_POLLS }
local Entry = { __index = function(w, k)
  if k == "name" or k == "hkey" then return rawget(w, "key") end
  return ENTRY_DEFAULTS[k]
end }

local function new_entry(kind, name, key, o, every)
  local w = setmetatable({
    kind = kind, key = key, o = o, every = every, stale_after = o.stale_after or (3 * every + 60),
    polls = 0, good_polls = 0, started_time = rec.time(), since = now(),
  }, Entry)
  if name ~= key then w.name = name end
  if o.auth_retry then w.auth_retry = o.auth_retry end
  local fail_polls = math.max(1, math.floor(o.fail_polls or FAIL_POLLS))
  if fail_polls ~= FAIL_POLLS then w.fail_polls = fail_polls end
  registry[#registry + 1] = w
  local hkey = key:gsub("/$", "")
  if hkey ~= key then w.hkey = hkey end
  publish(w)
  -- A reload starts a fresh Lua state, but the registry (ops.c) kept this watcher's times:
  -- it goes on from them, so reloading does not make a silent watcher look fresh, and one
  -- already reported stale is not reported (nor alerted) again.
  local since, last_good, last_good_wall, was_stale = rec.health.times(w.hkey)
  if since then
    w.since = math.min(w.since, since)
    if last_good then w.last_good, w.last_good_time = last_good, last_good_wall end
    if was_stale and now() - (w.last_good or w.since) > w.stale_after then
      w.stale, w.inherited_stale = true, true   -- its silent alert's id: see built_in_alerts
      rec.log.warn("kind=watcher_still_stale watcher=%s: still no good poll for %.1fs (reported before the reload)",
                   name, now() - (w.last_good or w.since))
      publish(w)
    end
  end
  live = live + 1
  look_at(w, now())  -- the first look sets the watcher's own due (its stale_after is final then)
  return w
end

-- Counts one error of this watcher and logs it with its kind.
local function record_error(w, e, what)
  local kind = err_kind(e)
  w.errors = w.errors + 1
  w.consecutive = w.consecutive + 1
  local by_kind = w.by_kind or {}
  w.by_kind = by_kind
  by_kind[kind] = (by_kind[kind] or 0) + 1
  w.last_error, w.last_error_kind, w.last_error_time = err_text(e), kind, rec.time()
  if kind == "auth" and not w.auth_failed then
    -- not transient: retrying will not fix a wrong credential, so it is said at once (and
    -- /healthz fails at once), and the watcher retries slowly (next_delay) until a good poll
    -- (the credential fixed, e.g. by a reload) clears it
    w.auth_failed = true
    rec.log.error("kind=auth_failed watcher=%s: the provider rejects the credentials; retrying every %gs until a poll succeeds: %s",
                  w.name, math.max(w.every, w.auth_retry), w.last_error, fields(w))
    publish(w)
    return
  end
  local lvl = (kind == "store" or kind == "internal" or kind == "protocol") and rec.log.error or rec.log.warn
  lvl("kind=watcher_error watcher=%s error=%s count=%d: %s%s", w.name, kind, w.by_kind[kind],
      what and (what .. ": ") or "", w.last_error, fields(w))
end

-- A callback's error is caught and logged here, so it never fails its task: count it as one
-- (RECWATCH_EXPECT_TASK_ERRORS, docs/testing.md).
local function note_error()
  local f = debug and debug.getregistry and debug.getregistry()["rec.note_error"]
  if f then f() end
end

local function spawn_cb(name, fn, ...)
  if not fn then return end
  local args = table.pack(...)
  rec.spawn(function()
    local ok, e = xpcall(fn, debug.traceback, table.unpack(args, 1, args.n))
    if not ok then
      rec.log.error("kind=callback_error %s callback failed: %s", name, tostring(e))
      note_error()
    end
  end)
end

local function went_stale(w)
  w.stale = true
  local age = w.last_good and (now() - w.last_good) or (now() - w.since)
  rec.log.error("kind=watcher_stale watcher=%s: no good poll for %.1fs (stale_after %gs); last error (%s): %s",
                w.name, age, w.stale_after, tostring(w.last_error_kind), tostring(w.last_error), fields(w))
  publish(w)
  spawn_cb("on_stale", w.o.on_stale, info_of(w))
  local out = w.o.outbox
  if out then
    w.silent_alert_due = true
  end
end

local function recovered(w)
  w.stale = false
  rec.log.info("kind=watcher_recovered watcher=%s: polling works again", w.name, fields(w))
  publish(w)
  spawn_cb("on_recovered", w.o.on_recovered, info_of(w))
  if w.o.outbox then w.recovered_alert_due = true end
  look_at(w, now())
end

-- The id of a watcher's open silent alert is kept in the state store too, under this key:
-- a reload starts a fresh Lua state, and its "polling again" must still resolve that id.
local SILENT = "rec/watcher_silent/"

-- A watcher taken over stale from the script before a reload: the open silent alert's id
-- from the store; none kept (the old script had no outbox, or could not queue it yet): the
-- silent alert is due now, so the episode is never silent. Once per watcher; true when done.
local function inherit_silent(w, out)
  if not w.inherited_stale or w.inherit_done then return true end
  local ok, id = pcall(out.db.get, out.db, SILENT .. w.hkey)
  if not ok then return false end   -- the store refused: again at the next look
  w.inherit_done = true
  if type(id) == "string" and id ~= "" then
    w.silent_id = id
  elseif w.stale then
    w.silent_alert_due = true
  end
  return true
end

-- Queues the built-in alerts (outside any watcher batch, so a store fault only delays them).
local function built_in_alerts(w)
  local out = w.o.outbox
  if not out then return end
  if not inherit_silent(w, out) then return end
  -- one silent episode, one alert id: the watcher's name and when the episode began (its last
  -- good poll, or its start); "polling again" resolves that id
  local f = w.fields or {}
  if w.silent_alert_due then
    local began = w.last_good_time or (rec.time() - (now() - w.since))
    local id = rec.safe_id(("watcher/%s/silent@%d"):format(w.name, math.floor(began)), true)
    local ok, e = pcall(out.alert, out, { text = ("recwatch: watcher %s is silent (no good poll for %.0fs; last error: %s)")
      :format(w.name, w.last_good and (now() - w.last_good) or (now() - w.since), tostring(w.last_error)),
      kind = "watcher_silent", watcher = w.name, id = id, provider = f.provider, app = f.app, channel = f.channel,
      sid = f.sid, starts_at = math.floor(began) })
    if ok then
      w.silent_alert_due, w.silent_id = false, id
      local okk, ek = pcall(out.db.set, out.db, SILENT .. w.hkey, id)
      if not okk then rec.log.warn("watcher %s: cannot keep the silent alert's id for a reload: %s", w.name, tostring(ek)) end
    else
      rec.log.warn("watcher %s: cannot queue the silent alert yet: %s", w.name, tostring(e))
    end
  end
  if w.recovered_alert_due and not w.silent_alert_due then
    local ok = pcall(out.alert, out, { text = ("recwatch: watcher %s is polling again"):format(w.name),
                                       kind = "watcher_recovered", watcher = w.name, id = w.silent_id,
                                       status = w.silent_id and "resolved" or nil })
    if ok then
      w.recovered_alert_due, w.silent_id = false, nil
      pcall(out.db.set, out.db, SILENT .. w.hkey, nil)   -- left behind, it is read only after a reload while stale
    end
  end
end

-- The monitor looks at a watcher only when something may change: when it would go stale
-- (its last good poll + stale_after), when an alert of its own is due, when it stops or
-- ends. A min-heap of {due, w} orders those looks, so a virtual second costs the watchers due
-- in it, not a scan of all of them (a scan every second was most of the cost of a poll with
-- 10,000 watchers polling every 120 s). w.due is the look the watcher waits for; a heap entry
-- with another due was superseded by an earlier one and is skipped.
local function heap_push(e)
  local i = #heap + 1
  heap[i] = e
  while i > 1 do
    local p = i // 2
    if heap[p][1] <= e[1] then break end
    heap[i], i = heap[p], p
  end
  heap[i] = e
end

local function heap_pop()
  local top, n = heap[1], #heap
  local last = heap[n]
  heap[n] = nil
  n = n - 1
  if n > 0 then
    local i = 1
    while true do
      local c = 2 * i
      if c > n then break end
      if c < n and heap[c + 1][1] < heap[c][1] then c = c + 1 end
      if heap[c][1] >= last[1] then break end
      heap[i], i = heap[c], c
    end
    heap[i] = last
  end
  return top
end

-- The monitor looks at w at `due` (engine seconds) at the latest.
function look_at(w, due)
  if w.due and w.due <= due then return end
  w.due = due
  heap_push({ due, w })
end

local function look(w)
  w.due = nil
  if w.retired then return end
  if w.unwatched or w.ended or w.stopped then
    -- gone from /status and /healthz. Not a watcher stopped by a reload (or SIGTERM): the
    -- registry keeps its times for the new script (see new_entry)
    w.retired = true
    live = live - 1
    if (w.unwatched or w.ended) and not w.forgotten then
      w.forgotten = true
      rec.health.forget(w.hkey)
    end
    return
  end
  local last = w.last_good or w.since
  if not w.stale and now() - last > w.stale_after then went_stale(w) end
  built_in_alerts(w)
  if w.silent_alert_due or w.recovered_alert_due or (w.inherited_stale and not w.inherit_done and w.o.outbox) then
    -- the outbox refused (a locked store): again soon, as often as staleness is looked at
    look_at(w, now() + math.max(0.05, math.min(1, w.stale_after / 4)))
  elseif not w.stale then
    look_at(w, last + w.stale_after + 0.01)         -- recovered() calls look_at itself
  end
end

local function check_due()
  local t = now()
  while heap[1] and heap[1][1] <= t do
    local e = heap_pop()
    if e[2].due == e[1] then look(e[2]) end
  end
end

local function start_monitor()
  if monitor then return end
  monitor = rec.spawn(function()
    while true do
      local ok, err = pcall(check_due)
      if not ok then rec.log.error("kind=watcher_error watcher=monitor error=internal: %s", tostring(err)) end
      if live == 0 then break end
      -- until the next look, at most a second (a new watcher may need one sooner)
      local step = heap[1] and heap[1][1] - now() or 1
      if not rec.sleep(math.min(1, math.max(0.05, step))) then break end
    end
    monitor = nil
  end)
end

-- The callbacks called since a watcher's last finished poll, and how many failed (call below):
-- kept aside, so that an entry does not grow for them.
local poll_calls = setmetatable({}, { __mode = "k" })
local poll_cb_failed = setmetatable({}, { __mode = "k" })

-- One poll finished: good (true) or not.
local function poll_done(w, good)
  w.polls = w.polls + 1
  if good then
    w.good_polls = w.good_polls + 1
    w.consecutive = nil   -- 0 (Entry)
    w.last_good, w.last_good_time = now(), rec.time()
    if w.auth_failed then
      w.auth_failed = false
      rec.log.info("kind=auth_recovered watcher=%s: the provider accepts the credentials again", w.name, fields(w))
    end
    if w.stale then recovered(w) end
  end
  -- callbacks: a poll that called some and saw every one fail counts against the watcher;
  -- failing: the last fail_polls such polls all did (cb_run: how many in a row, nil for none)
  local calls = poll_calls[w]
  if calls then
    local all_failed = (poll_cb_failed[w] or 0) == calls
    w.cb_run = all_failed and (w.cb_run or 0) + 1 or nil
    local failing = (w.cb_run or 0) >= w.fail_polls
    if failing and not w.cb_failing then
      rec.log.error("kind=callback_failing watcher=%s: callbacks failed on every call in the last %d polls",
                    w.name, w.fail_polls, fields(w))
    end
    w.cb_failing = failing
  end
  poll_calls[w], poll_cb_failed[w] = nil, nil
  publish(w, good)
end

-- A watcher that ended comes back (an Agora recording that answers again after the end
-- its 404s gave): in watch.status() and /healthz again, its poll good now.
local function revive(w)
  w.ended = false
  if w.retired then w.retired, live = false, live + 1 end
  w.forgotten = false
  poll_done(w, true)
  look_at(w, now())
  start_monitor()
end

-- Events (rec.watch._events): a notifications-only session's sign of life is an event, the
-- way a good poll is a polled watcher's: it keeps the session from going stale, and ends a
-- stale episode. It is never counted as a poll.
local function event_seen(w)
  w.events = (w.events or 0) + 1
  w.last_event_time = rec.time()
  w.consecutive = nil   -- 0 (Entry)
  w.last_good, w.last_good_time = now(), rec.time()
  if w.stale then recovered(w) end
  publish(w, true)
end

-- A discovered session's entry leaves watch.status() once it is retired (ended, or unwatched),
-- so sessions coming and going do not grow the registry.
local function drop(w)
  for i, x in ipairs(registry) do
    if x == w then table.remove(registry, i) return end
  end
end

-- One poll under supervision: nothing it raises ends the watcher. An error is counted and
-- logged (the poll is not good: false); a cancellation gives "stop"; otherwise what poll
-- returned (true/false for a good/bad poll, or a word: "stop", "ended").
local function poll_error(e) return type(e) == "table" and e or debug.traceback(tostring(e), 2) end
local function supervised(w, poll, ...)   -- ...: poll's arguments (watch.agora's session)
  local ok, r = xpcall(poll, poll_error, ...)
  if ok then return r end
  if type(r) == "table" and r.kind == "cancelled" then return "stop" end
  record_error(w, r)
  return false
end

-- The delay before the next poll: the interval, or a backoff (1, 2, 4, ... s, at most the
-- interval) after errors.
local function next_delay(w, interval)
  local d = interval
  if w.auth_failed then d = math.max(interval, w.auth_retry)  -- a wrong credential: slowly
  elseif w.consecutive > 0 then d = math.min(interval, 2 ^ (w.consecutive - 1)) end
  w.next_poll = rec.time() + d
  publish(w)
  return d
end

local function call(w, what, fn, ...)
  if not fn then return end
  poll_calls[w] = (poll_calls[w] or 0) + 1
  local ok, err = xpcall(fn, debug.traceback, ...)
  if not ok then
    w.cb_failures = w.cb_failures + 1
    poll_cb_failed[w] = (poll_cb_failed[w] or 0) + 1
    rec.log.error("kind=callback_error watcher=%s: %s callback failed: %s", w.name, what, tostring(err), fields(w))
    note_error()
  end
end

return {
  watch = watch, now = now, info_of = info_of, fields = fields, new_entry = new_entry,
  record_error = record_error, look_at = look_at, start_monitor = start_monitor,
  poll_done = poll_done, supervised = supervised, next_delay = next_delay, call = call,
  revive = revive, event_seen = event_seen, drop = drop,
}
