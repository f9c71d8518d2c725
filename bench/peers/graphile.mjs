// bench/peers/graphile.mjs: graphile-worker's rate on N no-op jobs, for
// bench/engine.sh.
//
//   node graphile.mjs CONNECTION_STRING N [CONCURRENCY] [LOCAL_QUEUE]
//
// Queues N jobs of a no-op task in one call (addJobs), then starts a
// runner with CONCURRENCY (10) concurrent jobs and, batched, a local queue
// of LOCAL_QUEUE (500) jobs and completions batched without delay, and
// prints the jobs per second from the runner's start to the last job's
// completion.  LOCAL_QUEUE 0 runs graphile-worker's default mode: no local
// queue, each job fetched and completed by statements of its own.
import { run, makeWorkerUtils, Logger } from "graphile-worker";

// warnings and errors only: a line per job would cost the runner its rate
const logger = new Logger(() => (level, message) => {
	if (level === "error" || level === "warning") console.error(message);
});

const [conn, nArg, concArg, queueArg] = process.argv.slice(2);
const n = Number(nArg);
const concurrency = Number(concArg ?? 10);
const localQueue = Number(queueArg ?? 500);
if (!conn || !(n > 0)) {
	console.error("usage: node graphile.mjs CONNECTION_STRING N [CONCURRENCY] [LOCAL_QUEUE]");
	process.exit(2);
}

const utils = await makeWorkerUtils({ connectionString: conn, logger });
await utils.migrate();
const specs = Array.from({ length: n }, () => ({ identifier: "noop", payload: {} }));
for (let i = 0; i < n; i += 5000)
	await utils.addJobs(specs.slice(i, i + 5000));
await utils.release();

let done = 0;
let finish;
const finished = new Promise((resolve) => { finish = resolve; });
const t0 = process.hrtime.bigint();
const runner = await run({
	connectionString: conn,
	concurrency,
	noHandleSignals: true,
	pollInterval: 100,
	taskList: { noop: async () => {} },
	logger,
	...(localQueue > 0 ? {
		preset: {
			worker: {
				localQueue: { size: localQueue },
				completeJobBatchDelay: 0,
				failJobBatchDelay: 0,
			},
		},
	} : {}),
});
runner.events.on("job:success", () => { if (++done === n) finish(); });
await finished;
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await runner.stop();
console.log(Math.round(n / seconds));
