// Starts Swagger UI on the page that loads it (common/web/swagger.py). The OpenAPI document's URL
// is read from the page (data-spec-url) rather than written into an inline script: the pages'
// Content-Security-Policy runs scripts from files only (common/web/security_headers.py).
"use strict";
window.addEventListener("load", function () {
  var container = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: container.dataset.specUrl, dom_id: "#swagger-ui" });
});
