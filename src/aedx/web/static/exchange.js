// The upload form: the file is sent as the raw request body (never a multipart form), its kind,
// format, encoding and name in the query and the CSRF token in a header; the <progress> follows
// the upload. A dry-run shows its report below the form; a submitted file opens its page. A file
// once chosen has its format, encoding and kind recognised from its start and proposed.
"use strict";
(function () {
  const form = document.getElementById("upload");
  if (!form) return;
  const file = document.getElementById("file");
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  const error = document.getElementById("upload-error");
  const result = document.getElementById("dry-run");
  const buttons = form.querySelectorAll("button");

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    file.setAttribute("aria-invalid", "true");
    buttons.forEach(function (b) { b.disabled = false; });
  }

  function send(check) {
    error.hidden = true;
    file.removeAttribute("aria-invalid");
    const chosen = file.files[0];
    if (!chosen) { fail(form.dataset.noFile); file.focus(); return; }
    if (chosen.size > Number(form.dataset.limit)) { fail(form.dataset.tooLarge); return; }
    const query = new URLSearchParams({
      kind: form.elements.kind.value,
      format: form.elements.format.value,
      encoding: form.elements.encoding.value,
      filename: chosen.name.slice(0, 200),
    });
    if (check) query.set("check", "true");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action + "?" + query.toString());
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    buttons.forEach(function (b) { b.disabled = true; });
    bar.value = 0;
    text.textContent = check ? form.dataset.checking : form.dataset.uploading;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      const percent = Math.round((e.loaded / e.total) * 100);
      bar.value = percent;
      text.textContent = (check ? form.dataset.checking : form.dataset.uploading) + " " + percent + "%";
    });
    xhr.addEventListener("error", function () { fail(form.dataset.failed); });
    xhr.addEventListener("load", function () {
      bar.value = 100;
      const type = xhr.getResponseHeader("Content-Type") || "";
      if (xhr.status === 200 && check && type.indexOf("text/html") === 0) {
        text.textContent = "100%";
        result.innerHTML = xhr.responseText;
        result.focus();
        buttons.forEach(function (b) { b.disabled = false; });
        return;
      }
      let answer = null;
      if (type.indexOf("application/json") === 0) {
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      }
      if (xhr.status === 201 && answer && answer.location) {
        text.textContent = form.dataset.done;
        window.location.assign(answer.location);
        return;
      }
      text.textContent = "";
      fail(answer && answer.error ? answer.error : form.dataset.failed);
    });
    xhr.send(chosen);
  }

  // The dry-run's report as a file: the chosen file is checked again and nothing is kept.
  function download(format) {
    const chosen = file.files[0];
    if (!chosen) { fail(form.dataset.noFile); return; }
    const query = new URLSearchParams({
      kind: form.elements.kind.value, format: form.elements.format.value,
      encoding: form.elements.encoding.value, filename: chosen.name.slice(0, 200),
      check: "true", report: format,
    });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action + "?" + query.toString());
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.responseType = "blob";
    xhr.addEventListener("error", function () { fail(form.dataset.failed); });
    xhr.addEventListener("load", function () {
      if (xhr.status !== 200) { fail(form.dataset.failed); return; }
      const header = xhr.getResponseHeader("Content-Disposition") || "";
      const named = /filename\*=UTF-8''([^;]+)/.exec(header);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(xhr.response);
      link.download = named ? decodeURIComponent(named[1]) : "report." + format;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
    xhr.send(chosen);
  }

  result.addEventListener("click", function (e) {
    const button = e.target.closest("button[data-report]");
    if (button) download(button.dataset.report);
  });
  // What the start of the chosen file looks like (format, encoding, kind), proposed in the form.
  const detected = document.getElementById("detected");
  function choose(select, value) {
    if (!value || !Array.prototype.some.call(select.options, function (o) { return o.value === value; })) return;
    select.value = value;
  }
  function detect() {
    detected.hidden = true;
    const chosen = file.files[0];
    if (!chosen || !form.dataset.detect) return;
    const selects = [form.elements.kind, form.elements.format, form.elements.encoding];
    const before = selects.map(function (s) { return s.value; }).join();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.detect);
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.addEventListener("load", function () {
      if (xhr.status !== 200 || file.files[0] !== chosen) return;
      if (selects.map(function (s) { return s.value; }).join() !== before) return;  // chosen by hand meanwhile
      let found = null;
      try { found = JSON.parse(xhr.responseText); } catch (e) { return; }
      choose(form.elements.kind, found.kind);
      choose(form.elements.format, found.format);
      choose(form.elements.encoding, found.encoding);
      if (found.message) { detected.textContent = found.message; detected.hidden = false; }
    });
    xhr.send(chosen.slice(0, 65536));
  }
  file.addEventListener("change", function () { result.innerHTML = ""; detect(); });  // no stale result

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    send(e.submitter && e.submitter.id === "check");
  });
})();
