// The operator's call controls: hold, transfer (blind or consulted first) to a seat, the team
// leader on duty or a skill group, a three-way call with an outside number, an outbound call.
// Sent over the live socket (answered there with the same id), or over REST while it is down.
"use strict";

let callView = {}, controlSeq = 0, seatSocket = null;
const waitingControls = {};
const OUTCOMES = { no_answer: "对方未接听，已恢复与来电方通话", queued: "已转出，等待目标接听",
  consulting: "咨询中，来电方正在听保持音乐", answered: "已接通", calling: "正在呼叫…" };

function sendControl(action, extra) {
  const el = (id) => document.getElementById(id);
  el("call-error").textContent = "";
  const body = { action, ...(extra || {}) };
  const id = `c${++controlSeq}`;
  if (seatSocket && seatSocket.send({ type: "control", id, ...body })) {
    return new Promise((resolve) => { waitingControls[id] = resolve; });
  }
  return api("POST", `/api/seats/${SEAT}/call`, body)
    .then((view) => showCall(view))
    .catch((e) => { el("call-error").textContent = e.message; });
}

function controlAnswer(m) {
  const done = waitingControls[m.id];
  delete waitingControls[m.id];
  if (m.ok) showCall(m.call);
  else document.getElementById("call-error").textContent = m.error;
  if (done) done(m);
}

function showCall(c) {
  const el = (id) => document.getElementById(id);
  callView = c || {};
  const onCall = !!callView.call_id && !callView.consulted_by;
  const consulting = !!callView.consulting, conf = !!callView.conference;
  const free = !onCall && !callView.outbound && seat && ["ready", "not_ready"].includes(seat.state);
  el("btn-hold").innerHTML = (callView.held && !consulting ? "恢复" : "保持") + " <kbd>Alt</kbd>+<kbd>H</kbd>";
  el("btn-hold").disabled = !onCall || consulting || conf;
  el("btn-blind").disabled = !onCall || consulting || conf;
  el("btn-consult").disabled = !onCall || consulting || conf;
  el("btn-complete").disabled = !consulting || !callView.consult_answered;
  el("btn-back").disabled = !consulting;
  el("btn-conference").disabled = !onCall || consulting || conf;
  el("btn-leave").disabled = !callView.conference_answered;
  el("btn-drop-outside").disabled = !conf;
  el("btn-dial").disabled = !free;
  let text = "无通话";
  if (callView.outbound) text = `外呼 ${callView.outbound.number}：${callView.outbound.state === "answered" ? "通话中" : "呼叫中…"}`;
  else if (callView.consulted_by) text = `座席 ${callView.consulted_by} 正在咨询您`;
  else if (consulting) text = `咨询座席 ${callView.consult_to}${callView.consult_answered ? "（已接通）" : "（呼叫中…）"}，来电方保持中`;
  else if (conf) text = callView.conference_answered ? "三方通话中" : "正在呼叫外线…";
  else if (callView.held) text = "保持中，来电方正在听保持音乐";
  else if (onCall) text = "通话中";
  if (callView.outcome && OUTCOMES[callView.outcome] && !callView.outbound) text += ` · ${OUTCOMES[callView.outcome]}`;
  el("call-state").textContent = text;
  el("callbar").dataset.call = callView.held ? "held" : consulting ? "consulting" : conf ? "conference" : onCall ? "talking" : "";
}

async function loadTargets() {
  const t = await api("GET", `/api/seats/${SEAT}/transfer-targets`).catch(() => null);
  if (!t) return;
  const sel = document.getElementById("xfer-to");
  const opts = [];
  if (t.leader) opts.push(["leader", `值班班长（${t.leader}）`]);
  for (const s of t.skills) opts.push([`skill:${s}`, `技能组：${s}`]);
  for (const s of t.seats) opts.push([`seat:${s.id}`, `座席 ${s.id} ${s.name}（${STATE_NAMES[s.state] || s.state}）`]);
  const keep = sel.value;
  sel.innerHTML = "";
  for (const [value, label] of opts) sel.add(new Option(label, value));
  if (!opts.length) sel.add(new Option("（无可转接目标）", ""));
  if (keep) sel.value = keep;
}

function number() { return document.getElementById("call-number").value.trim(); }

function transfer(mode) { return sendControl("transfer", { to: document.getElementById("xfer-to").value, mode }); }

const CALL_BUTTONS = {
  "btn-hold": () => sendControl(callView.held ? "resume" : "hold"),
  "btn-blind": () => transfer("blind"),
  "btn-consult": () => transfer("consult"),
  "btn-complete": () => sendControl("complete"),
  "btn-back": () => sendControl("back"),
  "btn-conference": () => sendControl("conference", { number: number() }),
  "btn-leave": () => sendControl("leave"),
  "btn-drop-outside": () => sendControl("drop_outside"),
  // an outbound call about the open ticket is noted on it (a callback to the citizen, a unit's phone)
  "btn-dial": () => sendControl("dial", { number: number(), ticket_id: ticket && ticket.operator === SEAT ? ticket.id : "" }),
};
for (const [id, fn] of Object.entries(CALL_BUTTONS)) document.getElementById(id).addEventListener("click", fn);
document.getElementById("xfer-to").addEventListener("focus", loadTargets);

// Alt+letter shortcuts (F-keys are the seat state's; F5/F6/F11/F12 belong to the browser)
function callKey(key) {
  const map = { h: "btn-hold", t: "btn-blind", c: "btn-consult", w: "btn-complete", r: "btn-back",
    m: "btn-conference", l: "btn-leave", d: "btn-dial" };
  if (key === "n") { document.getElementById("call-number").focus(); return true; }
  const id = map[key];
  if (!id) return false;
  const button = document.getElementById(id);
  if (!button.disabled) button.click();
  return true;
}
