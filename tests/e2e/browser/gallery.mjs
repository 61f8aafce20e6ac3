// The studio's gallery in a real browser, across a server restart (serve_browser_test runs it twice, on two servers
// over one --data folder). Usage: node gallery.mjs URL make|check. Exit status 0 only on success.
//   make:  generate "남색 셔츠" with Ctrl+Enter, then mark it ★ in the gallery.
//   check: the job is listed after the restart, still ★; it opens with its 4 images; a search that matches
//          nothing says so; 삭제 removes it.
import { imagesLoaded, withPage } from './page.mjs';

const [url, phase] = process.argv.slice(2);
if (!url || !['make', 'check'].includes(phase)) {
  console.error('usage: node gallery.mjs URL make|check');
  process.exit(2);
}
const PROMPT = '남색 셔츠';

try {
  const said = await withPage(url, { width: 1280, height: 860 }, async (page) => {
    await page.waitForSelector('#pick-색상');
    if (phase === 'make') {
      await page.fill('#prompt', PROMPT);
      await page.keyboard.press('Control+Enter');
      await imagesLoaded(page, 4);
      await page.waitForSelector('#history li .star');
      await page.click('#history li .star');
      await page.waitForSelector('#history li .star[aria-pressed="true"]');
      return 'generated and starred';
    }
    await page.waitForSelector('#history li');
    const what = await page.textContent('#history li .what');
    if (what !== PROMPT) throw new Error(`after the restart the gallery lists "${what}"`);
    if (await page.getAttribute('#history li .star', 'aria-pressed') !== 'true')
      throw new Error('the ★ was lost in the restart');
    await page.click('#history li .open');
    await imagesLoaded(page, 4);
    const shown = await page.textContent('#result-prompt');
    if (shown !== PROMPT) throw new Error(`opening the job shows "${shown}"`);
    await page.fill('#gallery-search', '없는말');
    await page.waitForFunction(() => document.querySelector('#gallery-note').textContent.includes('없습니다'));
    if (await page.$$eval('#history li', (items) => items.length) !== 0)
      throw new Error('a search for 없는말 lists jobs');
    await page.fill('#gallery-search', '셔츠');
    await page.waitForSelector('#history li');
    page.once('dialog', (dialog) => dialog.accept());
    await page.click('#history li .remove');
    await page.waitForFunction(() => document.querySelectorAll('#history li').length === 0);
    return 'listed after the restart, still starred, opened with 4 images, searched, deleted';
  });
  console.log(`gallery ${phase}: ${said}`);
} catch (error) {
  console.error(`gallery ${phase}: ${error.message}`);
  process.exitCode = 1;
}
