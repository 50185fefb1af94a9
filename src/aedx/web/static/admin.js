// The management pages: a "copy" button beside what an administrator hands on (a certificate's
// PEM, a client id). Without JavaScript the buttons stay hidden; the text can still be selected,
// and a certificate downloaded.
"use strict";
(function () {
  function copied(button) {
    const status = button.parentElement.querySelector(".copied");
    if (status) status.textContent = button.dataset.copied;
  }

  function copy(button) {
    const target = document.getElementById(button.dataset.copy);
    if (!target) return;
    const text = "value" in target ? target.value : target.textContent;
    const byHand = function () {  // older browsers, or a page not served over TLS
      const range = document.createRange();
      const selection = window.getSelection();
      if ("select" in target) { target.select(); } else { range.selectNodeContents(target); selection.removeAllRanges(); selection.addRange(range); }
      if (document.execCommand("copy")) copied(button);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, byHand);
    } else {
      byHand();
    }
  }

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
})();
