-- Each account is paced on its own (issue 24), on the virtual clock (exact arithmetic):
--  1. two accounts at 90% of their own limits (9/s against 10/s each), 90 queries each at
--     once: 0 answers of 429, each account at its own 9/s, so both finish in ~10 s (one
--     shared pacer would take ~20 s);
--  2. one account with a backlog of 100 queries at its limit does not slow another: 10
--     queries of the other finish in about 1 s while the first still has ~9 s to go;
--  3. one pacer per credential: naming the default credential's account or no account at
--     all takes slots from the same pacer.
-- Scenario: tests/scenarios/provider_ratelimit_accounts.lua (acct-a, acct-b: 10/s each).

local function count429()
  local n = rec.metrics.text():match('recwatch_provider_requests_total{provider="agora",outcome="rate_limited"} (%d+)')
  return tonumber(n) or 0
end

-- n queries of one account from n tasks; returns the tasks and the completion times
local function burst(account, n, done)
  local tasks = {}
  for i = 1, n do
    tasks[i] = rec.spawn(function()
      local res, err = rec.query_agora{ appid = "acct-app", resourceid = "acct-rid", sid = "acct-sid",
                                        mode = "mix", account = account, retries = 0 }
      assert(res, tostring(account) .. ": " .. tostring(err))
      done[#done + 1] = rec.now()
    end)
  end
  return tasks
end
local function wait_all(tasks) for _, t in ipairs(tasks) do assert(t:wait()) end end
local function rate(done) table.sort(done); return (#done - 1) / (done[#done] - done[1]) end

rec.configure{ agora = { accounts = { { customer_id = "acct-a", rate = 9 }, { customer_id = "acct-b", rate = 9 } } } }
local before, t0 = count429(), rec.now()
local da, db = {}, {}
local ta, tb = burst("acct-a", 90, da), burst("acct-b", 90, db)
wait_all(ta); wait_all(tb)
local ra, rb, took = rate(da), rate(db), rec.now() - t0
print(("two accounts at 90%%: %.3f/s and %.3f/s, %.2f s for 180 queries, %d x 429"):format(ra, rb, took, count429() - before))
assert(count429() == before, (count429() - before) .. " x 429 with two accounts at 90% of their own limits")
assert(ra >= 0.97 * 9 and ra <= 9 and rb >= 0.97 * 9 and rb <= 9, ("rates %.3f, %.3f"):format(ra, rb))
assert(took < 11.5, ("180 queries took %.2f s: the accounts share one pacer"):format(took))

rec.sleep(5)
rec.configure{ agora = { accounts = { { customer_id = "acct-a", rate = 10 }, { customer_id = "acct-b", rate = 10 } } } }
local dbig, dsmall = {}, {}
t0 = rec.now()
local big = burst("acct-a", 100, dbig)
rec.sleep(0.5)                       -- acct-a's queue is ~9.5 s long now
local small = burst("acct-b", 10, dsmall)
wait_all(small)
local small_took = rec.now() - t0 - 0.5
wait_all(big)
local big_took = rec.now() - t0
print(("acct-a at its limit (100 queries, %.2f s); acct-b's 10 queries took %.2f s"):format(big_took, small_took))
assert(small_took < 1.5, ("acct-b waited behind acct-a: %.2f s"):format(small_took))
assert(big_took > 9.5, ("acct-a went faster than its limit: %.2f s"):format(big_took))
assert(count429() == before, "429s at the limit")

-- one pacer per credential: the account of the default credential's id (acct-default)
-- paces together with the calls that name no account (60 queries at 10/s: ~6 s, no 429)
rec.sleep(5)
rec.configure{ agora = { rate = 10 } }
local dd, dn = {}, {}
t0 = rec.now()
local named = burst("acct-default", 30, dd)
local plain = burst(nil, 30, dn)
wait_all(named); wait_all(plain)
local both = rec.now() - t0
print(("acct-default named and not: 60 queries in %.2f s"):format(both))
assert(both > 5.5, ("the default credential had two pacers: %.2f s"):format(both))
assert(count429() == before, "429s with the default credential named and not")
print("provider_ratelimit_accounts ok")
