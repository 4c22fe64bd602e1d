// The admins' page: teams with their leaders, seats with team, shift and skills, CSV import.
"use strict";

const me = session();
if (!me || me.role !== "admin") toLogin();
const $ = (id) => document.getElementById(id);
const SHOWN = 300;  // rows drawn at once; the filter narrows a centre's 1,500 seats
let roster = { teams: [], seats: [], shifts: [], queues: [] };

function say(id, text, ok) { $(id).textContent = text; $(id).className = ok ? "ok" : "error"; }
function skillsText(skills) { return Object.entries(skills).map(([k, v]) => `${k}:${v}`).join(";"); }

function render() {
  const teamName = Object.fromEntries(roster.teams.map((t) => [t.id, t.name]));
  $("teams").tBodies[0].replaceChildren(...roster.teams.map((t) => el("tr", { "data-team": t.id },
    el("td", {}, t.id), el("td", {}, t.name), el("td", {}, t.leader || "—"), el("td", {}, String(t.seats)),
    el("td", {}, el("button", { type: "button", onclick: () => editTeam(t) }, "编辑"),
      el("button", { type: "button", onclick: () => dropTeam(t) }, "删除")))));
  const teamOptions = (all) => [el("option", { value: "" }, all),
    ...roster.teams.map((t) => el("option", { value: t.id }, t.name))];
  for (const [id, all] of [["seat-team", "（无班组）"], ["filter-team", "全部班组"]]) {
    const chosen = $(id).value;
    $(id).replaceChildren(...teamOptions(all));
    $(id).value = chosen;
  }
  if (!$("seat-shift").options.length) {
    $("seat-shift").replaceChildren(el("option", { value: "" }, "（不固定）"),
      ...roster.shifts.map((s) => el("option", { value: s }, s)));
  }
  const team = $("filter-team").value, text = $("filter-text").value.trim();
  const seats = roster.seats.filter((s) => (!team || s.team === team) &&
    (!text || s.id.includes(text) || s.name.includes(text)));
  $("seat-count").textContent = `共 ${seats.length} 席` + (seats.length > SHOWN ? `，显示前 ${SHOWN} 席` : "");
  $("seats").tBodies[0].replaceChildren(...seats.slice(0, SHOWN).map((s) => el("tr", { "data-seat": s.id },
    el("td", {}, s.id), el("td", {}, s.name), el("td", {}, teamName[s.team] || "—"), el("td", {}, s.shift || "—"),
    el("td", {}, s.queues.join(";")), el("td", {}, skillsText(s.skills)), el("td", {}, s.has_password ? "已设" : "未设"),
    el("td", {}, s.source === "config" ? "配置文件" : "系统"),
    el("td", {}, ...(s.source === "config" ? [] : [
      el("button", { type: "button", onclick: () => editSeat(s) }, "编辑"),
      el("button", { type: "button", onclick: () => dropSeat(s) }, "删除")])))));
}
$("filter-team").onchange = render;
$("filter-text").oninput = render;

async function load() { roster = await api("GET", "/api/admin/roster"); render(); }

function editTeam(t) { $("team-id").value = t.id; $("team-name").value = t.name; $("team-leader").value = t.leader; }
$("team-save").onclick = async () => {
  const id = $("team-id").value.trim();
  if (!id) { say("team-msg", "请填写班组编号"); return; }
  try {
    roster = await api("PUT", `/api/admin/teams/${encodeURIComponent(id)}`,
      { name: $("team-name").value.trim(), leader: $("team-leader").value.trim() });
    render();
    say("team-msg", `班组 ${id} 已保存`, true);
  } catch (e) { say("team-msg", e.message); }
};
async function dropTeam(t) {
  try { roster = await api("DELETE", `/api/admin/teams/${encodeURIComponent(t.id)}`); render(); say("team-msg", "已删除", true); }
  catch (e) { say("team-msg", e.message); }
}

function editSeat(s) {
  $("seat-id").value = s.id; $("seat-name").value = s.name; $("seat-uri").value = s.uri;
  $("seat-team").value = s.team; $("seat-shift").value = s.shift; $("seat-queues").value = s.queues.join(";");
  $("seat-skills").value = skillsText(s.skills); $("seat-wrapup").value = s.wrapup_seconds ?? "";
  $("seat-password").value = "";
}
$("seat-new").onclick = () => editSeat({ id: "", name: "", uri: "", team: "", shift: "", queues: [], skills: {},
  wrapup_seconds: null });
$("seat-save").onclick = async () => {
  const id = $("seat-id").value.trim();
  const skills = {};
  for (const part of $("seat-skills").value.split(";").map((p) => p.trim()).filter(Boolean)) {
    const [name, level] = part.split(":");
    if (!name || !/^\d+$/.test((level || "").trim())) { say("seat-msg", `技能格式应为 名称:等级，而不是 ${part}`); return; }
    skills[name.trim()] = parseInt(level, 10);
  }
  const wrapup = $("seat-wrapup").value.trim();
  const body = { name: $("seat-name").value.trim(), uri: $("seat-uri").value.trim(), team: $("seat-team").value,
    shift: $("seat-shift").value, skills, queues: $("seat-queues").value.split(";").map((q) => q.trim()).filter(Boolean),
    wrapup_seconds: wrapup === "" ? null : parseFloat(wrapup), password: $("seat-password").value };
  if (!id) { say("seat-msg", "请填写座席号"); return; }
  try {
    roster = await api("PUT", `/api/admin/seats/${encodeURIComponent(id)}`, body);
    render();
    $("seat-password").value = "";
    say("seat-msg", `座席 ${id} 已保存`, true);
  } catch (e) { say("seat-msg", e.message); }
};
async function dropSeat(s) {
  try { roster = await api("DELETE", `/api/admin/seats/${encodeURIComponent(s.id)}`); render(); say("seat-msg", "已删除", true); }
  catch (e) { say("seat-msg", e.message); }
}

$("csv-import").onclick = async () => {
  const file = $("csv-file").files[0];
  $("import-problems").replaceChildren();
  if (!file) { say("import-msg", "请选择 CSV 文件"); return; }
  say("import-msg", "正在导入…", true);
  const res = await fetch(`/api/admin/seats/import?name=${encodeURIComponent(file.name)}`, {
    method: "POST", headers: { authorization: "Bearer " + me.token, "content-type": "text/csv" }, body: file });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    say("import-msg", data.error || res.statusText);
    $("import-problems").replaceChildren(...(data.problems || []).map((p) => el("li", {}, p)));
    return;
  }
  roster = data;
  render();
  say("import-msg", `已导入座席 ${data.imported} 席（设置密码 ${data.passwords} 个）` +
    (data.new_teams.length ? `，新建班组：${data.new_teams.join("、")}` : ""), true);
};
$("signout").onclick = async () => { await api("POST", "/api/logout").catch(() => {}); toLogin(); };
load().catch((e) => say("seat-msg", e.message));
