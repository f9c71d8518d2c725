// db.js: the dashboard's connections to PostgreSQL.
//
// Every connection is made with the one DSN the dashboard was started with,
// so it sees exactly what that role may see (row-level security filters the
// views); nothing is shared with or cached for another role.  Connections
// are read-only (default_transaction_read_only = on) and statements are
// bounded (statement_timeout), so the dashboard cannot change the catalog
// or hold a backend for long, whatever it is asked.
import pg from 'pg';

// parseDsn: a libpq connection string, either a URI (postgresql://...) or
// keyword=value pairs (host=/tmp port=5432 dbname=app), as pg's options
export function parseDsn(dsn) {
	if (typeof dsn !== 'string' || dsn.trim() === '')
		throw new Error('a DSN is required (--dsn "host=... dbname=..." or postgresql://...)');
	if (/^postgres(ql)?:\/\//.test(dsn))
		return { connectionString: dsn };
	const out = {};
	const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/gy;
	let m;
	let pos = 0;
	while (pos < dsn.length && (m = re.exec(dsn)) !== null) {
		const key = m[1];
		const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
		switch (key) {
			case 'host': case 'hostaddr': out.host = value; break;
			case 'port': out.port = Number(value); break;
			case 'dbname': out.database = value; break;
			case 'user': out.user = value; break;
			case 'password': out.password = value; break;
			case 'application_name': out.application_name = value; break;
			case 'connect_timeout': out.connectionTimeoutMillis = Number(value) * 1000; break;
			case 'sslmode':
				if (value !== 'disable' && value !== 'allow' && value !== 'prefer')
					out.ssl = { rejectUnauthorized: value === 'verify-full' || value === 'verify-ca' };
				break;
			default:
				throw new Error(`unsupported DSN keyword: ${key}`);
		}
		pos = re.lastIndex;
		if (/^\s*$/.test(dsn.slice(pos))) pos = dsn.length;
	}
	if (pos < dsn.length)
		throw new Error(`cannot parse the DSN near: ${dsn.slice(pos, pos + 20)}`);
	return out;
}

// connectionConfig: the DSN's options plus the dashboard's session settings
function connectionConfig(dsn) {
	return {
		application_name: 'mycelium-dashboard',
		...parseDsn(dsn),
		options: '-c default_transaction_read_only=on -c statement_timeout=15000',
	};
}

// Db: a small pool for queries and one connection that LISTENs
export class Db {
	constructor(dsn, { poolSize = 4 } = {}) {
		this.dsn = dsn;
		this.pool = new pg.Pool({ ...connectionConfig(dsn), max: poolSize });
		// an idle connection that dies (server restart) is dropped, not fatal
		this.pool.on('error', () => {});
		this.listener = null;
		this.closed = false;
	}

	// query: runs one read-only statement with parameters, returns its rows
	async query(text, params = []) {
		const res = await this.pool.query(text, params);
		return res.rows;
	}

	// listen: LISTENs on channels and calls onNotify(channel) for each
	// notification; reconnects (after a second) when the connection is lost
	async listen(channels, onNotify, onState = () => {}) {
		const connect = async () => {
			if (this.closed) return;
			const client = new pg.Client(connectionConfig(this.dsn));
			client.on('notification', (msg) => onNotify(msg.channel));
			client.on('error', () => {});
			client.on('end', () => {
				// only an established listener reconnects here
				if (this.listener !== client) return;
				this.listener = null;
				onState(false);
				if (!this.closed) setTimeout(() => connect().catch(() => {}), 1000);
			});
			try {
				await client.connect();
				for (const ch of channels)
					await client.query(`LISTEN ${client.escapeIdentifier(ch)}`);
				this.listener = client;
				onState(true);
			} catch (err) {
				client.end().catch(() => {});
				if (!this.closed) setTimeout(() => connect().catch(() => {}), 1000);
			}
		};
		await connect();
	}

	// close: ends the listener and the pool
	async close() {
		this.closed = true;
		if (this.listener) await this.listener.end().catch(() => {});
		await this.pool.end().catch(() => {});
	}
}
