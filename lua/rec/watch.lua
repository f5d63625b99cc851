-- rec.watch: watchers that poll recordings and call the script back on what changed.
--
--   watch.qingcloud{ app_id=, channel= | channels={...}, every=30, from_hour=, to_hour=,
--                    on_change=function(task, old_status) end,
--                    on_status={ [52]=function(task, old_status) end },
--                    on_failed=function(task, old_status) end, repair_timeout=600,
--                    on_error=function(err, channel) end,
--                    on_missing=function(key, last_state) end, db=store, + common }  -> handle
--   watch.agora{ appid=, resourceid=, sid=, mode="mix", every=120, first_after=5,
--                start_every=5, start_timeout=90, ha_window=90, confirm_delays={10},
--                on_change=function(res, old_status) end, on_started=function(res) end,
--                on_start_failed=function(res, err) end, on_ended=function(last_res, err) end,
--                on_error=function(err) end, db=store, + common }              -> handle
--   common: name=, stale_after=, on_stale=function(info) end, on_recovered=function(info) end,
--           outbox= (a notify outbox: "watcher silent" alerts), fail_polls=3, stagger= (qingcloud),
--           auth_retry=60 (seconds between polls while the provider rejects the credentials)
--   handle:stop()   handle:wait()   handle:state(key)   handle:info()
--   watch.status() -> list of every watcher's health   watch.healthy() -> bool
--   watch.exit_policy(fn | false)
--
-- State: every task's last status lives in rec.store (the --state file, or memory), written
-- in one transaction with the alerts the callbacks queued through a notify outbox. After a
-- restart a watcher neither repeats a transition it already handled nor misses one that
-- happened while it was down (it compares what it sees with what it stored).
--
-- Supervision: no error ends a watcher's loop. A failed query, a reply of the wrong shape, a
-- store error (the state file locked by another process), an error in a callback or in this
-- code: each is logged with its kind, counted, and the loop backs off and goes on. A
-- transition whose commit fails is kept (callbacks already run, alert ids fixed) and its
-- commit retried until it succeeds; the callbacks never run twice. Only handle:stop(),
-- rec.exit or a signal end a watcher (and watch.agora once the recording has ended).
local rec = rec or require "rec"
local store = require "rec.store"
local batch = require "rec._batch"
local opts = require "rec._opts"

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
    errors = w.errors, consecutive_errors = w.consecutive, errors_by_kind = w.by_kind,
    callback_failures = w.cb_failures, next_poll = w.next_poll, stale_after = w.stale_after,
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
    status = w.last_status ~= nil and tostring(w.last_status) or nil,
    error = ok == false and w.last_error or nil,
    state = (st == "ok" or st == "stale" or st == "error" or st == "auth_failed") and st or nil,
    stale = w.stale and true or false,  -- apart from state, which auth_failed outranks
  })
end

local function new_entry(kind, name, key, o, every)
  local w = {
    kind = kind, name = name, key = key, o = o, every = every,
    stale_after = o.stale_after or (3 * every + 60), auth_retry = o.auth_retry or AUTH_RETRY,
    fail_polls = math.max(1, math.floor(o.fail_polls or FAIL_POLLS)),
    polls = 0, good_polls = 0, errors = 0, consecutive = 0, by_kind = {},
    cb_failures = 0, cb_window = {}, started_time = rec.time(), since = now(),
  }
  registry[#registry + 1] = w
  w.hkey = key:gsub("/$", "")
  publish(w)
  -- A reload starts a fresh Lua state, but the registry (ops.c) kept this watcher's times:
  -- it goes on from them, so reloading does not make a silent watcher look fresh, and one
  -- already reported stale is not reported (nor alerted) again.
  local since, last_good, last_good_wall, was_stale = rec.health.times(w.hkey)
  if since then
    w.since = math.min(w.since, since)
    if last_good then w.last_good, w.last_good_time = last_good, last_good_wall end
    if was_stale and now() - (w.last_good or w.since) > w.stale_after then
      w.stale = true
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
  w.by_kind[kind] = (w.by_kind[kind] or 0) + 1
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

-- Queues the built-in alerts (outside any watcher batch, so a store fault only delays them).
local function built_in_alerts(w)
  local out = w.o.outbox
  if not out then return end
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
    if ok then w.silent_alert_due, w.silent_id = false, id else rec.log.warn("watcher %s: cannot queue the silent alert yet: %s", w.name, tostring(e)) end
  end
  if w.recovered_alert_due and not w.silent_alert_due then
    local ok = pcall(out.alert, out, { text = ("recwatch: watcher %s is polling again"):format(w.name),
                                       kind = "watcher_recovered", watcher = w.name, id = w.silent_id,
                                       status = w.silent_id and "resolved" or nil })
    if ok then w.recovered_alert_due, w.silent_id = false, nil end
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
  if w.silent_alert_due or w.recovered_alert_due then
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

-- One poll finished: good (true) or not.
local function poll_done(w, good)
  w.polls = w.polls + 1
  if good then
    w.good_polls = w.good_polls + 1
    w.consecutive = 0
    w.last_good, w.last_good_time = now(), rec.time()
    if w.auth_failed then
      w.auth_failed = false
      rec.log.info("kind=auth_recovered watcher=%s: the provider accepts the credentials again", w.name, fields(w))
    end
    if w.stale then recovered(w) end
  end
  -- callbacks: a poll that called some and saw every one fail counts against the watcher
  if (w.poll_calls or 0) > 0 then
    local all_failed = w.poll_cb_failed == w.poll_calls
    table.insert(w.cb_window, all_failed)
    if #w.cb_window > w.fail_polls then table.remove(w.cb_window, 1) end
    local failing = #w.cb_window == w.fail_polls
    for _, f in ipairs(w.cb_window) do failing = failing and f end
    if failing and not w.cb_failing then
      rec.log.error("kind=callback_failing watcher=%s: callbacks failed on every call in the last %d polls",
                    w.name, w.fail_polls, fields(w))
    end
    w.cb_failing = failing
  end
  w.poll_calls, w.poll_cb_failed = 0, 0
  publish(w, good)
end

-- One poll under supervision: nothing it raises ends the watcher. An error is counted and
-- logged (the poll is not good: false); a cancellation gives "stop"; otherwise what poll
-- returned (true/false for a good/bad poll, or a word: "stop", "ended").
local function supervised(w, poll)
  local ok, r = xpcall(poll, function(e) return type(e) == "table" and e or debug.traceback(tostring(e), 2) end)
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
  w.poll_calls = (w.poll_calls or 0) + 1
  local ok, err = xpcall(fn, debug.traceback, ...)
  if not ok then
    w.cb_failures = w.cb_failures + 1
    w.poll_cb_failed = (w.poll_cb_failed or 0) + 1
    rec.log.error("kind=callback_error watcher=%s: %s callback failed: %s", w.name, what, tostring(err), fields(w))
    note_error()
  end
end

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
  -- how many numbered alerts this event raised: resolve_alerts remakes their ids
  if facts and b.n > 0 then st[facts.event .. "_alerts"] = b.n end
  st.at = rec.time()
  return { b = b, key = key, st = st, enc = assert(rec.json.encode(st)) }
end

-- The condition behind an earlier event cleared: resolves, through the watcher's outbox=,
-- the numbered alerts that event's callbacks raised (ids from its facts, count from the
-- state). Called inside the clearing event's callbacks, so the resolves commit with it.
local function resolve_alerts(w, st, facts, text)
  local out, n = w.o.outbox, st[facts.event .. "_alerts"]
  if not out or not n then return end
  local base = batch.stable_base(facts)
  for i = 1, n do out:alert{ id = base .. "." .. i, status = "resolved", text = text } end
end

local function commit(c)
  batch.commit(c.b, function(d) d:set(c.key, c.enc) end)
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

------------------------------------------------------------------------------ QingCloud

local PAGE = 100
-- 30 RecordProcessCored is not final: the document lists 31 (repaired) and 32 (repair
-- failed) after it.
local QC_FINAL = { [9] = true, [10] = true, [31] = true, [32] = true, [50] = true,
                   [51] = true, [52] = true, [53] = true }

local function valid_id(id)
  if math.type(id) == "integer" then return true end
  return type(id) == "string" and #id > 0 and #id <= 128 and not id:find("[%c/]")
end

-- Every task of one channel, all pages. Returns the list, or nil, err. Items of the wrong
-- shape are left out and returned as the third value (a protocol error). The window
-- (default from_hour 24, to_hour 0, as rec.query_qingcloud sends) moves between pages: a
-- task that enters it pushes the rest down (seen twice), one that leaves pulls them up
-- (skipped). So each page starts OVERLAP tasks before the end of the previous one, and each
-- id is kept once: a shift of up to OVERLAP tasks between two pages loses nothing.
local OVERLAP = 10

local function list_channel(o, channel)
  local all, seen, offset, bad, unread = {}, {}, 0, nil, {}
  for _ = 1, 100000 do
    local res, err = rec.query_qingcloud{ app_id = o.app_id, channel = channel,
                                          from_hour = o.from_hour, to_hour = o.to_hour,
                                          offset = offset, limit = PAGE }
    if not res then return nil, err end
    if type(res) ~= "table" then return nil, protocol("the reply is not a table") end
    local got = res.recinfos or {}
    if type(got) ~= "table" then return nil, protocol("recinfos is a " .. type(got)) end
    local n = 0
    for _, t in ipairs(got) do
      n = n + 1
      local st = type(t) == "table" and (math.tointeger(t.status) or tonumber(t.status)) or nil
      -- a task the decoder could not read whole: reported (the watcher's error, naming the
      -- task and the field) but not a failed poll, since the rest of the page was read; its
      -- status, when that did read, is still followed below
      local unreadable = type(t) == "table" and type(t.unreadable) == "string" and
        protocol(("task %s cannot be read: %s"):format(t.id ~= nil and tostring(t.id) or "?", t.unreadable))
      if unreadable then
        unread[#unread + 1] = { id = tostring(t.id), why = t.unreadable, err = unreadable,
                                valid = valid_id(t.id) }
      end
      if type(t) ~= "table" then
        bad = protocol("a recinfos entry is a " .. type(t))
      elseif not valid_id(t.id) then
        if not unreadable then bad = protocol("a task id is " .. (type(t.id) == "string" and "not a plain id" or ("a " .. type(t.id)))) end
      elseif not st then
        if not unreadable then bad = protocol(("task %s: status is a %s"):format(tostring(t.id), type(t.status))) end
      elseif not seen[t.id] then
        seen[t.id] = true
        t.status = st
        all[#all + 1] = t
      end
    end
    local total = math.tointeger(res.total_count) or tonumber(res.total_count) or 0
    if n < PAGE or offset + n >= total then return all, nil, bad, unread end
    offset = offset + n - OVERLAP
  end
  return all, nil, protocol("more than 100000 pages"), unread
end

local QC_KEYS = allowed{ "app_id", "channel", "channels", "every", "from_hour", "to_hour",
                         "on_change", "on_status", "on_missing", "on_failed", "repair_timeout",
                         "stagger" }

-- 30 RecordProcessCored is a crash whose repair is under way, not a failure yet: 31 repaired
-- it, 32 failed it. With no outcome for this long, the task counts as failed (the document
-- gives no time; this is the project's choice).
local REPAIR_TIMEOUT = 600

function watch.qingcloud(o)
  if type(o) ~= "table" then error("watch.qingcloud takes a table", 2) end
  opts.check(o, QC_KEYS, "watch.qingcloud", 2)
  if not o.app_id then error("watch.qingcloud: app_id is required", 2) end
  local channels = o.channels or { o.channel }
  if type(channels) ~= "table" or #channels == 0 then
    error("watch.qingcloud: channel or channels is required", 2)
  end
  check_fn(o, "watch.qingcloud", { "on_change", "on_error", "on_missing", "on_failed", "on_stale", "on_recovered" })
  check_num(o, "watch.qingcloud", { "every", "stale_after", "fail_polls", "repair_timeout", "auth_retry" }, 0)
  if o.on_status ~= nil and type(o.on_status) ~= "table" then
    error("watch.qingcloud: 'on_status' must be a table {[code] = function}", 2)
  end
  for k, v in pairs(o.on_status or {}) do
    if math.type(k) ~= "integer" or type(v) ~= "function" then
      error(("watch.qingcloud: on_status[%s] must be a function under a status code"):format(tostring(k)), 2)
    end
  end
  local db = o.db or store.open()
  local h = new_handle(db)
  local every = o.every or 30
  if every <= 0 then every = 1 end
  local on_status = o.on_status or {}
  local repair_timeout = o.repair_timeout or REPAIR_TIMEOUT

  for i, channel in ipairs(channels) do
    -- keys (and the alert ids made from them) hold only safe bytes: see rec.safe_id
    local prefix = ("qingcloud/%s/%s/"):format(rec.safe_id(o.app_id), rec.safe_id(channel))
    local name = o.name and (#channels > 1 and (o.name .. "/" .. channel) or o.name)
                 or ("qingcloud/%s/%s"):format(o.app_id, channel)
    local w = new_entry("qingcloud", name, prefix, o, every)
    w.fields = { provider = "qingcloud", app = o.app_id, channel = channel }
    local l = { w = w }
    local known, pending, missing = nil, {}, {}   -- pending: key -> commit not yet done
    local unread_seen = {}                         -- unreadable tasks already reported: "id\0why" -> true

    local function poll()
      if not known then
        known = {}
        for k, v in pairs(db:keys(prefix)) do
          local ok, t = pcall(rec.json.decode, v)
          if ok and type(t) == "table" then known[k] = t end
        end
      end
      -- transitions seen before whose commit failed: retried first, callbacks not re-run
      local failed = {}
      for key, c in pairs(pending) do
        local ok, e = pcall(commit, c)
        if ok then known[key], pending[key] = c.st, nil
        else failed[key] = true record_error(w, e, "cannot record the transition of " .. key .. " yet") end
      end
      local tasks, err, bad, unread = list_channel(o, channel)
      if not tasks then
        if err.kind == "cancelled" then return "stop" end
        record_error(w, err)
        call(w, "on_error", o.on_error, err, channel)
        return false
      end
      local seen = {}
      -- an unreadable task is still on the page: not missing (its known state is kept)
      for _, u in ipairs(unread) do
        if u.valid then seen[prefix .. rec.safe_id(u.id)] = true end
      end
      -- one transition of a task: its callbacks (fn) once, its new state committed, or kept
      -- in `pending` and retried
      local function transition(key, st, fn, t, event, old)
        -- the alert ids' facts: the task, its status, and the provider's time of that status
        -- (or, when the reply has none, the status before), so one task failing twice gives two
        local f = { label = key .. "/" .. tostring(t.status), provider = "qingcloud", app = o.app_id,
                    channel = channel, task = tostring(t.id), to = tostring(t.status), event = event }
        if type(t.updated) == "string" then f.updated = t.updated else f.from = tostring(old) end
        local c = prepare(db, key, st, fn, f)
        local ok, e = pcall(commit, c)
        if ok then known[key] = st
        else
          pending[key] = c
          failed[key] = true
          record_error(w, e, "cannot record the transition of " .. key .. " yet (kept, retried)")
        end
      end
      for _, t in ipairs(tasks) do
        local key = prefix .. rec.safe_id(tostring(t.id))  -- the reply chose t.id
        seen[key] = true
        local prev = known[key] or {}
        local f = fields(w, { task_id = t.id })
        if not failed[key] and not pending[key] and prev.status ~= t.status then
          local old = prev.status
          local st = { status = t.status, seq = (prev.seq or 0) + 1 }
          if t.status == 30 then st.crashed_at = rec.time() end
          transition(key, st, function()
            rec.log.debug("qingcloud task %s: %s -> %s", key, tostring(old), tostring(t.status), f)
            if t.status == 30 then
              rec.log.warn("kind=task_crashed watcher=%s: task %s: 30 RecordProcessCored; a failure only if 32 follows or no repair outcome comes within %gs",
                           w.name, tostring(t.id), repair_timeout, f)
            elseif old == 30 and t.status == 31 then
              rec.log.info("kind=task_repaired watcher=%s: task %s: 30 -> 31 RecordProcessCoredRepairSuccess, not a failure",
                           w.name, tostring(t.id), f)
            end
            call(w, "on_change", o.on_change, t, old)
            call(w, "on_status[" .. tostring(t.status) .. "]", on_status[t.status], t, old)
            if rec.qingcloud.failed[t.status] then
              if prev.repair_timed_out then  -- the crash was already reported as the failure
                rec.log.info("watcher %s: task %s: %s after its crash was reported failed; no second on_failed",
                             w.name, tostring(t.id), tostring(t.status), f)
              else
                call(w, "on_failed", o.on_failed, t, old)
              end
            end
          end, t, "change", old)
        elseif not failed[key] and not pending[key] and t.status == 30 and not prev.repair_timed_out
               and rec.time() - (prev.crashed_at or prev.at or rec.time()) >= repair_timeout then
          local st = copy(prev)
          st.seq, st.repair_timed_out = (prev.seq or 0) + 1, true
          t.repair_timed_out = true
          transition(key, st, function()
            rec.log.warn("kind=task_repair_timeout watcher=%s: task %s: still 30 RecordProcessCored %gs after the crash, no repair outcome: failed",
                         w.name, tostring(t.id), repair_timeout, f)
            call(w, "on_failed", o.on_failed, t, 30)
          end, t, "repair_timeout", 30)
        end
        w.last_status = t.status
      end
      -- running tasks that left the query window: their end will not be seen
      for key, st in pairs(known) do
        if not seen[key] and not missing[key] and not QC_FINAL[st.status] then
          missing[key] = true
          rec.log.warn("kind=task_missing watcher=%s: task %s (last status %s) is no longer in the query window; its end will not be seen",
                       w.name, key, tostring(st.status), fields(w, { task_id = key:match("[^/]*$") }))
          call(w, "on_missing", o.on_missing, key, copy(st))
        elseif seen[key] then
          missing[key] = nil
        end
      end
      -- unreadable tasks: the watcher's error and on_error once per task and reason (the C
      -- side logs and counts each one on every page: kind=task_unreadable); the poll is good
      local now_unread = {}
      for _, u in ipairs(unread) do
        local k = u.id .. "\0" .. u.why
        now_unread[k] = true
        if not unread_seen[k] then
          record_error(w, u.err)
          call(w, "on_error", o.on_error, u.err, channel)
        end
      end
      unread_seen = now_unread
      if bad then
        record_error(w, bad)
        call(w, "on_error", o.on_error, bad, channel)
        return false
      end
      return next(failed) == nil
    end

    l.task = rec.spawn(function()
      -- spread many channels over the first interval instead of one burst
      if #channels > 1 and o.stagger ~= false then
        if not nap(h, l, every * (i - 1) / #channels) and h.stopped then w.stopped = true return end
      end
      while not h.stopped do
        local r = supervised(w, poll)
        if r == "stop" then break end
        poll_done(w, r)
        if not nap(h, l, next_delay(w, every)) then break end
      end
      w.stopped = true
    end)
    h.loops[#h.loops + 1] = l
  end
  start_monitor()
  return h
end

------------------------------------------------------------------------------ Agora

local function is_started(s) return s == 4 or s == 5 end

local AG_KEYS = allowed{ "appid", "resourceid", "sid", "mode", "every", "first_after",
                         "start_every", "start_timeout", "confirm_delays", "ha_window", "started_at",
                         "on_change", "on_started", "on_start_failed", "on_ended" }

-- Agora documents 404s for a recording that is still alive (high availability): up to 30 s
-- after a process failure, up to 1 min of reconnects before a server is switched, up to 90 s
-- for a migration, at most 3 failovers per recording. So a 404 opens an *episode*: the
-- recording is re-queried (confirm_delays, the last delay repeating) and is ended only when it
-- still answers 404 ha_window seconds after the first 404 of the episode. A 200 closes the
-- episode; the next 404 opens a new one with a window of its own.
local HA_WINDOW = 90
local HA_FAILOVERS = 3   -- Agora's documented maximum per recording

function watch.agora(o)
  if type(o) ~= "table" then error("watch.agora takes a table", 2) end
  opts.check(o, AG_KEYS, "watch.agora", 2)
  if not (o.appid and o.resourceid and o.sid) then
    error("watch.agora: appid, resourceid and sid are required", 2)
  end
  check_fn(o, "watch.agora", { "on_change", "on_started", "on_start_failed", "on_ended",
                               "on_error", "on_stale", "on_recovered" })
  check_num(o, "watch.agora", { "every", "first_after", "start_every", "start_timeout", "stale_after",
                                "fail_polls", "ha_window", "auth_retry" }, 0)
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
  local db = o.db or store.open()
  local h = new_handle(db)
  local every = o.every or 120
  local first_after = o.first_after or 5
  local start_every = o.start_every or first_after
  local start_timeout = o.start_timeout or 90
  local ha_window = o.ha_window or HA_WINDOW
  local confirm = o.confirm_delays or { 10 }
  if start_every <= 0 then start_every = 1 end
  if every <= 0 then every = 1 end
  local key = ("agora/%s/%s/%s"):format(rec.safe_id(o.appid), rec.safe_id(o.resourceid),
                                        rec.safe_id(o.sid))
  local q = { appid = o.appid, resourceid = o.resourceid, sid = o.sid, mode = o.mode }
  local w = new_entry("agora", o.name or key, key, o, math.max(every, start_every))
  w.fields = { provider = "agora", app = o.appid, resourceid = o.resourceid, sid = o.sid }
  w.stale_after = o.stale_after or (3 * math.max(start_every, math.min(every, start_timeout)) + 60)
  local l = { w = w }
  h.key = key

  local st          -- the committed state
  local pending     -- a transition whose commit failed: retried before anything else
  local last        -- the last successful result
  local ep          -- the open 404 episode: { first = now(), last = now() of its latest 404, n = re-queries since }
  -- Other answers (5xx, timeouts, auth) between two 404s say nothing of the recording, but a
  -- gap longer than this between two 404s means the 404s were not one stretch: the window
  -- starts again at the next 404, so two failovers with an outage between them are never
  -- added up into one 404 "lasting" past the window.
  local max_gap = 0
  for _, d in ipairs(confirm) do max_gap = math.max(max_gap, d) end
  max_gap = 2 * math.max(max_gap, 1)
  local episodes = 0

  -- The last result for on_ended / on_start_failed: the last 200 of this process, or, after
  -- a restart before any 200, what the state file knows (its status).
  local function last_known()
    if last or st.status == nil then return last end
    return { status = st.status, status_name = rec.agora.status[st.status], restored = true,
             resourceId = o.resourceid, sid = o.sid }
  end

  -- One event: new = a copy of st with its changes; fn runs the callbacks. Returns true when
  -- committed; false when kept in `pending` (the caller stops handling this poll).
  -- ev names the event (change, started, start_failed, ended: the last three happen once per
  -- sid) for the alert ids' facts; a change adds the statuses before and after.
  local function facts(ev, new)
    local f = { label = key .. "/" .. ev, provider = "agora", app = o.appid, resourceid = o.resourceid,
                sid = o.sid, event = ev }
    if ev == "change" then f.from, f.to = tostring(st.status), tostring(new.status) end
    return f
  end
  local function event(new, fn, ev)
    new.seq = (st.seq or 0) + 1
    local c = prepare(db, key, new, fn, facts(ev, new))
    local ok, e = pcall(commit, c)
    if ok then st = c.st return true end
    pending = c
    record_error(w, e, "cannot record the transition yet (kept, retried)")
    return false
  end
  local function saw(res)
    last = res
    local s = res.status
    w.last_status = s
    if s ~= st.status then
      local old = st.status
      local new = copy(st)
      new.status = s
      if not event(new, function() call(w, "on_change", o.on_change, res, old) end, "change") then return false end
    end
    if not st.started and is_started(s) then
      local new = copy(st)
      new.started = true
      if not event(new, function()
        call(w, "on_started", o.on_started, res)
        -- reported as not started, recording now: that alert resolves
        resolve_alerts(w, st, facts("start_failed"), ("recording %s has started after all"):format(o.sid))
      end, "started") then return false end
    end
    return true
  end
  local function start_check(err)
    if not st.started and not st.start_failed and rec.time() >= st.since + start_timeout then
      rec.log.warn("watch.agora %s: not recording %gs after start", key, start_timeout, fields(w))
      local new = copy(st)
      new.start_failed = true
      return event(new, function() call(w, "on_start_failed", o.on_start_failed, last_known(), err) end, "start_failed")
    end
    return true
  end
  local function interval()
    if ep then  -- confirming a 404: the next re-query, and none past the window's end
      local d = confirm[math.min(ep.n + 1, #confirm)] or 10
      local left = ep.first + ha_window - now()
      if ep.n + 1 >= #confirm and left > 0 then d = math.min(d, math.max(left, 0.05)) end
      if not st.started and not st.start_failed then  -- the start deadline does not wait
        d = math.min(d, st.since + start_timeout - rec.time())
      end
      return math.max(0.05, d)
    end
    if not st.started and not st.start_failed then
      return math.max(0.05, math.min(start_every, st.since + start_timeout - rec.time()))
    end
    if st.status and st.status >= 6 then return start_every end  -- ending: look closer
    return every
  end
  local function valid(res)
    if type(res) ~= "table" then return nil, protocol("the reply is not a table") end
    local s = math.tointeger(res.status) or tonumber(res.status)
    if not s then return nil, protocol("status is a " .. type(res.status)) end
    res.status = s
    return res
  end

  -- The 404 episode outlasted its window: the recording is gone. One cause, one alert: a
  -- recording never seen recording (a wrong sid, one gone before the first query, a start
  -- that failed) gets on_start_failed (unless it already had it) and no on_ended; one that
  -- recorded gets on_ended.
  local function gone(err)
    local new = copy(st)
    new.ended = true
    local fn
    if st.started then
      rec.log.info("watch.agora %s: the recording has ended (404 for %.0fs, %d re-queries)", key,
                   now() - ep.first, ep.n, fields(w))
      fn = function() call(w, "on_ended", o.on_ended, last_known(), err) end
    else
      rec.log.warn("watch.agora %s: never seen recording and gone (404 for %.0fs): %s", key,
                   now() - ep.first, st.start_failed and "already reported as not started"
                   or "reported as not started (wrong sid, or ended before it was seen)", fields(w))
      if not st.start_failed then
        new.start_failed = true
        fn = function() call(w, "on_start_failed", o.on_start_failed, last_known(), err) end
      else
        fn = function() end
      end
    end
    if not event(new, fn, st.started and "ended" or "start_failed") then return false end
    return "ended"
  end

  -- one poll: true (good), false (an error, counted), "stop", or "ended"
  local function poll()
    if pending then
      local ok, e = pcall(commit, pending)
      if not ok then
        record_error(w, e, "cannot record the transition yet (kept, retried)")
        return false
      end
      st, pending = pending.st, nil
      if st.ended then return "ended" end
    end
    local res, err = rec.query_agora(q)
    if res then res, err = valid(res) end
    if res then
      if ep then
        rec.log.info("kind=agora_404_cleared watch.agora %s: answers again (status %s) %.0fs after the first 404 of episode %d: the recording lives on",
                     key, tostring(res.status), now() - ep.first, episodes, fields(w))
        ep = nil
      end
      if not saw(res) then return false end
    elseif err.kind == "cancelled" then
      return "stop"
    elseif err.kind == "not_found" then
      -- 404 failed to find worker: ended, failed to start, or a failover window
      if ep and now() - ep.last > max_gap then
        rec.log.warn("kind=agora_404 watch.agora %s: 404 again after %.0fs of other answers: the window of episode %d starts again (ended only if still 404 after %gs)",
                     key, now() - ep.last, episodes, ha_window, fields(w))
        ep.first, ep.n = now(), 0
      elseif not ep then
        episodes = episodes + 1
        ep = { first = now(), n = 0 }
        rec.log.warn("kind=agora_404 watch.agora %s: 404 (%s); episode %d%s: ended only if still 404 after %gs",
                     key, tostring(err), episodes,
                     episodes > HA_FAILOVERS and (" (Agora documents at most " .. HA_FAILOVERS .. " failovers)") or "",
                     ha_window, fields(w))
      else
        ep.n = ep.n + 1
      end
      ep.last = now()
      if ep.n >= #confirm and now() - ep.first >= ha_window then return gone(err) end
    else
      record_error(w, err)
      call(w, "on_error", o.on_error, err)
      -- rejected credentials say nothing about the recording: no "did not start" for that
      if err.kind ~= "auth" then start_check(err) end
      return false
    end
    if not start_check(err) then return false end
    return true
  end

  l.task = rec.spawn(function()
    -- the stored state: read from the cache, so a locked file does not stop this
    local ok0, s0 = pcall(load_state, db, key)
    st = ok0 and s0 or {}
    if st.ended then
      rec.log.info("watch.agora %s: already ended (state file); nothing to watch", key, fields(w))
      w.ended = true
      look_at(w, now())
      return
    end
    local fresh = st.since == nil
    st.since = st.since or o.started_at or rec.time()
    if fresh or not st.started then
      local wait = fresh and first_after or math.min(first_after, math.max(0, st.since + first_after - rec.time()))
      if not nap(h, l, wait) then w.stopped = true return end
    end
    while not h.stopped do
      local r = supervised(w, poll)
      if r == "stop" then
        break
      elseif r == "ended" then
        poll_done(w, true)
        w.ended = true
        look_at(w, now())
        break
      else
        poll_done(w, r)
      end
      local ok2, iv = pcall(interval)
      if not nap(h, l, next_delay(w, ok2 and iv or every)) then break end
    end
    if not w.ended then w.stopped = true end
  end)
  h.loops[1] = l
  start_monitor()
  return h
end

return watch
