// The management pages: a "copy" button beside what an administrator hands on (a certificate's
// PEM, a client id). Without JavaScript the buttons stay hidden; the text can still be selected,
// and a certificate downloaded. A new person's roles follow the organisation chosen: only the roles
// its kind may give are offered (the server refuses the others all the same).
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

  function offerRoles(organisation) {
    const roles = document.getElementById(organisation.dataset.rolesFor);
    const chosen = organisation.selectedOptions[0];
    if (!roles || !chosen) return;
    Array.prototype.forEach.call(roles.options, function (option) {
      const fits = option.dataset.kinds.split(" ").indexOf(chosen.dataset.kind) >= 0;
      option.disabled = !fits;
      option.hidden = !fits;
    });
    if (roles.selectedOptions.length === 0 || roles.selectedOptions[0].disabled) {
      const first = Array.prototype.find.call(roles.options, function (option) { return !option.disabled; });
      roles.value = first ? first.value : "";
    }
  }

  document.querySelectorAll("select[data-roles-for]").forEach(function (organisation) {
    offerRoles(organisation);
    organisation.addEventListener("change", function () { offerRoles(organisation); });
  });

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
})();
