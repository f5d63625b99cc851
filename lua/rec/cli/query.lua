-- rec.cli.query: `recwatch query qingcloud|agora --flag value ...`: one query (or, with
-- --all, every QingCloud page), the normalised result as one JSON document on stdout (arrays
-- stay arrays: jq '.recinfos[0]' works), or the typed error on stderr with an exit status.
local EXIT = { invalid_argument = 2, auth = 3, not_found = 4, rate_limited = 5,
               timeout = 6, network = 7, server = 8, protocol = 9, cancelled = 10 }

-- Each provider's own spelling, and the other's for the app id: QingCloud says --app-id,
-- Agora --appid; both are accepted for both.
local FLAGS = {
  qingcloud = { ["--app-id"] = "app_id", ["--appid"] = "app_id", ["--channel"] = "channel",
                ["--from-hour"] = "from_hour", ["--to-hour"] = "to_hour",
                ["--offset"] = "offset", ["--limit"] = "limit",
                ["--timeout"] = "timeout", ["--retries"] = "retries" },
  agora = { ["--appid"] = "appid", ["--app-id"] = "appid", ["--resourceid"] = "resourceid", ["--sid"] = "sid",
            ["--mode"] = "mode", ["--timeout"] = "timeout", ["--retries"] = "retries" },
}
local SWITCHES = { qingcloud = { ["--all"] = "all" }, agora = {} }
local NUMERIC = { from_hour = true, to_hour = true, offset = true, limit = true,
                  timeout = true, retries = true }

local USAGE = [[
usage: recwatch query qingcloud --app-id ID --channel NAME [--from-hour N] [--to-hour N]
                                [--offset N] [--limit N | --all] [--timeout S] [--retries N] [SIM]
       recwatch query agora --appid ID --resourceid RID --sid SID
                            [--mode individual|mix|web] [--timeout S] [--retries N] [SIM]
  SIM: --sim [--scenario FILE] [--at SECONDS] asks the in-process simulator, at that point
       of its story
  --app-id and --appid are one flag (QingCloud spells it --app-id, Agora --appid).

One query (--all: every QingCloud page): the normalised result as JSON on stdout, or the
typed error on stderr with an exit status per kind: 2 invalid_argument (or a usage error),
3 auth, 4 not_found, 5 rate_limited, 6 timeout, 7 network, 8 server, 9 protocol,
10 cancelled (docs/api.md).
]]

local opts = require "rec._opts"

-- " (did you mean '--channel'?)" for a misspelt flag, the SIM flags (read in C) included.
local function hint(got, provider)
  local names = { "--sim", "--scenario", "--at", "--help" }
  for k in pairs(FLAGS[provider] or {}) do names[#names + 1] = k end
  for k in pairs(SWITCHES[provider] or {}) do names[#names + 1] = k end
  if not provider then names = { "qingcloud", "agora" } end
  table.sort(names)
  local s = opts.suggest(got, names)
  return s and (" (did you mean '" .. s .. "'?)") or ""
end

local function usage(msg)
  io.stderr:write("recwatch query: ", msg, "\n\n", USAGE, "\nTry 'recwatch query --help'.\n")
  rec.exit(2)
end

local function fail(err)
  io.stderr:write("recwatch query: ", tostring(err), "\n")
  rec.exit(EXIT[err.kind] or 1)
end

-- Every page from offset (default 0) to total_count. The window moves between pages, so
-- each page starts a few tasks before the end of the previous one and each id is kept once
-- (the same rule as rec.watch's QingCloud watcher).
local function all_pages(params)
  local limit = params.limit or 100
  local overlap = math.min(10, limit // 4)
  local start = params.offset or 0
  local offset = start
  local out, seen, first = rec.json.array(), {}, nil
  while true do
    params.offset, params.limit = offset, limit
    local res, err = rec.query_qingcloud(params)
    if not res then return nil, err end
    first = first or res
    for _, t in ipairs(res.recinfos) do
      if not seen[t.id] then
        seen[t.id] = true
        out[#out + 1] = t
      end
    end
    first.total_count = res.total_count
    if #res.recinfos < limit or offset + #res.recinfos >= res.total_count then break end
    offset = offset + #res.recinfos - overlap
  end
  first.recinfos, first.offset, first.limit = out, start, limit
  return first
end

return function(provider, ...)
  for _, a in ipairs({ provider, ... }) do
    if a == "--help" or a == "-h" then
      io.stdout:write(USAGE)
      return
    end
  end
  local flags = FLAGS[provider]
  if not flags then
    if provider == nil then return usage("the provider must be qingcloud or agora") end
    return usage("unknown provider '" .. tostring(provider) .. "': it must be qingcloud or agora"
                 .. hint(tostring(provider)))
  end
  local params, opts, argv = {}, {}, { ... }
  local i = 1
  while i <= #argv do
    local switch = SWITCHES[provider][argv[i]]
    if switch then
      opts[switch] = true
      i = i + 1
    else
      local key = flags[argv[i]]
      if not key then
        return usage("unknown option '" .. tostring(argv[i]) .. "' for " .. provider .. hint(argv[i], provider))
      end
      local v = argv[i + 1]
      if v == nil then return usage(argv[i] .. " needs a value") end
      if NUMERIC[key] then
        v = math.tointeger(tonumber(v))
        if v == nil then return usage(argv[i] .. " needs a whole number") end
      end
      params[key] = v
      i = i + 2
    end
  end
  local res, err
  if opts.all then
    res, err = all_pages(params)
  else
    res, err = rec["query_" .. provider](params)
  end
  if not res then return fail(err) end
  io.stdout:write(rec.json.encode(res), "\n")
end
