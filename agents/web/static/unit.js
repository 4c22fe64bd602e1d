// The unit's page: its inbox of dispatched tickets with deadlines and time left; a ticket's
// facts and history; accept, progress notes, return (退单) with a reason, the reply (办结反馈).
"use strict";

const me = session();
if (!me || me.role !== "unit") toLogin();
const $ = (id) => document.getElementById(id);
const base = `/api/units/${encodeURIComponent(me ? me.unit_id : "")}`;
let inbox = [], current = null, offset = 0;

$("signout").onclick = async () => { await api("POST", "/api/logout").catch(() => null); toLogin(); };

function say(text, ok) { $("msg").textContent = text; $("msg").className = ok ? "ok" : "error"; }

async function loadInbox() {
  const data = await api("GET", base + "/inbox").catch((e) => { say(e.message); return null; });
  if (!data) return;
  offset = data.now - Date.now() / 1000;
  inbox = data.tickets;
  render();
}

function render() {
  const now = Date.now() / 1000 + offset;
  $("count").textContent = `（${inbox.length}）`;
  $("empty").style.display = inbox.length ? "none" : "";
  $("inbox").tBodies[0].replaceChildren(...inbox.map((t) => {
    const left = t.due_at ? t.due_at - now : null;
    return el("tr", { "data-ticket": t.id, class: left !== null && left < 0 ? "overdue" : "", onclick: () => open(t.id) },
      el("td", {}, t.id), el("td", {}, [t.category1, t.category2, t.category3].filter(Boolean).join(" / ")),
      el("td", {}, t.address), el("td", {}, URGENCY_NAMES[t.urgency] || t.urgency),
      el("td", {}, STATUS_NAMES[t.status] || t.status), el("td", {}, fmtTime(t.due_at)),
      el("td", { "data-field": "left" }, timeLeft(left)));
  }));
}

async function open(id) {
  const t = await api("GET", `${base}/tickets/${encodeURIComponent(id)}`).catch((e) => { say(e.message); return null; });
  if (!t) return;
  current = t;
  $("detail").style.display = "";
  $("d-id").textContent = t.id;
  $("d-status").textContent = STATUS_NAMES[t.status] || t.status;
  $("d-status").className = "badge " + t.status;
  $("d-category").textContent = [t.category1, t.category2, t.category3].filter(Boolean).join(" / ");
  $("d-address").textContent = t.address;
  $("d-description").textContent = t.description;
  $("d-caller").textContent = t.caller;
  $("d-due").textContent = `${fmtTime(t.due_at)}（${timeLeft(t.seconds_left)}）`;
  $("accept").disabled = !["dispatched", "reopened"].includes(t.status);
  const handling = ["dispatched", "accepted", "reopened"].includes(t.status);
  for (const b of ["add-note", "give-back", "reply"]) $(b).disabled = !handling;
  $("history").replaceChildren(...t.history.filter((h) => h.event).map((h) => el("li", { "data-event": h.event },
    `${fmtTime(h.at)} ${EVENT_NAMES[h.event] || h.event}` + (h.note ? `：${h.note}` : ""))));
}

async function act(path, body, done) {
  if (!current) return;
  try {
    await api("POST", `${base}/tickets/${encodeURIComponent(current.id)}/${path}`, body);
    say(done, true);
  } catch (e) {
    say(e.message);
    return;
  }
  const id = current.id;
  await loadInbox();
  await open(id);
}

$("accept").onclick = () => act("accept", undefined, "已接单");
$("add-note").onclick = () => act("notes", { text: $("note").value }, "进展已记录").then(() => { $("note").value = ""; });
$("give-back").onclick = () => act("return", { reason: $("reason").value }, "已退回派单台");
$("reply").onclick = () => act("reply", { done: $("done").value, result: $("result").value }, "办结反馈已提交，等待回访");

api("GET", base).then((u) => { $("title").textContent = `12345 承办单位工作台 · ${u.name}`; }).catch(() => null);
$("who").textContent = me ? me.name || "" : "";
loadInbox();
setInterval(loadInbox, 30000);
setInterval(render, 1000);
