-- rec._group (internal): grouping, resolve messages and silences for the outbox's senders,
-- after Alertmanager's route semantics. The deliverer (notify.lua, "grouping/silence hook")
-- hands every row it is about to send to M.take; a row that a group or a silence takes is
-- not sent there, and M.flush sends the groups that are due.
--
--   group = { by = {"alertname"}, wait = 30, interval = 300, ["repeat"] = 14400 }
--
-- * by: the labels that make a group (Alertmanager's group_by); every alert with the same
--   values of them goes to one group, one per sender. by = "..." groups by every label
--   (each alert on its own).
-- * wait (group_wait): a new group's first message goes out this long after its first alert,
--   so the alerts of a storm arrive together; never later than that.
-- * interval (group_interval): after a message, alerts that join the group (or resolve) are
--   sent together this long after the previous message.
-- * repeat (repeat_interval): while nothing changes, the firing alerts are sent again this
--   long after the last message (false: never).
--
-- Durability. Taking a row is one state-store transaction: the outbox row is marked done and
-- the group (key "rec/group/<sender>/<group key>", JSON: its members, when it began, when it
-- was sent) is written. So a crash inside group_wait neither loses the group (the store has
-- it; the restarted process sends it when wait is over) nor repeats it (nothing was sent).
-- A message is recorded after its receiver accepted it: a crash in between sends it again,
-- at least once as for every alert, with the same id (X-Alert-Id "g-<hash>.<n>").
--
-- Silences (rec._silence) hold an alert for every sender, Alertmanager included: it is taken
-- as a group of its own (or stays in its group) and is sent when the silence ends while it
-- still fires; a resolve of an alert that was never sent ends it without a message.
local silence = require "rec._silence"
local opts = require "rec._opts"

local M = {}
local PREFIX = "rec/group/"
local CHAT = { webhook = true, dingtalk = true, wecom = true, feishu = true, slack = true }
M.CHAT = CHAT
local held_by = setmetatable({}, { __mode = "k" })   -- outbox -> alerts a silence holds
local NAMED = 5
-- A sent alert stays in its group (for repeats, and to know its resolve) this long after it
-- began, then leaves it quietly: most recording alerts are events that never resolve, and
-- Alertmanager too forgets an alert that is not re-posted.
M.HOLD = 86400   -- members named in a group message; a count for the rest

---------------------------------------------------------------------------- options

-- Checks a group option; returns it normalised (nil or false when off).
function M.check(g, where, level)
  if g == nil or g == false then return g end   -- false: off for this sender, whatever the outbox says
  level = (level or 1) + 1
  if g == true then g = {} end
  if type(g) ~= "table" then error(where .. ": 'group' is a table { by=, wait=, interval=, repeat= } or true", level) end
  opts.check(g, { "by", "wait", "interval", "repeat" }, where .. ": group", level)
  local by = g.by == nil and { "alertname" } or g.by
  if by ~= "..." then
    if type(by) ~= "table" then error(where .. ": group.by is a list of label names, or \"...\"", level) end
    for k, v in pairs(by) do
      if type(k) ~= "number" or type(v) ~= "string" or not v:match("^[%a_][%w_]*$") then
        error(where .. ": group.by is a list of label names, or \"...\"", level)
      end
    end
  end
  local function num(k, def, allow_false)
    local v = g[k]
    if v == nil then return def end
    if v == false and allow_false then return false end
    if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
      error(("%s: group.%s is a number of seconds >= 0%s"):format(where, k, allow_false and " (or false)" or ""), level)
    end
    return v
  end
  local out = { by = by, wait = num("wait", 30), interval = num("interval", 300),
                ["repeat"] = num("repeat", 4 * 3600, true) }
  if out.interval <= 0 then error(where .. ": group.interval is > 0", level) end
  if out["repeat"] == 0 then error(where .. ": group.repeat is > 0 (or false)", level) end
  return out
end

-- send_resolved: true (resolves are sent), false (never), nil (the default: only the
-- watchers' "polling again" notices, which today's scripts already get, are sent).
function M.check_resolved(v, where, level)
  if v ~= nil and type(v) ~= "boolean" then error(where .. ": 'send_resolved' is true or false", (level or 1) + 1) end
  return v
end

-- The built-in "watcher silent" / "polling again" alerts of a chat sender that says nothing
-- of grouping: one group for every watcher (a storm is one message each way, not one per
-- watcher), the first message no later than 30 s after the first alert, resolves 30 s after
-- the previous message at the earliest, no repeats (as without grouping). group = false on
-- the sender or the outbox turns it off.
M.DEFAULT_WATCHER = M.check({ by = { "alertname" }, wait = 30, interval = 30, ["repeat"] = false }, "rec._group")

-- The grouping of sender s in outbox out for alerts named alertname: the sender's own, else
-- the outbox's, else the default for WatcherSilent (chat senders only).
local function cfg_of(out, s, alertname)
  if not CHAT[s.kind] then return nil end
  if s.group ~= nil then return s.group or nil end
  if out.group ~= nil then return out.group or nil end
  if alertname == "WatcherSilent" then return M.DEFAULT_WATCHER end
  return nil
end

---------------------------------------------------------------------------- an alert's labels

local function camel(s)
  return (s:gsub("^%l", string.upper):gsub("_(%w)", string.upper))
end

-- The alert's labels: its own (a.labels), or, for an alert raised without them, what its
-- fields say (alertname from kind, provider, app, channel, sid, task, watcher).
-- The alert's own labels win over those derived from its fields.
function M.labels(a)
  local l = { alert_id = a.alert_id }
  if a.kind == "watcher_silent" or a.kind == "watcher_recovered" then
    l.alertname = "WatcherSilent"
  elseif type(a.kind) == "string" and a.kind:match("^[%a_][%w_]*$") then
    l.alertname = camel(a.kind)
  else
    l.alertname = "RecwatchAlert"
  end
  for _, k in ipairs({ "provider", "app", "channel", "sid", "watcher", "severity" }) do
    if type(a[k]) == "string" or type(a[k]) == "number" then l[k] = tostring(a[k]) end
  end
  if a.task_id ~= nil then l.task = tostring(a.task_id) end
  if a.app_id ~= nil and not l.app then l.app = tostring(a.app_id) end
  if type(a.labels) == "table" then
    for k, v in pairs(a.labels) do
      if type(k) == "string" and (type(v) == "string" or type(v) == "number") then l[k] = tostring(v) end
    end
  end
  return l
end

-- A resolve: status "resolved", or the watchers' "polling again" notice.
function M.is_resolved(a)
  return a.status == "resolved" or a.kind == "watcher_recovered"
end

-- What a resolve and its firing alert share: the alert id (the contract of status =
-- "resolved"), or the watcher's name for its "silent" / "polling again" pair.
local function ident(a, l)
  if a.kind == "watcher_silent" or a.kind == "watcher_recovered" then
    return "watcher:" .. tostring(a.watcher or l.watcher or a.alert_id)
  end
  return "id:" .. tostring(a.alert_id)
end

-- Does sender s send this resolve?
local function wants_resolved(s, a)
  if s.send_resolved ~= nil then return s.send_resolved end
  return a.kind == "watcher_recovered"
end

local function member_name(l, a)
  if l.watcher then return l.watcher end
  local parts = {}
  for _, k in ipairs({ "channel", "sid", "task" }) do if l[k] then parts[#parts + 1] = l[k] end end
  if #parts > 0 then return table.concat(parts, "/") end
  return tostring(a.alert_id)
end

local function group_key(by, l, id)
  if by == "..." then return "id:" .. id end
  local parts = {}
  for _, k in ipairs(by) do parts[#parts + 1] = k .. "=" .. (l[k] or "") end
  return table.concat(parts, ",")
end

---------------------------------------------------------------------------- rendering

local HEADS = {
  WatcherSilent = { firing = "%d watchers silent", resolved = "%d watchers polling again" },
}

-- The text of a group message: the first few members named, a count for the rest.
function M.render(status, alertname, members)
  if #members == 1 then return members[1].text end
  local heads = HEADS[alertname] or { firing = "%d alerts firing (" .. alertname .. ")",
                                      resolved = "%d alerts resolved (" .. alertname .. ")" }
  local names = {}
  for i = 1, math.min(NAMED, #members) do names[i] = members[i].name end
  local t = heads[status]:format(#members) .. ": " .. table.concat(names, ", ")
  if #members > NAMED then t = t .. (" and %d more"):format(#members - NAMED) end
  return t
end

---------------------------------------------------------------------------- the hook

local function state_of(out)
  local st = out._group_state
  if st then return st end
  st = { groups = {} }   -- storage key -> group
  for k, v in pairs(out.db:keys(PREFIX)) do
    local ok, g = pcall(rec.json.decode, v)
    local dest = ok and type(g) == "table" and g.dest
    if type(dest) == "string" and out.senders[dest] and type(g.members) == "table" then
      g.key, g.dest, g.tries = k, dest, 0
      st.groups[k] = g
    end
  end
  out._group_state = st
  return st
end

local function save(db, g)
  local copy = {}
  for k, v in pairs(g) do if k ~= "key" and k ~= "tries" and k ~= "next_try" then copy[k] = v end end
  return db:set(g.key, assert(rec.json.encode(copy)))
end

-- recwatch_alert_results_total{destination,result}: silenced, grouped, failed (a group message)
local function count(out, dest, result)
  out.group_counts = out.group_counts or {}
  out.group_counts[result] = (out.group_counts[result] or 0) + 1
  rec.metrics.alert_result(dest, result)
end

-- The deliverer's question for a row about to go to sender s: true when it is taken here
-- (a group, a silence, or a resolve this sender does not send), false to send it as today.
function M.take(out, s, row, a, t)
  local l = M.labels(a)
  local cfg = cfg_of(out, s, l.alertname)
  local resolved = M.is_resolved(a)
  local sil
  if cfg or silence.any(out.db) then
    sil = silence.match(out.db, l, t)
  end
  if not cfg and not sil then
    if resolved and CHAT[s.kind] and not wants_resolved(s, a) then
      out.db:delivered(row.id, row.dest)
      rec.log.info("outbox: resolve %s is not sent to %s (send_resolved is off)", row.id, row.dest)
      return true
    end
    return false
  end
  local st = state_of(out)
  local by = cfg and cfg.by or "..."
  local key = PREFIX .. row.dest .. "/" .. group_key(by, l, ident(a, l))
  local g = st.groups[key]
  if resolved and not cfg and not (g and g.members[ident(a, l)]) then
    -- the resolve of an alert that was sent (nothing holds it): a silence does not hide
    -- that it is over
    if CHAT[s.kind] and not wants_resolved(s, a) then
      out.db:delivered(row.id, row.dest)
      return true
    end
    return false
  end
  local new = not g
  if new then
    g = { key = key, dest = row.dest, first = t, members = {}, seq = 0, tries = 0,
          alertname = l.alertname, wait = cfg and cfg.wait or 0 }
  end
  local id = ident(a, l)
  local m = g.members[id]
  if resolved then
    if not m or not m.notified then
      -- never sent (still waiting, or silenced all along): it ends without a message
      g.members[id] = nil
    else
      m.resolved = t
      m.resolve_text = a.text
      m.resolve_id = a.alert_id
    end
  else
    m = { id = row.id, text = a.text or "", name = member_name(l, a), since = t,
          notified = m and not m.resolved and m.notified or false, labels = l, payload = a }
    g.members[id] = m
  end
  if new and next(g.members) == nil then
    out.db:delivered(row.id, row.dest)   -- a resolve with nothing to resolve
    return true
  end
  local empty = next(g.members) == nil   -- its last member resolved before it was sent
  local ok, err = out.db:transaction(function(db)
    db:delivered(row.id, row.dest)
    if empty then db:set(key, nil) else save(db, g) end
  end)
  if not ok then error(err, 0) end
  st.groups[key] = not empty and g or nil
  if sil then
    count(out, row.dest, "silenced")
    rec.log.info("alert %s to %s silenced by %s until %s (%s)", row.id, row.dest, sil.id,
                 os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(sil.ends_at)), sil.comment or "")
  else
    count(out, row.dest, "grouped")
  end
  return true
end

-- Sends one message for group g; true when the receiver took it.
local function send(out, s, g, status, members, t)
  table.sort(members, function(x, y)
    if x.since ~= y.since then return x.since < y.since end
    return x.name < y.name
  end)
  local msg
  if #members == 1 and members[1].payload and status == "firing" then
    msg = {}
    for k, v in pairs(members[1].payload) do msg[k] = v end
    msg.alert_id = members[1].id
  elseif #members == 1 and status == "resolved" and members[1].resolve_text then
    msg = { text = members[1].resolve_text, alert_id = members[1].resolve_id, status = "resolved" }
  else
    local ids = {}
    for i, x in ipairs(members) do ids[i] = x.id end
    msg = { text = M.render(status, g.alertname, members),
            alert_id = ("g-%s.%d%s"):format(rec.crypto.md5_hex(g.key):sub(1, 12), g.seq + 1,
                                            status == "resolved" and "r" or ""),
            status = status, count = #members, alerts = ids, group = g.key:sub(#PREFIX + #g.dest + 2) }
  end
  local okc, ok, err = pcall(s.send, s, msg)
  if not okc then ok, err = nil, ok end
  if ok then
    -- a group message sent (only in the per-destination family: recwatch_alerts_total
    -- counted its rows as delivered when the group took them)
    rec.metrics.alert_result(g.dest, "sent")
    rec.log.info("ALERT delivered to %s [%s]: %s", g.dest, msg.alert_id, tostring(msg.text),
                 { alert_id = msg.alert_id, kind = s.kind, dest = g.dest, count = #members })
    return true
  end
  if type(err) == "table" and err.kind == "cancelled" then return nil, "cancelled" end
  g.tries = g.tries + 1
  local wait = math.min(out.retry_base * 2 ^ (g.tries - 1), out.retry_max)
  g.next_try = t + wait
  out.failed_attempts = out.failed_attempts + 1
  count(out, g.dest, "failed")
  rec.log.warn("outbox: delivery of group %s to %s failed (attempt %d, next in %gs): %s",
               msg.alert_id, g.dest, g.tries, wait, tostring(err))
  return false
end

-- When g is next due (nil: nothing to send until something joins it).
local function due(out, g, s, t)
  local cfg = cfg_of(out, s, g.alertname)
  local interval = cfg and cfg.interval or 0
  local rpt = cfg and cfg["repeat"] or false
  if g.next_try and g.next_try > t then return g.next_try end
  local fresh, firing, resolves = false, false, false
  local next_sil
  for _, m in pairs(g.members) do
    local sil = not m.resolved and silence.match(out.db, m.labels, t)
    if sil then
      next_sil = math.min(next_sil or sil.ends_at, sil.ends_at)
    elseif m.resolved then
      resolves = true
    else
      firing = true
      if not m.notified then fresh = true end
    end
  end
  local want
  if not g.sent then
    -- the first message: at the last pass before group_wait is over, never after it
    -- (passes come every `every` seconds at the latest)
    if fresh then want = g.first + math.max(0, g.wait - out.every) end
  else
    if fresh or (resolves and wants_resolved(s, { kind = g.alertname == "WatcherSilent" and "watcher_recovered" or nil })) then
      want = g.sent + interval
    elseif resolves then
      want = g.sent + interval   -- dropped without a message at that flush
    elseif firing and rpt then
      want = g.sent + rpt
    end
  end
  if next_sil and (not want or next_sil < want) then
    -- held by a silence: looked at again when it ends (sent then if the group is due)
    return want and math.max(want, t) or next_sil, next_sil
  end
  return want
end

-- Sends every group that is due at t. down: senders that failed in this pass. Returns the
-- messages sent and when the next group is due (nil: none waits).
function M.flush(out, down, t)
  local st = state_of(out)   -- read once: a group left by a previous run goes on
  local sent, nxt = 0, nil
  for key, g in pairs(st.groups) do
    local s = out.senders[g.dest]
    if s and not down[g.dest] then
      local when = due(out, g, s, t)
      if when and when <= t then
        local firing, resolves, all_firing = {}, {}, {}
        for id, m in pairs(g.members) do
          local held = not m.resolved and silence.match(out.db, m.labels, t)
          if m.resolved then resolves[#resolves + 1] = m
          elseif not held then
            all_firing[#all_firing + 1] = m
            if not m.notified then firing[#firing + 1] = m end
          end
          m._id = id
        end
        local cfg = cfg_of(out, s, g.alertname)
        local repeat_due = g.sent and cfg and cfg["repeat"] and t >= g.sent + cfg["repeat"]
        local ok, did = true, false
        if #firing > 0 or (repeat_due and #all_firing > 0) then
          ok = send(out, s, g, "firing", all_firing, t)
          if ok then
            for _, m in ipairs(all_firing) do m.notified = true end
            sent, did = sent + 1, true
          end
        end
        local sr = #resolves > 0 and (s.send_resolved == true or (s.send_resolved == nil and g.alertname == "WatcherSilent"))
        if ok and sr then
          ok = send(out, s, g, "resolved", resolves, t)
          if ok then sent, did = sent + 1, true end
        end
        if ok == nil then return sent end   -- cancelled: the engine is stopping
        if ok then
          for _, m in ipairs(resolves) do g.members[m._id] = nil end
          for id, m in pairs(g.members) do
            m._id = nil
            -- held by a silence only (no grouping): done once sent; a later resolve goes
            -- the usual way. Grouped: kept for repeats and its resolve, up to HOLD
            if m.notified and (not cfg or t - m.since > M.HOLD) then g.members[id] = nil end
          end
          if did then g.seq, g.sent = g.seq + 1, t end
          g.tries, g.next_try = 0, nil
          local okw, err
          if next(g.members) == nil then
            okw, err = pcall(out.db.set, out.db, key, nil)
            if okw then st.groups[key] = nil end
          else
            okw, err = pcall(save, out.db, g)
          end
          if not okw then
            rec.log.warn("outbox: group %s was delivered to %s but cannot be recorded yet: %s", key, g.dest, tostring(err))
          end
        else
          down[g.dest] = true
        end
        when = st.groups[key] and due(out, g, s, t)
      end
      if when and (not nxt or when < nxt) then nxt = when end
    end
  end
  local sn = silence.next_change(out.db, t)
  if sn and next(st.groups) and (not nxt or sn < nxt) then nxt = sn end
  if silence.any(out.db) then
    local held = 0
    for _, g in pairs(st.groups) do
      for _, m in pairs(g.members) do
        if not m.resolved and silence.match(out.db, m.labels, t) then held = held + 1 end
      end
    end
    held_by[out] = held
    local all = 0
    for _, n in pairs(held_by) do all = all + n end
    silence.publish(t, all)
  end
  return sent, nxt
end

-- Counts for /status-like reports: groups waiting and held alerts.
function M.pending(out)
  local st = out._group_state
  local groups, members = 0, 0
  if st then
    for _, g in pairs(st.groups) do
      groups = groups + 1
      for _ in pairs(g.members) do members = members + 1 end
    end
  end
  return groups, members
end

return M
