// Drives the Couture studio in Debian's headless chromium as a designer would: picks a garment, types a prompt,
// presses Ctrl+Enter, waits for the four best images, and saves a screenshot. What the page shows of the server's
// facts (limits, defaults, palette, caption sentences) is checked against GET /v1/config.
// Usage: node studio.mjs URL OUT.png   (CHROMIUM overrides /usr/bin/chromium). Exit status 0 only on success.
import { imagesLoaded, withPage } from './page.mjs';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node studio.mjs URL OUT.png');
  process.exit(2);
}

const PROMPT = '상의에서 색상은 네이비이다. 상의에서 서브색상은 화이트이다. 상의에서 카테고리는 셔츠이다. ' +
  '상의에서 프린트에는 스트라이프이다.';
try {
  const said = await withPage(url, { width: 1280, height: 860 }, async (page) => {
      // What the page reads from the server instead of knowing it: limits, sampling defaults, pickers, palette.
      const config = await (await fetch(new URL('/v1/config', url))).json();
      const max = config.limits.max_prompt_chars;
      await page.waitForSelector('#pick-색상');
      // The pickers write the caption template, the sentences as the server gives them.
      await page.selectOption('#pick-part', '하의');
      const composed = await page.inputValue('#prompt');
      if (!composed.includes('하의에서 카테고리는 팬츠이다.') || !composed.includes('하의에서 프린트에는 스트라이프이다.'))
        throw new Error(`the pickers wrote "${composed}"`);
      await page.selectOption('#pick-part', '상의');
      await page.selectOption('#pick-카테고리', '셔츠');
      await page.selectOption('#pick-색상', '네이비');
      const navy = await page.inputValue('#prompt');
      if (!navy.startsWith('상의에서 색상은 네이비이다. 상의에서 서브색상은 화이트이다. 상의에서 카테고리는 셔츠이다.'))
        throw new Error(`after picking 네이비 and 셔츠 the pickers wrote "${navy}"`);
      const swatch = await page.$eval('#pick-색상', (select) => getComputedStyle(select.previousSibling).backgroundColor);
      const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
      if (swatch !== rgb(config.palette['네이비'])) throw new Error(`the 네이비 swatch is ${swatch}`);
      // Settings start at the server's defaults.
      const n = await page.inputValue('#n');
      const topK = await page.inputValue('#top_k');
      if (n !== String(config.defaults.n) || topK !== String(config.defaults.top_k))
        throw new Error(`the settings start at n ${n}, top_k ${topK}`);

      // The counter counts characters, not bytes, and the prompt stops at the server's limit.
      await page.fill('#prompt', '가'.repeat(max + 30));
      const full = await page.textContent('#counter');
      if (full !== `${max}/${max}` || [...await page.inputValue('#prompt')].length !== max)
        throw new Error(`a prompt of ${max + 30} characters leaves the counter at ${full}`);
      await page.fill('#prompt', '');
      await page.click('#prompt');
      await page.keyboard.type(PROMPT);
      const counter = await page.textContent('#counter');
      if (counter !== `${[...PROMPT].length}/${max}`)
        throw new Error(`the counter shows ${counter} for ${[...PROMPT].length} characters`);
      await page.keyboard.press('Control+Enter');

      await imagesLoaded(page, 4);
      await page.waitForSelector('#history li');
      const status = await page.textContent('#status');
      const meta = await page.textContent('#result-meta');
      await page.screenshot({ path: out, fullPage: true });

      // Each card shows its design at a whole-number scale (every model pixel the same size on screen).
      await page.waitForFunction(() => [...document.querySelectorAll('#results img.result-img')]
        .every((img) => img.style.width !== ''));
      const cardScales = await page.$$eval('#results img.result-img', (images) => images.map((img) =>
        img.getBoundingClientRect().width / img.naturalWidth));
      if (cardScales.some((k) => k < 1 || Math.abs(k - Math.round(k)) > 1e-6))
        throw new Error(`cards drawn at scales ${cardScales}`);

      // Two candidates ticked and compared side by side, each at a whole-number scale of at least 2 (pixels stay
      // pixels); the dialog closes.
      await page.check('#results .card:nth-child(1) .pick input');
      if (!await page.isHidden('#compare-open')) throw new Error('a comparison is offered for one candidate');
      await page.check('#results .card:nth-child(3) .pick input');
      await page.click('#compare-open');
      await page.waitForFunction(() => [...document.querySelectorAll('#compare-body img')]
        .filter((img) => img.dataset.scale).length === 2);
      const scales = await page.$$eval('#compare-body img', (images) => images.map((img) =>
        img.getBoundingClientRect().width / img.naturalWidth));
      if (scales.length !== 2 || scales.some((k) => k < 2 || Math.abs(k - Math.round(k)) > 1e-6))
        throw new Error(`compared at scales ${scales}`);
      await page.click('#compare-close');
      if (await page.$eval('#compare', (dialog) => dialog.open)) throw new Error('the comparison stays open');

      // Every candidate on demand, a PNG link per card, and "variations of this one" as a second job in the history.
      await page.click('#show-all');
      await imagesLoaded(page, 16);
      await page.click('#show-all');
      await imagesLoaded(page, 4);
      const download = await page.getAttribute('#results .card a[download]', 'href');
      if (!/\/v1\/jobs\/[0-9a-f]{16}\/images\/0\.png$/.test(download)) throw new Error(`PNG link ${download}`);
      await page.click('#results .card.best button');
      await page.waitForFunction(() => document.querySelectorAll('#history li').length === 2);
      await imagesLoaded(page, 4);
      const variation = await page.textContent('#result-meta');
      if (!variation.includes('변형')) throw new Error(`the variation's results say "${variation}"`);

      // A downloaded PNG read back: the first job's prompt, settings and the best candidate's own seed.
      const job = await (await fetch(new URL(download.replace(/\/images\/0\.png$/, ''), url))).json();
      const png = Buffer.from(await (await fetch(new URL(download, url))).arrayBuffer());
      await page.fill('#prompt', '');
      await page.$eval('#cond_scale', (input) => { input.value = '9'; });  // in the closed 고급 설정
      await page.setInputFiles('#load-png', { name: 'design.png', mimeType: 'image/png', buffer: png });
      await page.waitForFunction((p) => document.querySelector('#prompt').value === p, job.prompt);
      const seed = await page.inputValue('#seed');
      const condScale = await page.inputValue('#cond_scale');
      if (seed !== String(job.results[0].seed) || Number(condScale) !== job.settings.cond_scale ||
          await page.isChecked('#fresh-seed'))
        throw new Error(`the PNG gave seed ${seed}, cond_scale ${condScale}; its job has ${job.results[0].seed}, ` +
                        `${job.settings.cond_scale}`);
      await page.setInputFiles('#load-png', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
      await page.waitForSelector('#error:not([hidden])');
      const refused = await page.textContent('#error');
      if (!refused.includes('notes.png')) throw new Error(`a file that is not a PNG says "${refused}"`);

      // Bring your own design: a picture uploaded (scaled on the page, sent as init_image) becomes a third job,
      // the variations of it; what is not a PNG or JPEG is refused on the page, naming the file.
      await page.fill('#prompt', '네이비 스트라이프 셔츠');
      await page.$eval('#negative_prompt', (input) => { input.value = '체크'; });  // in the closed 고급 설정,
      await page.$eval('#cond_scale', (input) => { input.value = '2'; });  // with the guidance it steers
      await page.setInputFiles('#upload', { name: 'mine.png', mimeType: 'image/png', buffer: png });
      await page.waitForSelector('#upload-preview:not([hidden])');
      await page.click('#generate');
      await page.waitForFunction(() => document.querySelectorAll('#history li').length === 3);
      await imagesLoaded(page, 4);
      const mine = await page.textContent('#result-meta');
      if (!/내 이미지 변형 \(\d+x\d+\)/.test(mine) || !mine.includes('네거티브: 체크'))
        throw new Error(`the upload's results (with a negative prompt) say "${mine}"`);
      await page.click('#upload-clear');
      if (!await page.isHidden('#upload-preview')) throw new Error('the cleared upload is still shown');
      await page.setInputFiles('#upload', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') });
      await page.waitForFunction(() => document.querySelector('#error').textContent.includes('notes.txt'));
      return `4 images shown (${status}; ${meta}); two compared side by side; all 16 on demand; a variation; ` +
        `a PNG read back; an upload varied; ` +
        `screenshot ${out}`;
  });
  console.log(`studio: ${said}`);
} catch (error) {
  console.error(`studio: ${error.message}`);
  process.exitCode = 1;
}
