// Tries what the playground's Content-Security-Policy must stop; evaluated in the page.
async () => {
  const violations = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    violations.push(e.effectiveDirective),
  );
  const attempt = (f) => { try { f(); return "allowed"; } catch (e) { return e.name; } };
  const sinks = [
    attempt(() => document.body.insertAdjacentHTML("beforeend", "<b>x</b>")),
    attempt(() => { document.createElement("script").src = "/x.js"; }),
    attempt(() => document.createElement("b").setAttribute("onclick", "window.ran = 1")),
  ];
  let remote;
  try {
    await fetch("http://198.51.100.7/x");
    remote = "allowed";
  } catch (e) {
    remote = e.name;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { sinks, remote, violations };
}
