// browser.mjs: headless Chromium from Debian (/usr/bin/chromium, or
// MC_CHROMIUM), driven by playwright-core, for the browser tests and the
// demo's screenshots.  Each launch gets a fresh profile directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

// launchBrowser: a headless Chromium with a fresh profile; close() removes it
export async function launchBrowser() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mycelium-chromium-'));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.MC_CHROMIUM || '/usr/bin/chromium',
		headless: true,
		viewport: { width: 1280, height: 900 },
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	return {
		context,
		async close() {
			await context.close().catch(() => {});
			fs.rmSync(profile, { recursive: true, force: true });
		},
	};
}
