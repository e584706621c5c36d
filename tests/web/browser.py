"""Shared Playwright helpers: where Chromium is, logged-in pages."""

from pathlib import Path

from playwright.async_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
FIXTURES = Path(__file__).parent.parent / "fixtures" / "x"


async def logged_in(
    browser: Browser,
    base_url: str,
    username: str,
    path: str,
    viewport: tuple[int, int] = (1440, 900),
) -> Page:
    context = await browser.new_context(
        base_url=base_url, viewport={"width": viewport[0], "height": viewport[1]}
    )
    page = await context.new_page()
    await page.goto(f"/login?next={path}")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill("password-123")
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{path}")
    return page
