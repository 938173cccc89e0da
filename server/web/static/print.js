/* Print buttons ([data-print]) for the traveler and the certificate: no inline handlers (the CSP forbids them). */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function (e) { e.preventDefault(); window.print(); });
  });
})();
