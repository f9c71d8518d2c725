// connection.js: a database connection that comes back after it was lost.
//
// Each statement runs on the current pg.Client; when the client is found
// broken (a terminated backend, a restarted server) it is dropped and the
// statement rejects with Disconnected; the next statement connects again,
// waiting with exponential backoff between failed attempts.

import pg from 'pg';
import { translate } from './errors.js';

/** The connection was lost while a statement ran: its effect is unknown. */
export class Disconnected extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a pg error means the connection is gone. */
function lost(error, client) {
  const code = error && error.code;
  if (!code) return true;                     // a socket error, "Connection terminated"
  return code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code) || client.broken;
}

export class Connection {
  constructor(config, { name, logger, maxDelay = 2000, minDelay = 50, onConnect } = {}) {
    this.config = config;
    this.name = name;
    this.log = logger;
    this.maxDelay = maxDelay;
    this.minDelay = minDelay;
    this.onConnect = onConnect;
    this.client = null;
    this.connecting = null;
    this.failures = 0;
    this.connects = 0;
    this.closed = false;
  }

  /** The connected client (connecting if needed); rejects with Disconnected. */
  connect() {
    if (this.closed) return Promise.reject(new Disconnected(`${this.name} connection closed`));
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      this.connecting = this.#open().finally(() => { this.connecting = null; });
    }
    return this.connecting;
  }

  async #open() {
    if (this.failures) {
      await sleep(Math.min(this.maxDelay, this.minDelay * 2 ** (this.failures - 1)));
    }
    const client = new pg.Client(this.config);
    client.broken = false;
    // an error outside a query (a terminated backend): the client is done
    client.on('error', (e) => {
      client.broken = true;
      this.log.warn(`${this.name} connection lost: ${e.message}`);
      this.#drop(client);
    });
    client.on('end', () => { client.broken = true; this.#drop(client); });
    try {
      await client.connect();
      if (this.onConnect) await this.onConnect(client);
    } catch (e) {
      this.failures += 1;
      client.broken = true;
      client.end().catch(() => {});
      this.log.warn(`${this.name} connection: cannot connect (${e.message}); trying again`);
      throw new Disconnected(e.message, { cause: e });
    }
    if (this.closed) {          // closed while connecting
      client.broken = true;
      await client.end().catch(() => {});
      throw new Disconnected(`${this.name} connection closed`);
    }
    if (this.failures || this.connects) this.log.info(`${this.name} connection: connected again`);
    this.failures = 0;
    this.connects += 1;
    this.client = client;
    return client;
  }

  #drop(client) {
    if (this.client === client) {
      this.client = null;
      this.failures += 1;
    }
    client.end().catch(() => {});
  }

  /** Runs a statement; resolves to its rows.  Mycelium's errors reject as
   *  the typed errors of errors.js, a lost connection as Disconnected. */
  async query(text, values) {
    const client = await this.connect();
    try {
      return (await client.query(text, values)).rows;
    } catch (e) {
      if (lost(e, client)) {
        if (!client.broken) this.log.warn(`${this.name} connection lost: ${e.message}`);
        client.broken = true;
        this.#drop(client);
        throw new Disconnected(e.message, { cause: e });
      }
      throw translate(e);
    }
  }

  /** Closes the connection for good. */
  async close() {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (client) {
      client.broken = true;
      await client.end().catch(() => {});
    }
  }
}
