// Opens a page of the studio in Debian's headless chromium (CHROMIUM overrides /usr/bin/chromium) with a fresh
// profile, runs `body(page)`, and fails on any script error or Content-Security-Policy violation it saw (and on
// requests that failed, unless `offline` says the test stops the server on purpose; 'restart': and starts a new one,
// which answers 404 for the old job). Shared by the browser tests.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withPage(url, viewport, body, offline = false) {
  const profile = mkdtempSync(join(tmpdir(), 'couture-chromium-'));  // a fresh --user-data-dir each run
  const problems = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport,
      locale: 'ko-KR',
      timeout: 60000,
    });
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(60000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      const refused = message.text().startsWith('Failed to load resource: net::') ||
        (offline === 'restart' && message.text().includes('status of 404'));  // a new server without the job
      if (message.type() === 'error' && !(offline && refused)) problems.push(`console error: ${message.text()}`);
    });
    await page.goto(url);
    const result = await body(page);
    if (problems.length) throw new Error(problems.join('\n'));
    return result;
  } finally {
    if (context) await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// Resolves once `count` result images are shown and loaded.
export function imagesLoaded(page, count) {
  return page.waitForFunction((n) => {
    const images = [...document.querySelectorAll('#results img.result-img')];
    return images.length === n && images.every((img) => img.complete && img.naturalWidth > 0);
  }, count);
}
