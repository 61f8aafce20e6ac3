// The studio's HTML, CSS and JavaScript as raw string literals. The pickers follow DESIGN.md's caption template:
// `{part}에서 {attr}은/는 {value}이다.` (은 after a final consonant, 는 otherwise) and `{attr}에는` for the list
// attributes (프린트); they offer the Couture-FMNIST vocabulary (the default model's) plus K-Fashion's wider lists
// for length, sleeve length, neckline and fit, in K-Fashion's label order.
#include "pipeline/web_page.h"

namespace couture {

std::string_view studio_html() {
  return R"HTML(<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Couture 스튜디오</title>
<link rel="stylesheet" href="/studio.css">
<script src="/studio.js" defer></script>
</head>
<body>
<header>
  <h1>Couture <span>스튜디오</span></h1>
  <p class="tagline">한국어로 옷을 설명하면 디자인 후보를 여러 장 그리고, 설명에 가장 잘 맞는 것부터 보여 드립니다.</p>
  <p id="model" class="model"></p>
</header>
<main>
<section class="panel compose">
  <h2><span>1</span> 옷 고르기</h2>
  <div id="pickers" class="pickers"></div>
  <h2><span>2</span> 설명</h2>
  <textarea id="prompt" rows="5" spellcheck="false" aria-label="옷 설명" aria-describedby="counter understood"
    placeholder="원하는 옷을 자유롭게 쓰세요. 예: 빨간 줄무늬 티셔츠, 네이비 바탕에 흰 도트 원피스"></textarea>
  <div class="prompt-foot">
    <span class="hint">자유롭게 쓰거나, 위에서 고르면 문장이 써집니다.</span>
    <span id="counter" class="counter">0/200</span>
  </div>
  <p id="understood" class="understood" aria-live="polite"></p>
  <h2><span>3</span> 설정</h2>
  <div class="settings">
    <label>후보 수
      <select id="n"><option>4</option><option>8</option><option selected>16</option><option>32</option><option>64</option></select>
    </label>
    <label>시드
      <span class="seed"><input id="seed" type="number" min="0" step="1"><button id="reroll" type="button" title="새 시드 뽑기">바꾸기</button></span>
    </label>
    <label class="check"><input id="fresh-seed" type="checkbox" checked> 생성할 때마다 새 시드</label>
  </div>
  <details class="advanced">
    <summary>고급 설정</summary>
    <div class="settings">
      <label>temperature <input id="temperature" type="number" min="0.05" max="10" step="0.05" value="1"></label>
      <label>top_k <input id="top_k" type="number" min="0" step="1" value="0"></label>
      <label>top_p <input id="top_p" type="number" min="0.01" max="1" step="0.01" value="1"></label>
      <label>cond_scale <input id="cond_scale" type="number" min="0" max="50" step="0.5" value="1"></label>
    </div>
  </details>
  <div class="actions">
    <button id="generate" class="primary" type="button">생성하기 <kbd>Ctrl</kbd>+<kbd>Enter</kbd></button>
    <button id="cancel" type="button" disabled>취소</button>
  </div>
  <div id="error" class="error" role="alert" hidden></div>
</section>
<section class="panel output">
  <div id="progress" class="progress-wrap" hidden>
    <div class="progress"><div id="bar"></div></div>
    <p id="status" aria-live="polite"></p>
  </div>
  <div id="result-head" class="result-head" hidden>
    <p id="result-prompt" class="result-prompt"></p>
    <p id="result-meta" class="result-meta"></p>
  </div>
  <div id="results" class="results"></div>
  <button id="show-all" class="show-all" type="button" hidden></button>
  <p id="empty" class="empty">아직 결과가 없습니다. 옷을 고르고 <b>생성하기</b>를 누르세요.</p>
  <h2 class="history-title">이번 세션 기록</h2>
  <ol id="history" class="history"></ol>
</section>
</main>
<footer>Couture · JSON API: <code>POST /v1/generate</code>, <code>GET /v1/jobs/{id}</code> · <a href="/health">/health</a></footer>
</body>
</html>
)HTML";
}

std::string_view studio_css() {
  return R"CSS(:root {
  --ink: #1f1d1a; --muted: #6d675f; --line: #e4ded5; --paper: #f7f4ef; --card: #ffffff;
  --accent: #2d3a8c; --accent-soft: #e8eafb; --bad: #b3261e;
  font-family: "Pretendard", "Apple SD Gothic Neo", "Noto Sans KR", "NanumGothic", "Malgun Gothic", sans-serif;
  color: var(--ink); background: var(--paper);
}
* { box-sizing: border-box; }
body { margin: 0; }
header { padding: 20px 32px 8px; }
h1 { margin: 0; font-size: 26px; letter-spacing: -0.5px; }
h1 span { font-weight: 400; color: var(--accent); }
.tagline { margin: 4px 0 0; color: var(--muted); font-size: 14px; }
.model { margin: 4px 0 0; color: var(--muted); font-size: 12px; min-height: 1em; }
main { display: grid; grid-template-columns: minmax(340px, 430px) 1fr; gap: 20px; padding: 12px 32px 24px; align-items: start; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; padding: 12px; } header { padding: 16px 12px 4px; } }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 18px 20px; }
h2 { font-size: 15px; margin: 14px 0 8px; display: flex; align-items: center; gap: 8px; }
h2:first-child { margin-top: 0; }
h2 span { display: inline-grid; place-items: center; width: 22px; height: 22px; border-radius: 50%;
  background: var(--accent); color: #fff; font-size: 12px; }
.pickers { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 12px; }
.pickers label, .settings label { display: flex; flex-direction: column; gap: 3px; font-size: 12px; color: var(--muted); }
.picker-row { display: flex; align-items: center; gap: 6px; }
.swatch { width: 18px; height: 18px; border-radius: 5px; border: 1px solid var(--line); flex: none; }
.swatch.none { background: repeating-linear-gradient(45deg, #fff, #fff 3px, #eee 3px, #eee 6px); }
select, input[type=number], textarea { font: inherit; color: var(--ink); border: 1px solid var(--line);
  border-radius: 8px; padding: 6px 8px; background: #fff; width: 100%; }
select:focus, input:focus, textarea:focus { outline: 2px solid var(--accent); outline-offset: -1px; }
textarea { resize: vertical; line-height: 1.55; font-size: 15px; }
.understood { font-size: 12px; line-height: 1.5; margin: 6px 0 0; min-height: 1.5em; }
.understood .attr { display: inline-block; background: var(--chip, #eef); border-radius: 4px; padding: 0 5px; margin: 0 4px 2px 0; }
.understood .unknown { color: var(--danger, #b00); }
.prompt-foot { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); margin-top: 4px; gap: 8px; }
.counter { font-variant-numeric: tabular-nums; }
.counter.full { color: var(--bad); font-weight: 600; }
.settings { display: grid; grid-template-columns: 1fr 1.5fr; gap: 8px 12px; align-items: end; }
.advanced .settings { grid-template-columns: 1fr 1fr; }
.settings label.check { flex-direction: row; align-items: center; gap: 6px; grid-column: 1 / -1; }
.seed { display: flex; gap: 4px; }
.seed button { flex: none; }
.advanced { margin-top: 10px; font-size: 13px; }
.advanced summary { cursor: pointer; color: var(--muted); margin-bottom: 8px; }
button { font: inherit; border: 1px solid var(--line); background: #fff; border-radius: 8px; padding: 6px 12px; cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: 0.45; cursor: default; }
.actions { display: flex; gap: 8px; margin-top: 16px; }
.primary { background: var(--accent); color: #fff; border-color: var(--accent); flex: 1; padding: 10px 14px; font-weight: 600; }
kbd { font: 11px ui-monospace, monospace; border: 1px solid rgba(255,255,255,0.5); border-radius: 4px; padding: 0 4px; }
.error { margin-top: 12px; padding: 10px 12px; border-radius: 8px; background: #fdecea; color: var(--bad); font-size: 13px; }
.invalid { outline: 2px solid var(--bad) !important; }
.progress-wrap { margin-bottom: 12px; }
.progress { height: 8px; background: var(--accent-soft); border-radius: 4px; overflow: hidden; }
#bar { height: 100%; width: 0; background: var(--accent); transition: width 0.2s; }
#status { margin: 6px 0 0; font-size: 13px; color: var(--muted); }
.result-prompt { margin: 0; font-size: 14px; line-height: 1.5; }
.result-meta { margin: 4px 0 12px; font-size: 12px; color: var(--muted); }
.results { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 14px; }
.card { border: 1px solid var(--line); border-radius: 12px; overflow: hidden; background: #fff; display: flex; flex-direction: column; }
.card.best { border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent); }
.card img { width: 100%; aspect-ratio: 1; object-fit: contain; background: #fafafa; display: block; }
.card .meta { padding: 8px 10px 0; font-size: 12px; color: var(--muted); display: flex; justify-content: space-between; gap: 6px; }
.card .meta b { color: var(--ink); white-space: nowrap; }
.card .seed-line { padding: 2px 10px 4px; font-size: 11px; color: var(--muted); }
.card .tools { display: flex; gap: 6px; padding: 4px 10px 10px; }
.card .tools a, .card .tools button { flex: 1; font-size: 12px; padding: 5px 6px; text-align: center; text-decoration: none;
  color: var(--ink); border: 1px solid var(--line); border-radius: 7px; background: #fff; }
.show-all { margin-top: 12px; width: 100%; }
.empty { color: var(--muted); font-size: 14px; padding: 30px 0; text-align: center; }
.history-title { margin-top: 24px; }
.history { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: 6px; }
.history li { display: flex; gap: 10px; align-items: center; padding: 6px; border-radius: 8px; cursor: pointer; font-size: 12px; }
.history li:hover, .history li.current { background: var(--accent-soft); }
.history img { width: 40px; height: 40px; border-radius: 6px; object-fit: cover; border: 1px solid var(--line); flex: none; }
.history .when { color: var(--muted); flex: none; }
.history .what { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
footer { padding: 0 32px 24px; font-size: 12px; color: var(--muted); }
footer a { color: var(--accent); }
)CSS";
}

std::string_view studio_js() {
  return R"JS('use strict';
// Couture studio: pickers -> caption, POST /v1/generate, progress from server-sent events, results and history.
const MAX_CHARS = 200;
const PALETTE = {  // K-Fashion colours with the RGB Couture-FMNIST paints them in
  '화이트': '#f5f5f5', '블랙': '#191919', '그레이': '#878787', '레드': '#cd1e28', '핑크': '#f596b9', '오렌지': '#fa8214',
  '베이지': '#e1c8a0', '브라운': '#7d4b28', '옐로우': '#fad728', '그린': '#239141', '카키': '#737337', '민트': '#96e6c8',
  '스카이블루': '#87c3f5', '블루': '#1e50d2', '네이비': '#19235f', '퍼플': '#7d32a0', '라벤더': '#b9a5e6', '와인': '#731432',
};
const COLOURS = Object.keys(PALETTE);
const CATEGORIES = { '상의': ['티셔츠', '니트웨어', '셔츠'], '하의': ['팬츠'], '원피스': ['드레스'], '아우터': ['코트'] };
// In K-Fashion's label order; `list` attributes take 에는 (소재, 프린트, 디테일 in the labels).
const ATTRIBUTES = [
  { name: '기장', values: ['크롭', '노멀', '하프', '롱', '미니', '니렝스', '미디', '발목', '맥시'] },
  { name: '색상', values: COLOURS, initial: '레드', colour: true },
  { name: '서브색상', values: COLOURS, initial: '화이트', colour: true },
  { name: '카테고리', values: null, required: true },
  { name: '소매기장', values: ['민소매', '반팔', '캡', '7부소매', '긴팔', '없음'] },
  { name: '프린트', values: ['무지', '스트라이프', '체크', '도트'], initial: '스트라이프', list: true },
  { name: '넥라인', values: ['라운드넥', '유넥', '브이넥', '홀터넥', '오프숄더', '원 숄더', '스퀘어넥', '노카라', '후드',
    '터틀넥', '보트넥', '스위트하트'] },
  { name: '핏', values: ['노멀', '루즈', '오버사이즈', '스키니', '와이드', '타이트', '벨보텀'] },
];
const STAGES = { sample: '이미지 코드 생성 중', decode: '이미지로 복원 중', rerank: '설명과 맞는 순서로 고르는 중' };
const STATUS = { queued: '대기 중', running: '생성 중', done: '완료', failed: '실패', cancelled: '취소됨' };

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
};
const chars = (text) => [...text].length;

// 은 after a Hangul syllable with a final consonant (받침), else 는.
function topicParticle(word) {
  const code = word.codePointAt(word.length - 1);
  return code >= 0xac00 && code <= 0xd7a3 && (code - 0xac00) % 28 !== 0 ? '은' : '는';
}
function sentence(part, attribute, value) {
  return `${part}에서 ${attribute.name}${attribute.list ? '에는' : topicParticle(attribute.name)} ${value}이다.`;
}

const state = { job: null, source: null, poll: null, showAll: false, history: [], current: null };
const pickers = {};

function buildPickers() {
  const box = $('pickers');
  const part = el('select', { id: 'pick-part' });
  for (const name of Object.keys(CATEGORIES)) part.append(el('option', { value: name, textContent: name }));
  box.append(el('label', {}, '부위', part));
  pickers.part = part;
  for (const attribute of ATTRIBUTES) {
    const select = el('select', { id: 'pick-' + attribute.name });
    const row = el('span', { className: 'picker-row' });
    if (attribute.colour) row.append(el('span', { className: 'swatch none' }));
    row.append(select);
    box.append(el('label', {}, attribute.name, row));
    pickers[attribute.name] = select;
    fillOptions(attribute);
  }
  box.addEventListener('change', (event) => {
    if (event.target === part) fillOptions(ATTRIBUTES.find((a) => a.required));
    composePrompt();
  });
}

function fillOptions(attribute) {
  const select = pickers[attribute.name];
  const values = attribute.values || CATEGORIES[pickers.part.value];
  const previous = select.value;
  select.replaceChildren();
  if (!attribute.required) select.append(el('option', { value: '', textContent: '(선택 안 함)' }));
  for (const value of values) select.append(el('option', { value, textContent: value }));
  select.value = values.includes(previous) ? previous : attribute.initial || (attribute.required ? values[0] : '');
}

function composePrompt() {
  const part = pickers.part.value;
  const sentences = [];
  for (const attribute of ATTRIBUTES) {
    const value = pickers[attribute.name].value;
    if (attribute.colour) {
      const swatch = pickers[attribute.name].previousSibling;
      swatch.className = value ? 'swatch' : 'swatch none';
      swatch.style.background = value ? PALETTE[value] : '';
    }
    if (value) sentences.push(sentence(part, attribute, value));
  }
  setPrompt(sentences.join(' '));
}

function setPrompt(text) {
  $('prompt').value = [...text].slice(0, MAX_CHARS).join('');
  updateCounter();
}

function updateCounter() {
  scheduleUnderstand();
  const prompt = $('prompt');
  let n = chars(prompt.value);
  if (n > MAX_CHARS) {
    prompt.value = [...prompt.value].slice(0, MAX_CHARS).join('');
    n = MAX_CHARS;
  }
  const counter = $('counter');
  counter.textContent = `${n}/${MAX_CHARS}`;
  counter.classList.toggle('full', n >= MAX_CHARS);
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
  } catch (e) {
    return;  // the server is away: the generate button will say so
  }
  if (seq !== understandSeq) return;  // a newer prompt is on its way
  if (reply.error) { out.replaceChildren(el('span', { className: 'unknown', textContent: reply.error })); return; }
  const parts = [];
  const attrs = Object.entries(reply.attributes || {});
  if (reply.part) parts.push(el('span', { className: 'attr', textContent: `부위: ${reply.part}` }));
  for (const [name, value] of attrs)
    parts.push(el('span', { className: 'attr', textContent: `${name}: ${[].concat(value).join(', ')}` }));
  if (!attrs.length)
    parts.push(el('span', { className: 'unknown', textContent: '알아들은 속성이 없습니다 (그래도 생성합니다). ' }));
  if ((reply.unrecognized || []).length)
    parts.push(el('span', { className: 'unknown', textContent: `모르는 말: ${reply.unrecognized.join(', ')}` }));
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
  if (state.job && !isFinished(state.job.status)) return;
  const prompt = $('prompt').value.trim();
  if (!prompt) return showError('설명을 입력하세요. 위에서 옷을 고르면 문장이 써집니다.', 'prompt');
  if ($('fresh-seed').checked || $('seed').value === '') rerollSeed();
  const n = number('n');
  const body = {
    prompt, n, top: Math.min(4, n), seed: number('seed'),
    temperature: number('temperature'), top_k: number('top_k'), top_p: number('top_p'), cond_scale: number('cond_scale'),
  };
  if (variation) body.variation_of = variation;
  showError('');
  let response, data;
  try {
    response = await fetch('/v1/generate', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    data = await response.json();
  } catch (e) {
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

function poll(url) {
  state.poll = setTimeout(async () => {
    try {
      const response = await fetch(url);
      if (response.ok) {
        update(await response.json());
        if (isFinished(state.job.status)) return;
      }
    } catch (e) { /* try again */ }
    poll(url);
  }, 500);
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
  if (job.status === 'done') text += ` · ${job.run_s.toFixed(1)}초`;
  $('status').textContent = text;
}

function render(job) {
  state.current = job;
  const results = $('results');
  results.replaceChildren();
  $('empty').hidden = true;
  $('result-head').hidden = false;
  $('result-prompt').textContent = job.prompt;
  const s = job.settings;
  $('result-meta').textContent = `시드 ${s.seed} · 후보 ${s.n}개 중 상위 ${Math.min(s.top, job.results.length)}개` +
    (s.init_codes_given ? ' · 변형' : '');
  const shown = state.showAll ? job.results : job.results.slice(0, s.top);
  for (const r of shown) results.append(card(job, r));
  const more = $('show-all');
  more.hidden = job.results.length <= s.top;
  more.textContent = state.showAll ? `상위 ${s.top}개만 보기` : `전체 ${job.results.length}개 보기`;
  document.querySelectorAll('.history li').forEach((li) => li.classList.toggle('current', li.dataset.id === job.id));
}

function card(job, r) {
  const img = el('img', { src: r.url, alt: `${r.rank + 1}위 후보`, className: 'result-img', decoding: 'async' });
  const meta = el('div', { className: 'meta' }, el('b', { textContent: `${r.rank + 1}위` }),
    el('span', { textContent: `점수 ${r.score.toFixed(3)}` }));
  const seed = el('div', { className: 'seed-line', textContent: `시드 ${r.seed} · 후보 #${r.index}` });
  const download = el('a', { href: r.url, download: `couture-${job.id}-${r.rank}.png`, textContent: 'PNG 저장' });
  const vary = el('button', { type: 'button', textContent: '이걸로 변형' });
  vary.addEventListener('click', () => {
    setPrompt(job.prompt);
    generate({ job: job.id, rank: r.rank });
  });
  return el('div', { className: r.rank === 0 ? 'card best' : 'card' }, img, meta, seed,
    el('div', { className: 'tools' }, download, vary));
}

function addHistory(job) {
  state.history.unshift(job);
  const when = new Date().toLocaleTimeString('ko-KR', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const item = el('li', { title: job.prompt },
    el('img', { src: job.results.length ? job.results[0].url : '', alt: '' }),
    el('span', { className: 'when', textContent: when }),
    el('span', { className: 'what', textContent: job.prompt }));
  item.dataset.id = job.id;
  item.addEventListener('click', () => {
    state.showAll = false;
    render(job);
  });
  $('history').prepend(item);
}

async function showModel() {
  try {
    const health = await (await fetch('/health')).json();
    const model = health.model || {};
    const name = model.name || model.bundle || '';
    $('model').textContent = `모델: ${name || '(이름 없음)'} · 대기열 ${health.queue.queued}/${health.queue.max_queued}`;
  } catch (e) { /* the page still works */ }
}

function main() {
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
  showModel();
}

main();
)JS";
}

}  // namespace couture
