"""Poll storm (Python contender): C concurrent pollers (asyncio tasks) share N Agora queries
through one aiohttp ClientSession (keep-alive, connection limit C); every reply is
JSON-parsed and its status read.
usage: python3 bench/poll_aiohttp.py N C   (AGORA_API_BASE, AGORA_CUSTOMER_ID/SECRET from env)"""
import asyncio, os, sys, time
import aiohttp

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
C = int(sys.argv[2]) if len(sys.argv) > 2 else 256
BASE = os.environ["AGORA_API_BASE"]
AUTH = aiohttp.BasicAuth(os.environ["AGORA_CUSTOMER_ID"], os.environ["AGORA_CUSTOMER_SECRET"])
state = {"next": 0, "ok": 0, "st5": 0, "errs": 0, "r429": 0}


async def poller(session):
    while state["next"] < N:
        state["next"] += 1
        i = state["next"] % 16
        url = f"{BASE}/v1/apps/bench-app/cloud_recording/resourceid/res-{i}/sid/sid-{i}/mode/mix/query"
        try:
            async with session.get(url, auth=AUTH, headers={"Accept": "application/json"}) as r:
                body = await r.json()
                if r.status == 200:
                    state["ok"] += 1
                    if body.get("serverResponse", {}).get("status") == 5:
                        state["st5"] += 1
                else:
                    state["errs"] += 1
                    if r.status == 429:
                        state["r429"] += 1
        except Exception:
            state["errs"] += 1


async def main():
    t0 = time.monotonic()
    conn = aiohttp.TCPConnector(limit=C)
    async with aiohttp.ClientSession(connector=conn) as session:
        await asyncio.gather(*(poller(session) for _ in range(C)))
    wall = time.monotonic() - t0
    print(f"RESULT contender=python n={N} ok={state['ok']} status5={state['st5']} "
          f"errors={state['errs']} r429={state['r429']} wall={wall:.3f}")


asyncio.run(main())
