"""Where the app's templates and static assets are, for the modules that need them."""

from pathlib import Path

APP_DIR = Path(__file__).parent
TEMPLATES_DIR = APP_DIR / "templates"
STATIC_DIR = APP_DIR / "static"
