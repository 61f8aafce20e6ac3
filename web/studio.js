'use strict';
// Couture studio: pickers -> caption, POST /v1/generate, progress from server-sent events, results, and the
// server's gallery of past jobs (GET /v1/jobs: search, favourites, delete; a session list when it keeps none).
// What the server owns comes from GET /v1/config (docs/serve.md): the limits, the bundle's sampling defaults, the
// pickers with their values and the caption sentence each writes (built by the server's caption code), and the
// colours' RGB. The page itself knows none of it.
const STAGES = { sample: '이미지 코드 생성 중', decode: '이미지로 복원 중', rerank: '설명과 맞는 순서로 고르는 중' };
const STATUS = { queued: '대기 중', running: '생성 중', done: '완료', failed: '실패', cancelled: '취소됨' };

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
};
const chars = (text) => [...text].length;

// A picker's sentence: the server's template with the part and the value put in (functions, so that a `$` in a
// value is not a replacement pattern).
function sentence(part, picker, value) {
  return picker.sentence.replace('{part}', () => part).replace('{value}', () => value);
}

let config = null;  // GET /v1/config
const state = {
  job: null, source: null, poll: null, showAll: false, current: null, gallery: null, next: null, initImage: null,
  compare: new Map(),  // rank -> result, the candidates ticked for side-by-side comparison
};
const pickers = {};

// The advanced settings a request carries, each an <input> of that id.
const SETTINGS = ['temperature', 'top_k', 'top_p', 'cond_scale', 'attribute_weight'];

function buildSettings() {
  const { limits, defaults } = config;
  const counts = [];
  for (let count = 4; count < limits.max_n; count *= 2) counts.push(count);
  counts.push(limits.max_n);
  if (!counts.includes(defaults.n)) counts.push(defaults.n);
  const n = $('n');
  for (const count of counts.sort((a, b) => a - b)) n.append(el('option', { value: count, textContent: count }));
  n.value = defaults.n;
  for (const name of SETTINGS) $(name).value = defaults[name];
  $('temperature').max = limits.max_temperature;
  $('top_k').max = limits.max_top_k;
  $('cond_scale').max = limits.max_cond_scale;
  $('attribute_weight').max = limits.max_attribute_weight;
}

function buildPickers() {
  const box = $('pickers');
  const part = el('select', { id: 'pick-part' });
  for (const name of config.parts) part.append(el('option', { value: name, textContent: name }));
  box.append(el('label', {}, '부위', part));
  pickers.part = part;
  for (const picker of config.pickers) {
    const select = el('select', { id: 'pick-' + picker.attribute });
    const row = el('span', { className: 'picker-row' });
    if (picker.swatches) row.append(el('span', { className: 'swatch none' }));
    row.append(select);
    box.append(el('label', {}, picker.attribute, row));
    pickers[picker.attribute] = select;
    fillOptions(picker);
  }
  box.addEventListener('change', (event) => {
    if (event.target === part) config.pickers.filter((p) => p.values_by_part).forEach(fillOptions);
    composePrompt();
  });
}

function fillOptions(picker) {
  const select = pickers[picker.attribute];
  const values = picker.values || picker.values_by_part[pickers.part.value] || [];
  const previous = select.value;
  select.replaceChildren();
  if (!picker.required) select.append(el('option', { value: '', textContent: '(선택 안 함)' }));
  for (const value of values) select.append(el('option', { value, textContent: value }));
  select.value = values.includes(previous) ? previous : picker.initial || (picker.required ? values[0] : '');
}

function composePrompt() {
  const part = pickers.part.value;
  const sentences = [];
  for (const picker of config.pickers) {
    const value = pickers[picker.attribute].value;
    if (picker.swatches) {
      const swatch = pickers[picker.attribute].previousSibling;
      swatch.className = value ? 'swatch' : 'swatch none';
      swatch.style.background = value ? config.palette[value] || '' : '';
    }
    if (value) sentences.push(sentence(part, picker, value));
  }
  setPrompt(sentences.join(' '));
}

function setPrompt(text) {
  $('prompt').value = [...text].slice(0, config.limits.max_prompt_chars).join('');
  updateCounter();
}

function updateCounter() {
  scheduleUnderstand();
  const max = config.limits.max_prompt_chars;
  const prompt = $('prompt');
  let n = chars(prompt.value);
  if (n > max) {
    prompt.value = [...prompt.value].slice(0, max).join('');
    n = max;
  }
  const counter = $('counter');
  counter.textContent = `${n}/${max}`;
  counter.classList.toggle('full', n >= max);
}

// What the server reads in the prompt (its lexicon: attributes, and the words it does not know), shown under the
// prompt while the user types, before anything is generated.
let understandTimer = null, understandSeq = 0;
function scheduleUnderstand() {
  clearTimeout(understandTimer);
  understandTimer = setTimeout(understand, 250);
}
async function understand() {
  const out = $('understood');
  const prompt = $('prompt').value.trim();
  const seq = ++understandSeq;
  if (!prompt) { out.replaceChildren(); return; }
  let reply;
  try {
    const res = await fetch('/v1/understand', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt }),
    });
    reply = await res.json();
    if (!res.ok) reply = { error: reply.error || res.statusText };
  } catch {
    return;  // the server is away: the generate button will say so
  }
  if (seq !== understandSeq) return;  // a newer prompt is on its way
  if (reply.error) { out.replaceChildren(el('span', { className: 'unknown', textContent: reply.error })); return; }
  const parts = [];
  const attrs = Object.entries(reply.attributes || {});
  if (reply.part) parts.push(el('span', { className: 'attr', textContent: `부위: ${reply.part}` }));
  const assumed = reply.assumed || [];
  for (const [name, value] of attrs) {
    const guess = assumed.includes(name);  // not named: read as the lexicon assumes (a shirt without a print is plain)
    parts.push(el('span', {
      className: 'attr', textContent: `${name}: ${[].concat(value).join(', ')}${guess ? ' (말하지 않아 이렇게 봅니다)' : ''}`,
    }));
  }
  if (!attrs.length)
    parts.push(el('span', { className: 'unknown', textContent: '알아들은 속성이 없습니다 (그래도 생성합니다). ' }));
  if ((reply.unrecognized || []).length)
    parts.push(el('span', { className: 'unknown', textContent: `모르는 말: ${reply.unrecognized.join(', ')}` }));
  // The bundle reads prompts as understood (prompt_as): say the sentence the models will read.
  if (config.defaults.prompt_as === 'understood' && reply.caption)
    parts.push(el('span', { className: 'attr caption', textContent: `모델이 읽는 문장: ${reply.caption}` }));
  out.replaceChildren(...parts);
}

function rerollSeed() {
  $('seed').value = String(Math.floor(Math.random() * 4294967296));
}

function showError(message, field) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
  document.querySelectorAll('.invalid').forEach((node) => node.classList.remove('invalid'));
  const input = field && $(field.split(/[.[]/)[0]);
  if (input) {
    input.classList.add('invalid');
    input.focus();
  }
}

function number(id) {
  return Number($(id).value);
}

async function generate(variation) {
  if (state.job && !isFinished(state.job.status) && $('offline').hidden) return;
  const prompt = $('prompt').value.trim();
  if (!prompt) return showError('설명을 입력하세요. 위에서 옷을 고르면 문장이 써집니다.', 'prompt');
  if ($('fresh-seed').checked || $('seed').value === '') rerollSeed();
  const n = number('n');
  const body = {
    prompt, n, top: Math.min(config.defaults.top, n), seed: number('seed'),
    temperature: number('temperature'), top_k: number('top_k'), top_p: number('top_p'), cond_scale: number('cond_scale'),
    attribute_weight: number('attribute_weight'),
  };
  const negative = $('negative_prompt').value.trim();
  if (negative) body.negative_prompt = negative;
  if (variation) body.variation_of = variation;
  else if (state.initImage) body.init_image = state.initImage;
  showError('');
  let response, data;
  try {
    response = await fetch('/v1/generate', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    data = await response.json();
  } catch {
    return showError('서버에 연결할 수 없습니다. couture serve가 실행 중인지 확인하세요.');
  }
  if (response.status === 429) return showError('대기열이 가득 찼습니다. 잠시 후 다시 시도하세요.');
  if (!response.ok) return showError(`요청을 처리할 수 없습니다: ${data.error || response.statusText}`, data.field);
  track(data);
}

function isFinished(status) {
  return status === 'done' || status === 'failed' || status === 'cancelled';
}

function track(job) {
  stopTracking();
  setOffline(false);
  state.job = job;
  state.showAll = false;
  $('cancel').disabled = false;
  $('generate').disabled = true;
  showProgress(job);
  const source = new EventSource(job.events);
  state.source = source;
  const onEvent = (event) => update(JSON.parse(event.data));
  for (const name of ['progress', 'done', 'failed', 'cancelled']) source.addEventListener(name, onEvent);
  source.onerror = () => {  // the stream broke: fall back to polling
    source.close();
    if (state.source === source && !isFinished(state.job.status)) poll(job.url);
  };
}

// Polls the job while its event stream is down. A server that does not answer is said so after a few tries, and
// Generate works again meanwhile; polling goes on, slower, until the server is back. A server that is back without
// the job (restarted, and it never finished) says so and stops.
function poll(url, failures = 0) {
  state.poll = setTimeout(async () => {
    let response = null;
    try {
      response = await fetch(url);
    } catch { /* not answering */ }
    if (state.job === null || state.job.url !== url) return;
    if (response && response.ok) {
      setOffline(false);
      update(await response.json());
      if (!isFinished(state.job.status)) poll(url);
      return;
    }
    if (response && response.status === 404) {
      setOffline(false);
      return lost('서버가 다시 시작되어 이 작업은 끝나지 못했습니다. 다시 생성하세요.');
    }
    if (failures + 1 === 3) setOffline(true);
    poll(url, failures + 1);
  }, failures < 3 ? 500 : 3000);
}

function setOffline(offline) {
  $('offline').hidden = !offline;
  if (offline) $('generate').disabled = false;
}

// The tracked job will not finish: say why, and let the user generate again.
function lost(message) {
  stopTracking();
  $('cancel').disabled = true;
  $('generate').disabled = false;
  $('status').textContent = message;
  state.job = null;
}

function stopTracking() {
  if (state.source) state.source.close();
  state.source = null;
  clearTimeout(state.poll);
}

function update(job) {
  if (!state.job || job.id !== state.job.id) return;
  state.job = job;
  showProgress(job);
  if (!isFinished(job.status)) return;
  stopTracking();
  $('cancel').disabled = true;
  $('generate').disabled = false;
  if (job.status === 'done') {
    addHistory(job);
    render(job);
  } else if (job.status === 'failed') {
    showError(`생성하지 못했습니다: ${job.error || '알 수 없는 오류'}`);
  } else if (job.error) {  // cancelled by the server, not by the user: it shut down
    showError(`작업이 중단되었습니다: ${job.error === 'the server shut down' ? '서버가 종료되었습니다' : job.error}`);
  }
}

function showProgress(job) {
  $('progress').hidden = false;
  const fraction = job.status === 'done' ? 1 : (job.progress && job.progress.fraction) || 0;
  $('bar').style.width = `${Math.round(fraction * 100)}%`;
  let text = STATUS[job.status] || job.status;
  if (job.status === 'queued') text += ` · 앞에 ${job.queue_position || 0}개`;
  if (job.status === 'running' && job.progress && job.progress.stage) {
    const p = job.progress;
    text = `${STAGES[p.stage] || p.stage} ${p.total ? `${p.done}/${p.total}` : ''}`;
  }
  if (job.status === 'done' && typeof job.run_s === 'number') text += ` · ${job.run_s.toFixed(1)}초`;
  $('status').textContent = text;
}

function render(job) {
  if (state.current !== job) state.compare.clear();
  state.current = job;
  const results = $('results');
  results.replaceChildren();
  $('empty').hidden = true;
  $('result-head').hidden = false;
  $('result-prompt').textContent = job.prompt;
  const s = job.settings;
  $('result-meta').textContent = `시드 ${s.seed} · 후보 ${s.n}개 중 상위 ${Math.min(s.top, job.results.length)}개` +
    (s.init_codes_given ? ' · 변형' : '') + (s.init_image_given ? ` · 내 이미지 변형 (${s.init_image_given})` : '') +
    (s.negative_prompt ? ` · 네거티브: ${s.negative_prompt}` : '');
  const shown = state.showAll ? job.results : job.results.slice(0, s.top);
  for (const r of shown) results.append(card(job, r));
  const more = $('show-all');
  more.hidden = job.results.length <= s.top;
  more.textContent = state.showAll ? `상위 ${s.top}개만 보기` : `전체 ${job.results.length}개 보기`;
  document.querySelectorAll('.history li').forEach((li) => li.classList.toggle('current', li.dataset.id === job.id));
  updateCompare();
}

function card(job, r) {
  const img = el('img', { src: r.url, alt: `${r.rank + 1}위 후보`, className: 'result-img', decoding: 'async' });
  img.addEventListener('load', () => fitWhole(img));
  const meta = el('div', { className: 'meta' }, el('b', { textContent: `${r.rank + 1}위` }),
    el('span', { textContent: `점수 ${r.score.toFixed(3)}` }));
  const seed = el('div', { className: 'seed-line', textContent: `시드 ${r.seed} · 후보 #${r.index}` });
  // Attribute reranking: how surely the reranker sees each asked attribute in this candidate.
  const read = Object.entries(r.attributes || {}).map(([name, p]) => `${name} ${Math.round(p * 100)}%`);
  if (read.length) {
    seed.title = `재순위가 읽은 속성: ${read.join(' · ')}`;
    seed.textContent += ` · ${read.join(' · ')}`;
  }
  const download = el('a', { href: r.url, download: `couture-${job.id}-${r.rank}.png`, textContent: 'PNG 저장' });
  const vary = el('button', { type: 'button', textContent: '이걸로 변형' });
  vary.addEventListener('click', () => {
    setPrompt(job.prompt);
    generate({ job: job.id, rank: r.rank });
  });
  // This candidate again: its prompt and settings, with its own seed as the request's (candidate 0 uses it).
  const reuse = el('button', { type: 'button', textContent: '이 시드 쓰기', title: '설명과 설정, 이 후보의 시드를 다시 씁니다' });
  reuse.addEventListener('click', () => {
    setPrompt(job.prompt);
    for (const name of SETTINGS)
      if (job.settings[name] !== undefined) $(name).value = job.settings[name];
    $('negative_prompt').value = job.settings.negative_prompt || '';
    $('seed').value = String(r.seed);
    $('fresh-seed').checked = false;
    $('prompt').focus();
  });
  const tick = el('input', { type: 'checkbox', checked: state.compare.has(r.rank) });
  tick.addEventListener('change', () => {
    if (tick.checked) state.compare.set(r.rank, r);
    else state.compare.delete(r.rank);
    updateCompare();
  });
  const pick = el('label', { className: 'pick', title: '두 개 이상 고르면 나란히 크게 봅니다' }, tick, '비교');
  return el('div', { className: r.rank === 0 ? 'card best' : 'card' }, img, meta, seed,
    el('div', { className: 'tools' }, download, vary, reuse, pick));
}

// A design at the largest whole-number scale its card allows: every model pixel the same number of screen pixels.
function fitWhole(img) {
  if (!img.naturalWidth) return;
  img.style.width = img.style.height = '';  // measure the card's own width
  const scale = Math.max(1, Math.floor(img.clientWidth / img.naturalWidth));
  img.style.width = `${img.naturalWidth * scale}px`;
  img.style.height = `${img.naturalHeight * scale}px`;
}

function updateCompare() {
  const button = $('compare-open');
  button.hidden = state.compare.size < 2;
  button.textContent = `고른 ${state.compare.size}개 나란히 보기`;
}

// The ticked candidates side by side, each at the largest whole-number scale that fits (pixels stay pixels).
function openCompare() {
  const chosen = [...state.compare.values()].sort((a, b) => a.rank - b.rank);
  const body = $('compare-body');
  body.replaceChildren();
  const room = Math.min((window.innerWidth * 0.9) / chosen.length - 16, window.innerHeight * 0.8 - 60);
  for (const r of chosen) {
    const img = el('img', { src: r.url, alt: `${r.rank + 1}위 후보` });
    img.addEventListener('load', () => {
      const scale = Math.max(1, Math.floor(room / img.naturalWidth));
      img.style.width = `${img.naturalWidth * scale}px`;
      img.style.height = `${img.naturalHeight * scale}px`;
      img.dataset.scale = String(scale);
    });
    body.append(el('figure', {}, img, el('figcaption', { textContent: `${r.rank + 1}위 · 시드 ${r.seed}` })));
  }
  $('compare').showModal();
}

// One job in the list: open it, mark it (when the server keeps a gallery), delete it.
function historyItem(job) {
  const when = job.created
    ? new Date(job.created * 1000).toLocaleString('ko-KR',
      { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' })
    : new Date().toLocaleTimeString('ko-KR', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const open = el('button', { type: 'button', className: 'open', title: job.prompt },
    el('img', { src: job.results.length ? job.results[0].url : '', alt: '' }),
    el('span', { className: 'when', textContent: when }),
    el('span', { className: 'what', textContent: job.prompt }));
  open.addEventListener('click', () => {
    state.showAll = false;
    render(job);
  });
  const item = el('li', {}, open);
  item.dataset.id = job.id;
  if (state.gallery) {
    const star = el('button', { type: 'button', className: 'star', textContent: job.favourite ? '★' : '☆' });
    star.setAttribute('aria-pressed', String(Boolean(job.favourite)));
    star.setAttribute('aria-label', '즐겨찾기');
    star.addEventListener('click', async () => {
      const reply = await send(job.url, 'PATCH', { favourite: !job.favourite });
      if (!reply) return;
      job.favourite = reply.favourite;
      star.textContent = job.favourite ? '★' : '☆';
      star.setAttribute('aria-pressed', String(job.favourite));
    });
    const remove = el('button', { type: 'button', className: 'remove', textContent: '삭제' });
    remove.setAttribute('aria-label', `삭제: ${job.prompt}`);
    remove.addEventListener('click', async () => {
      if (!window.confirm('이 작업과 이미지를 갤러리에서 삭제할까요?')) return;
      if (!(await send(job.url, 'DELETE'))) return;
      item.remove();
      if (state.current && state.current.id === job.id) {
        $('results').replaceChildren();
        $('result-head').hidden = true;
        $('show-all').hidden = true;
        state.current = null;
      }
    });
    item.append(star, remove);
  }
  return item;
}

// A JSON request to the server; its reply, or null after showing why it failed.
async function send(url, method, body) {
  try {
    const init = { method };
    if (body !== undefined)
      Object.assign(init, { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const response = await fetch(url, init);
    const data = await response.json();
    if (response.ok) return data;
    showError(data.error || response.statusText);
  } catch {
    showError('서버에 연결할 수 없습니다. couture serve가 실행 중인지 확인하세요.');
  }
  return null;
}

function addHistory(job) {
  if (state.gallery) return loadGallery();  // the server stored it: the list shows it with everything else
  $('history').prepend(historyItem(job));
}

// The gallery, newest first, a page at a time (`more`: the next page), filtered by the search box and ★.
async function loadGallery(more) {
  const params = new URLSearchParams({ limit: '20' });
  const q = $('gallery-search').value.trim();
  if (q) params.set('q', q);
  if ($('gallery-favourites').checked) params.set('favourite', 'true');
  const url = more ? state.next : `/v1/jobs?${params}`;
  if (!url) return;
  const data = await send(url, 'GET');
  if (!data) return;
  state.gallery = data.gallery;
  state.next = data.next;
  $('gallery-more').hidden = !data.next;
  if (!data.gallery) {
    $('gallery-note').textContent = '이 서버는 갤러리를 저장하지 않습니다 (couture serve --data). 이번 세션 기록만 보입니다.';
    return;
  }
  $('gallery-note').textContent = data.total ? `${data.total}개` : (q ? '찾는 작업이 없습니다.' : '아직 저장된 작업이 없습니다.');
  const items = data.items.map(historyItem);
  if (more) $('history').append(...items);
  else $('history').replaceChildren(...items);
  const current = state.current && state.current.id;
  document.querySelectorAll('.history li').forEach((li) => li.classList.toggle('current', li.dataset.id === current));
}

async function showModel() {
  try {
    const health = await (await fetch('/health')).json();
    const model = health.model || {};
    const name = model.name || model.bundle || '';
    $('model').textContent = `모델: ${name || '(이름 없음)'} · 대기열 ${health.queue.queued}/${health.queue.max_queued}`;
  } catch { /* the page still works */ }
}

// The `parameters` text of a PNG Couture wrote (iTXt, UTF-8; tEXt too): {prompt, seed, settings, ...}, or null.
function pngParameters(buffer) {
  const bytes = new Uint8Array(buffer);
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 8 || signature.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(buffer);
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const body = bytes.subarray(at + 8, at + 8 + length);
    at += 12 + length;
    if (type !== 'tEXt' && type !== 'iTXt') continue;
    const nul = body.indexOf(0);
    if (nul < 0 || new TextDecoder('latin1').decode(body.subarray(0, nul)) !== 'parameters') continue;
    let text = body.subarray(nul + 1);
    if (type === 'iTXt') {  // compression flag and method, then language tag and translated keyword, each NUL-ended
      if (text[0] !== 0) return null;
      text = text.subarray(2);
      for (let k = 0; k < 2; ++k) text = text.subarray(text.indexOf(0) + 1);
    }
    try {
      return JSON.parse(new TextDecoder(type === 'iTXt' ? 'utf-8' : 'latin1').decode(text));
    } catch {
      return null;
    }
  }
  return null;
}

// A design's PNG back into the form: its prompt, settings and own seed (so generating makes it again, as candidate 0).
async function loadPng(file) {
  const p = file ? pngParameters(await file.arrayBuffer()) : null;
  if (!p || typeof p.prompt !== 'string') return showError(`${file ? file.name : 'PNG'}: Couture가 만든 PNG가 아닙니다 (설정이 없습니다).`);
  showError('');
  setPrompt(p.prompt);
  const settings = p.settings || {};
  for (const name of SETTINGS) if (typeof settings[name] === 'number') $(name).value = settings[name];
  $('negative_prompt').value = typeof settings.negative_prompt === 'string' ? settings.negative_prompt : '';
  if ([...$('n').options].some((o) => Number(o.value) === settings.n)) $('n').value = settings.n;
  if (Number.isInteger(p.seed)) {
    $('seed').value = String(p.seed);
    $('fresh-seed').checked = false;
  }
  $('prompt').focus();
}

// A picture of one's own to vary: checked for type and size here as the server checks it, scaled down on a canvas
// (the model reads 64 or 256 px; a photo's megabytes need not travel), sent with the next Generate as init_image.
const UPLOAD_SIDE = 256;
async function loadUpload(file) {
  clearUpload();
  if (!file) return;
  const limits = config.limits;
  if (!['image/png', 'image/jpeg'].includes(file.type))
    return showError(`${file.name}: PNG나 JPEG 이미지만 올릴 수 있습니다.`);
  if (file.size > limits.max_upload_bytes)
    return showError(`${file.name}: ${Math.ceil(file.size / 1048576)} MB로 너무 큽니다 ` +
                     `(최대 ${limits.max_upload_bytes / 1048576} MB).`);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return showError(`${file.name}: 읽을 수 없는 이미지입니다.`);
  }
  if (bitmap.width > limits.max_init_image_side || bitmap.height > limits.max_init_image_side)
    return showError(`${file.name}: ${bitmap.width}x${bitmap.height}로 너무 큽니다 ` +
                     `(한 변 최대 ${limits.max_init_image_side}px).`);
  const scale = Math.min(1, UPLOAD_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  state.initImage = canvas.toDataURL('image/png');
  showError('');
  $('upload-image').src = state.initImage;
  $('upload-name').textContent = `${file.name}: 다음 생성은 이 이미지의 변형입니다`;
  $('upload-preview').hidden = false;
}

function clearUpload() {
  state.initImage = null;
  $('upload-preview').hidden = true;
  $('upload').value = '';
}

async function main() {
  try {
    const response = await fetch('/v1/config');
    if (!response.ok) throw new Error(response.statusText);
    config = await response.json();
  } catch {
    showError('서버에서 설정을 읽지 못했습니다. couture serve가 실행 중인지 확인하고 페이지를 새로 고치세요.');
    return;
  }
  buildSettings();
  buildPickers();
  composePrompt();
  rerollSeed();
  $('prompt').addEventListener('input', updateCounter);
  $('reroll').addEventListener('click', rerollSeed);
  $('generate').addEventListener('click', () => generate());
  $('cancel').addEventListener('click', () => {
    if (state.job && !isFinished(state.job.status)) fetch(state.job.url, { method: 'DELETE' });
  });
  $('show-all').addEventListener('click', () => {
    state.showAll = !state.showAll;
    if (state.current) render(state.current);
  });
  document.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
      event.preventDefault();
      generate();
    }
  });
  let searchTimer = null;
  $('gallery-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadGallery(), 250);
  });
  $('gallery-favourites').addEventListener('change', () => loadGallery());
  $('gallery-more').addEventListener('click', () => loadGallery(true));
  $('load-png').addEventListener('change', (event) => loadPng(event.target.files[0]));
  $('upload').addEventListener('change', (event) => loadUpload(event.target.files[0]));
  $('compare-open').addEventListener('click', openCompare);
  window.addEventListener('resize', () => document.querySelectorAll('#results img.result-img').forEach(fitWhole));
  $('compare-close').addEventListener('click', () => $('compare').close());
  $('upload-clear').addEventListener('click', clearUpload);
  document.addEventListener('dragover', (event) => event.preventDefault());
  document.addEventListener('drop', (event) => {
    const file = [...(event.dataTransfer?.files || [])].find((f) => f.type === 'image/png' || f.name.endsWith('.png'));
    if (!file) return;
    event.preventDefault();
    loadPng(file);
  });
  showModel();
  loadGallery();
}

main();
