// Renders /openapi.json with Swagger UI (served from /docs/swagger-ui/, copied from
// node_modules/swagger-ui-dist). A file of its own: the page's Content-Security-Policy allows
// scripts from this origin only, no inline script.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: true,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  displayRequestDuration: true,
  // The public validator badge would call a third-party host: the CSP refuses it anyway.
  validatorUrl: null,
});
