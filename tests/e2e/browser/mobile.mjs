// The studio on a phone (390 x 844, as an iPhone 12-15) and by keyboard alone: no sideways scrolling before or after
// results, Generate inside the screen, every control reached with Tab showing a visible focus ring, the prompt sent
// with Ctrl+Enter from the keyboard. Saves a full-page screenshot. Usage: node mobile.mjs URL OUT.png
import { imagesLoaded, withPage } from './page.mjs';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node mobile.mjs URL OUT.png');
  process.exit(2);
}
const WIDTH = 390;

try {
  const said = await withPage(url, { width: WIDTH, height: 844 }, async (page) => {
    await page.waitForSelector('#pick-색상');
    const fits = async (when) => {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > WIDTH) throw new Error(`${when} the page is ${width} px wide on a ${WIDTH} px screen`);
      const box = await page.locator('#generate').boundingBox();
      if (box.x < 0 || box.x + box.width > WIDTH) throw new Error(`${when} Generate is cut off (${JSON.stringify(box)})`);
    };
    await fits('before results');
    // Keyboard alone: Tab from the top reaches the prompt and Generate, each with a visible focus ring.
    const reached = new Set();
    for (let i = 0; i < 40 && !reached.has('generate'); ++i) {
      await page.keyboard.press('Tab');
      const focus = await page.evaluate(() => {
        const node = document.activeElement;
        const style = getComputedStyle(node);
        const name = node.id || `${node.tagName.toLowerCase()} "${node.textContent.trim().slice(0, 12)}"`;
        return { id: node.id, name, ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
      });
      if (!focus.ring) throw new Error(`${focus.name} has no visible focus`);
      if (focus.id) reached.add(focus.id);
    }
    for (const id of ['prompt', 'n', 'seed', 'generate'])
      if (!reached.has(id)) throw new Error(`Tab never reaches #${id} (reached ${[...reached].join(', ')})`);
    await page.focus('#prompt');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('노란 땡땡이 원피스');
    await page.keyboard.press('Control+Enter');
    await imagesLoaded(page, 4);
    await fits('after results');
    await page.screenshot({ path: out, fullPage: true });
    return `fits ${WIDTH} px before and after results; Tab reaches ${reached.size} controls with a focus ring`;
  });
  console.log(`mobile: ${said}`);
} catch (error) {
  console.error(`mobile: ${error.message}`);
  process.exitCode = 1;
}
