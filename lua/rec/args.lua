-- rec.args: a tiny option parser for scripts: `--name value`, `--flag`, positional rest.
--   local opt = require("rec.args").parse(arg, { ["for"] = 15, webhook = os.getenv("X") or false })
--   opt["for"], opt.webhook, opt[1] ...
-- The defaults table names every flag the script takes (false for one without a default):
-- an unknown flag is an error, "unknown flag '--evry' (did you mean '--every'?)", so a typo
-- never runs the script with the default. Without a defaults table every flag is accepted.
local M = {}
local opts = require "rec._opts"

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
  if defaults then
    local names = {}
    for k in pairs(defaults) do if type(k) == "string" then names[#names + 1] = k end end
    table.sort(names)
    for k in pairs(o) do
      if type(k) == "string" and defaults[k] == nil then
        local s = opts.suggest(k, names)
        error(("unknown flag '--%s'%s"):format(k:gsub("_", "-"), s and (" (did you mean '--%s'?)"):format(s:gsub("_", "-")) or
              (#names > 0 and (" (flags: --" .. table.concat(names, ", --") .. ")") or "")), 2)
      end
    end
  end
  -- numbers given as text become numbers when the default was a number
  for k, v in pairs(defaults or {}) do
    if type(v) == "number" and type(o[k]) == "string" then
      o[k] = tonumber(o[k]) or error(("--%s takes a number, got '%s'"):format(k, o[k]), 2)
    end
  end
  return o
end

return M
