"""What the X sources share: their context (credentials, base URL), X's reconnect rules, and the
error that stops a source for good."""

from dataclasses import dataclass, field

from app.errors import AppError
from app.x.client import XCredentials


class SourceStopped(AppError):
    """A source cannot go on until a person fixes something (credentials, rule): no retry."""

    status_code = 409
    code = "source_stopped"


@dataclass(frozen=True)
class XContext:
    credentials: XCredentials
    base_url: str
    # Multiplies every wait (see Settings.x_backoff_scale).
    backoff_scale: float = 1.0
    # X's recent search lags real time by about 30 s: a gap fill runs again after this long.
    search_lag_seconds: float = 35.0


@dataclass
class Backoff:
    """X's reconnect rules for the filtered stream (X_API.md).

    Network errors: linear, +250 ms a time up to 16 s. HTTP errors: exponential from 5 s to
    320 s. 429: exponential from 60 s. A successful connection resets all three.
    """

    scale: float = 1.0
    _network: float = 0.0
    _http: float = 0.0
    _history: list[float] = field(default_factory=list)

    def network_error(self) -> float:
        self._network = min(self._network + 0.25, 16.0)
        return self._wait(self._network)

    def http_error(self, status: int) -> float:
        start = 60.0 if status in (420, 429) else 5.0
        self._http = min(max(self._http * 2, start), 320.0)
        return self._wait(self._http)

    def reset(self) -> None:
        self._network = self._http = 0.0

    def _wait(self, seconds: float) -> float:
        wait = seconds * self.scale
        self._history.append(wait)
        return wait
