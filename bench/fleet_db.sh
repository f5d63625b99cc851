#!/usr/bin/env bash
# bench/fleet_db.sh: the database load of a fleet, in statements per second per 10,000 watched
# sessions (issue 24). A private PostgreSQL 15 (tests/sh/pg_lib.sh) with pg_stat_statements,
# one `recwatch sim` (tests/fleet/scenario.lua: ACCOUNTS customers at 10 queries/s each),
# SESSIONS Agora recordings in the watch set, MEMBERS members (tests/fleet/member.lua:
# watch.fleet + the outbox) polling each recording every EVERY seconds, at the production
# timings unless told otherwise (RECWATCH_FLEET_RENEW/_LEASE/_ACT: 2, 10, 5). The recordings
# record for ever and no "started" alert is raised: the steady state of a fleet at rest.
# After WARM seconds (the first polls, one full interval) it resets the statistics and counts
# for WINDOW seconds: pg_stat_statements' calls (every statement, by kind), pg_stat_database's
# xact_commit (transactions), and the polls the simulator answered. It prints one Markdown
# table; the raw numbers stay in $OUT (default build-bench/fleet_db).
#
#   bench/fleet_db.sh                                # 10,000 sessions, 120 accounts, 3 members, every 120 s
#   SESSIONS=3000 EVERY=30 WINDOW=60 bench/fleet_db.sh
#   FAIL=1000 EVERY=20 bench/fleet_db.sh             # + 1,000 recordings that start, fail and end
#   RECWATCH=build/recwatch bench/fleet_db.sh
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
RECWATCH=${RECWATCH:-$SRC/build/recwatch}
SESSIONS=${SESSIONS:-10000} ACCOUNTS=${ACCOUNTS:-120} MEMBERS=${MEMBERS:-3} EVERY=${EVERY:-120}
WINDOW=${WINDOW:-120} WARM=${WARM:-$((EVERY + 30))} FAIL=${FAIL:-0}
OUT=${OUT:-$SRC/build-bench/fleet_db}
export RECWATCH SRC
export RECWATCH_FLEET_RENEW=${RECWATCH_FLEET_RENEW:-2} RECWATCH_FLEET_LEASE=${RECWATCH_FLEET_LEASE:-10}
export RECWATCH_FLEET_ACT=${RECWATCH_FLEET_ACT:-5}
export FLEET_ACCOUNTS=$ACCOUNTS FLEET_SESSIONS=$SESSIONS FLEET_FAIL=$FAIL
# FAIL > 0: that many recordings start (4 -> 5), fail (20) and end (404 -> ended) inside the
# window, spread evenly over it: the cost of the transitions (state commits, alerts, delivery)
if [ "$FAIL" -gt 0 ]; then
  # the simulator starts about 20 s before the warm-up ends (sessions, members); the rest of
  # the window is left for the last ones' end (5 + 3 s + the 404 window)
  export FLEET_FAIL_AT=$((WARM + 20)) FLEET_FAIL_STEP
  FLEET_FAIL_STEP=$(python3 -c "print(($WINDOW - 40) / $FAIL)")
fi
[ -x "$RECWATCH" ] || { echo "no recwatch at $RECWATCH (build it, or set RECWATCH)" >&2; exit 1; }
. "$SRC/tests/fleet/lib.sh"
mkdir -p "$OUT"

pg_start
# pg_stat_statements needs to be preloaded: one restart
echo "shared_preload_libraries = 'pg_stat_statements'" >>"$PGDIR/data/postgresql.conf"
echo "pg_stat_statements.track = all" >>"$PGDIR/data/postgresql.conf"
pg_kill
pg_restart
pg_sql "create extension if not exists pg_stat_statements" >/dev/null
fleet_sim
fleet_receiver
fleet_sessions "$SESSIONS" "$ACCOUNTS"
for i in $(seq "$MEMBERS"); do fleet_member "m$i" --every "$EVERY" --first_after 5 --look_every 0.5 --started no --outbox_every 1 --webhook "$HOOK"; done
wait_until 120 settled "$MEMBERS" || fail "the members never shared the units: $(owners | head)"
echo "warming up ${WARM}s (the first polls and one interval of $EVERY s)..." >&2
sleep "$WARM"
polls() { awk 'END {print NR}' "$W/sim.jsonl"; }
cpu() { local p; for p in "${MPID[@]}"; do cat "/proc/$p/stat"; done | awk '{s += $14 + $15} END {print s}'; }
P0=$(polls)
H0=$(awk 'END {print NR}' "$W/hooks.jsonl" 2>/dev/null || echo 0)
pg_sql "select pg_stat_statements_reset()" >/dev/null
X0=$(pg_sql "select xact_commit from pg_stat_database where datname = 'postgres'")
cpu0=$(cpu)
sleep "$WINDOW"
X1=$(pg_sql "select xact_commit from pg_stat_database where datname = 'postgres'")
cpu1=$(cpu)
P1=$(polls)
H1=$(awk 'END {print NR}' "$W/hooks.jsonl" 2>/dev/null || echo 0)
pg_sql "select calls, rows, regexp_replace(left(query, 90), '\s+', ' ', 'g') from pg_stat_statements
        where query not like '%pg_stat%' order by calls desc" >"$OUT/statements.txt"
HZ=$(getconf CLK_TCK)
python3 - "$OUT/statements.txt" "$WINDOW" "$SESSIONS" "$MEMBERS" "$((X1 - X0))" "$((P1 - P0))" \
  "$(( (cpu1 - cpu0) ))" "$HZ" "$EVERY" "$ACCOUNTS" "$FAIL" "$((H1 - H0))" <<'PY' | tee "$OUT/report.md"
import sys
path, win, sess, mem, xact, polls, ticks, hz, every, accts, fail, hooks = sys.argv[1:]
win, sess, mem, xact, polls, ticks, hz = float(win), int(sess), int(mem), int(xact), int(polls), int(ticks), int(hz)
rows = [l.split("|", 2) for l in open(path).read().splitlines() if l.strip()]
calls = sum(int(r[0]) for r in rows)
k = 10000.0 / sess
print("| %d sessions, %s accounts, %d members, every %s s, %g s window%s | per second | per 10,000 sessions |" % (
    sess, accts, mem, every, win, ", %s recordings start, fail and end in it" % fail if fail != "0" else ", at rest"))
print("|---|---|---|")
print("| statements (pg_stat_statements calls) | %.1f | %.1f |" % (calls / win, calls / win * k))
print("| transactions (xact_commit) | %.1f | %.1f |" % (xact / win, xact / win * k))
print("| polls answered by the simulator | %.1f | %.1f |" % (polls / win, polls / win * k))
print("| alerts delivered | %.1f | |" % (int(hooks) / win))
print("| members' CPU (all %d, %% of one core) | %.1f%% | |" % (mem, 100.0 * ticks / hz / win))
print()
print("Statements by kind (calls in the window):")
print()
for r in rows[:12]:
    print("- %s x `%s`" % (r[0], r[2].strip()))
PY
