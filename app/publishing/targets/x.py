"""Target x: posting an answer part with tweepy, and finding out whether a post already exists.

Sync tweepy calls; the worker runs them in a thread.
"""

import html
from dataclasses import dataclass

import requests

from app.x.client import DEFAULT_TIMEOUT, XCredentials, make_client, make_search_client


@dataclass(frozen=True)
class Posted:
    id: str
    url: str


class XTarget:
    def __init__(
        self,
        credentials: XCredentials,
        base_url: str,
        handle: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        post_url: str = "https://x.com/{handle}/status/{id}",
    ) -> None:
        self.handle = handle.lstrip("@")
        self._post_url = post_url
        self._client = make_client(credentials, base_url, timeout)
        self._search = make_search_client(credentials, base_url, timeout)
        self._user_auth = credentials.consumer_key is not None

    def url(self, post_id: str) -> str:
        return self._post_url.format(handle=self.handle, id=post_id)

    def create(self, text: str, reply_to: str) -> Posted:
        """POST /2/tweets; raises tweepy's errors, or requests' on a timeout."""
        response: requests.Response = self._client.create_tweet(
            text=text, in_reply_to_tweet_id=reply_to or None, user_auth=self._user_auth
        )
        post_id = str(response.json()["data"]["id"])
        return Posted(post_id, self.url(post_id))

    def find(self, text: str, conversation_id: str) -> Posted | None:
        """The account's recent post with exactly this text (in that conversation if known):
        how an unknown outcome is settled before anything is sent again."""
        query = f"from:{self.handle}"
        if conversation_id:
            query += f" conversation_id:{conversation_id}"
        token: str | None = None
        while True:
            response: requests.Response = self._search.search_recent_tweets(
                query, max_results=100, **({"next_token": token} if token else {})
            )
            body = response.json()
            for post in body.get("data") or []:
                if _same(post.get("text", ""), text):
                    post_id = str(post["id"])
                    return Posted(post_id, self.url(post_id))
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return None


def _same(posted: str, ours: str) -> bool:
    # X returns text HTML-escaped; compare what the author wrote.
    return html.unescape(posted).strip() == ours.strip()
