-- rec.cli.query: `recwatch query qingcloud|agora --flag value ...`: one query, the
-- normalised result as JSON on stdout, or the typed error on stderr with an exit status.
local EXIT = { invalid_argument = 2, auth = 3, not_found = 4, rate_limited = 5,
               timeout = 6, network = 7, server = 8, protocol = 9, cancelled = 10 }

local FLAGS = {
  qingcloud = { ["--app-id"] = "app_id", ["--channel"] = "channel",
                ["--from-hour"] = "from_hour", ["--to-hour"] = "to_hour",
                ["--offset"] = "offset", ["--limit"] = "limit",
                ["--timeout"] = "timeout", ["--retries"] = "retries" },
  agora = { ["--appid"] = "appid", ["--resourceid"] = "resourceid", ["--sid"] = "sid",
            ["--mode"] = "mode", ["--timeout"] = "timeout", ["--retries"] = "retries" },
}
local NUMERIC = { from_hour = true, to_hour = true, offset = true, limit = true,
                  timeout = true, retries = true }

local USAGE = [[
usage: recwatch query qingcloud --app-id ID --channel NAME [--from-hour N] [--to-hour N]
                                [--offset N] [--limit N] [--timeout S] [--retries N] [--sim]
       recwatch query agora --appid ID --resourceid RID --sid SID
                            [--mode individual|mix|web] [--timeout S] [--retries N] [--sim]

One query: the normalised result as JSON on stdout, or the typed error on stderr with an
exit status per kind: 2 invalid_argument (or a usage error), 3 auth, 4 not_found,
5 rate_limited, 6 timeout, 7 network, 8 server, 9 protocol, 10 cancelled (docs/api.md).
]]

local function usage(msg)
  io.stderr:write("recwatch query: ", msg, "\n\n", USAGE, "\nTry 'recwatch query --help'.\n")
  rec.exit(2)
end

return function(provider, ...)
  for _, a in ipairs({ provider, ... }) do
    if a == "--help" or a == "-h" then
      io.stdout:write(USAGE)
      return
    end
  end
  local flags = FLAGS[provider]
  if not flags then return usage("the provider must be qingcloud or agora") end
  local params, argv = {}, { ... }
  local i = 1
  while i <= #argv do
    local key = flags[argv[i]]
    if not key then return usage("unknown option '" .. tostring(argv[i]) .. "' for " .. provider) end
    local v = argv[i + 1]
    if v == nil then return usage(argv[i] .. " needs a value") end
    if NUMERIC[key] then
      v = math.tointeger(tonumber(v))
      if v == nil then return usage(argv[i] .. " needs a whole number") end
    end
    params[key] = v
    i = i + 2
  end
  local res, err = rec["query_" .. provider](params)
  if res then
    io.stdout:write(rec.json.encode(res), "\n")
    return
  end
  io.stderr:write("recwatch query: ", tostring(err), "\n")
  rec.exit(EXIT[err.kind] or 1)
end
