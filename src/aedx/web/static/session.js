// The idle warning (#idle-warning): shown some minutes before the session's idle limit, with a
// button that keeps the session open (POST /portal/session/renew, with the page's CSRF token);
// once the limit has passed it says so and links to signing in again.
"use strict";
(function () {
  const box = document.getElementById("idle-warning");
  if (!box) return;
  const text = box.querySelector(".idle-text");
  const stay = box.querySelector(".idle-stay");
  const again = box.querySelector(".idle-again");
  const warnBefore = Number(box.dataset.warn) * 1000;
  const GRACE = 1000;  // the server has surely ended the session by then
  let deadline = Date.now() + Number(box.dataset.left) * 1000;
  let shown = "";

  function show(state) {
    if (state === shown) return;
    shown = state;
    if (state === "") {
      box.hidden = true;
      text.textContent = "";
      return;
    }
    box.hidden = false;
    text.textContent = state === "ended" ? box.dataset.ended : box.dataset.warning;  // read out (role=alert)
    stay.hidden = state === "ended";
    again.hidden = state !== "ended";
    if (state === "ended") again.href = location.pathname + location.search;
  }

  function tick() {
    const left = deadline - Date.now();
    if (shown === "ended") return;
    show(left <= -GRACE ? "ended" : left <= warnBefore ? "warning" : "");
  }

  stay.addEventListener("click", async () => {
    stay.disabled = true;
    try {
      const answer = await fetch(box.dataset.renew, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf_token: box.dataset.csrf }),
      });
      if (!answer.ok) {
        show("ended");
        return;
      }
      deadline = Date.now() + (await answer.json()).left * 1000;
      show("");
    } catch (e) {
      // the network failed: the warning stays, the button may be pressed again
    } finally {
      stay.disabled = false;
    }
  });
  setInterval(tick, 1000);
  document.addEventListener("visibilitychange", tick);
  tick();
})();
