-- rec._silence (internal): silences without Alertmanager. A silence is a list of matchers
-- over an alert's labels (=, !=, =~, !~ as in Alertmanager), a start, an end, an author and a
-- comment, kept in the state store (key "rec/silence/<id>", JSON) so it outlives a restart.
-- The running process owns its state file: silences are made through it (notify.silence,
-- the script API), never by editing the file. In a fleet (PostgreSQL) any member may add one:
-- the others' stores reload the keys of no unit within a lease round and their
-- db:shared_generation() moves, and this module reads them again. The deliverer asks M.match(db, labels, t)
-- before it sends an alert; a silenced alert is held (rec._group) and sent when the silence
-- ends while the alert still fires.
--
-- Regular expressions: Lua has none, so =~ and !~ take the common subset of RE2 that maps
-- onto Lua patterns, anchored at both ends as Alertmanager anchors them: literals, ., *, +,
-- ?, [...] classes, \d \s \w and escaped punctuation, and | between whole alternatives.
-- Groups ( ), counted repeats { } and a quantifier after a quantifier are errors, never a
-- silent mismatch.
local M = {}
local PREFIX = "rec/silence/"
local KEEP_EXPIRED = 5 * 86400   -- an expired silence is listed this long, then dropped
local MAX_TIME = 253402300799     -- 9999-12-31T23:59:59Z

local caches = setmetatable({}, { __mode = "k" })   -- db -> { [id] = silence }
-- db -> db:shared_generation() when its cache was read. In a fleet another member may add a
-- silence: its store reloads the keys of no unit then (the generation moves), and so do we.
local gens = setmetatable({}, { __mode = "k" })

local function generation(db)
  local f = db.shared_generation
  return type(f) == "function" and f(db) or 0
end

---------------------------------------------------------------------------- matchers

local QUANT = { ["*"] = true, ["+"] = true, ["?"] = true }
local CLASS_ESC = { d = "%d", s = "%s", w = "[%w_]", D = "%D", S = "%S", W = "[^%w_]" }

-- One alternative of a regular expression as an anchored Lua pattern; nil, why when it
-- uses what the subset lacks.
local function alt_to_pattern(re)
  local out, i, n, prev_quant, atoms = {}, 1, #re, true, 0
  while i <= n do
    local c = re:sub(i, i)
    if c == "\\" then
      local d = re:sub(i + 1, i + 1)
      if d == "" then return nil, "a trailing backslash" end
      if CLASS_ESC[d] then out[#out + 1] = CLASS_ESC[d]
      elseif d:match("%p") then out[#out + 1] = "%" .. d
      else return nil, "the escape \\" .. d end
      i, prev_quant, atoms = i + 2, false, atoms + 1
    elseif c == "[" then
      local j, cls = i + 1, { "[" }
      if re:sub(j, j) == "^" then cls[#cls + 1] = "^" ; j = j + 1 end
      if re:sub(j, j) == "]" then cls[#cls + 1] = "%]" ; j = j + 1 end
      while j <= n and re:sub(j, j) ~= "]" do
        local e = re:sub(j, j)
        if e == "\\" then
          local d = re:sub(j + 1, j + 1)
          if CLASS_ESC[d] and #CLASS_ESC[d] == 2 then cls[#cls + 1] = CLASS_ESC[d]
          elseif d:match("%p") then cls[#cls + 1] = "%" .. d
          else return nil, "the escape \\" .. d .. " in a class" end
          j = j + 2
        else
          cls[#cls + 1] = (e == "%") and "%%" or e
          j = j + 1
        end
      end
      if j > n then return nil, "an unclosed [" end
      cls[#cls + 1] = "]"
      out[#out + 1] = table.concat(cls)
      i, prev_quant, atoms = j + 1, false, atoms + 1
    elseif QUANT[c] then
      if prev_quant then return nil, "'" .. c .. "' with nothing to repeat" end
      if c == "+" then out[#out + 1] = "+" else out[#out + 1] = c end
      i, prev_quant = i + 1, true
    elseif c == "(" or c == ")" or c == "{" or c == "}" then
      return nil, "'" .. c .. "' (groups and counted repeats are not supported)"
    elseif c == "^" and i == 1 then i = i + 1
    elseif c == "$" and i == n then i = i + 1
    elseif c == "." then out[#out + 1] = "." ; i, prev_quant, atoms = i + 1, false, atoms + 1
    else
      out[#out + 1] = c:match("%w") and c or ("%" .. c)
      i, prev_quant, atoms = i + 1, false, atoms + 1
    end
  end
  return "^" .. table.concat(out) .. "$"
end

-- A regular expression (the subset above) as a function(string) -> boolean; nil, why.
function M.regex(re)
  local pats = {}
  for alt in (re .. "|"):gmatch("(.-)|") do
    local p, why = alt_to_pattern(alt)
    if not p then return nil, why end
    pats[#pats + 1] = p
  end
  return function(s)
    for _, p in ipairs(pats) do if s:find(p) then return true end end
    return false
  end
end

local OPS = { "=~", "!~", "!=", "=" }

-- "name=value", "name!=value", "name=~regex", "name!~regex" (value optionally in double
-- quotes) -> { name=, op=, value= }; nil, why.
function M.parse_matcher(s)
  if type(s) ~= "string" then return nil, "a matcher is a string like channel=room-7" end
  local name, rest = s:match("^%s*([%a_][%w_]*)%s*(.-)%s*$")
  if not name then return nil, ("'%s': a matcher starts with a label name"):format(s) end
  for _, op in ipairs(OPS) do
    if rest:sub(1, #op) == op then
      local v = rest:sub(#op + 1):match("^%s*(.-)%s*$")
      if #v >= 2 and v:sub(1, 1) == '"' and v:sub(-1) == '"' then v = v:sub(2, -2) end
      return { name = name, op = op, value = v }
    end
  end
  return nil, ("'%s': the operator is one of =, !=, =~, !~"):format(s)
end

-- A matcher table as a function(labels) -> boolean; nil, why. A missing label is the empty
-- string, as in Alertmanager.
local function compile(m)
  local v = m.value
  if m.op == "=" then return function(l) return (l[m.name] or "") == v end end
  if m.op == "!=" then return function(l) return (l[m.name] or "") ~= v end end
  local re, why = M.regex(v)
  if not re then return nil, ("matcher %s%s%s: %s"):format(m.name, m.op, v, why) end
  if m.op == "=~" then return function(l) return re(l[m.name] or "") end end
  return function(l) return not re(l[m.name] or "") end
end

-- match = { channel = "room-7", "severity!=info", ... }: keys are equality matchers,
-- list entries matcher strings. Returns the sorted list of matcher tables; nil, why.
function M.matchers(match)
  if type(match) ~= "table" then return nil, "'match' is a table of label matchers" end
  local list = {}
  for k, v in pairs(match) do
    if type(k) == "number" then
      local m, why = M.parse_matcher(v)
      if not m then return nil, why end
      list[#list + 1] = m
    elseif type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      return nil, ("'%s' is not a label name"):format(tostring(k))
    elseif type(v) ~= "string" and type(v) ~= "number" then
      return nil, ("label '%s': the value is a string"):format(k)
    else
      list[#list + 1] = { name = k, op = "=", value = tostring(v) }
    end
  end
  if #list == 0 then return nil, "a silence needs at least one matcher" end
  for _, m in ipairs(list) do
    local f, why = compile(m)
    if not f then return nil, why end
  end
  table.sort(list, function(a, b)
    if a.name ~= b.name then return a.name < b.name end
    if a.op ~= b.op then return a.op < b.op end
    return a.value < b.value
  end)
  return list
end

local function matches(s, labels)
  if not s._f then
    s._f = {}
    for i, m in ipairs(s.matchers) do s._f[i] = compile(m) or function() return false end end
  end
  for _, f in ipairs(s._f) do if not f(labels) then return false end end
  return true
end

---------------------------------------------------------------------------- storage

local function plain(s)   -- what is stored and shown: no compiled functions
  return { id = s.id, matchers = s.matchers, starts_at = s.starts_at, ends_at = s.ends_at,
           author = s.author, comment = s.comment, created_at = s.created_at }
end

local function load(db)
  local c, g = caches[db], generation(db)
  if c and gens[db] == g then return c end
  local again = c ~= nil
  c = {}
  for k, v in pairs(db:keys(PREFIX)) do
    local ok, s = pcall(rec.json.decode, v)
    if ok and type(s) == "table" and type(s.matchers) == "table" and type(s.ends_at) == "number" then
      s.id = k:sub(#PREFIX + 1)
      c[s.id] = s
    else
      rec.log.warn("silence %s in the state file is unreadable; it is ignored", k:sub(#PREFIX + 1))
    end
  end
  caches[db], gens[db] = c, g
  if again then M.publish(rec.time()) end   -- another member's silence: the metrics follow
  return c
end

local function state_of(s, t)
  if t < s.starts_at then return "pending" end
  if t < s.ends_at then return "active" end
  return "expired"
end

-- Adds a silence: o = { match=, ["for"]= seconds | ends = unix time, starts = unix time
-- (default now), author=, comment= }. Returns the silence (a table); raises on bad input.
function M.add(db, o, where, level)
  local function bad(msg) error(("%s: %s"):format(where, msg), level + 1) end
  local list, why = M.matchers(o.match)
  if not list then bad(why) end
  local t = rec.time()
  local starts = o.starts or t
  if type(starts) ~= "number" or starts ~= starts then bad("'starts' is a unix time") end
  local ends
  if o["for"] ~= nil and o.ends ~= nil then bad("give 'for' or 'ends', not both") end
  if o["for"] ~= nil then
    if type(o["for"]) ~= "number" or not (o["for"] > 0) or o["for"] == math.huge then
      bad("'for' is a number of seconds > 0")
    end
    ends = starts + o["for"]
  elseif o.ends ~= nil then
    if type(o.ends) ~= "number" or o.ends ~= o.ends then bad("'ends' is a unix time") end
    ends = o.ends
  else
    bad("'for' (seconds) or 'ends' (a unix time) is required")
  end
  -- times os.date can show (the log line, `recwatch silence list`): a silence past them would
  -- be stored and then fail to be reported
  if starts < 0 or ends > MAX_TIME then bad("a silence lies between 1970 and the year 10000") end
  if ends <= starts then bad("a silence ends after it starts") end
  if ends <= t then bad("that silence would already be over") end
  for _, k in ipairs({ "author", "comment" }) do
    if o[k] ~= nil and type(o[k]) ~= "string" then bad(("'%s' is a string"):format(k)) end
    if o[k] and #o[k] > 1024 then bad(("'%s' is longer than 1024 bytes"):format(k)) end
  end
  local s = { matchers = list, starts_at = starts, ends_at = ends, created_at = t,
              author = o.author or "", comment = o.comment or "" }
  s.id = "s-" .. rec.crypto.md5_hex(("%s/%.6f/%.6f/%d"):format(rec.json.encode(plain(s)), t, rec.now(),
                                     math.random(1, 1 << 30))):sub(1, 12)
  local c = load(db)
  db:set(PREFIX .. s.id, assert(rec.json.encode(plain(s))))
  c[s.id] = s
  M.prune(db, t)
  M.publish(t)
  return s
end

-- Ends a silence now. true, or nil, why (unknown id, already over).
function M.expire(db, id)
  local c = load(db)
  local s = c[id]
  if not s then return nil, "no silence " .. tostring(id) end
  local t = rec.time()
  if s.ends_at <= t then return nil, "silence " .. id .. " is over already" end
  local copy = plain(s)
  copy.ends_at = math.max(t, copy.starts_at)
  if copy.starts_at > t then copy.starts_at = t ; copy.ends_at = t end
  db:set(PREFIX .. id, assert(rec.json.encode(copy)))
  s.ends_at, s.starts_at = copy.ends_at, copy.starts_at
  M.publish(t)
  return true
end

-- Drops silences that ended more than KEEP_EXPIRED ago.
function M.prune(db, t)
  local c = load(db)
  for id, s in pairs(c) do
    if s.ends_at < t - KEEP_EXPIRED then
      if pcall(db.set, db, PREFIX .. id, nil) then c[id] = nil end
    end
  end
end

-- Every known silence (plain tables with state = pending | active | expired), newest first.
function M.list(db, t)
  t = t or rec.time()
  local out = {}
  for _, s in pairs(load(db)) do
    local p = plain(s)
    p.state = state_of(s, t)
    out[#out + 1] = p
  end
  table.sort(out, function(a, b)
    if a.created_at ~= b.created_at then return a.created_at > b.created_at end
    return a.id < b.id
  end)
  return out
end

-- Are there silences in db at all (the deliverer's fast path)?
function M.any(db)
  return next(load(db)) ~= nil
end

-- The active silence that holds labels at time t longest (nil when none).
function M.match(db, labels, t)
  local c = load(db)
  if next(c) == nil then return nil end
  local best
  for _, s in pairs(c) do
    if s.starts_at <= t and t < s.ends_at and matches(s, labels)
       and (not best or s.ends_at > best.ends_at) then
      best = s
    end
  end
  return best
end

-- The next time a silence starts or ends after t (nil when none): when held alerts are
-- looked at again.
function M.next_change(db, t)
  local n
  for _, s in pairs(load(db)) do
    for _, x in ipairs({ s.starts_at, s.ends_at }) do
      if x > t and (not n or x < n) then n = x end
    end
  end
  return n
end

-- recwatch_silences_active and recwatch_alerts_held (and /status "alerts"): set when they
-- change. held: the alerts a silence holds now (rec._group counts them); nil keeps the last.
local last_active, last_held = -1, 0
function M.publish(t, held)
  held = held or last_held
  local active = M.active_count(t or rec.time())
  if active == last_active and held == last_held then return end
  last_active, last_held = active, held
  local f = rec.metrics and rec.metrics._silences
  if f then f(active, held) end
end

-- Active silences at t, over every state file open in this process.
function M.active_count(t)
  local n = 0
  for _, c in pairs(caches) do
    for _, s in pairs(c) do if s.starts_at <= t and t < s.ends_at then n = n + 1 end end
  end
  return n
end

return M
