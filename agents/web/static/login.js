// The sign-in page: seats, supervisors, unit staff and admins (no inline script: the CSP allows none).
"use strict";
let role = "seat";
sessionStorage.removeItem(TOKEN_KEY);  // a fresh login; the old token (if any) is dropped
const msg = document.getElementById("msg");
msg.textContent = new URLSearchParams(location.search).get("msg") || "";
function pick(r) {
  role = r;
  document.getElementById("tab-seat").classList.toggle("active", r === "seat");
  document.getElementById("tab-sup").classList.toggle("active", r === "supervisor");
  document.getElementById("tab-unit").classList.toggle("active", r === "unit");
  document.getElementById("tab-admin").classList.toggle("active", r === "admin");
  document.getElementById("seat-fields").style.display = r === "seat" ? "" : "none";
  // supervisors and unit staff sign in by name; an empty supervisor name is the shared
  // account of older configs ([web] supervisor_password)
  document.getElementById("unit-fields").style.display = r === "seat" || r === "admin" ? "none" : "";
  document.getElementById("login-label").textContent = r === "unit" ? "单位账号" : "班长账号";
}
document.getElementById("tab-seat").onclick = () => pick("seat");
document.getElementById("tab-sup").onclick = () => pick("supervisor");
document.getElementById("tab-unit").onclick = () => pick("unit");
document.getElementById("tab-admin").onclick = () => pick("admin");
async function login(takeover) {
  const body = { role, password: document.getElementById("password").value, takeover };
  if (role === "seat") body.seat_id = document.getElementById("seat_id").value.trim();
  if (role === "supervisor" || role === "unit") body.login = document.getElementById("login").value.trim();
  try {
    const s = await api("POST", "/api/login", body);
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify(s));
    const pages = { supervisor: "/static/board.html", unit: "/static/unit.html", admin: "/static/admin.html" };
    location.href = pages[s.role] || "/static/seat.html";
  } catch (e) {
    msg.textContent = e.message;
    document.getElementById("takeover").style.display = e.status === 409 ? "" : "none";
  }
}
document.getElementById("form").onsubmit = (ev) => { ev.preventDefault(); login(false); };
document.getElementById("takeover").onclick = () => login(true);
