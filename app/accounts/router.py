from fastapi import APIRouter, Depends, Request

from app.accounts.deps import CurrentUser
from app.accounts.schemas import UserOut
from app.security import csrf_protect, token_for

router = APIRouter(prefix="/api/v1", tags=["accounts"], dependencies=[Depends(csrf_protect)])


@router.get("/csrf")
async def csrf_token(request: Request) -> dict[str, str]:
    """The CSRF token for this client's state-changing calls (pages embed it; scripts using
    the session cookie send it as X-CSRF-Token). Bearer-token clients need none."""
    secret = request.app.state.settings.secret_key.get_secret_value()
    return {"token": token_for(request, secret)}


@router.get("/me")
async def me(user: CurrentUser) -> UserOut:
    """Who the credentials belong to: a quick check that a token works."""
    return UserOut.model_validate(user)
