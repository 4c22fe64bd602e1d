// The quality-check page (质检). Reviewers (supervisors): the review queue, one call's review
// with its recording next to the ticket and the IVR path, the checklist with scores and 差错,
// appeals to decide, figures per operator or team (CSV). Operators: their own scores and one
// appeal per scored call. Recordings are fetched with the session's bearer header and handed to
// the <audio> element as a blob URL (no credential in any URL).
"use strict";

const me = session();
if (!me || (me.role !== "supervisor" && me.role !== "seat")) toLogin();
const reviewer = me && me.role === "supervisor";
const $ = (id) => document.getElementById(id);
let checklist = null, current = null, audioUrl = null;

$("signout").onclick = async () => { await api("POST", "/api/logout").catch(() => null); toLogin(); };
$("who").textContent = reviewer ? "质检员（班长）" : `座席 ${me ? me.seat_id : ""}`;
function say(text, ok) { $("msg").textContent = text; $("msg").className = ok ? "ok" : "error"; }
const enc = encodeURIComponent;
const today = new Date(), iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
for (const p of ["s", "f"]) {
  $(`${p}-from`).value = iso(new Date(today.getFullYear(), today.getMonth(), 1));
  $(`${p}-to`).value = iso(today);
}

async function loadChecklist() {
  checklist = await api("GET", "/api/qa/checklist").catch((e) => { say(e.message); return null; });
  if (!checklist) return;
  $("checklist-name").textContent = `${checklist.name} ${checklist.version}（合格 ${checklist.pass_score} 分）`;
  $("checklist").tBodies[0].replaceChildren(...checklist.items.map((i) => el("tr", { title: i.description },
    el("td", {}, i.name), el("td", {}, String(i.weight)),
    el("td", {}, el("input", { type: "number", min: "0", max: String(i.weight), step: "0.5", "data-item": i.id,
      "aria-label": i.name, oninput: preview })))));
  $("fatal").replaceChildren(...checklist.fatal.map((f) => el("label", { title: f.description },
    el("input", { type: "checkbox", "data-fatal": f.id, onchange: preview }), ` ${f.name}（得分不超过 ${f.score}）`)));
}

function marks() {
  const out = {};
  for (const input of document.querySelectorAll("[data-item]")) {
    if (input.value !== "") out[input.dataset.item] = Number(input.value);
  }
  return out;
}
function fatal() { return [...document.querySelectorAll("[data-fatal]:checked")].map((x) => x.dataset.fatal); }

function preview() {  // what the server will compute, shown while scoring
  if (!checklist) return;
  const m = marks(), total = checklist.items.reduce((s, i) => s + i.weight, 0);
  if (Object.keys(m).length < checklist.items.length) { $("live-score").textContent = "—"; return; }
  let score = 100 * checklist.items.reduce((s, i) => s + Math.min(m[i.id], i.weight), 0) / total;
  for (const f of checklist.fatal) if (fatal().includes(f.id)) score = Math.min(score, f.score);
  $("live-score").textContent = score.toFixed(1);
}

async function loadQueue() {
  const data = await api("GET", `/api/qa/queue?state=${$("queue-state").value}`).catch((e) => { say(e.message); return null; });
  if (!data) return;
  $("queue-count").textContent = `（${data.calls.length}）`;
  $("queue-empty").style.display = data.calls.length ? "none" : "";
  $("queue").tBodies[0].replaceChildren(...data.calls.map((c) => el("tr", { "data-call": c.call_id, onclick: () => open(c.call_id) },
    el("td", {}, fmtTime(c.ended_at)), el("td", {}, `${c.seat_name}（${c.seat_id}）`), el("td", {}, c.ticket_id || "—"),
    el("td", {}, c.reason_names.join("、")))));
}

async function loadAppeals() {
  const data = await api("GET", "/api/qa/appeals").catch(() => null);
  if (!data) return;
  $("appeal-count").textContent = `（${data.appeals.length}）`;
  $("appeals").tBodies[0].replaceChildren(...data.appeals.map((a) => el("tr", { "data-call": a.call_id, onclick: () => open(a.call_id) },
    el("td", {}, fmtTime(a.at)), el("td", {}, a.seat_name), el("td", {}, a.call_id), el("td", {}, a.reason))));
}

const DECISIONS = { upheld: "维持原评分", revised: "已改判" };
async function loadScores() {
  const data = await api("GET", `/api/qa/scores?from=${$("s-from").value}&to=${$("s-to").value}`).catch((e) => { say(e.message); return null; });
  if (!data) return;
  $("scores-empty").style.display = data.scores.length ? "none" : "";
  $("scores").tBodies[0].replaceChildren(...data.scores.map((s) => el("tr", { "data-call": s.call_id, onclick: () => open(s.call_id) },
    el("td", {}, fmtTime(s.ended_at)), el("td", {}, s.seat_name), el("td", { "data-field": "score" }, s.score.toFixed(1)),
    el("td", {}, s.fatal.length ? "有" : "—"),
    el("td", { "data-field": "appeal" }, s.appeal ? (DECISIONS[s.appeal.decision] || "处理中") : "—"))));
}

async function loadFigures() {
  const q = `from=${$("f-from").value}&to=${$("f-to").value}&by=${$("f-by").value}`;
  const data = await api("GET", `/api/qa/figures?${q}`).catch((e) => { say(e.message); return null; });
  if (!data) return;
  $("figures").tBodies[0].replaceChildren(...data.rows.map((r) => el("tr", {},
    ...["key", "name", "reviews", "average", "fatal", "below_pass", "appeals", "appeals_revised"].map((k) =>
      el("td", {}, r[k] === null ? "—" : String(r[k]))))));
}

async function download(path, name) {  // the bearer header goes with it, so fetch, then save the blob
  const res = await fetch(path, { headers: { authorization: "Bearer " + me.token } });
  if (!res.ok) { say((await res.json().catch(() => ({}))).error || res.statusText); return; }
  const a = el("a", { href: URL.createObjectURL(await res.blob()), download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// A call transferred or conferenced may have several recordings: one button each.
async function loadAudio(callId, count, n = 0) {
  const audio = $("audio");
  audio.pause();
  audio.removeAttribute("src");
  if (audioUrl) URL.revokeObjectURL(audioUrl);
  audioUrl = null;
  $("parts").replaceChildren(...(count > 1 ? [...Array(count).keys()].map((i) => el("button",
    { type: "button", class: i === n ? "primary" : "", "data-part": String(i), onclick: () => loadAudio(callId, count, i) },
    `录音${i + 1}`)) : []));
  if (!count) { $("audio-msg").textContent = "该通话没有录音"; return; }
  $("audio-msg").textContent = "录音加载中…";
  const res = await fetch(`/api/qa/calls/${enc(callId)}/recordings/${n}`, { headers: { authorization: "Bearer " + me.token } });
  if (!res.ok) { $("audio-msg").textContent = (await res.json().catch(() => ({}))).error || "录音无法播放"; return; }
  audioUrl = URL.createObjectURL(await res.blob());
  audio.src = audioUrl;
  audio.playbackRate = Number($("speed").value);
  $("audio-msg").textContent = "";
}
$("speed").onchange = () => { $("audio").playbackRate = Number($("speed").value); };
$("audio").onratechange = () => { $("speed").value = String($("audio").playbackRate); };

async function open(callId) {
  const v = await api("GET", `/api/qa/calls/${enc(callId)}`).catch((e) => { say(e.message); return null; });
  if (!v) return;
  current = v;
  for (const tr of document.querySelectorAll("tr[data-call]")) tr.classList.toggle("current", tr.dataset.call === callId);
  $("review").style.display = "";
  $("r-call").textContent = callId;
  $("r-seat").textContent = `${v.sample.seat_name}（${v.sample.seat_id}）`;
  $("r-reasons").textContent = "抽检原因：" + v.sample.reason_names.join("、");
  const t = v.ticket || {};
  $("t-id").textContent = t.id || "—";
  $("t-caller").textContent = t.caller || (v.call ? v.call.caller : "—");
  $("t-category").textContent = t.category || "—";
  $("t-address").textContent = t.address || "—";
  $("t-description").textContent = t.description || "—";
  $("t-survey").textContent = (t.survey && t.survey.satisfaction) || "—";
  const path = (t.ivr_path && t.ivr_path.length) ? t.ivr_path : (v.call ? v.call.path : []);
  $("ivr-path").replaceChildren(...path.map((p) => el("li", {}, p)));
  $("transcript").replaceChildren(...(t.transcript || []).map((line) => el("div", {}, line)));
  const last = v.reviews[v.reviews.length - 1];
  for (const input of document.querySelectorAll("[data-item]")) {
    input.value = last && input.dataset.item in last.marks ? String(last.marks[input.dataset.item]) : "";
    input.disabled = !reviewer;
  }
  for (const box of document.querySelectorAll("[data-fatal]")) {
    box.checked = !!last && last.fatal.includes(box.dataset.fatal);
    box.disabled = !reviewer;
  }
  $("comment").value = last ? last.comment : "";
  $("comment").disabled = !reviewer;
  $("live-score").textContent = last ? last.score.toFixed(1) : "—";
  const pending = v.appeal && !v.appeal.decision;
  $("save").style.display = reviewer && !v.appeal ? "" : "none";
  $("decide-box").style.display = reviewer && pending ? "" : "none";
  $("appeal-reason").textContent = v.appeal ? `申诉理由：${v.appeal.reason}` : "";
  $("appeal-box").style.display = !reviewer && last && !v.appeal ? "" : "none";
  $("history").replaceChildren(...v.reviews.map((r) => el("li", {},
    `${fmtTime(r.at)} ${r.reviewer === "supervisor" ? "质检员" : r.reviewer}${r.after_appeal ? "（申诉改判）" : ""}：` +
    `${r.score.toFixed(1)} 分${r.fatal.length ? "，差错 " + r.fatal.join("、") : ""}${r.comment ? "，" + r.comment : ""}`)),
    ...(v.appeal ? [el("li", { "data-field": "appeal" }, `申诉：${v.appeal.reason}` +
      (v.appeal.decision ? ` → ${DECISIONS[v.appeal.decision]}（${v.appeal.note}）` : "（待处理）"))] : []));
  say("", true);
  await loadAudio(callId, v.recordings);
}

async function refresh() {
  const jobs = [loadScores()];
  if (reviewer) jobs.push(loadQueue(), loadAppeals());
  await Promise.all(jobs);
}

$("save").onclick = async () => {
  const body = { marks: marks(), fatal: fatal(), comment: $("comment").value };
  const r = await api("POST", `/api/qa/calls/${enc(current.sample.call_id)}/review`, body).catch((e) => { say(e.message); return null; });
  if (!r) return;
  await open(current.sample.call_id);
  say(`已保存：${r.score.toFixed(1)} 分`, true);
  await refresh();
};
async function decide(decision) {
  const body = { decision, note: $("decide-note").value, marks: marks(), fatal: fatal(), comment: $("comment").value };
  const r = await api("POST", `/api/qa/calls/${enc(current.sample.call_id)}/appeal/decision`, body).catch((e) => { say(e.message); return null; });
  if (!r) return;
  await open(current.sample.call_id);
  say(`申诉已处理：${r.score.score.toFixed(1)} 分`, true);
  await refresh();
}
$("uphold").onclick = () => decide("upheld");
$("revise").onclick = () => decide("revised");
$("appeal").onclick = async () => {
  const r = await api("POST", `/api/qa/calls/${enc(current.sample.call_id)}/appeal`, { reason: $("appeal-text").value })
    .catch((e) => { say(e.message); return null; });
  if (!r) return;
  await open(current.sample.call_id);
  say("申诉已提交，等待班长处理", true);
  await loadScores();
};
$("queue-state").onchange = loadQueue;
$("s-load").onclick = loadScores;
$("f-load").onclick = loadFigures;
$("f-csv").onclick = () => download(`/api/qa/figures?from=${$("f-from").value}&to=${$("f-to").value}&by=${$("f-by").value}&format=csv`,
  `质检统计-${$("f-from").value}-${$("f-to").value}.csv`);
$("sample-now").onclick = async () => {
  const r = await api("POST", "/api/qa/sample").catch((e) => { say(e.message); return null; });
  if (r) { say(`新抽检 ${r.added} 通`, true); await loadQueue(); }
};

// Keys while listening: Alt+P play/pause, Alt+Left/Right 5 s back/forward, Alt+Down/Up slower/faster,
// Ctrl+S save the score. Alt keeps them off the number fields' own arrow keys.
const SPEEDS = ["0.75", "1", "1.25", "1.5", "2"];
document.addEventListener("keydown", (ev) => {
  const a = $("audio");
  if (ev.ctrlKey && ev.key === "s") {
    ev.preventDefault();
    if (reviewer && current && $("save").style.display !== "none") $("save").click();
    return;
  }
  if (!ev.altKey || !a.src) return;
  const step = { ArrowLeft: -5, ArrowRight: 5 }[ev.key];
  if (ev.key === "p" || ev.key === "P") { a.paused ? a.play() : a.pause(); }
  else if (step) { a.currentTime = Math.max(0, Math.min(a.duration || 0, a.currentTime + step)); }
  else if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
    const i = SPEEDS.indexOf(String(a.playbackRate)) + (ev.key === "ArrowUp" ? 1 : -1);
    $("speed").value = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, i))];
    a.playbackRate = Number($("speed").value);
  } else return;
  ev.preventDefault();
});

if (reviewer) {
  for (const id of ["queue-panel", "appeals-panel", "figures-panel"]) $(id).style.display = "";
  $("scores-title").textContent = "质检成绩";
  $("title").textContent = "12345 质检工作台";
} else {
  $("title").textContent = "12345 我的质检成绩";
}
loadChecklist().then(refresh).then(() => reviewer && loadFigures());
