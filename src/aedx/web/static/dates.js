// A small day picker for the ROC date fields (input.roc-date): a button opens a month of days;
// choosing one writes it as 115/12/05. Typing stays the main way in: the server reads the field.
"use strict";
(function () {
  const ROC = 1911;
  const zh = document.documentElement.lang.startsWith("zh");
  const WEEK = zh ? ["日", "一", "二", "三", "四", "五", "六"] : ["Su", "Mo", "Tu", "We", "Th", "Fr", "Sa"];
  const pad = (n) => String(n).padStart(2, "0");
  const show = (d) => `${d.getFullYear() - ROC}/${pad(d.getMonth() + 1)}/${pad(d.getDate())}`;

  function read(text) {  // the same forms web/dates.py reads, enough to open the right month
    const t = text.replace(/^\s*民國\s*/, "").trim();
    const m = t.match(/^(\d{1,4})\D+(\d{1,2})\D+(\d{1,2})\D*$/) || t.match(/^(\d{3,4})(\d{2})(\d{2})$/);
    if (!m) return null;
    const year = m[1].length === 4 ? +m[1] : +m[1] + ROC;
    const d = new Date(year, +m[2] - 1, +m[3]);
    return d.getMonth() === +m[2] - 1 ? d : null;
  }

  function button(text, label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function attach(input) {
    const picker = document.createElement("div");
    picker.className = "roc-picker";
    picker.hidden = true;
    let month = null;
    const close = () => { picker.hidden = true; input.focus(); };
    function draw() {
      picker.replaceChildren();
      const head = document.createElement("div");
      head.className = "roc-picker-head";
      const title = document.createElement("span");
      title.textContent = zh ? `民國 ${month.getFullYear() - ROC} 年 ${month.getMonth() + 1} 月`
                             : `${month.getFullYear() - ROC}/${pad(month.getMonth() + 1)} (ROC)`;
      const step = (n) => () => { month = new Date(month.getFullYear(), month.getMonth() + n, 1); draw(); };
      head.append(button("‹", input.dataset.previous, step(-1)), title, button("›", input.dataset.next, step(1)));
      const grid = document.createElement("div");
      grid.className = "roc-picker-days";
      for (const w of WEEK) { const s = document.createElement("span"); s.textContent = w; grid.append(s); }
      for (let i = 0; i < month.getDay(); i++) grid.append(document.createElement("span"));
      const days = new Date(month.getFullYear(), month.getMonth() + 1, 0).getDate();
      for (let day = 1; day <= days; day++) {
        const d = new Date(month.getFullYear(), month.getMonth(), day);
        grid.append(button(String(day), show(d), () => { input.value = show(d); close(); }));
      }
      picker.append(head, grid);
    }
    const open = button(input.dataset.choose, null, () => {
      if (!picker.hidden) { picker.hidden = true; return; }
      const d = read(input.value) || new Date();
      month = new Date(d.getFullYear(), d.getMonth(), 1);
      draw();
      picker.hidden = false;
      picker.querySelector(".roc-picker-days button")?.focus();
    });
    open.className = "roc-open";
    picker.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
    input.addEventListener("change", () => { const d = read(input.value); if (d) input.value = show(d); });
    input.after(open, picker);
  }

  document.querySelectorAll("input.roc-date").forEach(attach);
})();
