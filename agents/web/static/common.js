// Shared by the seat and supervisor pages: the session token, API calls, the live socket.
"use strict";

const TOKEN_KEY = "hotline.token";

function session() {
  try { return JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null"); } catch { return null; }
}

function toLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  location.href = "/static/index.html" + (message ? "?msg=" + encodeURIComponent(message) : "");
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const s = session();
  const headers = { "content-type": "application/json" };
  if (s) headers.authorization = "Bearer " + s.token;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "网络中断");
  }
  if (res.status === 401 && s) { toLogin("登录已失效，请重新登录"); throw new ApiError(401, "未登录"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.error || res.statusText);
  return data;
}

// One WebSocket that reconnects with back-off; onOpen runs on every (re)connect.
function live(handlers) {
  let delay = 500, ws = null, stopped = false;
  const dot = document.getElementById("live");
  function retry() {
    if (stopped) return;
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 5000);
  }
  async function connect() {
    const s = session();
    if (!s || stopped) return;
    // the token stays in headers: the socket opens with a one-use ticket asked for over the API
    let ticket;
    try {
      ticket = (await api("POST", "/api/live/ticket")).ticket;
    } catch (e) {
      if (e.status === 401) return;  // api() has gone back to the sign-in page
      retry();
      return;
    }
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/api/live?ticket=${encodeURIComponent(ticket)}`);
    ws.onopen = () => { delay = 500; if (dot) dot.classList.add("on"); };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "error" || msg.type === "revoked") { stopped = true; handlers.fatal(msg); return; }
      const fn = handlers[msg.type];
      if (fn) fn(msg);
    };
    ws.onclose = () => {
      if (dot) dot.classList.remove("on");
      retry();
    };
  }
  setInterval(() => { if (ws && ws.readyState === 1) ws.send("ping"); }, 20000);
  connect();
  return {
    close() { stopped = true; if (ws) ws.close(); },
    send(msg) { if (!ws || ws.readyState !== 1) return false; ws.send(JSON.stringify(msg)); return true; },
  };
}

function fmtDuration(s) {
  if (s === null || s === undefined || isNaN(s)) return "—";
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
function secs(x) { return x === null || x === undefined ? "—" : x.toFixed(1) + " 秒"; }

const STATE_NAMES = { logged_out: "未签入", ready: "就绪", not_ready: "示忙", ringing: "振铃",
  talking: "通话中", wrap_up: "话后处理" };
const REASON_NAMES = { break: "小休", training: "培训", meeting: "会议", lunch: "用餐", no_answer: "未接听",
  login: "签入" };
const STATUS_NAMES = { draft: "草稿", open: "已受理", dispatched: "已派单", accepted: "已接单",
  returned: "已退单", replied: "已反馈", reopened: "重办", closed: "已办结" };
const EVENT_NAMES = { dispatch: "派单", redispatch: "重新派单", accept: "接单", return: "退单", note: "办理进展",
  reply: "办结反馈", reopen: "重办", close: "结案", followup: "回访", remind: "督办提醒",
  transfer: "转接", call: "通话操作" };
const RESULT_NAMES = { solved: "已解决", explained: "已解释说明", unsolvable: "无法解决" };

// "还剩 2天3小时" / "已超时 5小时": a deadline as a unit reads it
function timeLeft(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.abs(seconds), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
    m = Math.floor((s % 3600) / 60);
  const text = d ? `${d}天${h}小时` : h ? `${h}小时${m}分` : `${m}分`;
  return seconds < 0 ? `已超时 ${text}` : `还剩 ${text}`;
}

function fmtTime(epoch) {
  if (!epoch) return "—";
  const d = new Date(epoch * 1000), p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
const URGENCY_NAMES = { normal: "一般", urgent: "紧急", critical: "特急" };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e[k] = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
