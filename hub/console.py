"""Serve the web console (static files under dashboards/console) at /console, with / redirecting there.

The console is a single-page app: any /console/... path that is not a file (for example the deep link
/console/alerts/42 that escalation messages carry) gets index.html, and the page's router opens it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

# A source checkout keeps the console next to the package; an installed hub finds it in the working
# directory (the Dockerfile's /app), so the same code serves both.
_CANDIDATES = (Path(__file__).resolve().parents[1] / "dashboards" / "console",
               Path.cwd() / "dashboards" / "console")
# index.html names its modules without a version, so browsers must revalidate rather than cache blindly.
_REVALIDATE = {"Cache-Control": "no-cache"}


def console_root() -> Path | None:
    """Return the directory holding the console's index.html, or None when it is not installed."""
    return next((p for p in _CANDIDATES if (p / "index.html").is_file()), None)


def make_router(root: Path | None = None) -> APIRouter:
    """Return the router serving the console; its routes stay out of the OpenAPI contract."""
    router = APIRouter(include_in_schema=False)

    def base() -> Path:
        found = root or console_root()
        if found is None:
            raise HTTPException(404, "the web console is not installed (dashboards/console)")
        return found.resolve()

    @router.get("/")
    def home() -> RedirectResponse:
        """Send a browser to the console."""
        return RedirectResponse("/console/")

    @router.get("/console")
    def console_bare() -> RedirectResponse:
        """Add the slash, so relative links resolve inside the console."""
        return RedirectResponse("/console/")

    @router.api_route("/console/{path:path}", methods=["GET", "HEAD"])
    def console_file(path: str) -> FileResponse:
        """Return a console file, or index.html for a page path the console's router handles."""
        top = base()
        target = (top / path).resolve()
        if path and target.is_relative_to(top) and target.is_file():
            return FileResponse(target, headers=_REVALIDATE)
        if "." in path.rsplit("/", 1)[-1]:
            raise HTTPException(404, "no such file")  # a missing script or image is an error, not a page
        return FileResponse(top / "index.html", headers=_REVALIDATE, media_type="text/html")

    return router
