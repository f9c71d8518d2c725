// screenshot.mjs: saves a PNG of a dashboard page, as headless Chromium
// (Debian's) draws it once the page has loaded its data and its diagrams.
//
//   node scripts/screenshot.mjs URL FILE.png
import { launchBrowser } from '../test/browser.mjs';

const [url, file] = process.argv.slice(2);
if (!url || !file) {
	console.error('usage: node scripts/screenshot.mjs URL FILE.png');
	process.exit(2);
}
const browser = await launchBrowser();
try {
	const page = await browser.context.newPage();
	await page.goto(url);
	await page.waitForSelector('#main[data-loaded]', { timeout: 30000 });
	// the graph and the gantt chart, when the page has them, are drawn
	for (const box of ['#graph', '#gantt'])
		if (await page.locator(`${box} svg`).count() === 0 && await page.locator(`${box}[data-kind="mermaid"]`).count() > 0)
			await page.waitForSelector(`${box} svg`, { timeout: 30000 });
	await page.waitForTimeout(300);
	await page.screenshot({ path: file, fullPage: true });
	console.log(file);
} finally {
	await browser.close();
}
