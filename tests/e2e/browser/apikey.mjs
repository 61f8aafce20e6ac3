// The studio behind an API key, as a designer opens it: the page without the key is refused (401), the link with
// ?key=KEY sets the cookie and leads to the page, which then works as usual (config, a job, its images and event
// stream all carry the cookie), and the key never stays in the address bar.
// Usage: node apikey.mjs URL KEY. Exit status 0 only on success.
import { imagesLoaded, withPage } from './page.mjs';

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: node apikey.mjs URL KEY');
  process.exit(2);
}
try {
  const refused = await fetch(url);
  if (refused.status !== 401) throw new Error(`the page without the key was answered ${refused.status}`);
  const said = await withPage(`${url}?key=${encodeURIComponent(key)}`, { width: 1280, height: 860 }, async (page) => {
    await page.waitForSelector('#pick-색상');
    if (page.url().includes('key=')) throw new Error(`the key stays in the address bar: ${page.url()}`);
    await page.fill('#prompt', '블랙 코트');
    await page.keyboard.press('Control+Enter');
    await imagesLoaded(page, 4);
    return `refused without the key; with ?key= the page made a job and showed 4 images (${page.url()})`;
  });
  console.log(`apikey: ${said}`);
} catch (error) {
  console.error(`apikey: ${error.message}`);
  process.exitCode = 1;
}
