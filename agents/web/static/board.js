// The supervisor's page: live board over the socket, charts every 30 s, reports as CSV, the
// audit trail.
"use strict";

const me = session();
// the supervisor on duty; or a team leader (a seat session), who gets their team's board by polling
// (their seat page holds the seat's one live socket) and neither reports nor 督办
const LEADER = !!me && me.role === "seat";
if (!me || (me.role !== "supervisor" && !LEADER)) toLogin();
const $ = (id) => document.getElementById(id);
let board = null, offset = 0;
const TH_KEY = "hotline.alert_wait";

function threshold() {
  const v = parseFloat($("threshold").value);
  return isNaN(v) ? (board ? board.alert_wait_seconds : 60) : v;
}
$("threshold").onchange = () => { localStorage.setItem(TH_KEY, $("threshold").value); render(); };

function render() {
  if (!board) return;
  const now = Date.now() / 1000 + offset, th = threshold(), alerts = [];
  const cards = board.queues.map((q) => {
    // the oldest caller keeps waiting between pushes: extrapolate from the push time
    const longest = q.in_queue ? q.longest_wait + (now - board.now) : 0;
    const alert = q.in_queue > 0 && longest > th;
    if (alert) alerts.push(`队列 ${q.queue} 最长等待 ${Math.round(longest)} 秒，超过 ${th} 秒`);
    return el("section", { class: "panel queue" + (alert ? " alert" : ""), "data-queue": q.queue },
      el("h2", {}, `队列 ${q.queue}`),
      el("div", {}, el("span", { class: "big", "data-field": "waiting" }, String(q.waiting)), " 位等待"),
      el("dl", {},
        el("dt", {}, "最长等待"), el("dd", { "data-field": "longest" }, fmtDuration(longest)),
        el("dt", {}, `服务水平（${q.service_level_seconds} 秒内）`), el("dd", { "data-field": "sl" }, pct(q.service_level)),
        el("dt", {}, "平均应答（ASA）"), el("dd", {}, secs(q.asa)),
        el("dt", {}, "放弃率"), el("dd", {}, pct(q.abandon_rate)),
        el("dt", {}, "平均处理时长（AHT）"), el("dd", {}, secs(q.aht)),
        el("dt", {}, "今日进线 / 接通 / 放弃"), el("dd", { "data-field": "counts" },
          `${q.entered} / ${q.answered} / ${q.abandoned}`),
        el("dt", {}, "就绪 / 签入座席"), el("dd", {}, `${q.ready} / ${q.logged_in}`)));
  });
  $("queues").replaceChildren(...cards);
  renderCentre();
  for (const h of board.hot_spots || []) alerts.push(`热点：${h.place} ${h.category} 已有 ${h.calls} 位市民反映`);
  $("alerts").textContent = "⚠ " + alerts.join("；");
  $("alerts").style.display = alerts.length ? "block" : "none";
  const team = $("team-filter").value;
  const seats = board.seats.filter((s) => !team || s.team === team);
  const byState = {};
  for (const s of seats) byState[s.state] = (byState[s.state] || 0) + 1;
  $("by-state").textContent = Object.entries(byState)
    .map(([s, n]) => `${STATE_NAMES[s] || s} ${n}`).join(" · ");
  $("seats").tBodies[0].replaceChildren(...seats.map((s) => el("tr", { "data-seat": s.seat_id },
    el("td", {}, s.seat_id), el("td", {}, s.name), el("td", {}, s.team_name || "—"), el("td", {}, s.shift || "—"),
    el("td", { class: "state-" + s.state }, STATE_NAMES[s.state] + (s.reason ? `（${REASON_NAMES[s.reason] || s.reason}）` : "")),
    el("td", {}, s.since ? fmtDuration(now - s.since) : "—"), el("td", {}, ...superviseButtons(s)),
    el("td", {}, String(s.calls_today)))));
}

// A leader on a call: listen in, whisper to the operator, barge in, take over, leave.
const MODE_NAMES = { listen: "监听", whisper: "耳语", barge: "强插", takeover: "接管", leave: "退出" };
function superviseButtons(s) {
  if (s.state !== "talking") return [];
  const modes = s.supervised ? ["listen", "whisper", "barge", "takeover", "leave"].filter((m) => m !== s.supervised)
    : ["listen", "whisper", "barge", "takeover"];
  return [
    ...(s.supervised ? [el("span", { class: "muted" }, `${MODE_NAMES[s.supervised]}中（${s.supervisor}） `)] : []),
    ...modes.map((m) => el("button", { type: "button", "data-mode": m, onclick: () => supervise(s.seat_id, m) },
      MODE_NAMES[m])),
  ];
}
async function supervise(seat, mode) {
  $("supervise-msg").textContent = mode === "leave" ? "" : "正在呼叫您的话机…";
  try {
    await api("POST", `/api/seats/${encodeURIComponent(seat)}/supervise`, { mode, phone: $("my-phone").value.trim() });
    $("supervise-msg").textContent = "";
  } catch (e) { $("supervise-msg").textContent = e.message; }
}
$("my-phone").value = localStorage.getItem("hotline.my_phone") || "";
$("my-phone").onchange = () => localStorage.setItem("hotline.my_phone", $("my-phone").value.trim());
$("team-filter").onchange = render;
function renderTeams() {
  const select = $("team-filter"), chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "全部班组"),
    ...(board.teams || []).map((t) => el("option", { value: t.id }, `${t.name}（${t.seats} 席）`)));
  select.value = chosen;
}
setInterval(render, 1000);

// A centre of several nodes: the whole centre's figures, and each node (calls now, handled, state).
const NODE_STATES = { up: "运行", stale: "无响应", down: "已宕机", stopped: "已停止" };
function renderCentre() {
  const nodes = board.nodes || [], c = board.centre;
  $("centre-panel").style.display = nodes.length ? "" : "none";
  if (!nodes.length || !c) return;
  $("centre").textContent = `全中心：${c.waiting} 位等待 · 今日进线 ${c.entered} / 接通 ${c.answered} / 放弃 ${c.abandoned}` +
    ` · 当前通话 ${c.calls_now} · 运行节点 ${c.nodes_up} / ${nodes.length}`;
  $("nodes").tBodies[0].replaceChildren(...nodes.map((n) => el("tr", { "data-node": n.node, class: "node-" + n.state },
    el("td", {}, n.node + (n.this ? "（本机）" : "")), el("td", { "data-field": "state" }, NODE_STATES[n.state] || n.state),
    el("td", { "data-field": "calls_now" }, String(n.calls_now)), el("td", {}, String(n.calls_handled)))));
}

// Hot spots: drawn when a board arrives (not every second), so a unit being typed survives.
const units = {};
function renderHotSpots() {
  const spots = board.hot_spots || [];
  $("hotspots-panel").style.display = spots.length ? "" : "none";
  $("hotspots").replaceChildren(...spots.map((h) => {
    const unit = el("input", { type: "text", placeholder: "承办单位", "aria-label": "承办单位", value: units[h.id] || "" });
    unit.oninput = () => { units[h.id] = unit.value; };
    const send = el("button", { type: "button", class: "dispatch" }, "一并派单");
    send.onclick = () => dispatchAll(h, unit.value);
    return el("li", { "data-hotspot": h.id, class: h.urgent ? "urgent" : "" },
      el("strong", {}, `${h.place} · ${h.category}`), ` 已有 ${h.calls} 位市民反映同一问题`,
      el("div", { class: "muted", "data-field": "tickets" },
        "关联工单：" + ((h.tickets || []).join("、") || "（尚未生成）")),
      unit, " ", send);
  }));
}

async function dispatchAll(h, unit) {
  $("hotspot-error").textContent = "";
  try {
    const r = await api("POST", "/api/hotspots/dispatch", { id: h.id, unit: unit.trim() });
    $("hotspot-error").textContent = `已派单 ${r.dispatched.length} 件至 ${r.unit}`;
  } catch (e) { $("hotspot-error").textContent = e.message; }
}

async function loadCharts() {
  const c = await api("GET", "/api/charts").catch(() => null);
  if (!c) return;
  chart($("chart-calls"), [
    { values: c.entered, color: "#1f6feb", label: "进线", kind: "bar" },
    { values: c.answered, color: "#3fb950", label: "接通", kind: "bar" },
    { values: c.abandoned, color: "#d1242f", label: "放弃", kind: "bar" },
  ], { bucket: c.bucket_seconds, start: c.day_start });
  chart($("chart-sl"), [{ values: c.service_level, color: "#8250df", label: "服务水平", kind: "line" }],
    { bucket: c.bucket_seconds, start: c.day_start, max: 1, format: (v) => Math.round(v * 100) + "%" });
  chart($("chart-waiting"), [{ values: c.waiting, color: "#bf8700", label: "排队人数", kind: "line" }],
    { bucket: c.waiting_bucket_seconds, start: c.day_start });
}
setInterval(loadCharts, 30000);

// --- reports --------------------------------------------------------------------------------
const today = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 10);
$("from").value = today;
$("to").value = today;
const COLS = {
  queues: [["queue", "队列"], ["entered", "进线"], ["answered", "接通"], ["abandoned", "放弃"],
    ["service_level", "服务水平", pct], ["asa", "ASA", secs], ["abandon_rate", "放弃率", pct], ["aht", "AHT", secs]],
  operators: [["seat_id", "座席"], ["name", "姓名"], ["team", "班组"], ["calls", "接听"], ["aht", "AHT", secs],
    ["wrapup_seconds", "话后处理", fmtDuration], ["not_ready_seconds", "示忙", fmtDuration],
    ["surveys", "评价数"], ["satisfaction_rate", "满意率", pct]],
  teams: [["team", "班组"], ["seats", "座席数"], ["calls", "接听"], ["aht", "平均处理时长", secs],
    ["not_ready_seconds", "小休时长", secs], ["surveys", "评价数"], ["satisfaction_rate", "满意率", pct]],
  units: [["name", "名称"], ["received", "受理"], ["replied", "反馈"], ["on_time_rate", "按时率", pct],
    ["returned_rate", "退单率", pct], ["reopened_rate", "重办率", pct], ["followups", "回访"],
    ["resolution_rate", "解决率", pct], ["satisfaction_rate", "满意率", pct]],
};
function range() { return `from=${$("from").value}&to=${$("to").value}`; }
function group() { return `&group=${$("unit-group").value}`; }

$("preview").onclick = async () => {
  $("report-error").textContent = "";
  try {
    const parts = [];
    for (const kind of ["queues", "operators", "teams", "units"]) {
      const r = await api("GET", `/api/reports/${kind}?${range()}${kind === "units" ? group() : ""}`);
      parts.push(el("table", { "data-report": kind },
        el("thead", {}, el("tr", {}, ...COLS[kind].map(([, h]) => el("th", {}, h)))),
        el("tbody", {}, ...r.rows.map((row) => el("tr", {}, ...COLS[kind].map(([k, , f]) =>
          el("td", {}, f ? f(row[k]) : String(row[k] ?? "—"))))))));
    }
    $("report").replaceChildren(...parts);
  } catch (e) { $("report-error").textContent = e.message; }
};

async function download(kind) {
  $("report-error").textContent = "";
  const res = await fetch(`/api/reports/${kind}?${range()}${kind === "units" ? group() : ""}&format=csv`,
    { headers: { authorization: "Bearer " + me.token } });
  if (!res.ok) { $("report-error").textContent = (await res.json()).error; return; }
  const a = el("a", { href: URL.createObjectURL(await res.blob()),
    download: `${kind}-${$("from").value}-${$("to").value}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
}
$("csv-queues").onclick = () => download("queues");
$("csv-operators").onclick = () => download("operators");
$("csv-units").onclick = () => download("units");
$("csv-teams").onclick = () => download("teams");
$("signout").onclick = async () => { await api("POST", "/api/logout").catch(() => {}); toLogin(); };

// --- 督办: tickets at units due soon or overdue, and the holiday calendar's coverage -----------
async function loadOversight() {
  const o = await api("GET", "/api/oversight").catch(() => null);
  if (!o) return;
  $("calendar-warning").replaceChildren(...o.warnings.map((w) => el("div", {}, "⚠ " + w)));
  $("oversight-counts").textContent = `超期 ${o.overdue} 件 · 即将到期 ${o.due_soon} 件`;
  $("oversight-units").tBodies[0].replaceChildren(...o.units.map((u) => el("tr", { "data-unit": u.unit },
    el("td", {}, u.unit), el("td", { class: u.overdue ? "error" : "" }, String(u.overdue)),
    el("td", {}, String(u.due_soon)))));
}
setInterval(loadOversight, 30000);

// --- 知识库维护: add, change, retire; every version is kept by the server -------------------
function kbSay(text, ok) { $("kb-msg").textContent = text; $("kb-msg").className = ok ? "ok" : "error"; }
function kbEdit(a) {
  $("kb-id").value = a ? a.id : "";
  $("kb-title").value = a ? a.title : "";
  $("kb-keywords").value = a ? a.keywords.join("，") : "";
  $("kb-answer").value = a ? a.answer : "";
}
async function loadArticles() {
  const list = await api("GET", "/api/knowledge/articles").catch(() => null);
  if (!list) return;
  $("kb-list").tBodies[0].replaceChildren(...list.map((a) => el("tr", { "data-article": a.id },
    el("td", {}, String(a.id)), el("td", {}, a.title), el("td", {}, "v" + a.version),
    el("td", {}, a.retired ? "已停用" : "使用中"),
    el("td", {}, a.retired ? "" : el("button", { type: "button", class: "edit", onclick: () => kbEdit(a) }, "修改"),
      a.retired ? "" : el("button", { type: "button", class: "retire", onclick: () => kbRetire(a) }, "停用")))));
}
async function kbRetire(a) {
  try { await api("POST", `/api/knowledge/articles/${a.id}/retire`); kbSay(`已停用：${a.title}`, true); }
  catch (e) { kbSay(e.message); }
  loadArticles();
}
$("kb-new").onclick = () => kbEdit(null);
$("kb-save").onclick = async () => {
  const body = { title: $("kb-title").value.trim(), answer: $("kb-answer").value.trim(),
    keywords: $("kb-keywords").value.split(/[,，\s]+/).filter(Boolean) };
  const id = $("kb-id").value;
  try {
    const saved = await api(id ? "PATCH" : "POST", id ? `/api/knowledge/articles/${id}` : "/api/knowledge/articles", body);
    kbEdit(saved);
    kbSay(`已保存（v${saved.version}）`, true);
  } catch (e) { kbSay(e.message); }
  loadArticles();
};

// --- start ----------------------------------------------------------------------------------
$("threshold").value = localStorage.getItem(TH_KEY) || "";
const handlers = {
  board: (m) => {
    const entered = board ? board.queues.reduce((n, q) => n + q.entered, 0) : -1;
    board = m.board;
    offset = board.now - Date.now() / 1000;
    if (!$("threshold").value) $("threshold").placeholder = board.alert_wait_seconds;
    renderTeams();
    render();
    if (LEADER) return;
    if (board.queues.reduce((n, q) => n + q.entered, 0) !== entered) loadCharts();
    loadOversight();
    loadArticles();
    renderHotSpots();
  },
  fatal: (m) => toLogin(m.error),
};
// --- audit trail (who signed in, read, exported, deleted) -----------------------------------
async function loadAudit() {
  $("audit-error").textContent = "";
  const q = new URLSearchParams({ actor: $("audit-actor").value.trim(), action: $("audit-action").value.trim(),
    limit: "200" });
  try {
    const r = await api("GET", `/api/audit?${q}`);
    $("audit-entries").tBodies[0].replaceChildren(...r.entries.map((e) => el("tr", {},
      el("td", {}, new Date(e.at * 1000).toLocaleString("zh-CN", { hour12: false })),
      el("td", {}, e.actor), el("td", {}, e.action), el("td", {}, e.subject),
      el("td", {}, e.address), el("td", {}, e.detail))));
  } catch (e) { $("audit-error").textContent = e.message; }
}
$("audit-load").onclick = loadAudit;

if (LEADER) {
  document.title = "12345 · 班组监控";
  for (const part of [$("oversight"), $("preview").closest("section"), $("kb-editor"), $("kb-list").closest("section"),
    document.querySelector(".charts"), $("my-phone").parentElement, $("team-filter").parentElement, $("audit")]) {
    part.style.display = "none";
  }
  const poll = async () => {
    try { handlers.board({ board: await api("GET", "/api/board") }); }
    catch (e) { $("supervise-msg").textContent = e.message; }
  };
  poll();
  setInterval(poll, 2000);
} else {
  live(handlers);
  loadCharts();
  loadOversight();
  loadArticles();
  loadAudit();
}
