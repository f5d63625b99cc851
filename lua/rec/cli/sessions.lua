-- rec.cli.sessions: `recwatch sessions add|remove|list`: the watch set of watch.fleet in a
-- state store (a SQLite file, or a PostgreSQL URL that every member of a fleet shares): keys
-- "<unit>/session/<id>" holding each session's JSON (rec.watch._fleet).
local fleet = require "rec.watch._fleet"
local opts = require "rec._opts"

local EXIT = { usage = 2, not_found = 4, store = 5 }

local USAGE = [[
usage: recwatch sessions add --state STORE agora --account CUSTOMER_ID --appid APPID
                             --resourceid RID --sid SID [--mode mix|individual|web]
                             [--started-at UNIXTIME] [--id ID] [--name NAME]
       recwatch sessions add --state STORE qingcloud --account ACCESS_KEY_ID --app-id APP_ID
                             --channel CHANNEL [--id ID] [--name NAME]
       recwatch sessions add --state STORE --file FILE
       recwatch sessions remove --state STORE (agora|qingcloud) --account ID SESSION_ID
       recwatch sessions list --state STORE [agora|qingcloud] [--account ID] [--json]
  STORE: the state store the watchers use (`recwatch run --state`): a SQLite file, or a
         PostgreSQL URL (postgresql://...) shared by a fleet's members.
  --account: the provider account the session belongs to (its unit is agora:CUSTOMER_ID or
         qingcloud:ACCESS_KEY_ID; in a fleet the member holding that unit watches it).
  --id:  the session's name in the set (default: the sid, or the channel); adding an id
         again replaces that session.
  --file FILE: a JSON array of sessions, each {"provider": "agora", "account": "...",
         "id": "..." (optional), and the session's fields as above (appid, resourceid, sid,
         mode, started_at, name; or app_id, channel, name)}; all stored in one transaction,
         or none when one is invalid.

A SQLite file is locked by the `recwatch run` that uses it: change its sessions while it is
stopped (or from the script: fleet:add / fleet:remove). A PostgreSQL store takes changes at
any time; each member sees them within its rescan (5 s).

Exit status: 0 done, 2 usage error, an invalid session or a store that cannot be opened,
4 no such session (remove), 5 the store refused the write.
]]

local FLAGS = { "--state", "--account", "--appid", "--resourceid", "--sid", "--mode", "--started-at",
                "--id", "--name", "--app-id", "--channel", "--file", "--json", "--help" }

local function out(code, msg)
  io.stderr:write("recwatch sessions: ", msg, "\n")
  rec.exit(code)
end

local function usage(msg)
  io.stderr:write("recwatch sessions: ", msg, "\n\n", USAGE, "\nTry 'recwatch sessions --help'.\n")
  rec.exit(2)
end

local function open_store(path)
  if not path or path == "" then return usage("--state STORE is required (a SQLite file or a postgresql:// URL)") end
  if path == ":memory:" then return usage("--state :memory: holds nothing once this command ends") end
  -- leases = false: a tool, not a member (every key in its cache, no unit held)
  local ok, db = pcall(require("rec.store").open, path, { leases = false })
  if not ok then return out(EXIT.usage, "cannot open the state store: " .. tostring(db)) end
  return db
end

-- The session of flags o for provider p (strings as given; started_at a number).
local function session_of(p, o)
  if p == "agora" then
    local s = { appid = o.appid, resourceid = o.resourceid, sid = o.sid, mode = o.mode, name = o.name }
    if o.started_at then
      s.started_at = tonumber(o.started_at)
      if not s.started_at then return nil, "--started-at is a unix time (seconds)" end
    end
    return s
  end
  return { app_id = o.app_id, channel = o.channel, name = o.name }
end

local function add_file(db, path)
  local f, why = io.open(path, "rb")
  if not f then return out(EXIT.usage, "cannot read " .. path .. " (" .. tostring(why) .. ")") end
  local text = f:read("a")
  f:close()
  local ok, list = pcall(rec.json.decode, text)
  if not ok or type(list) ~= "table" then return out(EXIT.usage, path .. ": not a JSON array of sessions") end
  local rows = {}
  for i, e in ipairs(list) do
    if type(e) ~= "table" then return out(EXIT.usage, ("%s: entry %d is not an object"):format(path, i)) end
    local s = {}
    for k, v in pairs(e) do if k ~= "provider" and k ~= "account" and k ~= "id" then s[k] = v end end
    local unit, err = fleet.unit(e.provider, e.account)
    if not unit then return out(EXIT.usage, ("%s: entry %d: %s"):format(path, i, tostring(err.message))) end
    local c, cerr = fleet.check_session(e.provider, s)
    if not c then return out(EXIT.usage, ("%s: entry %d: %s"):format(path, i, tostring(cerr.message))) end
    if e.id ~= nil and type(e.id) ~= "string" then return out(EXIT.usage, ("%s: entry %d: 'id' is a string"):format(path, i)) end
    rows[#rows + 1] = { unit = unit, id = e.id, s = c }
  end
  if #rows == 0 then return out(EXIT.usage, path .. ": no sessions") end
  local bad
  local okt, err = db:transaction(function(d)
    for i, r in ipairs(rows) do
      local k, e = fleet.add(d, r.unit, r.id, r.s)
      if not k then bad = ("entry %d: %s"):format(i, tostring(e.message or e)) error(bad, 0) end
    end
  end)
  if not okt then
    if bad then return out(EXIT.usage, path .. ": " .. bad) end
    return out(EXIT.store, "the store refused the sessions: " .. tostring(err))
  end
  io.stdout:write(("%d session(s) stored\n"):format(#rows))
end

return function(cmd, ...)
  local argv = { ... }
  for _, a in ipairs({ cmd, ... }) do
    if a == "--help" or a == "-h" then io.stdout:write(USAGE) return end
  end
  if cmd ~= "add" and cmd ~= "remove" and cmd ~= "list" then
    if cmd == nil then return usage("a command: add, remove or list") end
    local s = opts.suggest(tostring(cmd), { "add", "remove", "list" })
    return usage("unknown command '" .. tostring(cmd) .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or ""))
  end
  local o, pos, i = {}, {}, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--json" then
      o.json, i = true, i + 1
    elseif a:sub(1, 2) == "--" then
      local known = false
      for _, f in ipairs(FLAGS) do if f == a then known = true end end
      if not known then
        local s = opts.suggest(a, FLAGS)
        return usage("unknown option '" .. a .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or ""))
      end
      local v = argv[i + 1]
      if v == nil then return usage(a .. " needs a value") end
      o[(a:sub(3):gsub("%-", "_"))] = v
      i = i + 2
    else
      pos[#pos + 1] = a
      i = i + 1
    end
  end
  local p = pos[1]
  if p ~= nil and p ~= "agora" and p ~= "qingcloud" then
    return usage("the provider is agora or qingcloud, not '" .. p .. "'")
  end

  if cmd == "add" then
    if o.file then
      if #pos > 0 or o.account then return usage("--file takes no provider or --account: each entry names its own") end
      return add_file(open_store(o.state), o.file)
    end
    if not p then return usage("add needs a provider: agora or qingcloud") end
    if #pos > 1 then return usage("add takes no argument '" .. pos[2] .. "'") end
    if not o.account then return usage("add needs --account ID (the session's provider account)") end
    local unit, uerr = fleet.unit(p, o.account)
    if not unit then return out(EXIT.usage, uerr.message) end
    local s, why = session_of(p, o)
    if not s then return out(EXIT.usage, why) end
    local c, cerr = fleet.check_session(p, s)
    if not c then return out(EXIT.usage, cerr.message) end
    local db = open_store(o.state)
    local key, err = fleet.add(db, unit, o.id, c)
    if not key then
      if type(err) == "table" and err.kind == "invalid_argument" then return out(EXIT.usage, err.message) end
      return out(EXIT.store, "the store refused the session: " .. tostring(err))
    end
    io.stdout:write(key, "\n")
  elseif cmd == "remove" then
    if not p or #pos ~= 2 or not o.account then
      return usage("remove takes a provider, --account ID and one session id (see `recwatch sessions list`)")
    end
    local unit, uerr = fleet.unit(p, o.account)
    if not unit then return out(EXIT.usage, uerr.message) end
    local db = open_store(o.state)
    local ok, err = fleet.remove(db, unit, pos[2])
    if ok == nil then return out(EXIT.store, "the store refused the removal: " .. tostring(err)) end
    if not ok then return out(EXIT.not_found, "no session " .. pos[2] .. " of " .. unit) end
    io.stdout:write("removed ", unit, "/session/", pos[2], "\n")
  else
    if #pos > 1 then return usage("list takes at most a provider") end
    if o.account and not p then return usage("--account goes with a provider") end
    local unit
    if o.account then
      local uerr
      unit, uerr = fleet.unit(p, o.account)
      if not unit then return out(EXIT.usage, uerr.message) end
    end
    local db = open_store(o.state)
    local rows = {}
    for _, r in ipairs(fleet.list(db, unit)) do
      if not p or fleet.split_unit(r.unit) == p then rows[#rows + 1] = r end
    end
    if o.json then
      local doc = {}
      for j, r in ipairs(rows) do
        doc[j] = { unit = r.unit, id = r.id, session = r.session, error = r.error }
      end
      io.stdout:write(rec.json.encode(rec.json.array(doc)), "\n")
      return
    end
    if #rows == 0 then io.stdout:write("no sessions\n") return end
    io.stdout:write(("%-32s %-24s %s\n"):format("UNIT", "ID", "SESSION"))
    for _, r in ipairs(rows) do
      io.stdout:write(("%-32s %-24s %s\n"):format(r.unit, r.id, r.session and rec.json.encode(r.session)
                                                    or ("INVALID: " .. tostring(r.error))))
    end
  end
end
