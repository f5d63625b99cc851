-- rec.cli.silence: `recwatch silence add|list|expire`: silences made through a running
-- `recwatch run` (the process owns its state file and never re-reads it), over its
-- listener's admin route (/admin/silences, with the token of --admin-token-file).
local silence = require "rec._silence"
local opts = require "rec._opts"

-- Exit statuses as `recwatch query` has them (docs/api.md).
local EXIT = { usage = 2, auth = 3, not_found = 4, network = 7, server = 8, protocol = 9 }

local USAGE = [[
usage: recwatch silence add --match MATCHER [--match ...] (--for DURATION | --until TIME)
                            --comment TEXT [--author NAME] [CONNECT]
       recwatch silence list [--json] [CONNECT]
       recwatch silence expire ID [CONNECT]
  MATCHER: LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX over the alert's labels
           (channel, provider, app, task, alertname, severity, ...); all must match
  DURATION: 90s, 30m, 2h, 1d, 1h30m (or plain seconds); TIME: a unix time
  CONNECT: --listen ADDR (the service's --listen: PORT, HOST:PORT or [IPV6]:PORT; default
           127.0.0.1:9464) or --url http://HOST:PORT, and --token-file FILE (default
           $RECWATCH_ADMIN_TOKEN_FILE): the file the service's --admin-token-file names
  --author defaults to $USER.

Exit status: 0 done, 2 usage error or a request the service refused as bad, 3 the token
was refused (401/403) or the admin routes are off, 4 no such silence, 7 cannot connect,
8 the service failed (5xx).
]]

local FLAGS = { "--match", "--for", "--until", "--comment", "--author", "--listen", "--url",
                "--token-file", "--json", "--help" }

local function out(code, msg)
  io.stderr:write("recwatch silence: ", msg, "\n")
  rec.exit(code)
end

local function usage(msg)
  io.stderr:write("recwatch silence: ", msg, "\n\n", USAGE, "\nTry 'recwatch silence --help'.\n")
  rec.exit(2)
end

-- "2h", "1h30m", "90s", "1d", "45" -> seconds; nil when it does not parse.
local UNIT = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }
local function duration(s)
  if s:match("^%d+%.?%d*$") then return tonumber(s) end
  local total, rest = 0, s
  while rest ~= "" do
    local n, u, tail = rest:match("^(%d+%.?%d*)([smhdw])(.*)$")
    if not n then return nil end
    total, rest = total + tonumber(n) * UNIT[u], tail
  end
  return total > 0 and total or nil
end

local function base_url(o)
  if o.url then
    if not o.url:match("^https?://[^/]+") then usage("--url is http://HOST:PORT") end
    return (o.url:gsub("/+$", ""))
  end
  local a = o.listen or "127.0.0.1:9464"
  if a:match("^%d+$") then return "http://127.0.0.1:" .. a end
  if a:match("^%[[%x:.]+%]:%d+$") or a:match("^[%w.%-]+:%d+$") then return "http://" .. a end
  usage("--listen '" .. a .. "' is not PORT, HOST:PORT or [IPV6]:PORT")
end

local function read_token(path)
  if not path or path == "" then
    usage("the admin token: --token-file FILE (or RECWATCH_ADMIN_TOKEN_FILE), the file the "
          .. "service's --admin-token-file names")
  end
  local f, why = io.open(path, "rb")
  if not f then out(EXIT.usage, "cannot read the token file " .. path .. " (" .. tostring(why) .. ")") end
  local line = f:read("l") or ""
  f:close()
  line = line:gsub("[ \t\r]+$", "")
  if #line < 16 then out(EXIT.usage, "the token file " .. path .. " holds no token (16 bytes or more on its first line)") end
  rec.secret(line)   -- redacted from every log line and error, whatever happens
  return line
end

-- One request; the decoded reply document, or exits with a clear message.
local function call(o, method, path, doc)
  local url = base_url(o) .. path
  local token = read_token(o.token_file)
  local r, err = rec.http{ method = method, url = url, json = doc, timeout = 15,
                           headers = { Authorization = "Bearer " .. token } }
  if not r then
    if err.kind == "network" or err.kind == "timeout" then
      out(EXIT.network, ("cannot reach recwatch at %s (%s): is `recwatch run --listen ... "
                         .. "--admin-token-file ...` running there?"):format(base_url(o), tostring(err)))
    end
    out(EXIT.protocol, tostring(err))
  end
  local j = type(r.json) == "table" and r.json or {}
  local msg = type(j.error) == "string" and j.error or rec.excerpt(r.body or "", 200)
  if r.status == 401 or r.status == 403 then out(EXIT.auth, ("refused (%d): %s"):format(r.status, msg)) end
  if r.status == 404 then out(EXIT.not_found, msg) end
  if r.status >= 500 then out(EXIT.server, ("the service failed (%d): %s"):format(r.status, msg)) end
  if r.status >= 400 then out(EXIT.usage, ("refused (%d): %s"):format(r.status, msg)) end
  return j
end

local function when(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end

local function matchers_text(list)
  local parts = {}
  for i, m in ipairs(list or {}) do parts[i] = m.name .. m.op .. m.value end
  return table.concat(parts, ",")
end

return function(cmd, ...)
  local argv = { ... }
  for _, a in ipairs({ cmd, ... }) do
    if a == "--help" or a == "-h" then io.stdout:write(USAGE) return end
  end
  if cmd ~= "add" and cmd ~= "list" and cmd ~= "expire" then
    if cmd == nil then return usage("a command: add, list or expire") end
    local s = opts.suggest(tostring(cmd), { "add", "list", "expire" })
    return usage("unknown command '" .. tostring(cmd) .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or ""))
  end
  local o = { match = {}, token_file = os.getenv("RECWATCH_ADMIN_TOKEN_FILE") }
  local pos = {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--json" then
      o.json, i = true, i + 1
    elseif a:sub(1, 2) == "--" then
      local v = argv[i + 1]
      local known = false
      for _, f in ipairs(FLAGS) do if f == a then known = true end end
      if not known then
        local s = opts.suggest(a, FLAGS)
        return usage("unknown option '" .. a .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or ""))
      end
      if v == nil then return usage(a .. " needs a value") end
      if a == "--match" then o.match[#o.match + 1] = v
      else o[a:sub(3):gsub("%-", "_")] = v end
      i = i + 2
    else
      pos[#pos + 1] = a
      i = i + 1
    end
  end

  if cmd == "add" then
    if #pos > 0 then return usage("add takes no argument '" .. pos[1] .. "'") end
    if #o.match == 0 then return usage("add needs --match LABEL=VALUE (at least one)") end
    local list, why = silence.matchers(o.match)
    if not list then return out(EXIT.usage, "bad matcher: " .. why) end
    local doc = { matchers = rec.json.array(o.match), comment = o.comment,
                  author = o.author or os.getenv("USER") or "" }
    if o["for"] and o["until"] then return usage("give --for or --until, not both") end
    if o["for"] then
      doc["for"] = duration(o["for"])
      if not doc["for"] then return out(EXIT.usage, "bad duration '" .. o["for"] .. "': use 90s, 30m, 2h, 1d or 1h30m") end
    elseif o["until"] then
      doc.ends = tonumber(o["until"])
      if not doc.ends then return out(EXIT.usage, "--until is a unix time (seconds)") end
    else
      return usage("add needs --for DURATION (or --until TIME)")
    end
    if not o.comment or o.comment == "" then return out(EXIT.usage, "add needs --comment TEXT: why, for the others") end
    local j = call(o, "POST", "/admin/silences", doc)
    if o.json then io.stdout:write(rec.json.encode(j), "\n")
    else io.stdout:write(tostring(j.id), "\n") end
    local s = j.silence
    if s then
      io.stderr:write(("silence %s: %s until %s\n"):format(j.id, matchers_text(s.matchers), when(s.ends_at)))
    end
  elseif cmd == "list" then
    if #pos > 0 then return usage("list takes no argument '" .. pos[1] .. "'") end
    local j = call(o, "GET", "/admin/silences")
    if o.json then io.stdout:write(rec.json.encode(j), "\n") return end
    local rows = j.silences or {}
    if #rows == 0 then io.stdout:write("no silences\n") return end
    io.stdout:write(("%-14s %-8s %-20s %-20s %s\n"):format("ID", "STATE", "STARTS", "ENDS", "MATCHERS  AUTHOR: COMMENT"))
    for _, s in ipairs(rows) do
      io.stdout:write(("%-14s %-8s %-20s %-20s %s  %s: %s\n"):format(s.id, s.state, when(s.starts_at),
        when(s.ends_at), matchers_text(s.matchers), s.author ~= "" and s.author or "-", s.comment or ""))
    end
  else
    if #pos ~= 1 then return usage("expire takes one silence id (see `recwatch silence list`)") end
    call(o, "DELETE", "/admin/silences/" .. pos[1])
    io.stdout:write("silence ", pos[1], " expired\n")
  end
end
