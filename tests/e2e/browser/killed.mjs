// The studio when its server is killed mid-job (SIGKILL: no goodbye, the event stream just breaks) and a new one
// comes back without the job. The page must say it lost the server and keep Generate usable, then, once the new
// server answers on the same address, say the job was lost with the restart. The script runs `couture serve`
// itself (the real binary and bundle), so that it can kill it; two jobs of 64 candidates queued ahead keep the
// page's job waiting while it is killed.
// Usage: node killed.mjs COUTURE MODEL PORT. Exit status 0 only on success.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { withPage } from './page.mjs';

const [couture, model, port] = process.argv.slice(2);
if (!couture || !model || !port) {
  console.error('usage: node killed.mjs COUTURE MODEL PORT');
  process.exit(2);
}
const url = `http://127.0.0.1:${port}/`;
const servers = [];

function serve() {
  const child = spawn(couture, ['--threads', '1', 'serve', '--model', model, '--port', port, '--no-gallery'],
    { stdio: 'ignore' });
  servers.push(child);
  return child;
}

async function answering() {
  for (let i = 0; i < 600; ++i) {
    try {
      if ((await fetch(new URL('/health', url))).ok) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`no server answered on ${url} within 60 s`);
}

try {
  const first = serve();
  await answering();
  for (let i = 0; i < 2; ++i) {
    const ahead = await fetch(new URL('/v1/generate', url), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: '블랙 코트', n: 64 }),
    });
    if (ahead.status !== 202) throw new Error(`a job ahead was answered ${ahead.status}`);
  }
  const said = await withPage(url, { width: 1280, height: 860 }, async (page) => {
    await page.waitForSelector('#pick-색상');
    await page.fill('#prompt', '네이비 체크 셔츠');
    await page.keyboard.press('Control+Enter');
    await page.waitForSelector('#progress:not([hidden])');
    first.kill('SIGKILL');
    await page.waitForSelector('#offline:not([hidden])', { timeout: 30000 });
    if (await page.isDisabled('#generate')) throw new Error('Generate stays disabled with the server gone');
    serve();
    await answering();
    await page.waitForFunction(() => document.querySelector('#status').textContent.includes('다시 시작되어'), null,
      { timeout: 30000 });
    if (!await page.isHidden('#offline')) throw new Error('the page still says the server is away');
    if (await page.isDisabled('#generate')) throw new Error('Generate is disabled after the restart');
    return `killed mid-job: "${(await page.textContent('#status')).trim()}"; Generate works again`;
  }, 'restart');
  console.log(`killed: ${said}`);
} catch (error) {
  console.error(`killed: ${error.message}`);
  process.exitCode = 1;
} finally {
  for (const child of servers) child.kill('SIGKILL');
}
