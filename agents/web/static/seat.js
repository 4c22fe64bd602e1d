// The operator's page: seat state, screen pop, the ticket form with autosave, knowledge lookup.
// Unsaved edits live in localStorage until the server has them, so a reload or a dropped
// connection loses nothing; they are sent again on the next chance.
"use strict";

const me = session();
if (!me || me.role !== "seat") toLogin();
const SEAT = me ? me.seat_id : "";
const $ = (id) => document.getElementById(id);
const FIELDS = ["category1", "category2", "category3", "address", "description", "urgency", "unit"];
const LAST_KEY = `hotline.seat.${SEAT}.ticket`;
const pendingKey = (id) => `hotline.pending.${id}`;

let seat = null, clockOffset = 0, tree = {}, ticket = null, pending = {}, saving = false, saveTimer = null;
let unitAuto = true;  // the unit field holds our suggestion, not the operator's typing

$("who").textContent = `${me ? me.name : ""}（${SEAT}）`;

// --- seat state ---------------------------------------------------------------------------
function now() { return Date.now() / 1000 + clockOffset; }

function showSeat(s) {
  seat = s;
  clockOffset = s.now - Date.now() / 1000;
  const st = $("state");
  st.textContent = STATE_NAMES[s.state] + (s.reason ? `（${REASON_NAMES[s.reason] || s.reason}）` : "");
  st.className = "state state-" + s.state;
  st.dataset.state = s.state;
  const out = s.state === "logged_out";
  $("btn-login").disabled = !out;
  $("btn-ready").disabled = out || s.state === "ready";
  $("btn-busy").disabled = out;
  $("btn-break").disabled = out;
  $("btn-logout").disabled = out;
  $("wrapup").style.display = s.state === "wrap_up" ? "flex" : "none";
  $("pending").textContent = s.pending ? `本次通话结束后将${s.pending === "logged_out" ? "签出" : "示忙"}` : "";
  tick();
}

function tick() {
  if (!seat) return;
  $("timer").textContent = seat.since ? fmtDuration(now() - seat.since) : "00:00";
  if (seat.state === "wrap_up" && seat.wrapup_ends) {
    $("wrapup-left").textContent = Math.max(0, Math.ceil(seat.wrapup_ends - now()));
  }
}
setInterval(tick, 500);

async function command(action, reason) {
  $("state-error").textContent = "";
  try {
    showSeat(await api("POST", `/api/seats/${SEAT}/state`, { action, reason: reason || "" }));
  } catch (e) {
    $("state-error").textContent = e.message;
  }
}

function busyReason() {
  const r = $("reason").value;
  if (r !== "other") return r;
  return (prompt("示忙原因：") || "").trim();
}

$("btn-login").onclick = () => command("login");
$("btn-ready").onclick = () => command("ready");
$("btn-busy").onclick = () => { const r = busyReason(); if (r) command("not_ready", r); };
$("btn-break").onclick = () => command("not_ready", "break");
$("btn-logout").onclick = () => command("logout");
$("btn-done").onclick = () => command("end_wrapup");
$("signout").onclick = async () => { await api("POST", "/api/logout").catch(() => {}); toLogin(); };

// --- screen pop -----------------------------------------------------------------------------
function showPop(offer) {
  if (!offer) return;
  document.body.dataset.popSeatState = seat ? seat.state : "";  // for tests: popped before answering?
  $("pop-empty").style.display = "none";
  $("pop-body").style.display = "";
  const urgency = offer.urgency || "normal";
  $("pop").className = "panel pop " + urgency;
  $("pop-caller").textContent = offer.call.caller;
  $("pop-urgency").textContent = URGENCY_NAMES[urgency] || urgency;
  $("pop-urgency").className = "badge " + urgency;
  $("pop-queue").textContent = offer.call.queue;
  $("pop-waited").textContent = Math.round(offer.call.waited);
  const ivr = offer.ivr || {};
  const choices = Object.entries(ivr.choices || {}).map(([k, v]) => `${k}=${v}`).join("，");
  $("pop-path").textContent = (ivr.path || []).join(" → ") + (choices ? `（${choices}）` : "") || "—";
  $("pop-transcript").textContent = (ivr.transcript || []).join(" / ") || "（未识别到语音）";
  showUnderstanding(ivr.understanding);
  const spot = ivr.hot_spot;
  $("pop-hotspot").style.display = spot ? "block" : "none";
  $("pop-hotspot").textContent = spot ? `已有 ${spot.count} 位市民反映同一问题（${spot.place}）` +
    (spot.tickets.length ? "，关联工单：" + spot.tickets.join("、") : "") : "";
  const list = $("pop-history");
  list.replaceChildren();
  for (const h of offer.history || []) {
    const day = new Date(h.created_at * 1000).toLocaleDateString("zh-CN");
    list.append(el("li", {}, el("span", { class: "badge " + h.status }, STATUS_NAMES[h.status] || h.status),
      ` ${h.id} ${day} ${(h.category || []).filter(Boolean).join("/")}：${h.description || ""}`));
  }
  if (!list.children.length) list.append(el("li", { class: "muted" }, "无"));
  openTicket(offer.ticket);
}

// What the line understood of the caller's words; Alt+1..3 takes a suggested category (and the
// place as the address when the form has none).
let suggestions = [];
function showUnderstanding(u) {
  suggestions = u ? u.categories || [] : [];
  $("pop-understanding").style.display = u ? "" : "none";
  if (!u) return;
  const intent = u.intent === "unclear" ? "意图不明" : u.intent;
  $("pop-intent").textContent = `${intent}（${Math.round((u.confidence || 0) * 100)}%）${(u.intent_words || []).join("、")}`;
  $("pop-urgent").textContent = u.urgent ? "紧急：" + (u.urgent_words || []).join("、") : "";
  $("pop-urgent").style.display = u.urgent ? "" : "none";
  $("pop-place").textContent = u.address ? "地点：" + u.address : "";
  $("pop-suggestions").replaceChildren(...suggestions.map((c, i) => {
    const take = el("button", { type: "button", class: "take" }, `采用 Alt+${i + 1}`);
    take.onclick = () => takeSuggestion(i, u);
    return el("li", {}, `${c}${u.units && u.units[i] ? "（" + u.units[i] + "）" : ""} `, take);
  }));
  $("pop-suggestions").dataset.address = u.address || "";
}

function takeSuggestion(i, u) {
  const path = suggestions[i];
  if (!path) return;
  const [c1, c2, c3] = path.split("/");
  if (u && u.address && !$("address").value) { $("address").value = u.address; changed("address", u.address); }
  setCategory(c1 || "", c2 || "", c3 || "");
}

// --- ticket form with autosave --------------------------------------------------------------
function fillSelect(sel, options, value) {
  sel.replaceChildren(el("option", { value: "" }, "—"));
  for (const o of options) sel.append(el("option", { value: o }, o));
  if (value && !options.includes(value)) sel.append(el("option", { value }, value));
  sel.value = value || "";
}

function fillCategories(c1, c2, c3) {
  fillSelect($("category1"), Object.keys(tree), c1);
  fillSelect($("category2"), c1 && tree[c1] ? Object.keys(tree[c1]) : [], c2);
  fillSelect($("category3"), c1 && c2 && tree[c1] && tree[c1][c2] ? tree[c1][c2] : [], c3);
}

function openTicket(t) {
  if (ticket && ticket.id !== t.id) flushNow();
  ticket = t;
  localStorage.setItem(LAST_KEY, t.id);
  try { pending = JSON.parse(localStorage.getItem(pendingKey(t.id)) || "{}"); } catch { pending = {}; }
  const v = { ...t, ...pending };  // edits the server has not confirmed win over its copy
  $("ticket-empty").style.display = "none";
  $("ticket").style.display = "";
  $("t-id").textContent = t.id;
  showStatus(v.status);
  fillCategories(v.category1, v.category2, v.category3);
  for (const f of ["address", "description", "urgency", "unit"]) $(f).value = v[f] || "";
  unitAuto = !v.unit;
  $("ticket-error").textContent = "";
  $("savestate").textContent = Object.keys(pending).length ? "有未保存的修改，正在保存…" : "已保存";
  if (Object.keys(pending).length) scheduleSave(0);
  else if (!v.unit) suggestUnit();
}

function showStatus(status) {
  $("t-status").textContent = STATUS_NAMES[status] || status;
  $("t-status").className = "badge " + status;
}

function changed(field, value) {
  if (!ticket) return;
  pending[field] = value;
  localStorage.setItem(pendingKey(ticket.id), JSON.stringify(pending));
  $("savestate").textContent = "正在输入…";
  scheduleSave(400);
}

function scheduleSave(ms) {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(save, ms);
}

function flushNow() { if (ticket && Object.keys(pending).length) save(); }

async function save() {
  if (!ticket || saving) { if (saving) scheduleSave(300); return; }
  const id = ticket.id, sent = { ...pending };
  if (!Object.keys(sent).length) return;
  saving = true;
  try {
    const t = await api("PATCH", `/api/tickets/${id}`, { fields: sent });
    for (const [k, v] of Object.entries(sent)) if (pending[k] === v) delete pending[k];
    localStorage.setItem(pendingKey(id), JSON.stringify(pending));
    if (!Object.keys(pending).length) localStorage.removeItem(pendingKey(id));
    if (ticket && ticket.id === id) {
      ticket = t;
      showStatus(t.status);
      $("ticket-error").textContent = "";
      $("savestate").textContent = `已保存 ${new Date().toLocaleTimeString("zh-CN")}`;
      $("savestate").className = "savestate ok";
    }
  } catch (e) {
    if (e.status === 0 || e.status >= 500) {
      $("savestate").textContent = "未保存（连接中断），稍后自动重试";
      $("savestate").className = "savestate error";
      scheduleSave(2000);
    } else {
      // refused: the server changed nothing; keep the text on screen, drop the refused change
      $("ticket-error").textContent = e.message;
      $("savestate").textContent = "保存被拒绝";
      $("savestate").className = "savestate error";
      if ("status" in sent) { delete pending.status; showStatus(ticket.status); }
      localStorage.setItem(pendingKey(id), JSON.stringify(pending));
    }
  } finally {
    saving = false;
  }
}

for (const f of ["address", "description", "unit"]) {
  $(f).addEventListener("input", () => {
    if (f === "unit") unitAuto = false;
    changed(f, $(f).value);
  });
}
$("address").addEventListener("change", () => { if (unitAuto) suggestUnit(); });
$("urgency").onchange = () => changed("urgency", $("urgency").value);
$("category1").onchange = () => setCategory($("category1").value, "", "");
$("category2").onchange = () => setCategory($("category1").value, $("category2").value, "");
$("category3").onchange = () => setCategory($("category1").value, $("category2").value, $("category3").value);

function setCategory(c1, c2, c3) {
  fillCategories(c1, c2, c3);
  changed("category1", c1);
  changed("category2", c2);
  changed("category3", c3);
  if (unitAuto || !$("unit").value) suggestUnit();
}

async function suggestUnit() {
  const q = new URLSearchParams({ category1: $("category1").value, category2: $("category2").value,
    category3: $("category3").value, address: $("address").value });
  if (!$("category1").value) return;
  try {
    const { unit } = await api("GET", "/api/units/suggest?" + q);
    $("unit-hint").textContent = unit ? `建议：${unit}` : "";
    if (unit && (unitAuto || !$("unit").value) && $("unit").value !== unit) {
      $("unit").value = unit;
      unitAuto = true;
      changed("unit", unit);
    }
  } catch { /* a suggestion is optional */ }
}

async function finish(status) {
  if (!ticket) return;
  changed("status", status);
  await save();
}
$("btn-save").onclick = () => { clearTimeout(saveTimer); save(); };
$("btn-dispatch").onclick = () => finish("dispatched");
$("btn-close").onclick = () => finish("closed");

// --- category type-ahead --------------------------------------------------------------------
let catItems = [], catActive = 0, catTimer = null;
$("cat-search").addEventListener("input", () => {
  clearTimeout(catTimer);
  catTimer = setTimeout(searchCategories, 120);
});
async function searchCategories() {
  const q = $("cat-search").value.trim();
  const list = $("cat-list");
  if (!q) { list.hidden = true; return; }
  catItems = await api("GET", "/api/taxonomy/search?q=" + encodeURIComponent(q)).catch(() => []);
  catActive = 0;
  list.replaceChildren(...catItems.map((c, i) => el("li", { class: i === 0 ? "active" : "",
    onmousedown: (ev) => { ev.preventDefault(); chooseCategory(i); } }, c.path)));
  list.hidden = !catItems.length;
}
function chooseCategory(i) {
  const c = catItems[i];
  if (!c) return;
  $("cat-list").hidden = true;
  $("cat-search").value = "";
  setCategory(c.category1, c.category2, c.category3);
  $("address").focus();
}
$("cat-search").addEventListener("keydown", (ev) => {
  const items = $("cat-list").children;
  if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
    ev.preventDefault();
    if (!items.length) return;
    items[catActive].classList.remove("active");
    catActive = (catActive + (ev.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
    items[catActive].classList.add("active");
  } else if (ev.key === "Enter") {
    ev.preventDefault();
    chooseCategory(catActive);
  } else if (ev.key === "Escape") {
    $("cat-list").hidden = true;
  }
});
$("cat-search").addEventListener("blur", () => setTimeout(() => { $("cat-list").hidden = true; }, 150));

// --- knowledge base -------------------------------------------------------------------------
let kbTimer = null;
$("kb-q").addEventListener("input", () => {
  clearTimeout(kbTimer);
  kbTimer = setTimeout(async () => {
    const q = $("kb-q").value.trim();
    const found = q ? await api("GET", "/api/knowledge?q=" + encodeURIComponent(q)).catch(() => []) : [];
    $("kb-list").replaceChildren(...found.map((a) =>
      el("li", {}, el("b", {}, a.title), el("div", { class: "answer" }, a.answer))));
  }, 150);
});

// --- keyboard -------------------------------------------------------------------------------
document.addEventListener("keydown", (ev) => {
  const ctrl = ev.ctrlKey || ev.metaKey;
  const keys = {
    F2: () => $("btn-ready").click(), F3: () => $("btn-busy").click(), F4: () => $("btn-break").click(),
    F8: () => { if (seat && seat.state === "wrap_up") $("btn-done").click(); },
  };
  if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); return; }
  if (ev.altKey && ["1", "2", "3"].includes(ev.key)) {
    ev.preventDefault();
    const address = $("pop-suggestions").dataset.address;
    takeSuggestion(Number(ev.key) - 1, { address });
    return;
  }
  if (ev.altKey && callKey(ev.key.toLowerCase())) { ev.preventDefault(); return; }
  if (!ctrl) return;
  if (ev.key === "s") { ev.preventDefault(); $("btn-save").click(); }
  else if (ev.key === "Enter") { ev.preventDefault(); $("btn-dispatch").click(); }
  else if (ev.key === "k") { ev.preventDefault(); $("cat-search").focus(); }
  else if (ev.key === "j") { ev.preventDefault(); $("kb-q").focus(); }
});
window.addEventListener("online", flushNow);
window.addEventListener("beforeunload", flushNow);

// --- start ----------------------------------------------------------------------------------
function banner(text) { $("banner").textContent = text; $("banner").style.display = text ? "block" : "none"; }

async function start() {
  const [who, tax] = await Promise.all([api("GET", "/api/me"), api("GET", "/api/taxonomy")]);
  tree = tax.tree;
  showSeat(who.seat);
  if ((who.leads || []).length) $("team-board").style.display = "";  // a team leader's board
  const { offer } = await api("GET", `/api/seats/${SEAT}/offer`);
  if (offer) showPop(offer);
  else {
    const last = localStorage.getItem(LAST_KEY);  // the ticket of the last call, if still ours
    const t = last ? await api("GET", `/api/tickets/${last}`).catch(() => null) : null;
    if (t) openTicket(t);
    else localStorage.removeItem(LAST_KEY);
  }
  loadTargets();
  seatSocket = live({
    seat: (m) => showSeat(m.seat),
    call: (m) => showCall(m.call),
    control: (m) => controlAnswer(m),
    offer: (m) => { if (m.offer && (!ticket || m.offer.ticket.id !== ticket.id)) showPop(m.offer); },
    fatal: (m) => {
      banner(m.error);
      if (m.status === 401 || m.type === "revoked") setTimeout(() => toLogin(m.error), 2500);
    },
  });
}
start().catch((e) => banner("启动失败：" + e.message));
