// Poll storm (Node.js contender): C concurrent pollers share N Agora queries with the global
// fetch (undici, keep-alive); every reply is JSON-parsed and its status read.
// usage: node bench/poll_node.mjs N C   (AGORA_API_BASE, AGORA_CUSTOMER_ID/SECRET from env)
const N = Number(process.argv[2] ?? 100000), C = Number(process.argv[3] ?? 256);
const base = process.env.AGORA_API_BASE;
const auth = 'Basic ' + Buffer.from(`${process.env.AGORA_CUSTOMER_ID}:${process.env.AGORA_CUSTOMER_SECRET}`).toString('base64');
const headers = { Authorization: auth, Accept: 'application/json' };
let next = 0, ok = 0, st5 = 0, errs = 0, r429 = 0;
async function poller() {
  while (next < N) {
    const i = ++next % 16;
    try {
      const r = await fetch(`${base}/v1/apps/bench-app/cloud_recording/resourceid/res-${i}/sid/sid-${i}/mode/mix/query`, { headers });
      const body = await r.json();
      if (r.status === 200) {
        ok++;
        if (body.serverResponse?.status === 5) st5++;
      } else {
        errs++;
        if (r.status === 429) r429++;
      }
    } catch (e) {
      errs++;
    }
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: C }, poller));
const wall = (performance.now() - t0) / 1000;
console.log(`RESULT contender=node n=${N} ok=${ok} status5=${st5} errors=${errs} r429=${r429} wall=${wall.toFixed(3)}`);
