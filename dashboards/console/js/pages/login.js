// Sign-in page.

import { ApiError, login } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

/** Render the sign-in form; on success go back to the page that asked for it. */
export function render(main, ctx) {
  const message = h("p.error", { role: "alert", "aria-live": "assertive" });
  const form = h("form.login", {
    onsubmit: async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      message.textContent = "";
      try {
        await login(form.username.value.trim(), form.password.value);
        const after = sessionStorage.getItem("carehub.after-login");
        sessionStorage.removeItem("carehub.after-login");
        ctx.navigate(after && !after.endsWith("/login") ? after : "/", { replace: true });
      } catch (err) {
        const status = err instanceof ApiError ? err.status : 0;
        message.textContent = status === 429 ? t("tooMany") : status === 401 ? t("signInFailed") : t("unreachable");
        button.disabled = false;
      }
    },
  },
  h("h1", t("app")),
  h("label", t("username"), h("input", { name: "username", autocomplete: "username", required: true, autofocus: true })),
  h("label", t("password"), h("input", { name: "password", type: "password", autocomplete: "current-password",
    required: true })),
  h("button.primary", { type: "submit" }, t("signIn")),
  message);
  main.append(h("section.login-page", form));
}
