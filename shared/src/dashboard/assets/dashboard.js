// Keyhook dashboard: progressive enhancement only. Every page and form works without this
// script; with it, copy buttons copy, the email preview follows typing, keys are revealed in
// place, pages that are still changing refresh their details, deletions ask first (in the page),
// a form's error summary takes the focus, and tables that scroll say so.
(function () {
  "use strict";
  var FRAGMENT = { "x-dashboard-fragment": "1" };

  // Copy buttons: data-copy holds the text, or data-copy-from names an element.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy],[data-copy-from]");
    if (!b) return;
    var text = b.getAttribute("data-copy");
    if (text === null) {
      var el = document.getElementById(b.getAttribute("data-copy-from"));
      text = el ? el.textContent.trim() : "";
    }
    if (!navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    });
  });

  // Destructive buttons ask first, in the page (the same box a revoke shows, never a browser
  // dialog): the button's question, then "Yes" (which presses the button) or "Cancel".
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-confirm]");
    if (!b || b.hasAttribute("data-confirmed")) return;
    e.preventDefault();
    document.querySelectorAll(".confirm-box").forEach(function (old) { old.remove(); });
    var box = document.createElement("div");
    box.className = "card alert confirm-box";
    box.setAttribute("role", "alertdialog");
    var question = document.createElement("p");
    question.textContent = b.getAttribute("data-confirm");
    var yes = document.createElement("button");
    yes.type = "button";
    yes.className = "danger solid";
    yes.textContent = b.getAttribute("data-confirm-yes") || "Yes: " + b.textContent.trim();
    var no = document.createElement("button");
    no.type = "button";
    no.textContent = "Cancel";
    var row = document.createElement("div");
    row.className = "inline";
    row.append(yes, no);
    box.append(question, row);
    yes.addEventListener("click", function () { b.setAttribute("data-confirmed", ""); b.click(); });
    no.addEventListener("click", function () { box.remove(); b.focus(); });
    b.parentNode.insertAdjacentElement("afterend", box);
    yes.focus();
  });

  // A form sent back with errors: its summary takes the focus (its links lead to each field).
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // A license's expiry: a date or "Perpetual", never both.
  document.addEventListener("change", function (e) {
    var form = e.target.form;
    if (!form) return;
    if (e.target.name === "perpetual" && e.target.checked && form.elements.expiresAt) form.elements.expiresAt.value = "";
    if (e.target.name === "expiresAt" && e.target.value && form.elements.perpetual) form.elements.perpetual.checked = false;
  });

  // Tables wider than their card scroll inside it; a hint says so (and where to).
  var markScrolling = function () {
    document.querySelectorAll(".table-wrap").forEach(function (w) {
      w.toggleAttribute("data-scrolls", w.scrollWidth > w.clientWidth + 1);
    });
  };
  markScrolling();
  window.addEventListener("resize", markScrolling);

  // The email preview: the product form is submitted to the preview frame as you type.
  document.querySelectorAll("[data-preview-button]").forEach(function (button) {
    var form = button.form;
    var timer = null;
    var refresh = function () {
      if (button.disabled) return;
      try { form.requestSubmit(button); } catch (err) { /* older browsers: the button still works */ }
    };
    form.addEventListener("input", function (e) {
      if (!e.target.closest("[data-preview-source]")) return;
      clearTimeout(timer);
      timer = setTimeout(refresh, 350);
    });
    form.addEventListener("change", function (e) {
      if (e.target.name === "customTemplate") refresh();
    });
    refresh();
  });

  // Revealing a license key: the key replaces its mask, without leaving the page (forms in a
  // section that refreshes itself included, and the key stays through the refreshes).
  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-reveal]");
    if (!form) return;
    e.preventDefault();
    fetch(form.action, {
      method: "POST",
      headers: Object.assign({ "content-type": "application/x-www-form-urlencoded" }, FRAGMENT),
      body: new URLSearchParams(new FormData(form)).toString(),
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      var target = document.getElementById(form.getAttribute("data-reveal"));
      target.innerHTML = html;
      target.setAttribute("data-revealed", "");
      form.hidden = true;
    }).catch(function () { form.submit(); });
  });

  // Repeated rows (a product's prices): add a row, remove one. Without the script the form
  // always has an empty row, and clearing a row removes it.
  document.querySelectorAll("[data-add-row],[data-remove-row]").forEach(function (b) { b.hidden = false; });
  document.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-row]");
    if (add) {
      var rows = add.parentNode.querySelector("[data-rows]");
      var last = rows && rows.lastElementChild;
      if (!last) return;
      var copy = last.cloneNode(true);
      copy.classList.remove("has-error");
      copy.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      copy.querySelectorAll(".error").forEach(function (p) { p.remove(); });
      rows.appendChild(copy);
      copy.querySelector("input").focus();
      return;
    }
    var remove = e.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest("[data-row]");
      if (row.parentNode.children.length > 1) row.remove();
      else row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
    }
  });

  // Live sections: [data-poll] is fetched again every 1.5 s until the server's answer no
  // longer carries data-poll (the event is processed and its emails are sent or failed).
  var poll = function (el, tries) {
    if (!el.hasAttribute("data-poll") || tries > 80) return;
    setTimeout(function () {
      fetch(window.location.href, { headers: FRAGMENT, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var box = document.createElement("div");
          box.innerHTML = html;
          var next = box.firstElementChild;
          if (!next) return;
          el.querySelectorAll("[data-revealed]").forEach(function (shown) {
            var twin = next.querySelector("#" + CSS.escape(shown.id));
            if (!twin) return;
            twin.replaceWith(shown);
            var f = next.querySelector('form[data-reveal="' + shown.id + '"]');
            if (f) f.hidden = true;
          });
          el.replaceWith(next);
          markScrolling();
          poll(next, tries + 1);
        })
        .catch(function () { poll(el, tries + 1); });
    }, 1500);
  };
  document.querySelectorAll("[data-poll]").forEach(function (el) { poll(el, 0); });
})();
