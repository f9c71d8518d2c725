#!/usr/bin/env node
// mycelium-dashboard: starts the read-only web dashboard.
//
//   mycelium-dashboard --dsn "host=/var/run/postgresql dbname=app user=alice" [--port 8089] [--host 127.0.0.1] [--poll 5]
//
// It connects with the DSN's role and shows what that role may see.  It
// listens on 127.0.0.1 unless --host says otherwise.
import { parseArgs } from 'node:util';
import { createDashboard } from '../src/server.js';

const usage = 'usage: mycelium-dashboard --dsn DSN [--port 8089] [--host 127.0.0.1] [--poll SECONDS]';
let opts;
try {
	opts = parseArgs({
		options: {
			dsn: { type: 'string', default: process.env.MYCELIUM_DSN },
			port: { type: 'string', default: '8089' },
			host: { type: 'string', default: '127.0.0.1' },
			poll: { type: 'string', default: '5' },
			help: { type: 'boolean', short: 'h' },
		},
	}).values;
} catch (err) {
	console.error(`${err.message}\n${usage}`);
	process.exit(2);
}
if (opts.help) {
	console.log(usage);
	process.exit(0);
}
const port = Number(opts.port);
const poll = Number(opts.poll);
if (!opts.dsn || !Number.isInteger(port) || port < 0 || port > 65535 || !(poll >= 2)) {
	console.error(`${!opts.dsn ? 'a DSN is required (--dsn or MYCELIUM_DSN)' : 'bad --port or --poll (at least 2 s)'}\n${usage}`);
	process.exit(2);
}

let dash;
try {
	dash = createDashboard({ dsn: opts.dsn, pollSeconds: poll, log: (m) => console.error(`mycelium-dashboard: ${m}`) });
} catch (err) {
	console.error(`mycelium-dashboard: ${err.message}`);
	process.exit(2);
}
dash.server.on('error', (err) => {
	console.error(`mycelium-dashboard: ${err.message}`);
	process.exit(1);
});
if (!['127.0.0.1', 'localhost', '::1'].includes(opts.host))
	console.error(`mycelium-dashboard: listening on ${opts.host}: the dashboard has no authentication of its own; anyone who reaches it sees what the DSN's role sees`);
dash.server.listen(port, opts.host, () => {
	const addr = dash.server.address();
	const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
	console.log(`mycelium-dashboard: http://${host}:${addr.port}/`);
});
const stop = () => dash.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
