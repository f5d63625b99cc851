-- rec.watch: watchers that poll recordings and call the script back on what changed.
--
--   watch.qingcloud{ app_id=, channel= | channels={...}, every=30, from_hour=, to_hour=,
--                    on_change=function(task, old_status) end,
--                    on_status={ [52]=function(task, old_status) end },
--                    on_error=function(err, channel) end, db=store }        -> handle
--   watch.agora{ appid=, resourceid=, sid=, mode="mix", every=120, first_after=5,
--                start_every=5, start_timeout=90, confirm_delays={5,10,15},
--                on_change=function(res, old_status) end, on_started=function(res) end,
--                on_start_failed=function(res, err) end, on_ended=function(last_res, err) end,
--                on_error=function(err) end, db=store }                      -> handle
--   handle:stop()   handle:wait()   handle:status(key)
--
-- State: every task's last status lives in rec.store (the --state file, or memory), written
-- in one transaction with the alerts the callbacks queued through a notify outbox. After a
-- restart a watcher neither repeats a transition it already handled nor misses one that
-- happened while it was down (it compares what it sees with what it stored).
-- Callbacks may wait (HTTP, sleep); an error in a callback is logged with its traceback and
-- the watcher goes on.
local rec = rec or require "rec"
local store = require "rec.store"
local batch = require "rec._batch"

local watch = {}

local function call(what, fn, ...)
  if not fn then return end
  local ok, err = xpcall(fn, debug.traceback, ...)
  if not ok then rec.log.error("%s callback failed: %s", what, tostring(err)) end
end

local function load_state(db, key)
  local v = db:get(key)
  return v and rec.json.decode(v) or nil
end

-- Runs the callbacks of one transition inside a batch, then commits the state and every
-- alert they queued together. fn() runs the callbacks. Raises when the commit fails.
local function transition(db, key, st, fn)
  st.seq = (st.seq or 0) + 1
  local b = batch.begin(db, key .. "#" .. st.seq)
  local ok, err = xpcall(fn, debug.traceback)
  batch.finish(b)
  if not ok then rec.log.error("watch %s: %s", key, tostring(err)) end
  st.at = rec.time()
  local enc = assert(rec.json.encode(st))
  batch.commit(b, function(d) d:set(key, enc) end)
end

local Handle = {}
Handle.__index = Handle

function Handle:stop()
  self.stopped = true
  for _, l in ipairs(self.loops) do
    if l.sleeping then l.task:cancel() end
  end
end

function Handle:wait()
  for _, l in ipairs(self.loops) do l.task:wait() end
end

-- The stored state of a task key (for tests and dashboards).
function Handle:state(key) return load_state(self.db, key) end

local function new_handle(db) return setmetatable({ loops = {}, db = db, stopped = false }, Handle) end

-- Sleeps unless the handle is stopped; returns false when the watcher must end.
local function nap(h, l, seconds)
  if h.stopped then return false end
  l.sleeping = true
  local ok = rec.sleep(seconds)
  l.sleeping = false
  return ok and not h.stopped
end

------------------------------------------------------------------------------ QingCloud

local PAGE = 100

-- Every task of one channel, all pages. Returns the list, or nil, err. The window (default
-- from_hour 24, to_hour 0, as rec.query_qingcloud sends) moves between pages: a task that
-- enters it pushes the rest down (seen twice), one that leaves pulls them up (skipped). So
-- each page starts OVERLAP tasks before the end of the previous one, and each id is kept
-- once: a shift of up to OVERLAP tasks between two pages loses nothing.
local OVERLAP = 10

local function list_channel(o, channel)
  local all, seen, offset = {}, {}, 0
  while true do
    local res, err = rec.query_qingcloud{ app_id = o.app_id, channel = channel,
                                          from_hour = o.from_hour, to_hour = o.to_hour,
                                          offset = offset, limit = PAGE }
    if not res then return nil, err end
    local got = res.recinfos or {}
    for _, t in ipairs(got) do
      if not seen[t.id] then
        seen[t.id] = true
        all[#all + 1] = t
      end
    end
    if #got < PAGE or offset + #got >= (res.total_count or 0) then return all end
    offset = offset + #got - OVERLAP
  end
end

function watch.qingcloud(o)
  assert(type(o) == "table", "watch.qingcloud takes a table")
  assert(o.app_id, "watch.qingcloud: app_id is required")
  local channels = o.channels or { o.channel }
  assert(#channels > 0, "watch.qingcloud: channel or channels is required")
  local db = o.db or store.open()
  local h = new_handle(db)
  local every = o.every or 30
  local on_status = o.on_status or {}

  for i, channel in ipairs(channels) do
    -- keys (and the alert ids made from them) hold only safe bytes: see rec.safe_id
    local prefix = ("qingcloud/%s/%s/"):format(rec.safe_id(o.app_id), rec.safe_id(channel))
    local l = {}
    l.task = rec.spawn(function()
      local known = {}
      for k, v in pairs(db:keys(prefix)) do known[k] = rec.json.decode(v) end
      -- spread many channels over the first interval instead of one burst
      if #channels > 1 and o.stagger ~= false then
        if not nap(h, l, every * (i - 1) / #channels) and h.stopped then return end
      end
      while not h.stopped do
        local tasks, err = list_channel(o, channel)
        if not tasks then
          if err.kind == "cancelled" then break end
          rec.log.warn("watch.qingcloud %s/%s: %s", o.app_id, channel, tostring(err))
          call("on_error", o.on_error, err, channel)
        else
          for _, t in ipairs(tasks) do
            local key = prefix .. rec.safe_id(tostring(t.id))  -- the reply chose t.id
            local prev = known[key] or {}
            if prev.status ~= t.status then
              local old = prev.status
              local st = { status = t.status, seq = prev.seq }
              local ok, err = pcall(transition, db, key, st, function()
                rec.log.debug("qingcloud task %s: %s -> %s", key, tostring(old), tostring(t.status))
                call("on_change", o.on_change, t, old)
                call("on_status[" .. tostring(t.status) .. "]", on_status[t.status], t, old)
              end)
              if ok then
                known[key] = st
              else  -- not recorded: the next poll sees (and reports) the same transition again
                rec.log.error("watch.qingcloud %s: cannot record the transition: %s", key, tostring(err))
              end
            end
          end
        end
        if not nap(h, l, every) then break end
      end
    end)
    h.loops[#h.loops + 1] = l
  end
  return h
end

------------------------------------------------------------------------------ Agora

local function is_started(s) return s == 4 or s == 5 end

function watch.agora(o)
  assert(type(o) == "table", "watch.agora takes a table")
  assert(o.appid and o.resourceid and o.sid, "watch.agora: appid, resourceid and sid are required")
  local db = o.db or store.open()
  local h = new_handle(db)
  local every = o.every or 120
  local first_after = o.first_after or 5
  local start_every = o.start_every or first_after
  local start_timeout = o.start_timeout or 90
  local confirm = o.confirm_delays or { 5, 10, 15 }
  if start_every <= 0 then start_every = 1 end
  local key = ("agora/%s/%s/%s"):format(rec.safe_id(o.appid), rec.safe_id(o.resourceid),
                                        rec.safe_id(o.sid))
  local q = { appid = o.appid, resourceid = o.resourceid, sid = o.sid, mode = o.mode }
  local l = {}
  h.key = key

  l.task = rec.spawn(function()
    local st = load_state(db, key) or {}
    if st.ended then
      rec.log.info("watch.agora %s: already ended (state file); nothing to watch", key)
      return
    end
    local fresh = st.since == nil
    st.since = st.since or o.started_at or rec.time()
    local last   -- the last successful result
    local function event(fn)
      transition(db, key, st, fn)
    end
    local function saw(res)
      last = res
      local s = res.status
      if s ~= st.status then
        local old = st.status
        st.status = s
        event(function() call("on_change", o.on_change, res, old) end)
      end
      if not st.started and is_started(s) then
        st.started = true
        event(function() call("on_started", o.on_started, res) end)
      end
    end
    local function start_check(err)
      if not st.started and not st.start_failed and rec.time() >= st.since + start_timeout then
        st.start_failed = true
        rec.log.warn("watch.agora %s: not recording %gs after start", key, start_timeout)
        event(function() call("on_start_failed", o.on_start_failed, last, err) end)
      end
    end
    local function interval()
      if not st.started and not st.start_failed then
        return math.max(0.05, math.min(start_every, st.since + start_timeout - rec.time()))
      end
      if st.status and st.status >= 6 then return start_every end  -- ending: look closer
      return every
    end

    if fresh or not st.started then
      local wait = fresh and first_after or math.min(first_after, math.max(0, st.since + first_after - rec.time()))
      if not nap(h, l, wait) then return end
    end
    while not h.stopped do
      local res, err = rec.query_agora(q)
      if res then
        saw(res)
      elseif err.kind == "cancelled" then
        break
      elseif err.kind == "not_found" then
        -- 404 failed to find worker: ended, failed to start, or a failover window. Confirm.
        local gone, lerr = true, err
        for _, d in ipairs(confirm) do
          if not nap(h, l, d) then return end
          start_check(err)   -- the start deadline does not wait for the confirmation
          if h.stopped then return end
          local r2, e2 = rec.query_agora(q)
          if r2 then saw(r2) gone = false break end
          lerr = e2
          if e2.kind ~= "not_found" then
            call("on_error", o.on_error, e2)
            gone = false
            break
          end
        end
        if gone then
          start_check(lerr)
          if not st.started and not st.start_failed then
            st.start_failed = true
            event(function() call("on_start_failed", o.on_start_failed, last, lerr) end)
          end
          st.ended = true
          rec.log.info("watch.agora %s: the recording has ended (404 confirmed)", key)
          event(function() call("on_ended", o.on_ended, last, lerr) end)
          break
        end
      else
        rec.log.warn("watch.agora %s: %s", key, tostring(err))
        call("on_error", o.on_error, err)
      end
      start_check(err)
      if not nap(h, l, interval()) then break end
    end
  end)
  h.loops[1] = l
  return h
end

return watch
