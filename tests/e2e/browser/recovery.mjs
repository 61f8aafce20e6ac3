// The studio when its server stops mid-job (serve_browser_test stops the server while the fake generator holds the
// job): the page says the server shut down, not that the user cancelled, and Generate works again.
// Usage: node recovery.mjs URL.
import { withPage } from './page.mjs';

const [url] = process.argv.slice(2);
try {
  const said = await withPage(url, { width: 1280, height: 860 }, async (page) => {
    await page.waitForSelector('#pick-색상');
    await page.fill('#prompt', '블랙 코트');
    await page.keyboard.press('Control+Enter');
    await page.waitForSelector('#progress:not([hidden])');
    await page.waitForFunction(() => !document.querySelector('#error').hidden, null, { timeout: 30000 });
    const error = await page.textContent('#error');
    if (!error.includes('서버가 종료되었습니다')) throw new Error(`after the server stopped the page says "${error}"`);
    if (await page.isDisabled('#generate')) throw new Error('Generate stays disabled after the server stopped');
    return `the page says "${error.trim()}" and Generate works again`;
  }, true);
  console.log(`recovery: ${said}`);
} catch (error) {
  console.error(`recovery: ${error.message}`);
  process.exitCode = 1;
}
