// The operator's own tickets (search, each with its history: dispatch, unit notes, reply,
// follow-up answer) and the follow-up worklist: take a task, call from the page, record the answer.
// Supervisors search all tickets and work the dispatch desk: tickets a unit returned (退单) are
// sent to another unit or closed with a reason.
"use strict";

const me = session();
if (!me || (me.role !== "seat" && me.role !== "supervisor")) toLogin();
const $ = (id) => document.getElementById(id);
let task = null;

for (const [k, v] of Object.entries(STATUS_NAMES)) $("q-status").append(el("option", { value: k }, v));
function say(text, ok) { $("msg").textContent = text; $("msg").className = ok ? "ok" : "error"; }

$("search").onclick = async () => {
  $("search-error").textContent = "";
  const q = new URLSearchParams();
  for (const k of ["number", "caller", "category", "status", "from", "to"]) {
    const v = $("q-" + k).value.trim();
    if (v) q.set(k, v);
  }
  try {
    const r = await api("GET", "/api/tickets?" + q.toString());
    $("results").tBodies[0].replaceChildren(...r.tickets.map((t) => el("tr", { "data-ticket": t.id, onclick: () => history(t.id) },
      el("td", {}, t.id), el("td", {}, t.caller), el("td", {}, [t.category1, t.category2, t.category3].filter(Boolean).join("/")),
      el("td", {}, t.unit), el("td", {}, STATUS_NAMES[t.status] || t.status))));
  } catch (e) { $("search-error").textContent = e.message; }
};

async function history(id) {
  const h = await api("GET", `/api/tickets/${encodeURIComponent(id)}/history`).catch((e) => { say(e.message); return null; });
  if (!h) return;
  $("h-title").style.display = "";
  $("h-id").textContent = id;
  $("history").replaceChildren(...h.filter((x) => x.event).map((x) => el("li", { "data-event": x.event },
    `${fmtTime(x.at)} ${EVENT_NAMES[x.event] || x.event}` + (x.note ? `：${x.note}` : ""))));
}

async function loadWorklist() {
  const r = await api("GET", "/api/followups?state=worklist").catch(() => null);
  if (!r) return;
  // tasks taken and not finished: a seat's own (a reloaded page must not lose them); for a
  // supervisor every seat's, to put back on the list when an operator has left
  const taken = await api("GET", "/api/followups?state=calling").catch(() => null);
  const held = taken ? taken.tasks.filter((t) => t.operator && (me.role === "supervisor" || t.operator === me.seat_id)) : [];
  const button = (label, cls, go) => el("button", { type: "button", class: cls, onclick: go }, label);
  const row = (t, ...actions) => el("tr", { "data-task": t.id },
    el("td", {}, t.ticket_id), el("td", {}, t.caller), el("td", {}, t.ticket ? t.ticket.reply.done || "" : ""),
    el("td", {}, String(t.attempts)), el("td", {}, ...actions));
  const seat = me.role === "seat";
  $("worklist").tBodies[0].replaceChildren(
    ...held.map((t) => row(t, ...(seat ? [button("继续", "resume", () => open(t))] : [`座席 ${t.operator} 办理中 `]),
      button("退回", "release", () => release(t)))),
    ...r.tasks.map((t) => row(t, ...(seat ? [button("领取", "take", () => take(t))] : []))));
}

async function release(t) {
  try {
    await api("POST", `/api/followups/${encodeURIComponent(t.id)}/release`);
    if (task && task.id === t.id) { task = null; $("answer").style.display = "none"; }
    say("已退回回访任务列表", true);
  } catch (e) { say(e.message); }
  loadWorklist();
}

function open(t) {
  task = t;
  $("answer").style.display = "";
  $("a-id").textContent = t.ticket_id;
}

async function take(t) {
  try {
    open(await api("POST", `/api/followups/${encodeURIComponent(t.id)}/take`));
    say("已领取，请拨打市民电话", true);
  } catch (e) { say(e.message); }
  loadWorklist();
}

$("a-call").onclick = async () => {
  if (!task) return;
  $("a-call-msg").textContent = "正在呼叫…";
  try {
    const r = await api("POST", `/api/followups/${encodeURIComponent(task.id)}/call`);
    $("a-call-msg").textContent = r.outcome === "answered" ? "已接通" : "未接通";
  } catch (e) { $("a-call-msg").textContent = e.message; }
};

$("a-save").onclick = async () => {
  if (!task) return;
  try {
    const r = await api("POST", `/api/followups/${encodeURIComponent(task.id)}/answer`, {
      solved: $("a-solved").value === "true", satisfaction: $("a-satisfaction").value, words: $("a-words").value });
    say(r.status === "closed" ? "回访完成，工单已办结" : "回访完成，工单已转承办单位重办", true);
    $("answer").style.display = "none";
    task = null;
  } catch (e) { say(e.message); }
  loadWorklist();
};

async function loadReturned() {
  const r = await api("GET", "/api/tickets?status=returned&limit=200").catch((e) => { $("desk-msg").textContent = e.message; return null; });
  if (!r) return;
  $("returned").tBodies[0].replaceChildren(...r.tickets.map((t) => {
    const unit = el("input", { class: "unit", "aria-label": "改派单位", maxlength: "100" });
    const note = el("input", { class: "note", "aria-label": "说明", maxlength: "2000" });
    const act = (path, body, done) => async () => {
      try {
        await api("POST", `/api/tickets/${encodeURIComponent(t.id)}/${path}`, body());
        $("desk-msg").textContent = done;
        $("desk-msg").className = "ok";
        loadReturned();
      } catch (e) { $("desk-msg").textContent = e.message; $("desk-msg").className = "error"; }
    };
    return el("tr", { "data-ticket": t.id },
      el("td", { onclick: () => history(t.id) }, t.id),
      el("td", {}, [t.category1, t.category2, t.category3].filter(Boolean).join("/")),
      el("td", {}, t.unit), el("td", {}, unit), el("td", {}, note),
      el("td", {},
        el("button", { type: "button", class: "redispatch",
          onclick: act("dispatch", () => ({ unit: unit.value.trim(), note: note.value.trim() }), `工单 ${t.id} 已改派`) }, "改派"),
        el("button", { type: "button", class: "close",
          onclick: act("close", () => ({ note: note.value.trim() }), `工单 ${t.id} 已结案`) }, "结案")));
  }));
}

if (me.role === "supervisor") {
  $("desk").style.display = "";
  loadReturned();
  setInterval(loadReturned, 30000);
}
loadWorklist();
setInterval(loadWorklist, 30000);
