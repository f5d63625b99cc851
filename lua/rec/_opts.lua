-- rec._opts (internal): unknown options are errors. A misspelled key (`evry = 5`) would
-- otherwise be ignored and the script would run with the default, silently.
--   opts.check(o, { "every", "on_change", ... }, "watch.qingcloud", level)
-- raises "watch.qingcloud: unknown option 'evry' (did you mean 'every'?)" at the caller's
-- line (level as for error(); 3 = the caller of the function that calls check).
local M = {}

local function distance(a, b)
  local la, lb = #a, #b
  if math.abs(la - lb) > 3 then return 99 end
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = (a:byte(i) == b:byte(j)) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)   -- two neighbours swapped: one edit
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

-- The closest allowed name to `got`, or nil when none is close (at most 2 edits, or 1 for
-- short names; a different case or _/- counts as a match).
function M.suggest(got, allowed)
  if type(got) ~= "string" then return nil end
  local norm = got:lower():gsub("[-_]", "")
  local best, bestd
  for _, name in ipairs(allowed) do
    local d = (name:lower():gsub("[-_]", "") == norm) and 0 or distance(got, name)
    if not bestd or d < bestd then best, bestd = name, d end
  end
  if not best then return nil end
  local limit = #got <= 4 and 1 or 2
  if bestd <= limit or best:sub(1, #got) == got and #got >= 3 then return best end
  return nil
end

-- The error text for an unknown key (without the "where: " prefix).
function M.unknown(key, allowed, what)
  local s = M.suggest(key, allowed)
  what = what or "option"
  if s then return ("unknown %s '%s' (did you mean '%s'?)"):format(what, tostring(key), s) end
  return ("unknown %s '%s'"):format(what, tostring(key))
end

-- "file:line: " of the script's call: the first frame outside recwatch's own modules (a
-- tail call inside them would make a fixed level point nowhere).
function M.caller()
  for level = 3, 30 do
    local i = debug.getinfo(level, "Sl")
    if not i then break end
    if i.what ~= "C" and not i.short_src:find("[recwatch]", 1, true) and i.currentline > 0 then
      return ("%s:%d: "):format(i.short_src, i.currentline)
    end
  end
  return ""
end

function M.check(o, allowed, where)
  if type(o) ~= "table" then return end
  local set = {}
  for _, k in ipairs(allowed) do set[k] = true end
  for k in pairs(o) do
    if not set[k] and type(k) ~= "number" then
      error(("%s%s: %s"):format(M.caller(), where, M.unknown(k, allowed)), 0)
    end
  end
end

return M
