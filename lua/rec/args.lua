-- rec.args: a tiny option parser for scripts: `--name value`, `--flag`, positional rest.
--   local opt = require("rec.args").parse(arg, { ["for"] = 15, webhook = os.getenv("X") })
--   opt["for"], opt.webhook, opt[1] ...
local M = {}

function M.parse(argv, defaults)
  local o = {}
  for k, v in pairs(defaults or {}) do o[k] = v end
  local i = 1
  argv = argv or {}
  while i <= #argv do
    local a = argv[i]
    local name, val = a:match("^%-%-([%w_%-]+)=(.*)$")
    if name then
      o[name:gsub("%-", "_")] = val
      i = i + 1
    elseif a:match("^%-%-[%w_%-]+$") then
      name = a:sub(3):gsub("%-", "_")
      local nxt = argv[i + 1]
      if nxt ~= nil and not nxt:match("^%-%-") then
        o[name] = nxt
        i = i + 2
      else
        o[name] = true
        i = i + 1
      end
    else
      o[#o + 1] = a
      i = i + 1
    end
  end
  -- numbers given as text become numbers when the default was a number
  for k, v in pairs(defaults or {}) do
    if type(v) == "number" and type(o[k]) == "string" then
      o[k] = assert(tonumber(o[k]), ("--%s takes a number, got '%s'"):format(k, o[k]))
    end
  end
  return o
end

return M
