-- rec.watch._qingcloud (internal): watch.qingcloud, one loop per channel: every page of a
-- channel's tasks, each task's transitions, repair timeouts, tasks gone from the query window.
local rec = rec or require "rec"
local store = require "rec.store"
local opts = require "rec._opts"
local sup = require "rec.watch._supervise"
local state = require "rec.watch._state"

local new_entry, fields, record_error, call = sup.new_entry, sup.fields, sup.record_error, sup.call
local supervised, poll_done = sup.supervised, sup.poll_done
local next_delay, start_monitor = sup.next_delay, sup.start_monitor
local copy, prepare, commit = state.copy, state.prepare, state.commit
local new_handle, nap, protocol = state.new_handle, state.nap, state.protocol
local allowed, check_fn, check_num = state.allowed, state.check_fn, state.check_num
local resolve_alerts = state.resolve_alerts

local watch = {}

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
                                          offset = offset, limit = PAGE, account = o.account }
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
                         "stagger", "account" }

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
  -- account = "<access key id>" (fleet): its credential, keys and commits under its unit
  local unit = state.unit_of(o, "qingcloud", "watch.qingcloud")
  local db = o.db or store.open()
  local h = new_handle(db)
  h.unit = unit   -- a fence stops only a watcher of a unit (state.fenced)
  local every = o.every or 30
  if every <= 0 then every = 1 end
  local on_status = o.on_status or {}
  local repair_timeout = o.repair_timeout or REPAIR_TIMEOUT

  for i, channel in ipairs(channels) do
    -- keys (and the alert ids made from them) hold only safe bytes: see rec.safe_id
    local prefix = (unit and (unit .. "/") or "") ..
                   ("qingcloud/%s/%s/"):format(rec.safe_id(o.app_id), rec.safe_id(channel))
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
        elseif state.fenced(h, w, e) then return "stop"
        else failed[key] = true record_error(w, e, "cannot record the transition of " .. key .. " yet") end
      end
      local tasks, err, bad, unread = list_channel(o, channel)
      if not tasks then
        if err.kind == "cancelled" or state.fenced(h, w, err) then return "stop" end
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
        c.unit = unit
        local ok, e = pcall(commit, c)
        if ok then known[key] = st
        elseif state.fenced(h, w, e) then return
        else
          pending[key] = c
          failed[key] = true
          record_error(w, e, "cannot record the transition of " .. key .. " yet (kept, retried)")
        end
      end
      for _, t in ipairs(tasks) do
        if h.stopped then return "stop" end   -- fenced: no callback runs for a unit gone
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
              -- the crash cleared: what its callbacks raised (on_change / on_status[30] at
              -- the crash, on_failed at the repair timeout) resolves, in this transition
              local text = ("task %s of %s repaired (31 RecordProcessCoredRepairSuccess)"):format(tostring(t.id), w.name)
              resolve_alerts(w, prev, { event = "change" }, text)
              resolve_alerts(w, prev, { event = "repair_timeout" }, text)
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
        if r == "stop" or h.stopped then break end
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

return watch
